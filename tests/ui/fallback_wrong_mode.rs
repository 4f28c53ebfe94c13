llmhub::roles!("fixtures/ui/fallback_wrong_mode.yaml");

fn main() {}
