llmhub::roles!("fixtures/ui/undefined_provider.yaml");

fn main() {}
