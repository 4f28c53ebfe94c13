// A role that is not in the file is not a method (here a typo of `llm.inference`).
llmhub::roles!("fixtures/llmhub.yaml");

fn main() {
    let roles = Roles::new().unwrap();
    let _ = roles.llm_inferense();
}
