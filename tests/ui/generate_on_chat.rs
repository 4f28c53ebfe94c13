// `llm.inference` has mode `chat`: no image generation.
llmhub::roles!("fixtures/llmhub.yaml");

async fn run(roles: &Roles) {
    let _ = roles.llm_inference().generate("a cat").await;
}

fn main() {
    let _ = run;
}
