// `moderation` in fixtures/ui/all_modes.yaml has another mode: `.speech()` does not compile.
llmhub::roles!("fixtures/ui/all_modes.yaml");

async fn run(roles: &Roles) {
    let _ = roles.moderation().speech("hi").await;
}

fn main() {
    let _ = run;
}
