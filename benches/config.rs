//! Config load + validate: the canonical fixture and a generated 1,000-role config.
//! Target: the 1,000-role config loads and validates in under 2 ms.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use llmhub::Config;

const FIXTURE: &str = include_str!("../fixtures/llmhub.yaml");

/// A config with `roles` roles spread over four providers, as a generator would write it.
pub fn generated_config(roles: usize) -> String {
    let mut yaml = String::from(
        "project: bench\nenv: dev\nproviders:\n  openai:\n    env_key: OPENAI_API_KEY\n  anthropic:\n    env_key: ANTHROPIC_API_KEY\n  mistral:\n    env_key: MISTRAL_API_KEY\n  groq:\n    env_key: GROQ_API_KEY\nroles:\n",
    );
    for i in 0..roles {
        let (provider, model, mode, params) = match i % 4 {
            0 => (
                "openai",
                "gpt-4.1",
                "chat",
                "temperature: 0.7\n      max_tokens: 2048",
            ),
            1 => (
                "anthropic",
                "claude-3-5-sonnet-20241022",
                "chat",
                "temperature: 0.3\n      max_tokens: 1024\n      stop: [\"END\"]",
            ),
            2 => (
                "openai",
                "text-embedding-3-small",
                "embedding",
                "embedding_dim: 1536",
            ),
            _ => (
                "groq",
                "llama-3.1-8b-instant",
                "tool",
                "top_p: 0.9\n      tool_choice: auto",
            ),
        };
        yaml.push_str(&format!(
            "  team{}.role-{i}:\n    provider: {provider}\n    model: {model}\n    mode: {mode}\n    params:\n      {params}\n",
            i % 10
        ));
    }
    yaml
}

fn config_benches(c: &mut Criterion) {
    let big = generated_config(1000);
    assert_eq!(Config::from_yaml_str(&big).unwrap().roles.len(), 1000);
    let mut group = c.benchmark_group("config");
    group.bench_function("fixture (5 roles)", |b| {
        b.iter(|| Config::from_yaml_str(black_box(FIXTURE)).unwrap())
    });
    group.bench_function("generated (1000 roles)", |b| {
        b.iter(|| Config::from_yaml_str(black_box(&big)).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = config_benches
}
criterion_main!(benches);
