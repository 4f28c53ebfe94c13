//! Correctness under faults: hostile numbers and indices from the network, calls dropped
//! before they finish.

mod support;

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
        .stream_completion("llm.memwrite", [llmhub_core::Message::user("Hi")], None)
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
