//! Correctness under faults: hostile numbers and indices from the network, calls dropped
//! before they finish.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use llmhub_core::{Error, Hub, Message};
use serde_json::json;
use support::*;
use wiremock::ResponseTemplate;

const MAX: u64 = u64::MAX;

/// A streamed reply of the given server-sent events.
fn sse_reply(events: &[String]) -> ResponseTemplate {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_string(body)
}

#[tokio::test]
async fn anthropic_usage_at_u64_max_saturates_in_a_reply() {
    let server = serve(json_reply(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": MAX, "output_tokens": MAX}
    })))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let reply = ask(&hub, "llm.memwrite").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        (request.method.as_str(), request.url.path()),
        ("POST", "/anthropic/v1/messages")
    );
    assert_eq!(body_json(&request)["model"], "claude-3-5-sonnet-20241022");
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (MAX, MAX, MAX)
    );
}

#[tokio::test]
async fn anthropic_usage_at_u64_max_saturates_in_a_stream() {
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": MAX}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": MAX}}),
        json!({"type": "message_stop"}),
    ]
    .map(|e| e.to_string());
    let server = serve(sse_reply(&events)).await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let reply = hub
        .stream_completion("llm.memwrite", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(body["stream"], true);
    assert_eq!(reply.text(), Some("ok"));
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (MAX, MAX, MAX)
    );
}

/// An OpenAI-compatible chunk of `choices`.
fn chunk(choices: serde_json::Value) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4.1", "choices": choices})
        .to_string()
}

/// A tool-call piece of choice 0.
fn tool_piece(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> String {
    chunk(json!([{"index": 0, "delta": {"tool_calls": [{
        "index": index, "id": id, "type": id.map(|_| "function"),
        "function": {"name": name, "arguments": arguments}
    }]}}]))
}

async fn collect(events: &[String]) -> (llmhub_core::ChatResponse, wiremock::MockServer) {
    let server = serve(sse_reply(events)).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let reply = hub
        .stream_completion("llm.tools", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    (reply, server)
}

#[tokio::test]
async fn tool_call_pieces_join_by_index_when_indices_do_not_start_at_zero() {
    let events = [
        tool_piece(7, Some("call_a"), Some("weather"), ""),
        tool_piece(7, None, None, "{\"city\":"),
        tool_piece(9, Some("call_b"), Some("time"), "{}"),
        tool_piece(7, None, None, "\"Paris\"}"),
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
        "[DONE]".to_owned(),
    ];
    let (reply, server) = collect(&events).await;
    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/prefix/v1/chat/completions");
    assert_eq!(body_json(&request)["stream"], true);
    let calls: Vec<(&str, &str, &str, &str)> = reply
        .tool_calls()
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.kind.as_str(),
                c.function.name.as_str(),
                c.function.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("call_a", "function", "weather", "{\"city\":\"Paris\"}"),
            ("call_b", "function", "time", "{}"),
        ]
    );
    assert_eq!(
        reply.finish_reason(),
        Some(&llmhub_core::FinishReason::ToolCalls)
    );
}

#[tokio::test]
async fn a_stream_with_100_000_distinct_indices_is_joined_in_linear_time() {
    const N: u32 = 100_000;
    // Descending, sparse indices: none is a position in the list they end up in.
    let index = |k: u32| (N - k) * 2 + 1;
    // Written by hand: building 300,000 `json!` values is slow in a debug build.
    let list = |item: &dyn Fn(u32) -> String, range: std::ops::Range<u32>| {
        range.map(item).collect::<Vec<_>>().join(",")
    };
    let tool_pieces = list(
        &|k| {
            format!(
                r#"{{"index":{},"id":"t{k}","function":{{"name":"f","arguments":"{{"}}}}"#,
                index(k)
            )
        },
        0..N,
    );
    let tool_ends = list(
        &|k| {
            format!(
                r#"{{"index":{},"function":{{"arguments":"}}"}}}}"#,
                index(k)
            )
        },
        0..N,
    );
    let choices = list(
        &|k| {
            format!(
                r#"{{"index":{},"delta":{{"content":"x"}},"finish_reason":"stop"}}"#,
                index(k)
            )
        },
        1..N + 1,
    );
    let events = [
        format!(
            r#"{{"id":"c1","choices":[{{"index":0,"delta":{{"tool_calls":[{tool_pieces}]}}}}]}}"#
        ),
        format!(
            r#"{{"id":"c1","choices":[{{"index":0,"delta":{{"tool_calls":[{tool_ends}]}},"finish_reason":"tool_calls"}}]}}"#
        ),
        format!(r#"{{"id":"c1","choices":[{choices}]}}"#),
        "[DONE]".to_owned(),
    ];
    let (reply, _server) = collect(&events).await;
    assert_eq!(reply.choices.len(), N as usize + 1);
    let calls = reply.tool_calls();
    assert_eq!(calls.len(), N as usize);
    for k in [0, 1, 7, 8, 9, N / 2, N - 1] {
        let call = &calls[k as usize];
        assert_eq!(
            (call.id.as_str(), call.function.arguments.as_str()),
            (format!("t{k}").as_str(), "{}")
        );
    }
    let last = reply.choices.last().unwrap();
    assert_eq!(
        (last.index, last.message.content.as_deref()),
        (index(N), Some("x"))
    );
}

/// What the after-call hooks saw: (call, success, error as `{:?}`).
type AfterCalls = Arc<Mutex<Vec<(&'static str, bool, Option<String>)>>>;

const CANCELLED: &str = r#"Cancelled { provider: "openai" }"#;

fn hub_recording_after_calls(openai: &str) -> (Hub, AfterCalls) {
    let seen: AfterCalls = Arc::default();
    let hub = builder(openai, "http://127.0.0.1:9")
        .on_after_call({
            let seen = seen.clone();
            move |r| {
                let error = r.error.map(|e| format!("{e:?}"));
                seen.lock().unwrap().push((r.call, r.success, error));
            }
        })
        .build()
        .unwrap();
    (hub, seen)
}

#[tokio::test]
async fn a_call_dropped_by_a_timeout_runs_the_after_hooks_once_as_cancelled() {
    // The server takes the request and does not answer within the test.
    let server = serve(json_reply(json!({})).set_delay(Duration::from_secs(60))).await;
    let (hub, seen) = hub_recording_after_calls(&server.uri());
    let call = ask(&hub, "llm.inference");
    let timed_out = tokio::time::timeout(Duration::from_millis(50), call).await;
    assert!(timed_out.is_err(), "the server never answers");

    let request = only_request(&server).await;
    assert_eq!(
        (request.method.as_str(), request.url.path()),
        ("POST", "/prefix/v1/chat/completions")
    );
    assert_eq!(body_json(&request)["model"], "gpt-4.1");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0], ("completion", false, Some(CANCELLED.to_owned())));
}

#[tokio::test]
async fn a_completed_call_and_a_dropped_stream_each_run_the_after_hooks_once() {
    let chat = json!({"id": "c1", "model": "gpt-4.1", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ]});
    let server = serve(json_reply(chat)).await;
    let (hub, seen) = hub_recording_after_calls(&server.uri());
    ask(&hub, "llm.inference").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [("completion", true, None)]);

    let events = [chunk(json!([{"index": 0, "delta": {"content": "a"}}]))];
    let server = serve(sse_reply(&events)).await;
    let (hub, seen) = hub_recording_after_calls(&server.uri());
    let mut stream = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0], ("stream", false, Some(CANCELLED.to_owned())));
}
