// `llm.inference` has mode `chat`: no embedding calls.
llmhub::roles!("fixtures/llmhub.yaml");

async fn run(roles: &Roles) {
    let _ = roles.llm_inference().embedding("Hello world").await;
}

fn main() {
    let _ = run;
}
