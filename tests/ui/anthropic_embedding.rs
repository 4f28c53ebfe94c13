llmhub::roles!("fixtures/ui/anthropic_embedding.yaml");

fn main() {}
