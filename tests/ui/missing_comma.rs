// The struct name comes first, then a comma, then the path.
llmhub::roles!(MyRoles "fixtures/llmhub.yaml");

fn main() {}
