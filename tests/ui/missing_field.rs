llmhub::roles!("fixtures/ui/missing_field.yaml");

fn main() {}
