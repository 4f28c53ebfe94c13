// `llm.embedding` has mode `embedding`: no streaming either.
llmhub::roles!("fixtures/llmhub.yaml");

async fn run(roles: &Roles) {
    let _ = roles.llm_embedding().stream([llmhub::Message::user("Hello")]).await;
}

fn main() {
    let _ = run;
}
