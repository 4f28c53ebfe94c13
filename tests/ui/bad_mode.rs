llmhub::roles!("fixtures/ui/bad_mode.yaml");

fn main() {}
