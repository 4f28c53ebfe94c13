//! Hostile and random input: never a panic, always `Error::Config`, and quickly.

use llmhub_core::{Config, Error};
use proptest::prelude::*;

const FIXTURE: &str = include_str!("../../fixtures/llmhub.yaml");

fn assert_config_error(result: Result<Config, Error>) {
    match result {
        Ok(_) | Err(Error::Config(_)) => {}
        Err(other) => panic!("expected Ok or Error::Config, got {other:?}"),
    }
}

#[test]
fn alias_bomb_is_refused() {
    let mut bomb = String::from(
        "project: p\nenv: dev\nproviders: {openai: }\nroles: {}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for level in 1..10 {
        let prev = level - 1;
        bomb.push_str(&format!(
            "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    let err = Config::from_yaml_str(&bomb).unwrap_err();
    let problems = err.config_problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].message.contains("alias bomb"), "{err}");
}

/// A document under 1 MiB whose aliases repeat one 600 KB string 100,000 times: ~60 GB of
/// text if it were expanded.
fn long_alias_document() -> String {
    let mut text = format!("project: &long \"{}\"\nenv: [", "x".repeat(600_000));
    text.push_str(&"*long, ".repeat(55_000));
    text.push_str("*long]\n");
    assert!(text.len() < llmhub_core::config::MAX_CONFIG_BYTES);
    text
}

#[test]
fn aliases_of_a_long_value_are_refused_by_their_size() {
    let text = long_alias_document();
    let err = Config::from_yaml_str(&text).unwrap_err();
    let problems = err.config_problems();
    assert_eq!(problems.len(), 1);
    let p = &problems[0];
    // The anchored value and 13 aliases of it pass 8 MiB: 14 * 600,000 > 8,388,608. The
    // aliases start at column 7, one every 7 columns.
    assert_eq!((p.line, p.column), (2, 7 + 7 * 12), "{}", p.message);
    assert!(p.message.contains("8388608 bytes (8 MiB)"), "{}", p.message);
    assert!(p.message.contains("alias"), "{}", p.message);
}

#[test]
fn a_flood_of_problems_is_cut_at_one_hundred() {
    // 100,000 entries, each a problem: the first is not a mapping, the others repeat its key.
    let mut text = String::from("project: p\nenv: dev\nproviders: {openai: }\nroles:\n");
    text.push_str(&"  a: 1\n".repeat(100_000));
    assert!(text.len() < llmhub_core::config::MAX_CONFIG_BYTES);
    let err = Config::from_yaml_str(&text).unwrap_err();
    let problems = err.config_problems();
    assert_eq!(problems.len(), 101);
    assert!(problems[0].message.contains("role `a` must be a mapping"));
    assert_eq!(problems[0].line, 5);
    assert!(problems[1].message.contains("duplicate key `a`"));
    assert!(problems[1].message.contains("first defined on line 5"));
    assert_eq!(problems[99].line, 104);
    assert_eq!(problems[99].source_line.as_deref(), Some("  a: 1"));
    let last = &problems[100];
    assert_eq!(last.line, 0, "a whole-file problem");
    assert!(last.message.contains("and 99900 more problems"), "{last}");
    assert!(err.to_string().contains("99900 more"));
}

#[test]
fn aliases_within_budget_work() {
    let config = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders: {openai: }\nroles:\n  a: &base { provider: openai, model: m, mode: chat, params: { temperature: 0.5 } }\n  b: *base\n",
    )
    .unwrap();
    assert_eq!(config.roles["b"].params["temperature"], 0.5);
    assert_eq!(config.roles["b"].span.line, 6);
}

#[test]
fn files_over_one_mib_are_refused() {
    let big = format!("{FIXTURE}\n#{}\n", "x".repeat(1024 * 1024));
    let err = Config::from_yaml_str(&big).unwrap_err();
    assert!(err.to_string().contains("1 MiB"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llmhub.yaml");
    std::fs::write(&path, &big).unwrap();
    let err = Config::from_path(&path).unwrap_err();
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    for (open, close) in [("[", "]"), ("{a: ", "}")] {
        let deep = format!(
            "project: {}{}\n",
            open.repeat(100_000),
            close.repeat(100_000)
        );
        let err = Config::from_yaml_str(&deep).unwrap_err();
        assert!(err.to_string().contains("nests deeper than 64"), "{err}");
    }
    let mut block = String::from("project:\n");
    for depth in 1..200 {
        block.push_str(&format!("{}k:\n", "  ".repeat(depth)));
    }
    assert!(
        Config::from_yaml_str(&block)
            .unwrap_err()
            .to_string()
            .contains("nests deeper")
    );
}

#[test]
fn invalid_utf8_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llmhub.yaml");
    std::fs::write(&path, b"project: \xff\xfe\n").unwrap();
    let err = Config::from_path(&path).unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
}

/// Mutations of the fixture: a byte replaced, removed or inserted, a line dropped or doubled.
fn mutated_fixture() -> impl Strategy<Value = String> {
    let len = FIXTURE.len();
    let lines = FIXTURE.lines().count();
    prop_oneof![
        (0..len, any::<u8>()).prop_map(|(at, byte)| {
            let mut bytes = FIXTURE.as_bytes().to_vec();
            bytes[at] = byte;
            String::from_utf8_lossy(&bytes).into_owned()
        }),
        (0..len).prop_map(|at| {
            let mut bytes = FIXTURE.as_bytes().to_vec();
            bytes.remove(at);
            String::from_utf8_lossy(&bytes).into_owned()
        }),
        (
            0..len,
            prop::sample::select(vec![
                ":", "-", "[", "{", "&a", "*a", "'", "\"", "\t", "!!int", "#", "\n  "
            ])
        )
            .prop_map(|(at, text)| {
                let mut s = FIXTURE.as_bytes().to_vec();
                s.splice(at..at, text.bytes());
                String::from_utf8_lossy(&s).into_owned()
            }),
        (0..lines, any::<bool>()).prop_map(|(at, double)| {
            let mut out: Vec<&str> = FIXTURE.lines().collect();
            if double {
                out.insert(at, out[at])
            } else {
                out.remove(at);
            }
            out.join("\n")
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        assert_config_error(Config::from_yaml_str(&String::from_utf8_lossy(&bytes)));
    }

    #[test]
    fn yaml_like_noise_never_panics(text in "[a-z:\\-\\[\\]{}&*!|>'\" \n\t#,.0-9~]{0,300}") {
        assert_config_error(Config::from_yaml_str(&text));
    }

    #[test]
    fn mutated_fixture_never_panics(text in mutated_fixture()) {
        let result = Config::from_yaml_str_named(&text, "llmhub.yaml");
        if let Err(err) = &result {
            for problem in err.config_problems() {
                prop_assert_eq!(problem.file.as_str(), "llmhub.yaml");
                prop_assert!(problem.line <= text.lines().count() + 1);
                prop_assert!(!problem.message.is_empty());
                // Rendering never panics either.
                let _ = problem.to_string();
            }
        }
        assert_config_error(result);
    }
}
