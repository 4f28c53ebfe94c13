llmhub::roles!("fixtures/ui/deployments_mixed_modes.yaml");

fn main() {}
