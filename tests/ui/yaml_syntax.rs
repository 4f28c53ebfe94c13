llmhub::roles!("fixtures/ui/yaml_syntax.yaml");

fn main() {}
