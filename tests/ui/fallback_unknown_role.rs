llmhub::roles!("fixtures/ui/fallback_unknown_role.yaml");

fn main() {}
