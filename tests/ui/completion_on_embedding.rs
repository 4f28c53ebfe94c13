// `llm.embedding` has mode `embedding`: no chat calls.
llmhub::roles!("fixtures/llmhub.yaml");

async fn run(roles: &Roles) {
    let _ = roles.llm_embedding().completion([llmhub::Message::user("Hello")]).await;
}

fn main() {
    let _ = run;
}
