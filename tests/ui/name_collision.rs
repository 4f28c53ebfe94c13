llmhub::roles!("fixtures/ui/name_collision.yaml");

fn main() {}
