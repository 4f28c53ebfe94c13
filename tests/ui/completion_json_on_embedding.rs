// `llm.embedding` has mode `embedding`: no structured chat calls either.
llmhub::roles!("fixtures/llmhub.yaml");

#[derive(serde::Deserialize, llmhub::schemars::JsonSchema)]
#[schemars(crate = "llmhub::schemars")]
struct Invoice {
    number: String,
}

async fn run(roles: &Roles) {
    let _ = roles
        .llm_embedding()
        .completion_json::<Invoice>([llmhub::Message::user("Hello")])
        .await;
}

fn main() {
    let _ = run;
}
