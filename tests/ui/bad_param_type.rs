llmhub::roles!("fixtures/ui/bad_param_type.yaml");

fn main() {}
