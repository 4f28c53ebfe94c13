// `assistant` in fixtures/ui/all_modes.yaml has another mode: `.transcribe()` does not compile.
llmhub::roles!("fixtures/ui/all_modes.yaml");

async fn run(roles: &Roles) {
    let _ = roles.assistant().transcribe(llmhub::AudioFile::new(vec![1u8], "a.wav")).await;
}

fn main() {
    let _ = run;
}
