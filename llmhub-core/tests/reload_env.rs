//! `LLMHUB_CONFIG` names the file to reload from when the builder is given none. Its own test
//! binary, since it sets a process-wide environment variable.

use llmhub_core::Hub;

#[test]
fn llmhub_config_names_the_reload_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llmhub.yaml");
    let yaml = |model: &str| {
        format!(
            "project: p\nenv: dev\nproviders: {{ openai: {{}} }}\nroles:\n  r: {{ provider: openai, model: {model}, mode: chat }}\n"
        )
    };
    std::fs::write(&path, yaml("first")).unwrap();
    // SAFETY: this test binary has a single test, so no other thread reads the environment.
    unsafe { std::env::set_var("LLMHUB_CONFIG", &path) };
    let hub = Hub::builder().build().unwrap();
    assert_eq!(hub.config().roles["r"].model, "first");
    std::fs::write(&path, yaml("second")).unwrap();
    assert_eq!(hub.reload().unwrap().changed_roles, ["r"]);
    assert_eq!(hub.config().roles["r"].model, "second");
    unsafe { std::env::remove_var("LLMHUB_CONFIG") };
}
