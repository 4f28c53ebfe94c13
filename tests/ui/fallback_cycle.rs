llmhub::roles!("fixtures/ui/fallback_cycle.yaml");

fn main() {}
