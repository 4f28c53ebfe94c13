//! The dynamic API: roles looked up by name at run time, for roles that are only known then
//! (the original design's `hub.completion(role, messages, overrides)`). Roles missing from the
//! file fall back to `defaults:`; a wrong-mode call is an `Error::ModeMismatch` at run time
//! instead of a compile error.
//!
//! ```text
//! cargo run --example dynamic            # offline: a local server on loopback answers
//! cargo run --example dynamic -- --live  # the real providers, keys from the environment
//! ```

use llmhub::{Config, Error, Hub, Message, Params};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    local::exit(run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/llmhub.yaml");
    let mut config = Config::from_path(path)?;
    // Offline, the providers now point at a local server (kept alive until the end of `run`).
    let server = local::prepare(&mut config).await;
    let mut builder = Hub::builder();
    for (provider, key) in local::keys(&server, &config) {
        builder = builder.api_key(provider, key);
    }
    let hub = builder.config(config).build()?;

    // A role chosen at run time, with a per-call override.
    let role = std::env::var("LLMHUB_ROLE").unwrap_or_else(|_| "llm.inference".to_owned());
    let mut overrides = Params::new();
    overrides.insert("temperature".into(), 0.0.into());
    let reply = hub
        .completion(&role, [Message::user("What is llmhub?")], Some(overrides))
        .await?;
    println!("{role}: {}", reply.text().unwrap_or("(no text)"));

    // A role that is not in the file: resolved through `defaults:`.
    let call = hub.config().resolve("llm.summarize", None)?;
    println!(
        "llm.summarize (not in the file) -> defaults: {}/{} ({})",
        call.provider, call.model, call.mode
    );

    // A chat call on an embedding role is refused before any request.
    match hub
        .completion("llm.embedding", [Message::user("Hi")], None)
        .await
    {
        Err(err @ Error::ModeMismatch { .. }) => println!("llm.embedding as chat -> {err}"),
        other => {
            return Err(format!(
                "llm.embedding as chat should be refused with a mode mismatch, got {other:?}"
            )
            .into());
        }
    }
    Ok(())
}

#[path = "support/local.rs"]
mod local;
