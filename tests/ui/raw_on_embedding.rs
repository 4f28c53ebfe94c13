// `vectors` in fixtures/ui/all_modes.yaml has another mode: `.raw()` does not compile.
llmhub::roles!("fixtures/ui/all_modes.yaml");

async fn run(roles: &Roles) {
    let _ = roles.vectors().raw("/moderations", serde_json::Value::Null).await;
}

fn main() {
    let _ = run;
}
