// `completion_json::<T>` needs `T: JsonSchema` (the schema the model is asked to fit).
llmhub::roles!("fixtures/llmhub.yaml");

#[derive(serde::Deserialize)]
struct NoSchema {
    number: String,
}

async fn run(roles: &Roles) {
    let _ = roles
        .llm_inference()
        .completion_json::<NoSchema>([llmhub::Message::user("Hello")])
        .await;
}

fn main() {
    let _ = run;
}
