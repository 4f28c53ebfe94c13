//! The generated code: its text for the canonical fixture is pinned (a snapshot), and the
//! properties the macro and build scripts rely on are checked on odd configs.
//!
//! Update the snapshot after an intended change with `UPDATE_SNAPSHOTS=1 cargo test -p
//! llmhub-codegen`, and read the diff before committing it.

use std::path::{Path, PathBuf};

use llmhub_codegen::{Builder, Config, Embed, Error, format_source, generate_tokens};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn roles_ident() -> syn::Ident {
    syn::parse_quote!(Roles)
}

fn generate(yaml: &str) -> String {
    let config = Config::from_yaml_str_named(yaml, "llmhub.yaml").unwrap();
    let embed = Embed::ManifestRelative("llmhub.yaml".into());
    format_source(
        generate_tokens(&config, &roles_ident(), &embed).unwrap(),
        "llmhub.yaml",
    )
    .unwrap()
}

const HEADER: &str = "project: p\nenv: dev\nproviders:\n  openai: { env_key: OPENAI_API_KEY }\n";

#[test]
fn fixture_snapshot() {
    let generated = Builder::new("fixtures/llmhub.yaml")
        .base_dir(workspace())
        .generate()
        .unwrap();
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/llmhub_roles.rs");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &generated).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        generated == expected,
        "generated code differs from {}; rerun with UPDATE_SNAPSHOTS=1 to accept:\n{generated}",
        snapshot.display()
    );
}

#[test]
fn one_method_per_role_in_file_order_with_slots_and_typed_handles() {
    let code = generate(&format!(
        "{HEADER}roles:\n  llm.b: {{ provider: openai, model: m1, mode: chat }}\n  llm.a: {{ provider: openai, model: m2, mode: embedding }}\n  t: {{ provider: openai, model: m3, mode: tool }}\n"
    ));
    let b = code
        .find("pub fn llm_b(&self) -> ::llmhub::ChatRole<'_>")
        .unwrap();
    let a = code
        .find("pub fn llm_a(&self) -> ::llmhub::EmbeddingRole<'_>")
        .unwrap();
    assert!(b < a, "methods follow the file order");
    // Each method's handle is typed by its return type and reaches its role by slot.
    for (method, handle, slot) in [
        ("llm_b", "ChatRole", 0),
        ("llm_a", "EmbeddingRole", 1),
        ("t", "ToolRole", 2),
    ] {
        let signature = format!("pub fn {method}(&self) -> ::llmhub::{handle}<'_> {{");
        let at = code
            .find(&signature)
            .unwrap_or_else(|| panic!("{signature}"));
        let body = &code[at + signature.len()..];
        let body = &body[..body.find('}').unwrap()];
        assert_eq!(
            body.trim(),
            format!("::llmhub::__private::handle(&self.hub, {slot})")
        );
    }
    assert!(
        code.contains(
            r#"pub const ROLE_NAMES: &'static [&'static str] = &["llm.b", "llm.a", "t"];"#
        )
    );
    let b = code.find(r#"("llm.b", ::llmhub::Mode::Chat),"#).unwrap();
    let a = code
        .find(r#"("llm.a", ::llmhub::Mode::Embedding),"#)
        .unwrap();
    let t = code.find(r#"("t", ::llmhub::Mode::Tool),"#).unwrap();
    assert!(b < a && a < t, "the compiled table follows the slots");
}

#[test]
fn doc_comment_shows_role_provider_model_mode_params_and_line() {
    let code = generate(&format!(
        "{HEADER}roles:\n  llm.inference:\n    provider: openai\n    model: gpt-4.1\n    mode: chat\n    params: {{ temperature: 0.7, stop: [\"`\"] }}\n"
    ));
    for line in [
        "/// Role `llm.inference`: `.completion(messages)`, `.completion_json::<T>(messages)`, `.stream(messages)`.",
        "/// - provider: `openai`",
        "/// - model: `gpt-4.1`",
        "/// - mode: `chat`",
        "/// - params: `` {\"temperature\":0.7,\"stop\":[\"`\"]} ``",
        "/// Defined at `llmhub.yaml:6`.",
    ] {
        assert!(code.contains(line), "missing doc line {line:?} in:\n{code}");
    }
}

#[test]
fn doc_comment_shows_deployments_and_fallbacks() {
    let code = generate(&format!(
        "{HEADER}roles:\n  llm.inference:\n    mode: chat\n    routing: latency\n    deployments: [{{ provider: openai, model: gpt-4.1, weight: 3 }}, {{ provider: openai, model: gpt-4.1-mini }}]\n    fallbacks: [llm.backup]\n  llm.backup: {{ provider: openai, model: gpt-4o-mini, mode: tool }}\n"
    ));
    for line in [
        "/// - deployments (latency routing): `openai/gpt-4.1` (weight 3), `openai/gpt-4.1-mini` (weight 1)",
        "/// - fallbacks: `llm.backup`",
    ] {
        assert!(code.contains(line), "missing doc line {line:?} in:\n{code}");
    }
    assert!(!code.contains("/// - provider: `openai`\n    /// - model: `gpt-4.1`"));
}

#[test]
fn odd_role_names_become_valid_methods() {
    let code = generate(&format!(
        "{HEADER}roles:\n  2nd-pass: {{ provider: openai, model: m, mode: chat }}\n  type: {{ provider: openai, model: m, mode: chat }}\n  Summarize-v2 (fast): {{ provider: openai, model: m, mode: chat }}\n  résumé: {{ provider: openai, model: m, mode: chat }}\n  \"日本\": {{ provider: openai, model: m, mode: embedding }}\n  hub: {{ provider: openai, model: m, mode: chat }}\n"
    ));
    for method in [
        "pub fn role_2nd_pass(",
        "pub fn type_(",
        "pub fn summarize_v2_fast(",
        "pub fn r_sum(",
        "pub fn role_e697a5e69cac(",
        "pub fn hub_(",
    ] {
        assert!(code.contains(method), "missing {method} in:\n{code}");
    }
    // Role names keep their spelling in the table and the docs.
    assert!(code.contains(r#""Summarize-v2 (fast)""#) && code.contains("`日本`"));
}

#[test]
fn empty_roles_generate_a_struct_without_role_methods() {
    let code = generate(&format!("{HEADER}roles: {{}}\n"));
    assert!(code.contains("pub const ROLE_NAMES: &'static [&'static str] = &[];"));
    assert!(!code.contains("::llmhub::ChatRole"));
}

#[test]
fn macro_and_build_script_generate_the_same_api() {
    let yaml = std::fs::read_to_string(workspace().join("fixtures/llmhub.yaml")).unwrap();
    let config = Config::from_yaml_str_named(&yaml, "fixtures/llmhub.yaml").unwrap();
    let name = roles_ident();
    let absolute = Embed::Absolute(workspace().join("fixtures/llmhub.yaml"));
    let relative = Embed::ManifestRelative("fixtures/llmhub.yaml".into());
    let by_macro = generate_tokens(&config, &name, &absolute)
        .unwrap()
        .to_string();
    let by_build = generate_tokens(&config, &name, &relative)
        .unwrap()
        .to_string();
    let strip = |code: &str| {
        let start = code.find("const YAML").unwrap();
        let end = start + code[start..].find(';').unwrap();
        format!("{}{}", &code[..start], &code[end..])
    };
    assert_ne!(
        by_macro, by_build,
        "the two routes embed the file differently"
    );
    assert_eq!(strip(&by_macro), strip(&by_build));
}

#[test]
fn every_config_problem_is_reported_with_the_path_as_written() {
    let dir = workspace();
    let err = Builder::new("fixtures/ui/several_errors.yaml")
        .base_dir(&dir)
        .generate()
        .unwrap_err();
    let Error::Config(config) = &err else {
        panic!("expected a config error, got {err}")
    };
    let lines: Vec<(usize, usize)> = config.problems.iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(lines, [(8, 5), (12, 15), (16, 20), (21, 11)]);
    assert!(
        err.to_string()
            .contains("--> fixtures/ui/several_errors.yaml:12:15")
    );
}

#[test]
fn a_missing_file_names_the_path_and_the_crate_directory() {
    let err = Builder::new("no/such/llmhub.yaml")
        .base_dir("/nonexistent-crate")
        .generate()
        .unwrap_err();
    assert!(matches!(err, Error::Read { .. }));
    let message = err.to_string();
    assert!(message.contains("`no/such/llmhub.yaml`"), "{message}");
    assert!(message.contains("`/nonexistent-crate`"), "{message}");
}

#[test]
fn a_directory_is_not_a_config() {
    let err = Builder::new("fixtures")
        .base_dir(workspace())
        .generate()
        .unwrap_err();
    assert!(err.to_string().contains("it is not a file"), "{err}");
}

#[test]
fn struct_name_is_checked_and_used() {
    let builder = Builder::new("fixtures/llmhub.yaml").base_dir(workspace());
    let code = builder.clone().struct_name("MyRoles").generate().unwrap();
    assert!(
        code.contains("pub struct MyRoles {")
            && code.contains("impl ::llmhub::__private::GeneratedRoles for MyRoles")
    );
    for bad in ["my roles", "type", "1Roles", ""] {
        let err = builder.clone().struct_name(bad).generate().unwrap_err();
        assert!(matches!(err, Error::StructName(_)), "{bad:?}: {err}");
    }
}

#[test]
fn write_to_writes_once_and_leaves_an_unchanged_file_alone() {
    let dir = std::env::temp_dir().join(format!("llmhub-codegen-write-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("roles.rs");
    let builder = Builder::new("fixtures/llmhub.yaml").base_dir(workspace());
    builder.write_to(&out).unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("// @generated by llmhub-codegen from `fixtures/llmhub.yaml`."));
    assert_eq!(written, builder.generate().unwrap());
    let before = std::fs::metadata(&out).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    builder.write_to(&out).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().modified().unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
