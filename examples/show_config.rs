//! Loads an llmhub.yaml (default: fixtures/llmhub.yaml), validates it and prints each role's
//! binding. On an invalid file it prints every problem, with file, line and column.
//!
//! ```text
//! cargo run --example show_config -- path/to/llmhub.yaml
//! ```

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/llmhub.yaml").into());
    let config = match llmhub::Config::from_path(&path) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    println!("project `{}`, env `{}`", config.project, config.env);
    for (id, provider) in &config.providers {
        println!("provider {id:<12} {} {}", provider.api, provider.base_url);
    }
    for role in config.roles.values() {
        println!(
            "role {:<16} -> {}/{} ({}) params {}",
            role.name,
            role.provider,
            role.model,
            role.mode,
            serde_json::Value::Object(role.params.clone())
        );
    }
    if let Some(defaults) = &config.defaults {
        println!(
            "defaults              -> {}/{} ({})",
            defaults.provider, defaults.model, defaults.mode
        );
    }
}
