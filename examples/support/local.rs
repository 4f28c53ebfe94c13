//! The local stand-in for the providers, shared by the examples: a server on loopback with
//! canned answers in each protocol's wire format (OpenAI-compatible chat, SSE streaming,
//! structured replies, tool calls and embeddings; Anthropic messages and forced tools). It
//! checks the dummy key each protocol sends.

use std::process::ExitCode;

use llmhub::{Config, Protocol};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The API key the local server expects from every provider.
pub const KEY: &str = "local-dummy-key";

/// Ends `main`: an error is printed as its message (not its `Debug` form), with a failure
/// exit code.
pub fn exit<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// With `--live` on the command line, leaves `config` alone: the calls go to the real
/// providers, with keys from the environment. Otherwise starts the local server and points every
/// provider of `config` at it; keep the returned server alive while calling, and give the
/// builder the [`keys`]. Says which on stdout.
pub async fn prepare(config: &mut Config) -> Option<MockServer> {
    if std::env::args().skip(1).any(|arg| arg == "--live") {
        println!("--live: calling the real providers, API keys from the environment\n");
        return None;
    }
    let server = start().await;
    println!(
        "offline: the providers of {} point at a local server on {} (canned answers, no \
         network, dummy keys); run with --live to call the real providers\n",
        config.source_name,
        server.uri()
    );
    redirect(config, &server.uri());
    Some(server)
}

/// The `(provider, key)` pairs to give the builder: the dummy key for every provider when the
/// local server runs, none with `--live`.
pub fn keys(server: &Option<MockServer>, config: &Config) -> Vec<(String, &'static str)> {
    match server {
        Some(_) => config
            .providers
            .keys()
            .map(|id| (id.clone(), KEY))
            .collect(),
        None => Vec::new(),
    }
}

/// Points every provider of `config` at the local server at `uri`, following each protocol's
/// `base_url` convention (OpenAI-compatible: with `/v1`; Anthropic: without).
fn redirect(config: &mut Config, uri: &str) {
    for provider in config.providers.values_mut() {
        provider.base_url = match provider.api {
            Protocol::Anthropic => uri.to_owned(),
            _ => format!("{uri}/v1"),
        };
    }
}

/// Starts the server; it stops when the returned value is dropped.
async fn start() -> MockServer {
    let server = MockServer::start().await;
    let openai_auth = || header("authorization", format!("Bearer {KEY}").as_str());

    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(openai_auth())
        .and(body_partial_json(json!({ "stream": true })))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse_stream(), "text/event-stream"))
        .with_priority(1)
        .mount(&server)
        .await;
    // A structured reply: the JSON of the invoice the structured example reads.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(openai_auth())
        .and(body_partial_json(
            json!({ "response_format": { "type": "json_schema" } }),
        ))
        .respond_with(chat_reply(json!({
            "role": "assistant",
            "content": invoice().to_string(),
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    // Tools: the model calls the weather tool, then answers once it has the result.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(openai_auth())
        .and(|request: &Request| has_tool_result(request))
        .respond_with(chat_reply(json!({
            "role": "assistant",
            "content": "It is 21°C and sunny in Paris.",
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(openai_auth())
        .and(|request: &Request| body_has(request, "tools"))
        .respond_with(chat_reply(json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": "call_local_1",
                "type": "function",
                "function": { "name": "weather", "arguments": "{\"city\":\"Paris\"}" }
            }]
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(openai_auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-local-1",
            "object": "chat.completion",
            "created": 1_764_000_000,
            "model": "gpt-4.1",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "llmhub lets Rust programs call LLMs by role, checked at compile time."
                },
                "finish_reason": "stop"
            }],
            "usage": { "prompt_tokens": 24, "completion_tokens": 15, "total_tokens": 39 }
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(openai_auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{ "object": "embedding", "index": 0, "embedding": embedding(1536) }],
            "model": "text-embedding-3-small",
            "usage": { "prompt_tokens": 2, "total_tokens": 2 }
        })))
        .mount(&server)
        .await;
    // A structured reply on Anthropic: the forced tool, called with the invoice.
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(body_partial_json(json!({ "tool_choice": { "type": "tool" } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_local_2",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-sonnet-20241022",
            "content": [{ "type": "tool_use", "id": "toolu_local_1", "name": "Invoice", "input": invoice() }],
            "stop_reason": "tool_use",
            "usage": { "input_tokens": 40, "output_tokens": 50 }
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_local_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-sonnet-20241022",
            "content": [{ "type": "text", "text": "The user likes tea." }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": { "input_tokens": 14, "output_tokens": 6 }
        })))
        .mount(&server)
        .await;
    server
}

/// The invoice of the structured replies.
fn invoice() -> serde_json::Value {
    json!({
        "number": "INV-2025-042",
        "customer": "Ada Lovelace",
        "status": "unpaid",
        "lines": [
            { "description": "Analytical engine, rental", "quantity": 1, "unit_price": 120.0 },
            { "description": "Punched cards (box)", "quantity": 3, "unit_price": 9.5 }
        ],
        "due_date": null
    })
}

/// An OpenAI-compatible chat reply with `message`.
fn chat_reply(message: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-local-3",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": "gpt-4.1",
        "choices": [{ "index": 0, "message": message, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50 }
    }))
}

/// The request's JSON body, if it is one.
fn body(request: &Request) -> Option<serde_json::Value> {
    serde_json::from_slice(&request.body).ok()
}

/// Whether the request's body has the top-level field `key`.
fn body_has(request: &Request, key: &str) -> bool {
    body(request).is_some_and(|body| body.get(key).is_some())
}

/// Whether the request sends a tool's result back.
fn has_tool_result(request: &Request) -> bool {
    body(request).is_some_and(|body| {
        body["messages"]
            .as_array()
            .is_some_and(|messages| messages.iter().any(|m| m["role"] == "tool"))
    })
}

/// An OpenAI-compatible SSE stream: one chunk per word, then `[DONE]`.
fn sse_stream() -> String {
    let mut body = String::new();
    for word in ["1, ", "2, ", "3, ", "4, ", "5."] {
        let chunk = json!({
            "id": "chatcmpl-local-2",
            "object": "chat.completion.chunk",
            "created": 1_764_000_000,
            "model": "gpt-4o-mini",
            "choices": [{ "index": 0, "delta": { "content": word }, "finish_reason": null }]
        });
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    body
}

/// A deterministic unit-length vector.
fn embedding(dimensions: usize) -> Vec<f32> {
    let raw: Vec<f32> = (0..dimensions).map(|i| (i as f32 * 0.1).sin()).collect();
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    raw.into_iter().map(|x| x / norm).collect()
}
