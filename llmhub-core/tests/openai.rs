//! The OpenAI-compatible protocol on the wire: exact requests and lenient replies.

mod support;

use futures_util::StreamExt;
use llmhub_core::__private::{compiled_roles, handle};
use llmhub_core::{ChatResponse, Error, FinishReason, Message, Mode, mode};
use serde_json::{Value, json};
use support::*;
use wiremock::{MockServer, ResponseTemplate};

/// A reply with no text that calls `weather` once, as `call_1`, with `arguments`.
fn assert_weather_call(reply: &ChatResponse, arguments: &str) {
    assert_eq!(reply.text(), None);
    assert_eq!(reply.finish_reason(), Some(&FinishReason::ToolCalls));
    let call = &reply.tool_calls()[0];
    assert_eq!(
        (
            call.id.as_str(),
            call.kind.as_str(),
            call.function.name.as_str()
        ),
        ("call_1", "function", "weather")
    );
    assert_eq!(call.function.arguments, arguments);
}

async fn serve_json(body: Value) -> MockServer {
    serve(json_reply(body)).await
}

fn chat_reply() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4.1-2025",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        "system_fingerprint": "fp_x"
    })
}

#[tokio::test]
async fn completion_sends_the_exact_request_and_parses_the_reply() {
    let server = serve_json(chat_reply()).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let reply = hub
        .completion(
            "llm.inference",
            [Message::system("Be brief."), Message::user("Hello")],
            Some(params(json!({"temperature": 0.1, "seed": 42}))),
        )
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/prefix/v1/chat/completions");
    assert_eq!(
        header(&request, "authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}"))
    );
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(header(&request, "x-team"), Some("core"));
    // The `Host` header (built once per provider), once, with the port.
    let host: Vec<_> = request.headers.get_all("host").iter().collect();
    assert_eq!(host, [server.uri().trim_start_matches("http://")]);
    assert_eq!(
        body_json(&request),
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
            "temperature": 0.1,
            "max_tokens": 2048,
            "seed": 42,
        })
    );

    assert_eq!(reply.text(), Some("Hi there"));
    assert_eq!(reply.id, "chatcmpl-1");
    assert_eq!(reply.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(reply.usage.unwrap().total_tokens, 11);
    assert_eq!(reply.raw_json().unwrap()["system_fingerprint"], "fp_x");
}

#[tokio::test]
async fn a_roles_params_written_once_never_stand_in_for_overrides() {
    let server = serve_json(chat_reply()).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let hello = || [Message::user("Hello")];
    hub.completion("llm.inference", hello(), None)
        .await
        .unwrap();
    hub.completion(
        "llm.inference",
        hello(),
        Some(params(json!({"temperature": 0.1, "seed": 42}))),
    )
    .await
    .unwrap();
    hub.completion("llm.inference", hello(), None)
        .await
        .unwrap();
    hub.completion("llm.inference", hello(), Some(params(json!({}))))
        .await
        .unwrap();

    let bodies = support::bodies(&server).await;
    let plain = r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello"}],"temperature":0.7,"max_tokens":2048}"#;
    assert_eq!(
        bodies,
        [
            plain,
            r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello"}],"max_tokens":2048,"temperature":0.1,"seed":42}"#,
            plain,
            plain,
        ]
    );
}

#[tokio::test]
async fn typed_handles_reach_roles_by_slot_and_merge_with_params() {
    let server = serve_json(chat_reply()).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    // Without a compiled table, slots are config indices: llm.inference is 0.
    let role = handle::<mode::Chat>(&hub, 0)
        .with_params(params(json!({"temperature": 0.0})))
        .with_params(params(json!({"top_p": 0.5})));
    let reply = role.completion(vec![Message::user("Hi")]).await.unwrap();
    assert_eq!(reply.text(), Some("Hi there"));
    let request = only_request(&server).await;
    assert_eq!(
        body_json(&request),
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0.0,
            "max_tokens": 2048,
            "top_p": 0.5,
        })
    );
}

#[tokio::test]
async fn compiled_role_table_maps_slots_to_roles() {
    static COMPILED: &[(&str, Mode)] = &[
        ("llm.embedding", Mode::Embedding),
        ("llm.inference", Mode::Chat),
    ];
    let server = serve_json(chat_reply()).await;
    let hub = compiled_roles(builder(&server.uri(), "http://127.0.0.1:9"), COMPILED)
        .build()
        .unwrap();
    handle::<mode::Chat>(&hub, 1)
        .completion([Message::user("Hi")])
        .await
        .unwrap();
    assert_eq!(body_json(&only_request(&server).await)["model"], "gpt-4.1");

    let compiled_error = |roles: &'static [(&'static str, Mode)]| {
        compiled_roles(builder("http://127.0.0.1:9", "http://127.0.0.1:9"), roles)
            .build()
            .unwrap_err()
    };
    let err = compiled_error(&[("llm.inferense", Mode::Chat)]);
    assert!(
        matches!(&err, Error::UnknownRole { suggestion: Some(s), .. } if s == "llm.inference"),
        "{err}"
    );
    let err = compiled_error(&[("llm.embedding", Mode::Chat)]);
    let expected = matches!(
        err,
        Error::ModeMismatch {
            mode: Mode::Embedding,
            ..
        }
    );
    assert!(expected, "{err}");
}

#[tokio::test]
async fn embedding_sends_dimensions_and_parses_vectors() {
    let server = serve_json(json!({
        "object": "list",
        "data": [{"object": "embedding", "embedding": [0.5, -1.0, 0.25], "index": 0},
                 {"object": "embedding", "embedding": [1.0, 0.0, 0.0], "index": 1}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 4, "total_tokens": 4}
    }))
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let vectors = handle::<mode::Embedding>(&hub, 1)
        .embedding(&["Hello", "world"][..])
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/prefix/v1/embeddings");
    assert_eq!(
        header(&request, "authorization"),
        Some(&*format!("Bearer {OPENAI_KEY}"))
    );
    assert_eq!(
        body_json(&request),
        json!({"model": "text-embedding-3-small", "input": ["Hello", "world"], "dimensions": 256})
    );
    assert_eq!(vectors.first(), Some(&[0.5, -1.0, 0.25][..]));
    assert_eq!(vectors.vectors().count(), 2);
    assert_eq!(vectors.usage.unwrap().prompt_tokens, 4);

    let server = serve_json(json!({"data": [{"embedding": [1.0]}]})).await;
    let hub = support::hub(&server.uri(), "http://127.0.0.1:9");
    let one = hub
        .embedding(
            "llm.embedding",
            "Hello world",
            Some(params(json!({"embedding_dim": 8, "user": "u1"}))),
        )
        .await
        .unwrap();
    assert_eq!(one.first(), Some(&[1.0][..]));
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({"model": "text-embedding-3-small", "input": "Hello world", "dimensions": 8, "user": "u1"})
    );
}

#[tokio::test]
async fn an_embedding_roles_params_written_once_never_stand_in_for_overrides() {
    let server = serve_json(json!({"data": [{"embedding": [1.0]}]})).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    for overrides in [
        None,
        Some(json!({"embedding_dim": 8, "user": "u1"})),
        None,
        Some(json!({})),
        Some(json!({"user": "u2"})),
        None,
    ] {
        hub.embedding("llm.embedding", "Hi", overrides.map(params))
            .await
            .unwrap();
    }

    let bodies = support::bodies(&server).await;
    let plain = r#"{"model":"text-embedding-3-small","input":"Hi","dimensions":256}"#;
    assert_eq!(
        bodies,
        [
            plain,
            r#"{"model":"text-embedding-3-small","input":"Hi","dimensions":8,"user":"u1"}"#,
            plain,
            plain,
            r#"{"model":"text-embedding-3-small","input":"Hi","dimensions":256,"user":"u2"}"#,
            plain,
        ]
    );
}

#[tokio::test]
async fn tools_pass_through_and_tool_calls_parse() {
    let server = serve_json(json!({
        "id": "c", "model": "gpt-4.1",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]}}]
    }))
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let tools = json!([{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let reply = hub
        .completion(
            "llm.tools",
            json!([{"role": "user", "content": "Weather in Paris?"}]),
            Some(params(json!({"tools": tools, "tool_choice": "auto"}))),
        )
        .await
        .unwrap();
    assert_weather_call(&reply, "{\"city\":\"Paris\"}");
    let body = body_json(&only_request(&server).await);
    assert_eq!(body["tools"], tools);
    assert_eq!(body["tool_choice"], "auto");

    // The reply goes back with the tool result.
    let server = serve_json(chat_reply()).await;
    let hub = support::hub(&server.uri(), "http://127.0.0.1:9");
    let messages = vec![
        Message::user("Weather in Paris?"),
        Message::assistant_tool_calls(reply.tool_calls().to_vec()),
        Message::tool("call_1", "sunny"),
    ];
    hub.completion("llm.tools", messages, None).await.unwrap();
    assert_eq!(
        body_json(&only_request(&server).await)["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        ])
    );
}

#[tokio::test]
async fn odd_replies_parse() {
    let server = serve_json(json!({
        "choices": [{"message": {"content": "ok", "annotations": []}, "finish_reason": "eos_token"}],
        "usage": null,
        "whatever": {"nested": true}
    }))
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let reply = hub
        .completion("llm.inference", [Message::user("x")], None)
        .await
        .unwrap();
    assert_eq!(reply.text(), Some("ok"));
    assert_eq!(reply.usage, None);
    assert_eq!(
        reply.finish_reason(),
        Some(&FinishReason::Other("eos_token".into()))
    );
    assert_eq!(reply.id, "");
}

#[tokio::test]
async fn unknown_roles_use_defaults_and_modes_are_checked() {
    let server = serve_json(chat_reply()).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    hub.completion("llm.somethingelse", [Message::user("x")], None)
        .await
        .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(
        (body["model"].clone(), body["temperature"].clone()),
        (json!("gpt-4o-mini"), json!(0.3))
    );

    let err = hub
        .completion("llm.embedding", [Message::user("x")], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ModeMismatch {
                call: "completion",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("call `embedding`"), "{err}");
    let err = hub
        .stream_completion("llm.embedding", [Message::user("x")], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ModeMismatch { call: "stream", .. }),
        "{err}"
    );
    let err = hub.embedding("llm.inference", "x", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ModeMismatch {
                call: "embedding",
                ..
            }
        ),
        "{err}"
    );
    let err = hub
        .completion("llm.inference", json!({"role": "user"}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    // No further request went out.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn streaming_sends_stream_options_and_yields_chunks_with_usage() {
    let body = concat!(
        "data: {\"id\":\"c1\",\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"id\":\"c1\",\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"id\":\"c1\",\"model\":\"gpt-4.1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"model\":\"gpt-4.1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
        "data: [DONE]\n\n",
    );
    let server = serve(
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(body),
    )
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let stream = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    let chunks: Vec<_> = stream.collect().await;
    let chunks: Vec<_> = chunks.into_iter().collect::<Result<_, _>>().unwrap();
    let text: String = chunks.iter().filter_map(|c| c.text()).collect();
    assert_eq!(text, "Hello");
    assert_eq!(chunks.len(), 4);
    assert_eq!(chunks[2].finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(chunks[3].usage.unwrap().total_tokens, 7);
    assert_eq!(
        chunks[1].raw_json().unwrap()["choices"][0]["delta"]["content"],
        "Hel"
    );

    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/prefix/v1/chat/completions");
    assert_eq!(
        body_json(&request),
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "user", "content": "Hi"}],
            "stream": true,
            "stream_options": {"include_usage": true},
            "temperature": 0.7,
            "max_tokens": 2048,
        })
    );
}

#[tokio::test]
async fn streamed_tool_calls_parse() {
    let body = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"weather\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let server = serve(ResponseTemplate::new(200).set_body_string(body)).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let chunks: Vec<_> = hub
        .stream_completion("llm.tools", [Message::user("Hi")], None)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let first = &chunks[0].tool_calls()[0];
    assert_eq!(first.id.as_deref(), Some("call_1"));
    assert_eq!(
        first.function.as_ref().unwrap().name.as_deref(),
        Some("weather")
    );
    assert_eq!(
        chunks[1].tool_calls()[0]
            .function
            .as_ref()
            .unwrap()
            .arguments
            .as_deref(),
        Some("{\"city\":")
    );
    assert_eq!(chunks[2].finish_reason(), Some(&FinishReason::ToolCalls));

    let reply = hub
        .stream_completion("llm.tools", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_weather_call(&reply, "{\"city\":");
}

#[tokio::test]
async fn a_host_header_from_the_config_is_sent_as_written() {
    let server = serve_json(chat_reply()).await;
    let yaml = yaml(&server.uri(), "http://127.0.0.1:9")
        .replace("{ X-Team: core }", "{ X-Team: core, Host: llm.internal }");
    let hub = llmhub_core::Hub::builder()
        .config(llmhub_core::Config::from_yaml_str(&yaml).unwrap())
        .api_key("openai", OPENAI_KEY)
        .build()
        .unwrap();
    hub.completion("llm.inference", [Message::user("Hello")], None)
        .await
        .unwrap();
    let request = only_request(&server).await;
    let host: Vec<_> = request.headers.get_all("host").iter().collect();
    assert_eq!(host, ["llm.internal"]);
}
