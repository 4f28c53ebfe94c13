//! Code generation time for configs of 10, 100 and 1,000 roles (target: 1,000 roles under
//! 10 ms for what the macro does: parse, validate, generate tokens).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use llmhub_codegen::{Config, Embed, format_source, generate_tokens};
use std::hint::black_box;

/// A valid config with `roles` roles, alternating chat and embedding.
fn config_text(roles: usize) -> String {
    let mut text = String::from(
        "project: bench\nenv: dev\nproviders:\n  openai:\n    env_key: OPENAI_API_KEY\nroles:\n",
    );
    for i in 0..roles {
        let (mode, params) = if i % 2 == 0 {
            ("chat", "{ temperature: 0.7, max_tokens: 2048 }")
        } else {
            ("embedding", "{ embedding_dim: 1536 }")
        };
        text.push_str(&format!(
            "  llm.role-{i}:\n    provider: openai\n    model: gpt-4.1\n    mode: {mode}\n    params: {params}\n"
        ));
    }
    text
}

fn codegen(c: &mut Criterion) {
    let name: syn::Ident = syn::parse_quote!(Roles);
    let embed = Embed::ManifestRelative("llmhub.yaml".into());
    let mut group = c.benchmark_group("codegen");
    for roles in [10, 100, 1_000] {
        let text = config_text(roles);
        // What the macro does: parse and validate, then generate tokens.
        group.bench_with_input(BenchmarkId::new("macro", roles), &text, |b, text| {
            b.iter(|| {
                let config = Config::from_yaml_str_named(black_box(text), "llmhub.yaml").unwrap();
                generate_tokens(&config, &name, &embed).unwrap()
            })
        });
        // What a build script does on top: format with prettyplease.
        group.bench_with_input(BenchmarkId::new("build_script", roles), &text, |b, text| {
            b.iter(|| {
                let config = Config::from_yaml_str_named(black_box(text), "llmhub.yaml").unwrap();
                format_source(
                    generate_tokens(&config, &name, &embed).unwrap(),
                    "llmhub.yaml",
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, codegen);
criterion_main!(benches);
