//! `Config::resolve` with the original design's semantics.

mod support;

use llmhub_core::{Config, Error, Mode};
use serde_json::json;
use support::params;

fn fixture_config() -> Config {
    Config::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/llmhub.yaml"
    ))
    .unwrap()
}

#[test]
fn a_present_role_resolves_to_its_binding() {
    let call = fixture_config().resolve("llm.memwrite", None).unwrap();
    assert_eq!(call.role, "llm.memwrite");
    assert_eq!(call.provider, "anthropic");
    assert_eq!(call.model, "claude-3-5-sonnet-20241022");
    assert_eq!(call.mode, Mode::Chat);
    assert_eq!(
        call.params,
        params(json!({"temperature": 0.3, "max_tokens": 1024}))
    );
}

#[test]
fn an_unknown_role_falls_back_to_defaults() {
    let call = fixture_config().resolve("llm.summarize", None).unwrap();
    assert_eq!(call.role, "llm.summarize");
    assert_eq!(
        (call.provider.as_str(), call.model.as_str()),
        ("openai", "gpt-4o-mini")
    );
    assert_eq!(
        call.params,
        params(json!({"temperature": 0.3, "max_tokens": 1024}))
    );
}

#[test]
fn an_unknown_role_without_defaults_is_an_error_with_a_suggestion() {
    let mut config = fixture_config();
    config.defaults = None;
    match config.resolve("llm.inferense", None) {
        Err(Error::UnknownRole { role, suggestion }) => {
            assert_eq!(role, "llm.inferense");
            assert_eq!(suggestion.as_deref(), Some("llm.inference"));
        }
        other => panic!("expected UnknownRole, got {other:?}"),
    }
    let err = config.resolve("totally-different", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown role `totally-different`: it is not under `roles:` and the config has no `defaults:`"
    );
}

#[test]
fn a_provider_missing_from_providers_is_an_error() {
    // A validated file cannot name an undefined provider, but a Config built or edited in
    // code can; resolve still checks.
    let mut config = fixture_config();
    config.providers.shift_remove("anthropic");
    match config.resolve("llm.memread", None) {
        Err(Error::UnknownProvider { role, provider }) => {
            assert_eq!(
                (role.as_str(), provider.as_str()),
                ("llm.memread", "anthropic")
            );
        }
        other => panic!("expected UnknownProvider, got {other:?}"),
    }
    config.defaults.as_mut().unwrap().provider = "gone".into();
    assert!(matches!(
        config.resolve("not-a-role", None),
        Err(Error::UnknownProvider { provider, .. }) if provider == "gone"
    ));
}

#[test]
fn overrides_win_untouched_keys_stay_nested_values_are_replaced() {
    let mut config = fixture_config();
    config.roles["llm.inference"].params.insert(
        "response_format".into(),
        json!({"type": "json_schema", "json_schema": {"name": "a", "strict": true}}),
    );
    let overrides = params(json!({
        "temperature": 0.1,
        "response_format": {"type": "json_object"},
        "seed": 7
    }));
    let call = config.resolve("llm.inference", Some(overrides)).unwrap();
    assert_eq!(
        call.params,
        params(json!({
            "temperature": 0.1,
            "max_tokens": 2048,
            "response_format": {"type": "json_object"},
            "seed": 7
        }))
    );
    // The config itself is untouched.
    assert_eq!(config.roles["llm.inference"].params["temperature"], 0.7);
}

#[test]
fn every_role_resolves_by_name_in_small_and_large_configs() {
    // A few roles are found by comparing names, many by hashing: both find each role, and
    // neither finds a name that is not there.
    for count in [1, 2, 8, 9, 40] {
        let mut yaml = String::from("project: p\nenv: dev\nproviders:\n  openai: {}\nroles:\n");
        for i in 0..count {
            yaml.push_str(&format!(
                "  team.role-{i}: {{ provider: openai, model: m-{i}, mode: chat }}\n"
            ));
        }
        let config = Config::from_yaml_str(&yaml).unwrap();
        for i in 0..count {
            let call = config.resolve(&format!("team.role-{i}"), None).unwrap();
            assert_eq!(call.model, format!("m-{i}"), "{count} roles");
        }
        assert!(matches!(
            config.resolve("team.role", None),
            Err(Error::UnknownRole { .. })
        ));
    }
}
