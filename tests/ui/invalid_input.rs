// The macro takes a path string (and optionally a struct name first), not a number.
llmhub::roles!(123);

fn main() {}
