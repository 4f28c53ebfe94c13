// The config file does not exist.
llmhub::roles!("fixtures/ui/no_such_file.yaml");

fn main() {}
