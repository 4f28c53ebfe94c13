llmhub::roles!("fixtures/ui/several_errors.yaml");

fn main() {}
