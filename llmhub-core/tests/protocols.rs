//! What each protocol carries, on the wire: the exact requests llmhub sends and the replies it
//! reads, from the APIs' documented examples kept under `fixtures/replies/`.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use llmhub_core::{Config, Error, Hub, HubBuilder, Message, Params};
use serde_json::{Value, json};
use support::*;
use wiremock::ResponseTemplate;

fn fixture(name: &str) -> String {
    let path = format!("{}/../fixtures/replies/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn params(value: Value) -> Params {
    value.as_object().unwrap().clone()
}

fn sse_reply(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// A hub of one provider `p` (written as YAML lines) and its roles, with key `KEY`.
fn one_provider_hub(provider: &str, roles: &str) -> Hub {
    one_provider_builder(provider, roles).build().unwrap()
}

/// The builder of [`one_provider_hub`].
fn one_provider_builder(provider: &str, roles: &str) -> HubBuilder {
    let yaml = format!("project: t\nenv: dev\nproviders:\n  p:\n{provider}\nroles:\n{roles}");
    Hub::builder()
        .config(Config::from_yaml_str(&yaml).unwrap())
        .api_key("p", "KEY-123")
        .retry_base_delay(Duration::from_millis(10))
}

// ---------------------------------------------------------------------------------------------
// Azure OpenAI
// ---------------------------------------------------------------------------------------------

fn azure_roles() -> &'static str {
    "  chat:\n    provider: p\n    model: gpt-4o-prod\n    mode: chat\n    params: { max_tokens: 50 }\n  \
     embed:\n    provider: p\n    model: embed-small\n    mode: embedding\n"
}

fn azure_hub(base_url: &str, api_version: Option<&str>) -> Hub {
    let version = api_version.map_or(String::new(), |v| format!("    api_version: \"{v}\"\n"));
    one_provider_hub(
        &format!(
            "    api: azure\n    base_url: {base_url}\n    env_key: AZURE_OPENAI_API_KEY\n{version}"
        ),
        azure_roles(),
    )
}

#[tokio::test]
async fn azure_chat_goes_to_the_deployment_url_with_api_version_and_api_key() {
    let server = serve(json_reply(fixture_json("azure_chat.json"))).await;
    let hub = azure_hub(&server.uri(), Some("2024-06-01"));
    let reply = ask(&hub, "chat").await.unwrap();

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.url.path(),
        "/openai/deployments/gpt-4o-prod/chat/completions"
    );
    assert_eq!(request.url.query(), Some("api-version=2024-06-01"));
    assert_eq!(header(&request, "api-key"), Some("KEY-123"));
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        body_json(&request),
        json!({"model": "gpt-4o-prod", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 50})
    );
    assert_eq!(
        reply.text(),
        Some("Yes, customer managed keys are supported by Azure OpenAI.")
    );
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (1300, 12, 1312)
    );
    // What is not modelled (the content filter results) is still in the raw body.
    assert_eq!(
        reply.raw_json().unwrap()["prompt_filter_results"][0]["content_filter_results"]["hate"]["severity"],
        "safe"
    );
}

#[tokio::test]
async fn azure_default_api_version_and_a_second_deployment() {
    let server = serve(json_reply(fixture_json("azure_embeddings.json"))).await;
    let hub = azure_hub(&server.uri(), None);
    let reply = hub.embedding("embed", "hello", None).await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        request.url.path(),
        "/openai/deployments/embed-small/embeddings"
    );
    assert_eq!(request.url.query(), Some("api-version=2024-10-21"));
    assert_eq!(llmhub_core::config::AZURE_API_VERSION, "2024-10-21");
    assert_eq!(header(&request, "api-key"), Some("KEY-123"));
    assert_eq!(
        body_json(&request),
        json!({"model": "embed-small", "input": "hello"})
    );
    assert_eq!(
        reply.first().unwrap(),
        &[0.0023064255, -0.009327292, -0.0028842222]
    );
    assert_eq!(reply.usage.unwrap().prompt_tokens, 8);
}

#[tokio::test]
async fn azure_stream_skips_the_prompt_filter_chunk_and_keeps_usage() {
    let server = serve(sse_reply(fixture("azure_stream.sse"))).await;
    let hub = azure_hub(&server.uri(), Some("2025-04-01-preview"));
    let stream = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap();
    let reply = stream.collect_response().await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        request.url.path(),
        "/openai/deployments/gpt-4o-prod/chat/completions"
    );
    assert_eq!(request.url.query(), Some("api-version=2025-04-01-preview"));
    assert_eq!(header(&request, "api-key"), Some("KEY-123"));
    let body = body_json(&request);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(reply.text(), Some("Yes."));
    let usage = reply.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1300, 2));
}

#[tokio::test]
async fn azure_v1_base_url_is_openai_compatible_with_the_api_key_header() {
    let server = serve(json_reply(fixture_json("azure_chat.json"))).await;
    let hub = azure_hub(&format!("{}/openai/v1", server.uri()), None);
    ask(&hub, "chat").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/openai/v1/chat/completions");
    assert_eq!(request.url.query(), None);
    assert_eq!(header(&request, "api-key"), Some("KEY-123"));
    assert_eq!(body_json(&request)["model"], "gpt-4o-prod");
}

#[tokio::test]
async fn azure_entra_token_is_sent_as_a_bearer_token() {
    let server = serve(json_reply(fixture_json("azure_chat.json"))).await;
    let yaml = format!(
        "project: t\nenv: dev\nproviders:\n  az:\n    api: azure\n    base_url: {}\nroles:\n{}",
        server.uri(),
        azure_roles().replace("provider: p", "provider: az")
    );
    let builder = Hub::builder()
        .config(Config::from_yaml_str(&yaml).unwrap())
        .azure_ad_token("az", "eyJ0eXAi-TOKEN");
    assert!(!format!("{builder:?}").contains("eyJ0eXAi-TOKEN"));
    let hub = builder.build().unwrap();
    ask(&hub, "chat").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        header(&request, "authorization"),
        Some("Bearer eyJ0eXAi-TOKEN")
    );
    assert_eq!(header(&request, "api-key"), None);
}

#[tokio::test]
async fn azure_deployment_name_that_cannot_be_a_path_segment_fails_before_any_request() {
    let server = serve(json_reply(fixture_json("azure_chat.json"))).await;
    let hub = one_provider_hub(
        &format!("    api: azure\n    base_url: {}\n", server.uri()),
        "  chat:\n    provider: p\n    model: \"gpt/4o?x\"\n    mode: chat\n",
    );
    let err = ask(&hub, "chat").await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("deployment name"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn api_version_is_checked_where_it_is_written() {
    let yaml = "project: t\nenv: dev\nproviders:\n  az:\n    api: azure\n    base_url: https://r.openai.azure.com\n    api_version: 2024-13-01\n  \
                oa:\n    api: openai\n    base_url: https://api.example.com/v1\n    api_version: \"2024-10-21\"\nroles: {}\n";
    let Err(Error::Config(err)) = Config::from_yaml_str(yaml) else {
        panic!("expected a config error");
    };
    let found: Vec<(usize, usize, &str)> = err
        .problems
        .iter()
        .map(|p| (p.line, p.column, p.message.as_str()))
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (7, 18));
    assert!(found[0].2.contains("not an Azure API version"), "{found:?}");
    assert!(
        err.problems[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("2024-10-21")
    );
    assert_eq!((found[1].0, found[1].1), (11, 18));
    assert!(found[1].2.contains("only for `api: azure`"), "{found:?}");

    let ok = Config::from_yaml_str(
        "project: t\nenv: dev\nproviders:\n  az:\n    api: azure\n    base_url: https://r.openai.azure.com\n    api_version: 2025-04-01-preview\nroles: {}\n",
    )
    .unwrap();
    assert_eq!(
        ok.providers["az"].api_version.as_deref(),
        Some("2025-04-01-preview")
    );
    assert_eq!(ok.providers["az"].api, llmhub_core::Protocol::Azure);
}

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

fn openai_hub(base_url: &str) -> Hub {
    one_provider_hub(
        &format!("    api: openai\n    base_url: {base_url}/v1\n"),
        "  chat:\n    provider: p\n    model: o4-mini\n    mode: tool\n",
    )
}

fn anthropic_hub(base_url: &str) -> Hub {
    one_provider_hub(
        &format!("    api: anthropic\n    base_url: {base_url}\n"),
        "  chat:\n    provider: p\n    model: claude-sonnet-4-20250514\n    mode: tool\n",
    )
}

fn counts(usage: llmhub_core::Usage) -> [u64; 6] {
    [
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
        usage.cache_read_tokens,
        usage.cache_creation_tokens,
        usage.reasoning_tokens,
    ]
}

#[tokio::test]
async fn openai_usage_details_in_full_and_streamed_replies() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    let reply = ask(&openai_hub(&server.uri()), "chat").await.unwrap();
    assert_eq!(
        counts(reply.usage.unwrap()),
        [1117, 1046, 2163, 1024, 0, 960]
    );

    let server = serve(sse_reply(fixture("openai_stream.sse"))).await;
    let hub = openai_hub(&server.uri());
    let stream = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap();
    let reply = stream.collect_response().await.unwrap();
    assert_eq!(reply.text(), Some("Hello"));
    assert_eq!(
        counts(reply.usage.unwrap()),
        [1117, 1046, 2163, 1024, 0, 960]
    );
}

#[tokio::test]
async fn anthropic_usage_counts_cache_reads_and_writes_in_the_prompt() {
    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    let reply = ask(&anthropic_hub(&server.uri()), "chat").await.unwrap();
    // 21 uncached + 188086 written to the cache.
    assert_eq!(
        counts(reply.usage.unwrap()),
        [188107, 393, 188500, 0, 188086, 0]
    );

    let server = serve(sse_reply(fixture("anthropic_stream.sse"))).await;
    let hub = anthropic_hub(&server.uri());
    let stream = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap();
    let reply = stream.collect_response().await.unwrap();
    // 25 uncached + 2048 read from the cache; the output count of `message_delta`.
    assert_eq!(counts(reply.usage.unwrap()), [2073, 285, 2358, 2048, 0, 0]);
}

#[tokio::test]
async fn anthropic_counts_never_overflow() {
    let max = u64::MAX;
    let server = serve(json_reply(json!({
        "content": [],
        "usage": {"input_tokens": max, "cache_read_input_tokens": max, "output_tokens": max}
    })))
    .await;
    let reply = ask(&anthropic_hub(&server.uri()), "chat").await.unwrap();
    assert_eq!(counts(reply.usage.unwrap()), [max, max, max, max, 0, 0]);
}

#[tokio::test]
async fn hooks_see_the_whole_usage_of_a_stream() {
    let server = serve(sse_reply(fixture("anthropic_stream.sse"))).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let hook_seen = seen.clone();
    let yaml = format!(
        "project: t\nenv: dev\nproviders:\n  p:\n    api: anthropic\n    base_url: {}\nroles:\n  chat:\n    provider: p\n    model: claude\n    mode: chat\n",
        server.uri()
    );
    let hub = Hub::builder()
        .config(Config::from_yaml_str(&yaml).unwrap())
        .on_after_call(move |result| *hook_seen.lock().unwrap() = result.usage)
        .build()
        .unwrap();
    let mut stream = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    let usage = seen.lock().unwrap().expect("the hook saw usage");
    assert_eq!(counts(usage), [2073, 285, 2358, 2048, 0, 0]);
}

// ---------------------------------------------------------------------------------------------
// Reasoning
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reasoning_effort_is_sent_as_is_and_max_tokens_kept_on_compatible_servers() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    let hub = openai_hub(&server.uri());
    hub.completion(
        "chat",
        [Message::user("Hi")],
        Some(params(
            json!({"reasoning_effort": "high", "max_tokens": 300, "cache": true}),
        )),
    )
    .await
    .unwrap();
    let request = only_request(&server).await;
    // A loopback server is not OpenAI's own API: `max_tokens` keeps its name (OpenAI's own
    // host, decided by `is_openai_api_host`, gets `max_completion_tokens`; see its unit test).
    assert_eq!(
        body_json(&request),
        json!({"model": "o4-mini", "messages": [{"role": "user", "content": "Hi"}],
               "reasoning_effort": "high", "max_tokens": 300})
    );
}

async fn anthropic_body(overrides: Value) -> Value {
    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    anthropic_hub(&server.uri())
        .completion("chat", [Message::user("Hi")], Some(params(overrides)))
        .await
        .unwrap();
    body_json(&only_request(&server).await)
}

#[tokio::test]
async fn reasoning_effort_becomes_an_anthropic_thinking_budget() {
    for (effort, budget) in [
        ("minimal", 1024),
        ("low", 2048),
        ("medium", 8192),
        ("high", 24576),
    ] {
        let body = anthropic_body(json!({"reasoning_effort": effort})).await;
        assert_eq!(
            body["thinking"],
            json!({"type": "enabled", "budget_tokens": budget})
        );
        // The default 4096 tokens of answer on top of the budget when it is not above it.
        let expected = if budget < 4096 { 4096 } else { budget + 4096 };
        assert_eq!(body["max_tokens"], expected, "{effort}");
        assert!(body.get("reasoning_effort").is_none());
    }
    // A max_tokens above the budget is kept; one under it is raised above it.
    let body = anthropic_body(json!({"reasoning_effort": "low", "max_tokens": 16000})).await;
    assert_eq!(body["max_tokens"], 16000);
    let body = anthropic_body(json!({"reasoning_effort": "medium", "max_tokens": 1000})).await;
    assert_eq!(body["max_tokens"], 9192);
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-20250514",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 9192,
            "thinking": {"type": "enabled", "budget_tokens": 8192},
        })
    );
    // `thinking` written out by hand wins.
    let own = json!({"type": "enabled", "budget_tokens": 5000});
    let body = anthropic_body(json!({"reasoning_effort": "high", "thinking": own})).await;
    assert_eq!(body["thinking"], own);
    assert_eq!(body["max_tokens"], 4096);
}

#[tokio::test]
async fn a_wrong_reasoning_effort_override_fails_before_any_request() {
    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    let err = anthropic_hub(&server.uri())
        .completion(
            "chat",
            [Message::user("Hi")],
            Some(params(json!({"reasoning_effort": "max"}))),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reasoning_effort"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn reasoning_effort_and_cache_are_checked_in_the_config() {
    let yaml = "project: t\nenv: dev\nproviders:\n  openai: {}\nroles:\n  a:\n    provider: openai\n    model: o3\n    mode: chat\n    params: { reasoning_effort: extreme, cache: yes please }\n";
    let Err(Error::Config(err)) = Config::from_yaml_str(yaml) else {
        panic!("expected a config error");
    };
    let found: Vec<(usize, usize, &str, &str)> = err
        .problems
        .iter()
        .map(|p| {
            (
                p.line,
                p.column,
                p.message.as_str(),
                p.hint.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (10, 33));
    assert!(found[0].2.contains("param `reasoning_effort`") && found[0].2.contains("\"extreme\""));
    assert!(found[0].3.contains("minimal, low, medium, high"));
    assert_eq!((found[1].0, found[1].1), (10, 49));
    assert!(found[1].2.contains("param `cache`"));
}

/// The second turn of a tool call made while thinking, as the caller writes it.
fn second_turn(reply: &llmhub_core::ChatResponse) -> Vec<Message> {
    let call = &reply.tool_calls()[0];
    vec![
        Message::user("Weather in Paris?"),
        Message::from(reply),
        Message::tool(call.id.clone(), "18°C, sunny"),
    ]
}

#[tokio::test]
async fn anthropic_thinking_blocks_go_back_byte_for_byte_on_the_next_turn() {
    let fixture_text = fixture("anthropic_thinking_tool_use.json");
    let server = serve(json_reply(serde_json::from_str(&fixture_text).unwrap())).await;
    let hub = anthropic_hub(&server.uri());
    let reply = ask(&hub, "chat").await.unwrap();
    assert_eq!(
        reply.reasoning(),
        Some(
            "The user wants the weather in Paris. I should call get_weather with location \"Paris, France\"."
        )
    );
    assert_eq!(reply.choices[0].message.reasoning_blocks.len(), 2);
    hub.completion("chat", second_turn(&reply), None)
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let second = &requests[1];
    let sent = body_json(second);
    let given = fixture_json("anthropic_thinking_tool_use.json");
    // The assistant turn is the reply's content blocks, in order, as Anthropic sent them.
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "content": given["content"]})
    );
    // Byte for byte: each block's JSON text as the fixture has it appears in the request.
    let body = String::from_utf8(second.body.clone()).unwrap();
    for block in given["content"].as_array().unwrap() {
        for key in ["signature", "data", "thinking"] {
            if let Some(text) = block.get(key) {
                assert!(body.contains(&text.to_string()), "{key} changed in {body}");
            }
        }
    }
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01CswdEQBMshySk6Y9DFKrfq", "content": "18°C, sunny"}]})
    );
}

#[tokio::test]
async fn anthropic_streamed_thinking_is_surfaced_and_collected_with_its_signature() {
    let server = serve(sse_reply(fixture("anthropic_stream.sse"))).await;
    let hub = anthropic_hub(&server.uri());
    let mut stream = hub
        .stream_completion("chat", [Message::user("GCD?")], None)
        .await
        .unwrap();
    let mut reasoning = String::new();
    let mut blocks = Vec::new();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        reasoning.push_str(chunk.reasoning().unwrap_or(""));
        text.push_str(chunk.text().unwrap_or(""));
        blocks.extend(chunk.choices[0].delta.reasoning_block.clone());
    }
    assert!(reasoning.starts_with("I need to find the GCD") && reasoning.ends_with("= 21"));
    assert_eq!(
        text,
        "The greatest common divisor of 1071 and 462 is **21**."
    );
    assert_eq!(
        blocks,
        [llmhub_core::ReasoningBlock::Thinking {
            thinking: reasoning.clone(),
            signature: "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds+/==".into(),
        }]
    );

    let server = serve(sse_reply(fixture("anthropic_stream.sse"))).await;
    let hub = anthropic_hub(&server.uri());
    let reply = hub
        .stream_completion("chat", [Message::user("GCD?")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(reply.reasoning(), Some(reasoning.as_str()));
    let message = reply.to_message();
    assert_eq!(message.reasoning_blocks, blocks);
    assert_eq!(message.text(), Some(text.as_str()));
}

#[tokio::test]
async fn deepseek_reasoning_content_in_replies_and_deltas() {
    let server = serve(json_reply(fixture_json("deepseek_chat.json"))).await;
    let reply = ask(&openai_hub(&server.uri()), "chat").await.unwrap();
    assert_eq!(
        reply.reasoning(),
        Some(
            "Comparing 9.11 and 9.8: the tenths digit of 9.8 is 8, of 9.11 is 1, so 9.8 is larger."
        )
    );
    assert_eq!(
        reply.text(),
        Some("9.11 is greater than 9.8? No: 9.8 is greater.")
    );
    assert_eq!(counts(reply.usage.unwrap()), [18, 420, 438, 0, 0, 380]);
    // The reasoning text is not sent back on the OpenAI protocol (DeepSeek refuses it).
    assert_eq!(
        serde_json::to_value(reply.to_message()).unwrap(),
        json!({"role": "assistant", "content": "9.11 is greater than 9.8? No: 9.8 is greater."})
    );

    let server = serve(sse_reply(fixture("deepseek_stream.sse"))).await;
    let hub = openai_hub(&server.uri());
    let mut stream = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap();
    let mut deltas = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(reasoning) = chunk
            .choices
            .first()
            .and_then(|c| c.delta.reasoning.clone())
        {
            deltas.push(reasoning);
        }
    }
    assert_eq!(deltas, ["", "Compare the tenths", ": 8 > 1."]);
}

#[tokio::test]
async fn openrouter_reasoning_deltas_are_surfaced() {
    let events = [
        json!({"id": "gen-1", "model": "deepseek/deepseek-r1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "reasoning": "Think"}}]}),
        json!({"id": "gen-1", "model": "deepseek/deepseek-r1", "choices": [{"index": 0, "delta": {"content": "", "reasoning": "ing."}}]}),
        json!({"id": "gen-1", "model": "deepseek/deepseek-r1", "choices": [{"index": 0, "delta": {"content": "Done"}, "finish_reason": "stop"}]}),
    ];
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    let server = serve(sse_reply(body + "data: [DONE]\n\n")).await;
    let hub = openai_hub(&server.uri());
    let reply = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(reply.reasoning(), Some("Thinking."));
    assert_eq!(reply.text(), Some("Done"));
}

#[tokio::test]
async fn gemini_thought_signatures_go_back_with_their_tool_calls() {
    let server = serve(json_reply(fixture_json("gemini_tool_call.json"))).await;
    let hub = openai_hub(&server.uri());
    let reply = ask(&hub, "chat").await.unwrap();
    hub.completion("chat", second_turn(&reply), None)
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let sent = body_json(&requests[1]);
    let given = fixture_json("gemini_tool_call.json");
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "tool_calls": given["choices"][0]["message"]["tool_calls"]})
    );
    let body = String::from_utf8(requests[1].body.clone()).unwrap();
    assert!(body.contains(
        r#""extra_content":{"google":{"thought_signature":"CtsBAdHtim9y/TYadDe+J+Czkm1RqhqnJVqjPH2yM3gYd8RZL0qBxyW8oLA0BHxwDqSdIwxg=="}}"#
    ));
    assert_eq!(counts(reply.usage.unwrap()), [62, 18, 150, 0, 0, 70]);

    // Streamed, the metadata comes on the call's first piece and is kept by collect_response.
    let piece = json!({"id": "g", "model": "gemini-2.5-flash", "choices": [{"index": 0, "delta": {"role": "assistant",
        "tool_calls": [{"index": 0, "id": "fc-1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"},
        "extra_content": {"google": {"thought_signature": "c2lnbmF0dXJl"}}}]}, "finish_reason": "tool_calls"}]});
    let server = serve(sse_reply(format!("data: {piece}\n\ndata: [DONE]\n\n"))).await;
    let hub = openai_hub(&server.uri());
    let reply = hub
        .stream_completion("chat", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(
        reply.tool_calls()[0].extra_content,
        Some(json!({"google": {"thought_signature": "c2lnbmF0dXJl"}}))
    );
}

// ---------------------------------------------------------------------------------------------
// Small fidelity gaps
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn raw_json_keeps_every_digit_of_moderation_scores() {
    // Scores written with as many digits as OpenAI's moderation endpoint uses; without
    // serde_json's `float_roundtrip` these two parse one unit in the last place off.
    let scores = [
        ("harassment", "0.0009412197162315599"),
        ("violence", "0.0009951527900798063"),
        ("self-harm", "1.8925813400000001e-6"),
    ];
    let fields: Vec<String> = scores.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    let body = format!(
        r#"{{"id":"modr-970d409ef3bef3b7","model":"omni-moderation-latest","results":[{{"flagged":false,"category_scores":{{{}}}}}]}}"#,
        fields.join(",")
    );
    let server = serve(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
    let hub = one_provider_hub(
        &format!("    api: openai\n    base_url: {}/v1\n", server.uri()),
        "  moderate:\n    provider: p\n    model: omni-moderation-latest\n    mode: other\n",
    );
    let reply = hub
        .raw("moderate", "/moderations", json!({"input": "hi"}), None)
        .await
        .unwrap();
    for (name, text) in scores {
        let exact: f64 = text.parse().unwrap();
        let got = reply["results"][0]["category_scores"][name]
            .as_f64()
            .unwrap();
        assert_eq!(got.to_bits(), exact.to_bits(), "{name}: {got} != {text}");
    }
    assert_eq!(only_request(&server).await.url.path(), "/v1/moderations");
}

/// The one request of a chat call through an OpenAI provider whose config's `headers:` set
/// `name: value`.
async fn chat_request_with_config_header(name: &str, value: &str) -> wiremock::Request {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    let hub = one_provider_hub(
        &format!(
            "    api: openai\n    base_url: {}/v1\n    headers: {{ {name}: {value} }}\n",
            server.uri()
        ),
        "  chat:\n    provider: p\n    model: m\n    mode: chat\n",
    );
    ask(&hub, "chat").await.unwrap();
    only_request(&server).await
}

#[tokio::test]
async fn every_request_names_llmhub_as_user_agent_unless_headers_set_one() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    ask(&openai_hub(&server.uri()), "chat").await.unwrap();
    let ua = format!("llmhub/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        header(&only_request(&server).await, "user-agent"),
        Some(ua.as_str())
    );

    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    ask(&anthropic_hub(&server.uri()), "chat").await.unwrap();
    assert_eq!(
        header(&only_request(&server).await, "user-agent"),
        Some(ua.as_str())
    );

    let request = chat_request_with_config_header("user-agent", "my-app/2.0").await;
    assert_eq!(header(&request, "user-agent"), Some("my-app/2.0"));
    assert_eq!(request.headers.get_all("user-agent").iter().count(), 1);
}

#[tokio::test]
async fn every_request_accepts_any_type_once_unless_headers_or_a_given_client_set_accept() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    ask(&openai_hub(&server.uri()), "chat").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "accept"), Some("*/*"));
    assert_eq!(request.headers.get_all("accept").iter().count(), 1);

    let request = chat_request_with_config_header("accept", "application/json").await;
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(request.headers.get_all("accept").iter().count(), 1);

    // A client given to the builder sends its own default.
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    let defaults = reqwest::header::HeaderMap::from_iter([(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/json"),
    )]);
    let client = reqwest::Client::builder()
        .default_headers(defaults)
        .build()
        .unwrap();
    let hub = one_provider_builder(
        &format!("    api: openai\n    base_url: {}/v1\n", server.uri()),
        "  chat:\n    provider: p\n    model: m\n    mode: chat\n",
    )
    .http_client(client)
    .build()
    .unwrap();
    ask(&hub, "chat").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(request.headers.get_all("accept").iter().count(), 1);
}

#[tokio::test]
async fn seed_and_user_are_passed_through_when_a_role_sets_them() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    openai_hub(&server.uri())
        .completion(
            "chat",
            [Message::user("Hi")],
            Some(params(json!({"seed": 7, "user": "u-1"}))),
        )
        .await
        .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(
        (body["seed"].clone(), body["user"].clone()),
        (json!(7), json!("u-1"))
    );
}

// ---------------------------------------------------------------------------------------------
// Prompt caching
// ---------------------------------------------------------------------------------------------

fn weather_tools() -> Value {
    json!([
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}},
         "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "function", "function": {"name": "get_weather", "description": "Weather now.",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    ])
}

#[tokio::test]
async fn cache_true_places_anthropic_breakpoints_on_system_and_last_tool() {
    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    let hub = anthropic_hub(&server.uri());
    let messages = [
        Message::system("You are a careful assistant."),
        Message::user("Hi"),
    ];
    let overrides = params(json!({"cache": true, "tools": weather_tools()}));
    hub.completion("chat", messages, Some(overrides))
        .await
        .unwrap();
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({
            "model": "claude-sonnet-4-20250514",
            "system": [{"type": "text", "text": "You are a careful assistant.", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 4096,
            "tools": [
                {"name": "get_time", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                {"name": "get_weather", "description": "Weather now.",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
                 "cache_control": {"type": "ephemeral"}},
            ],
        })
    );
}

#[tokio::test]
async fn without_cache_user_breakpoints_are_kept_and_none_added() {
    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    let hub = anthropic_hub(&server.uri());
    let image = json!({"type": "image_url", "image_url": {"url": "https://example.com/a.png"},
                       "cache_control": {"type": "ephemeral"}});
    let messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [image, {"type": "text", "text": "What is it?", "cache_control": {"type": "ephemeral"}}]},
    ]);
    hub.completion(
        "chat",
        messages,
        Some(params(json!({"tools": weather_tools()}))),
    )
    .await
    .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(body["system"], "Be brief.");
    assert_eq!(
        body["messages"][0]["content"],
        json!([
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "What is it?", "cache_control": {"type": "ephemeral"}},
        ])
    );
    assert_eq!(
        body["tools"][0]["cache_control"],
        json!({"type": "ephemeral", "ttl": "1h"})
    );
    assert!(body["tools"][1].get("cache_control").is_none());
    assert!(body.get("cache").is_none());
}

#[tokio::test]
async fn cache_is_never_sent_on_the_openai_protocol() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    let hub = openai_hub(&server.uri());
    hub.completion(
        "chat",
        [Message::system("S"), Message::user("Hi")],
        Some(params(json!({"cache": true}))),
    )
    .await
    .unwrap();
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({"model": "o4-mini", "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]})
    );
}

// ---------------------------------------------------------------------------------------------
// Multimodal input
// ---------------------------------------------------------------------------------------------

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0d, 0x0a];
const PNG_B64: &str = "iVBORw0K";
const PDF: &[u8] = b"%PDF-1.7";
const PDF_B64: &str = "JVBERi0xLjc=";

fn all_parts() -> Message {
    use llmhub_core::Part;
    Message::user_parts([
        Part::text("Compare these."),
        Part::image_url("https://example.com/cat.jpg"),
        Part::image_bytes(PNG, "image/png"),
        Part::document_pdf(PDF),
    ])
}

#[tokio::test]
async fn each_part_on_the_openai_protocol() {
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    openai_hub(&server.uri())
        .completion("chat", [all_parts()], None)
        .await
        .unwrap();
    assert_eq!(
        body_json(&only_request(&server).await)["messages"][0],
        json!({"role": "user", "content": [
            {"type": "text", "text": "Compare these."},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_B64}")}},
            {"type": "file", "file": {"file_data": format!("data:application/pdf;base64,{PDF_B64}")}},
        ]})
    );
}

#[tokio::test]
async fn each_part_on_the_anthropic_protocol_and_images_in_tool_results() {
    use llmhub_core::Part;
    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    let messages = vec![
        Message {
            content: Some(llmhub_core::Content::Parts(vec![
                Part::document_url("https://example.com/report.pdf").into_json(),
            ])),
            ..Message::user("")
        },
        all_parts(),
        Message::assistant_tool_calls(vec![llmhub_core::ToolCall {
            id: "toolu_1".into(),
            kind: "function".into(),
            function: llmhub_core::FunctionCall {
                name: "screenshot".into(),
                arguments: "{}".into(),
            },
            extra_content: None,
        }]),
        Message::tool_parts(
            "toolu_1",
            [
                Part::text("Here it is."),
                Part::image_bytes(PNG, "image/png"),
            ],
        ),
    ];
    anthropic_hub(&server.uri())
        .completion("chat", messages, None)
        .await
        .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "document", "source": {"type": "url", "url": "https://example.com/report.pdf"}},
            ]},
            {"role": "user", "content": [
                {"type": "text", "text": "Compare these."},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}},
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "Here it is."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
            ]}]},
        ])
    );
}

#[tokio::test]
async fn parts_a_protocol_cannot_carry_fail_before_any_request() {
    use llmhub_core::Part;
    let server = serve(json_reply(fixture_json("openai_chat.json"))).await;
    let hub = openai_hub(&server.uri());
    let url_doc = Message::user_parts([Part::document_url("https://example.com/a.pdf")]);
    let err = hub.completion("chat", [url_doc], None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains("`document` part"), "{err}");
    let image_result = Message::tool_parts("call_1", [Part::image_bytes(PNG, "image/png")]);
    let err = hub
        .completion("chat", [image_result], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tool result"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());

    let server = serve(json_reply(fixture_json("anthropic_message.json"))).await;
    let hub = anthropic_hub(&server.uri());
    let audio = json!([{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]);
    let err = hub.completion("chat", audio, None).await.unwrap_err();
    assert!(err.to_string().contains("`input_audio` part"), "{err}");
    let uploaded =
        json!([{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]);
    let err = hub.completion("chat", uploaded, None).await.unwrap_err();
    assert!(err.to_string().contains("file id"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}
