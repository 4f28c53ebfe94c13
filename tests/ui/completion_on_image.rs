// `painter` in fixtures/ui/all_modes.yaml has another mode: `.completion()` does not compile.
llmhub::roles!("fixtures/ui/all_modes.yaml");

async fn run(roles: &Roles) {
    let _ = roles.painter().completion([llmhub::Message::user("Hello")]).await;
}

fn main() {
    let _ = run;
}
