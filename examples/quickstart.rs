//! Quickstart: `fixtures/llmhub.yaml` compiled into typed roles by `llmhub::roles!`, then a chat
//! call (OpenAI protocol), a chat call (Anthropic protocol), a streaming call and an embedding
//! call, each through its role's typed method.
//!
//! ```text
//! cargo run --example quickstart            # offline: a local server on loopback answers
//! cargo run --example quickstart -- --live  # the real providers, keys from the environment
//! ```
//!
//! By default every provider of the config is pointed at a server this program starts on
//! loopback, which serves canned OpenAI-compatible (`/v1/chat/completions`, SSE streaming,
//! `/v1/embeddings`) and Anthropic (`/v1/messages`) answers, so it runs on a fresh machine
//! without keys or network. With `--live`, the same calls go to the providers of the file, with
//! the keys from `OPENAI_API_KEY` and `ANTHROPIC_API_KEY`.

use futures_util::StreamExt;
use llmhub::{Config, Message};

llmhub::roles!("fixtures/llmhub.yaml");

#[tokio::main]
async fn main() -> std::process::ExitCode {
    local::exit(run().await)
}

async fn run() -> llmhub::Result<()> {
    let mut config = Config::from_yaml_str_named(
        include_str!("../fixtures/llmhub.yaml"),
        "fixtures/llmhub.yaml",
    )?;
    // Offline, the providers now point at a local server (kept alive until the end of `run`).
    let server = local::prepare(&mut config).await;
    let mut builder = Roles::builder();
    for (provider, key) in local::keys(&server, &config) {
        builder = builder.api_key(provider, key);
    }
    // With `--live` this is the same as `Roles::new()?`.
    let roles = builder.config(config).build()?;

    // Chat, on an OpenAI role.
    let reply = roles
        .llm_inference()
        .completion([
            Message::system("You answer in one short sentence."),
            Message::user("What is llmhub?"),
        ])
        .await?;
    println!(
        "llm.inference  (chat)      {}: {}",
        reply.model,
        text(reply.text())
    );

    // Chat, on an Anthropic role: same call, same OpenAI-shaped response.
    let reply = roles
        .llm_memwrite()
        .completion([Message::user("Summarize: the user likes tea.")])
        .await?;
    println!(
        "llm.memwrite   (chat)      {}: {}",
        reply.model,
        text(reply.text())
    );

    // Streaming.
    print!("llm.preprocess (stream)    ");
    let mut stream = roles
        .llm_preprocess()
        .stream([Message::user("Count to five.")])
        .await?;
    while let Some(chunk) = stream.next().await {
        print!("{}", chunk?.text().unwrap_or_default());
    }
    println!();

    // Embedding.
    let vectors = roles.llm_embedding().embedding("Hello world").await?;
    let vector = vectors.first().unwrap_or_default();
    println!(
        "llm.embedding  (embedding) {}: {} dimensions, starting {:?}",
        vectors.model,
        vector.len(),
        &vector[..vector.len().min(3)]
    );

    // `roles.llm_embedding().completion(..)` would not compile: the role's mode is in its type.
    Ok(())
}

fn text(reply: Option<&str>) -> &str {
    reply.unwrap_or("(no text)")
}

#[path = "support/local.rs"]
mod local;
