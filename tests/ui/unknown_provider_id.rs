llmhub::roles!("fixtures/ui/unknown_provider_id.yaml");

fn main() {}
