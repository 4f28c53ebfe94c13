//! Every validation rule, checked against `fixtures/invalid/`: the exact line and
//! column of each problem and the key words of its message and hint.

use llmhub_core::{Config, ConfigProblem, Error, Mode, Protocol};

fn fixture(name: &str) -> String {
    format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The problems of an invalid fixture, in file order.
fn problems(name: &str) -> Vec<ConfigProblem> {
    match Config::from_path(fixture(&format!("invalid/{name}"))) {
        Err(Error::Config(err)) => err.problems,
        Err(other) => panic!("{name}: expected Error::Config, got {other:?}"),
        Ok(_) => panic!("{name}: expected the config to be refused"),
    }
}

/// Asserts one problem's position and that its message (and hint) contain the given words.
#[track_caller]
fn assert_problem(p: &ConfigProblem, line: usize, column: usize, words: &[&str], hint: &[&str]) {
    assert_eq!((p.line, p.column), (line, column), "position of {p}");
    for word in words {
        assert!(
            p.message.contains(word),
            "message {:?} lacks {word:?}",
            p.message
        );
    }
    let got_hint = p.hint.as_deref().unwrap_or("");
    for word in hint {
        assert!(got_hint.contains(word), "hint {got_hint:?} lacks {word:?}");
    }
    assert!(p.file.ends_with(".yaml"), "file name kept: {}", p.file);
}

#[test]
fn canonical_fixture_is_valid() {
    let config = Config::from_path(fixture("llmhub.yaml")).unwrap();
    assert_eq!(config.project, "memory");
    assert_eq!(config.env, "dev");
    let roles: Vec<&str> = config.roles.keys().map(String::as_str).collect();
    assert_eq!(
        roles,
        [
            "llm.preprocess",
            "llm.memwrite",
            "llm.memread",
            "llm.inference",
            "llm.embedding"
        ]
    );
    let providers: Vec<&str> = config.providers.keys().map(String::as_str).collect();
    assert_eq!(providers, ["openai", "anthropic", "mistral", "openrouter"]);
    let anthropic = &config.providers["anthropic"];
    assert_eq!(anthropic.api, Protocol::Anthropic);
    assert_eq!(anthropic.base_url, "https://api.anthropic.com");
    assert_eq!(anthropic.env_key.as_deref(), Some("ANTHROPIC_API_KEY"));
    let embedding = &config.roles["llm.embedding"];
    assert_eq!(embedding.mode, Mode::Embedding);
    assert_eq!(embedding.params["embedding_dim"], 1536);
    assert_eq!((embedding.span.line, embedding.span.column), (49, 3));
    let defaults = config.defaults.as_ref().unwrap();
    assert_eq!(
        (defaults.model.as_str(), defaults.mode),
        ("gpt-4o-mini", Mode::Chat)
    );
    assert_eq!(defaults.params["max_tokens"], 1024);
}

#[test]
fn yaml_syntax_error() {
    let p = problems("syntax_error.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        4,
        11,
        &["YAML syntax error", "flow mapping", "line 5, column 6"],
        &["close the `{` with `}`"],
    );
    assert_eq!(
        p[0].source_line.as_deref(),
        Some("  openai: { env_key: OPENAI_API_KEY")
    );
}

/// The one problem of `text`, which must be refused.
#[track_caller]
fn only_problem(text: &str) -> ConfigProblem {
    let err = Config::from_yaml_str_named(text, "llmhub.yaml").unwrap_err();
    let mut problems = err.config_problems().to_vec();
    assert_eq!(problems.len(), 1, "{err}");
    let problem = problems.remove(0);
    assert!(
        problem.line >= 1 && problem.line <= text.lines().count(),
        "inside the file: {problem}"
    );
    problem
}

/// The canonical fixture with its first `from` replaced by `to`.
fn canonical_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(fixture("llmhub.yaml")).unwrap();
    assert!(text.contains(from), "{from:?} is in the fixture");
    text.replacen(from, to, 1)
}

#[test]
fn an_unclosed_flow_mapping_is_reported_where_it_opens() {
    // The file ends inside the mapping: the parser gives up past the last line.
    let text = std::fs::read_to_string(fixture("ui/yaml_syntax.yaml")).unwrap();
    let p = only_problem(&text);
    assert_problem(
        &p,
        14,
        13,
        &[
            "flow mapping started here",
            "expected ',' or '}'",
            "end of the file",
        ],
        &["close the `{` with `}`"],
    );
    assert_eq!(
        p.source_line.as_deref(),
        Some("    params: { temperature: 0.7, max_tokens: 2048")
    );
}

#[test]
fn an_unclosed_flow_sequence_is_reported_where_it_opens() {
    // Line 38 of the 63-line fixture; the parser gives up on line 39.
    let text = canonical_with("      temperature: 0.5", "      temperature: [0.5");
    let p = only_problem(&text);
    assert_problem(
        &p,
        38,
        20,
        &[
            "flow sequence started here",
            "expected ',' or ']'",
            "line 39, column 17",
        ],
        &["close the `[` with `]`"],
    );
    assert_eq!(p.source_line.as_deref(), Some("      temperature: [0.5"));

    // A list whose items swallow the lines after it until the indentation breaks (line 45 to 48).
    let p = only_problem(&canonical_with(
        "    params:\n      temperature: 0.7",
        "    params: [0.7,",
    ));
    assert_problem(
        &p,
        45,
        13,
        &["flow sequence", "line 48, column 16"],
        &["`[`"],
    );

    // The parser fails before it reports the `[`: found in the text between its last event
    // and the error.
    let p = only_problem("a:\n  - [1, 2\n  - 3\nb: 4\n");
    assert_problem(&p, 2, 5, &["flow sequence", "line 4, column 2"], &["`]`"]);

    // Nested: the innermost unclosed one, not the outer closed by the end of the line.
    let p = only_problem("a: [1, {b: 2\nc: 3\n");
    assert_problem(&p, 1, 8, &["flow mapping", "line 2, column 2"], &["`}`"]);
    let p = only_problem("a: &x [1, {b: 2}\n");
    assert_problem(&p, 1, 7, &["flow sequence", "end of the file"], &["`]`"]);
    // Brackets inside quotes, comments and plain text are not openers.
    let p = only_problem("a: gpt[4]\nb: ['[', \"{\", c # ]\n");
    assert_problem(&p, 2, 4, &["flow sequence"], &["`]`"]);
}

#[test]
fn an_unclosed_quote_is_reported_where_it_opens() {
    let p = only_problem(&canonical_with("model: gpt-4.1", "model: \"gpt-4.1"));
    assert_problem(
        &p,
        43,
        12,
        &["quoted string started here is not closed"],
        &["close the `\"` with a matching `\"`"],
    );
    assert_eq!(p.source_line.as_deref(), Some("    model: \"gpt-4.1"));
    let p = only_problem("project: p\nenv: 'dev\n");
    assert_problem(&p, 2, 6, &["not closed", "end of stream"], &["`'`"]);
}

#[test]
fn a_pasted_key_in_env_key_is_refused_without_echoing_it() {
    let p = problems("env_key_value.yaml");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_problem(
        &p[0],
        7,
        14,
        &[
            "`env_key` of provider `openai`",
            "not an environment variable name",
        ],
        &[
            "`env_key` names the environment variable that holds the key, e.g. OPENAI_API_KEY",
            "never put the key itself in this file",
        ],
    );
    assert_eq!(p[0].source_line, None, "the line holds the key");
    assert!(!p[0].to_string().contains("sk-proj"), "{}", p[0]);

    for name in ["OPENAI_API_KEY", "_KEY", "key2", "K"] {
        let yaml = format!(
            "project: p\nenv: dev\nproviders:\n  openai: {{ env_key: '{name}' }}\nroles: {{}}\n"
        );
        let config = Config::from_yaml_str(&yaml).unwrap();
        assert_eq!(config.providers["openai"].env_key.as_deref(), Some(name));
    }
    for value in [
        "2KEY",
        "MY-KEY",
        "MY KEY",
        "sk-ant-api03-xyz",
        "$OPENAI_API_KEY",
        "KEY\u{e9}",
    ] {
        let yaml = format!(
            "project: p\nenv: dev\nproviders:\n  openai: {{ env_key: \"{value}\" }}\nroles: {{}}\n"
        );
        let p = only_problem(&yaml);
        assert_eq!((p.line, p.column), (4, 22), "{p}");
        assert!(
            p.message.contains("not an environment variable name"),
            "{p}"
        );
        assert!(!p.to_string().contains(value), "{p}");
    }
}

#[test]
fn problems_in_headers_and_env_key_show_no_source_line() {
    let text = "project: p\nenv: dev\nproviders:\n  openai:\n    env_key: [sk-secret-0]\n    headers:\n      \
                X-Token: [Bearer, sk-secret-1]\n      X-Other: \"sk-secret-2\\nX\"\n      \
                'Authorization: Bearer sk-secret-3': x\n      X-Null:\n  anthropic:\n    headers: Bearer sk-secret-4\nroles: {}\n";
    let err = Config::from_yaml_str(text).unwrap_err();
    let p = err.config_problems();
    let at: Vec<(usize, usize)> = p.iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(
        at,
        [(5, 14), (7, 16), (8, 16), (9, 7), (10, 13), (12, 14)],
        "{err}"
    );
    assert!(
        p[0].message
            .contains("`env_key` of provider `openai` must be a string")
    );
    assert!(p[1].message.contains("header `X-Token` must be a string"));
    assert!(p[2].message.contains("line break"));
    assert!(p[3].message.contains("not a valid HTTP header name"));
    assert!(p[4].message.contains("header `X-Null` has no value"));
    assert!(
        p[5].message
            .contains("`headers` of provider `anthropic` must be a mapping")
    );
    for problem in p {
        assert_eq!(problem.source_line, None, "{problem}");
    }
    assert!(!err.to_string().contains("sk-secret"), "{err}");

    // A syntax error inside `headers` or `env_key` does not show its line either.
    for (text, at) in [
        (
            "project: p\nenv: dev\nproviders:\n  openai:\n    headers:\n      Authorization: \"Bearer sk-secret-5\n",
            (6, 22),
        ),
        (
            "project: p\nenv: dev\nproviders:\n  openai:\n    headers: { Authorization: Bearer sk-secret-6\nroles: {}\n",
            (5, 14),
        ),
        (
            "project: p\nenv: dev\nproviders:\n  openai:\n    env_key: 'sk-secret-7\n",
            (5, 14),
        ),
    ] {
        let p = only_problem(text);
        assert_eq!((p.line, p.column), at, "{p}");
        assert!(p.message.contains("YAML syntax error"), "{p}");
        assert_eq!(p.source_line, None, "{p}");
        assert!(!p.to_string().contains("sk-secret"), "{p}");
    }
}

#[test]
fn missing_required_fields_are_all_reported() {
    let p = problems("missing_field.yaml");
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_problem(
        &p[0],
        1,
        1,
        &["missing the required field `env`"],
        &["add `env: dev` to the config"],
    );
    assert_problem(
        &p[1],
        5,
        3,
        &["role `llm.inference`", "required field `model`"],
        &["add `model: <model name>` to role `llm.inference`"],
    );
}

#[test]
fn wrong_types() {
    let p = problems("wrong_type.yaml");
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_problem(
        &p[0],
        5,
        17,
        &["`timeout_ms`", "positive integer", "\"soon\""],
        &[],
    );
    assert_problem(
        &p[1],
        7,
        3,
        &["`roles` must be a mapping", "found a list"],
        &[],
    );
}

#[test]
fn unknown_key_suggests_the_absent_field() {
    let p = problems("unknown_key.yaml");
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_problem(&p[0], 6, 3, &["required field `model`"], &[]);
    assert_problem(
        &p[1],
        8,
        5,
        &["unknown key `modle`"],
        &["did you mean `model`?"],
    );
}

#[test]
fn unknown_mode_lists_the_modes() {
    let p = problems("bad_mode.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        9,
        11,
        &["unknown mode `chatt`"],
        &[
            "did you mean `chat`?",
            "`embedding`",
            "`image`",
            "`audio`",
            "`tool`",
            "`other`",
        ],
    );
}

#[test]
fn undefined_provider_suggests_the_closest() {
    let p = problems("undefined_provider.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        8,
        15,
        &["provider `anthropc`", "not defined under `providers:`"],
        &["did you mean `anthropic`?"],
    );
    assert_eq!(p[0].len, "anthropc".len());
    assert_eq!(p[0].source_line.as_deref(), Some("    provider: anthropc"));
}

#[test]
fn unknown_provider_id_needs_base_url_and_api() {
    let p = problems("unknown_provider_id.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        4,
        3,
        &["provider `acme` is not built in", "`base_url` and `api`"],
        &["`openai`", "`ollama`"],
    );
}

#[test]
fn anthropic_cannot_serve_embeddings() {
    let p = problems("mode_not_served.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        9,
        11,
        &[
            "mode `embedding`",
            "provider `anthropic`",
            "only `chat` and `tool`",
        ],
        &["OpenAI-compatible"],
    );
}

#[test]
fn well_known_params_are_type_and_range_checked() {
    let p = problems("bad_param.yaml");
    assert_eq!(p.len(), 5, "{p:#?}");
    assert_problem(
        &p[0],
        11,
        20,
        &["`temperature`", "from 0 to 2", "`2.5`"],
        &["`temperature` is a number from 0 to 2, e.g. 0.7"],
    );
    assert_problem(&p[1], 12, 14, &["`top_p`", "from 0 to 1", "`-0.1`"], &[]);
    assert_problem(
        &p[2],
        13,
        19,
        &["`max_tokens`", "positive integer", "`0`"],
        &["whole number above 0", "e.g. 1024"],
    );
    assert_problem(
        &p[3],
        14,
        13,
        &["`stop`", "a string or a list of strings"],
        &[],
    );
    assert_problem(
        &p[4],
        20,
        22,
        &["`embedding_dim`", "positive integer", "\"1536\""],
        &[],
    );
}

#[test]
fn method_name_collision_names_both_roles() {
    let p = problems("name_collision.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        10,
        3,
        &[
            "`llm.inference` (line 6)",
            "`LLM-Inference`",
            "`llm_inference()`",
        ],
        &["rename"],
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let p = problems("insecure_http.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        5,
        15,
        &["clear text", "non-loopback"],
        &["allow_insecure_http: true"],
    );

    let allowed = std::fs::read_to_string(fixture("invalid/insecure_http.yaml"))
        .unwrap()
        .replace(
            "    api: openai",
            "    api: openai\n    allow_insecure_http: true",
        );
    let config = Config::from_yaml_str(&allowed).unwrap();
    assert_eq!(
        config.providers["internal"].base_url,
        "http://llm.internal.example/v1"
    );
}

#[test]
fn a_loopback_disguise_does_not_pass_for_loopback() {
    for url in [
        "http://evil.example\\@127.0.0.1/v1",
        "http://127.0.0.1.evil.example/v1",
        "http://localhost.evil.example:80/v1",
    ] {
        let yaml = format!(
            "project: p\nenv: dev\nproviders:\n  x: {{ base_url: '{url}', api: openai }}\nroles: {{}}\n"
        );
        let err = Config::from_yaml_str(&yaml).unwrap_err();
        assert!(err.to_string().contains("clear text"), "{url}: {err}");
    }
}

#[test]
fn loopback_http_and_prefixes_are_fine() {
    let config = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders:\n  a: { base_url: 'http://127.0.0.1:8000/anthropic/', api: anthropic }\n  \
         b: { base_url: 'http://localhost:11434/v1', api: openai }\n  c: { base_url: 'http://[::1]:9/v1', api: openai }\nroles: {}\n",
    )
    .unwrap();
    assert_eq!(
        config.providers["a"].base_url,
        "http://127.0.0.1:8000/anthropic"
    );
    assert_eq!(config.providers["a"].api, Protocol::Anthropic);
    assert!(config.roles.is_empty());
}

#[test]
fn duplicate_keys_are_refused() {
    let p = problems("duplicate_key.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        10,
        3,
        &["duplicate key `llm.inference`", "line 6"],
        &[],
    );
}

#[test]
fn bad_api_value() {
    let p = problems("bad_api.yaml");
    assert_eq!(p.len(), 1);
    assert_problem(
        &p[0],
        6,
        10,
        &["unknown `api` `openia`"],
        &["`openai`", "`anthropic`"],
    );
}

#[test]
fn several_errors_are_reported_together_in_file_order() {
    let p = problems("several_errors.yaml");
    assert_eq!(p.len(), 3, "{p:#?}");
    assert_problem(&p[0], 7, 15, &["`opneai`"], &["did you mean `openai`?"]);
    assert_problem(
        &p[1],
        13,
        11,
        &["unknown mode `embeding`"],
        &["did you mean `embedding`?"],
    );
    assert_problem(&p[2], 15, 22, &["`embedding_dim`", "`-5`"], &[]);
}

#[test]
fn error_display_points_at_the_line() {
    let err = Config::from_path(fixture("invalid/undefined_provider.yaml")).unwrap_err();
    let shown = err.to_string();
    let expected = "\
error: role `llm.memwrite` uses provider `anthropc`, which is not defined under `providers:`
 --> FILE:8:15
  |
8 |     provider: anthropc
  |               ^^^^^^^^
  = help: did you mean `anthropic`?"
        .replace("FILE", &fixture("invalid/undefined_provider.yaml"));
    assert_eq!(shown, expected);

    let several = Config::from_path(fixture("invalid/several_errors.yaml")).unwrap_err();
    assert!(
        several
            .to_string()
            .starts_with("3 problems in the llmhub config:\nerror: ")
    );
}

#[test]
fn from_yaml_str_names_the_source() {
    let err = Config::from_yaml_str("project: p\n").unwrap_err();
    assert!(err.config_problems().iter().all(|p| p.file == "<string>"));
    let err = Config::from_yaml_str_named("project: p\n", "conf/llmhub.yaml").unwrap_err();
    let problems = err.config_problems();
    assert_eq!(
        problems.len(),
        3,
        "env, providers and roles are missing: {problems:#?}"
    );
    assert!(problems.iter().all(|p| p.file == "conf/llmhub.yaml"));
}

#[test]
fn empty_and_unreadable_files() {
    let err = Config::from_yaml_str("# nothing here\n").unwrap_err();
    assert!(err.to_string().contains("the config is empty"), "{err}");
    let err = Config::from_path(fixture("does/not/exist.yaml")).unwrap_err();
    let problems = err.config_problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, 0);
    assert!(
        problems[0].message.contains("cannot read the config file"),
        "{err}"
    );
}

#[test]
fn a_second_document_is_refused() {
    let err = Config::from_yaml_str("project: p\n---\nproject: q\n").unwrap_err();
    let p = err.config_problems();
    assert_eq!(p.len(), 1);
    assert!(p[0].message.contains("more than one YAML document"));
    assert_eq!(p[0].line, 2);
}

#[test]
fn params_keep_any_json_like_value() {
    let config = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders: { openai: }\nroles:\n  r:\n    provider: openai\n    model: m\n    mode: tool\n    params:\n      \
         tools: [{ type: function, function: { name: f, parameters: { type: object } } }]\n      \
         stop: [\"\\n\", END]\n      seed: 0x10\n      note: ~\n      ratio: 1e3\n      flag: yes\n",
    )
    .unwrap();
    let params = serde_json::Value::Object(config.roles["r"].params.clone());
    assert_eq!(
        params,
        serde_json::json!({
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "stop": ["\n", "END"],
            "seed": 16,
            "note": null,
            "ratio": 1000.0,
            "flag": "yes"
        })
    );
}

#[test]
fn non_finite_numbers_cannot_be_params() {
    let err = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders: { openai: }\nroles:\n  r: { provider: openai, model: m, mode: chat, params: { x: .nan } }\n",
    )
    .unwrap_err();
    let p = err.config_problems();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].line, p[0].column), (5, 61));
    assert!(p[0].message.contains("cannot be sent as JSON"));
}

#[test]
fn provider_fields_are_typed() {
    let config = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders:\n  openai:\n    env_key: OPENAI_API_KEY\n    headers: { X-Org: acme, X-Num: 7 }\n    \
         timeout_ms: 1500\n    max_retries: 0\nroles: {}\n",
    )
    .unwrap();
    let openai = &config.providers["openai"];
    assert_eq!(openai.timeout_ms, Some(1500));
    assert_eq!(openai.max_retries, Some(0));
    assert_eq!(openai.headers["X-Org"].expose(), "acme");
    assert_eq!(openai.headers["X-Num"].expose(), "7");

    let err = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders:\n  openai:\n    headers: { 'Bad Header': x }\n    max_retries: 1000\n    \
         allow_insecure_http: maybe\nroles: {}\n",
    )
    .unwrap_err();
    let p = err.config_problems();
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(p[0].message.contains("not a valid HTTP header name"));
    assert!(p[0].hint.as_deref().unwrap().contains("X-Org-Id"));
    assert!(p[1].message.contains("at most 100"));
    assert!(p[2].message.contains("`true` or `false`"));
}

#[test]
fn a_fallback_must_name_a_role() {
    let p = problems("fallback_unknown_role.yaml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_problem(
        &p[0],
        11,
        17,
        &[
            "`llm.inference` falls back to `llm.inferense.backup`",
            "not under `roles:`",
        ],
        &["did you mean `llm.inference.backup`?"],
    );
}

#[test]
fn a_fallback_must_serve_the_same_calls() {
    let p = problems("fallback_wrong_mode.yaml");
    // `tool` serves chat calls; `embedding` does not.
    assert_eq!(p.len(), 1, "{p:?}");
    assert_problem(
        &p[0],
        11,
        28,
        &["(mode `chat`) falls back to `llm.embedding` (mode `embedding`)"],
        &["`chat` and `tool` are interchangeable"],
    );
}

#[test]
fn fallbacks_must_not_form_a_cycle() {
    let p = problems("fallback_cycle.yaml");
    assert_eq!(p.len(), 1, "{p:?}");
    assert_problem(
        &p[0],
        16,
        17,
        &["fallbacks form a cycle: llm.a → llm.b → llm.a"],
        &["remove `llm.a` from the fallbacks of `llm.b`"],
    );
}

#[test]
fn deployments_serve_the_role_s_mode() {
    let p = problems("deployments_mixed_modes.yaml");
    assert_eq!(p.len(), 2, "{p:?}");
    assert_problem(
        &p[0],
        12,
        66,
        &[
            "deployment 2 of role `llm.inference` has mode `embedding`, but the role's mode is `chat`",
        ],
        &["remove `mode` here"],
    );
    assert_problem(
        &p[1],
        17,
        21,
        &[
            "deployment 2 of role `llm.embedding` has mode `embedding`",
            "`anthropic` protocol",
        ],
        &[],
    );
}

#[test]
fn deployments_routing_and_limits_are_checked() {
    let p = problems("bad_deployments.yaml");
    let got: Vec<(usize, usize, &str)> = p
        .iter()
        .map(|p| (p.line, p.column, p.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                4,
                18,
                "`rpm` of provider `openai` must be a positive integer, found `0`"
            ),
            (
                4,
                38,
                "`max_concurrency` of provider `openai` must be a positive integer, found \"many\""
            ),
            (
                7,
                5,
                "role `llm.inference` has both `provider` and `deployments`"
            ),
            (9, 14, "unknown routing `fastest` for role `llm.inference`"),
            (
                11,
                21,
                "deployment 1 of role `llm.inference` uses provider `opneai`, which is not defined under `providers:`"
            ),
            (
                11,
                53,
                "`weight` of deployment 1 of role `llm.inference` must be a positive integer, found `0`"
            ),
            (
                16,
                14,
                "role `llm.other` has `routing` but no `deployments`"
            ),
        ],
        "{p:#?}"
    );
    assert_eq!(p[4].hint.as_deref(), Some("did you mean `openai`?"));
}

#[test]
fn deployments_and_fallbacks_are_read() {
    let config = Config::from_yaml_str(
        r#"
project: p
env: dev
providers:
  openai: { rpm: 60, tpm: 10000, max_concurrency: 4, cooldown_ms: 500 }
  anthropic: {}
roles:
  llm.inference:
    mode: chat
    params: { temperature: 0.5, max_tokens: 100 }
    routing: latency
    cooldown_ms: 250
    deployments:
      - { provider: openai, model: gpt-4.1, weight: 3, params: { temperature: 0.1 } }
      - { provider: anthropic, model: claude-3-5-sonnet-20241022 }
    fallbacks: [llm.tools]
  llm.tools: { provider: openai, model: gpt-4.1-mini, mode: tool }
"#,
    )
    .unwrap();
    let role = &config.roles["llm.inference"];
    assert_eq!(
        (role.provider.as_str(), role.model.as_str()),
        ("openai", "gpt-4.1")
    );
    assert_eq!(role.routing, llmhub_core::Routing::Latency);
    assert_eq!(role.cooldown_ms, Some(250));
    assert_eq!(role.fallbacks, ["llm.tools"]);
    let [first, second] = &role.deployments[..] else {
        panic!("two deployments: {:?}", role.deployments)
    };
    assert_eq!(first.weight, 3);
    assert_eq!(
        first.params["temperature"], 0.1,
        "the deployment's params win"
    );
    assert_eq!(
        first.params["max_tokens"], 100,
        "the role's params are kept"
    );
    assert_eq!((second.provider.as_str(), second.weight), ("anthropic", 1));
    let openai = &config.providers["openai"];
    assert_eq!(
        (
            openai.rpm,
            openai.tpm,
            openai.max_concurrency,
            openai.cooldown_ms
        ),
        (Some(60), Some(10000), Some(4), Some(500))
    );
    assert!(config.roles["llm.tools"].deployments.is_empty());
}

#[test]
fn shared_names_the_redis_variable() {
    let base = "project: p\nenv: dev\nproviders: { openai: {} }\nroles: {}\n";
    let config = Config::from_yaml_str(&format!(
        "{base}shared: {{ redis_url_env: LLMHUB_REDIS_URL }}\n"
    ))
    .unwrap();
    assert_eq!(config.shared.unwrap().redis_url_env, "LLMHUB_REDIS_URL");
    let err = Config::from_yaml_str(&format!(
        "{base}shared: {{ redis_url_env: \"redis://:hunter2@host:6379\" }}\n"
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`redis_url_env` of `shared` is not an environment variable name"),
        "{text}"
    );
    assert!(
        !text.contains("hunter2"),
        "the value may hold a password: {text}"
    );
}
