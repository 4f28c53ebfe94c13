//! The Anthropic Messages protocol on the wire: translated requests, replies and stream events.

mod support;

use futures_util::StreamExt;
use llmhub_core::{Error, FinishReason, Message};
use serde_json::json;
use support::*;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn completion_translates_request_and_reply() {
    let server = serve(json_reply(json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
        "content": [{"type": "text", "text": "Bonjour"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 3}
    })))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let reply = hub
        .completion(
            "llm.memwrite",
            [
                Message::system("Answer in French."),
                Message::user("Hello"),
                Message::assistant("Bonjour"),
                Message::user("Again"),
            ],
            Some(params(json!({"max_tokens": 100, "top_k": 5}))),
        )
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/anthropic/v1/messages");
    assert_eq!(header(&request, "x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(header(&request, "anthropic-version"), Some("2023-06-01"));
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        body_json(&request),
        json!({
            "model": "claude-3-5-sonnet-20241022",
            "system": "Answer in French.",
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Bonjour"},
                {"role": "user", "content": "Again"},
            ],
            "max_tokens": 100,
            "temperature": 0.3,
            "stop_sequences": ["END"],
            "top_k": 5,
        })
    );

    assert_eq!(reply.text(), Some("Bonjour"));
    assert_eq!(reply.id, "msg_01");
    assert_eq!(reply.finish_reason(), Some(&FinishReason::Stop));
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (12, 3, 15)
    );
    assert_eq!(reply.raw_json().unwrap()["type"], "message");
}

#[tokio::test]
async fn max_tokens_is_always_sent() {
    let server = serve(json_reply(json!({"content": []}))).await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let reply = ask(&hub, "llm.memwrite").await.unwrap();
    assert_eq!(reply.text(), None);
    assert_eq!(body_json(&only_request(&server).await)["max_tokens"], 4096);
}

#[tokio::test]
async fn provider_error_message_is_kept() {
    let server = serve(ResponseTemplate::new(400).set_body_json(json!({
        "type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: must be positive"}
    })))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let err = ask(&hub, "llm.memwrite").await.unwrap_err();
    match &err {
        Error::Http {
            provider,
            status,
            body,
            ..
        } => {
            assert_eq!((provider.as_str(), *status), ("anthropic", 400));
            assert_eq!(body, "max_tokens: must be positive (invalid_request_error)");
        }
        other => panic!("expected Http, got {other:?}"),
    }
}

const STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" wörld\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Paris\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: some_future_event\n",
    "data: {\"type\":\"some_future_event\",\"x\":1}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

#[tokio::test]
async fn stream_events_become_openai_chunks() {
    let server = serve(
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(STREAM),
    )
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let chunks: Vec<_> = hub
        .stream_completion("llm.memwrite", [Message::user("Hi")], None)
        .await
        .unwrap()
        .map(Result::unwrap)
        .collect()
        .await;
    let body = body_json(&only_request(&server).await);
    assert_eq!(body["stream"], true);
    assert_eq!(body.get("stream_options"), None);

    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(chunks[0].id, "msg_1");
    let text: String = chunks.iter().filter_map(|c| c.text()).collect();
    assert_eq!(text, "Hello wörld");
    let tool_start = chunks.iter().find(|c| !c.tool_calls().is_empty()).unwrap();
    let call = &tool_start.tool_calls()[0];
    assert_eq!((call.index, call.id.as_deref()), (0, Some("toolu_1")));
    assert_eq!(
        call.function.as_ref().unwrap().name.as_deref(),
        Some("weather")
    );
    let args: String = chunks
        .iter()
        .flat_map(|c| c.tool_calls())
        .filter_map(|t| t.function.as_ref()?.arguments.as_deref())
        .collect();
    assert_eq!(args, "{\"city\": \"Paris\"}");
    let last = chunks.last().unwrap();
    assert_eq!(last.finish_reason(), Some(&FinishReason::ToolCalls));
    let usage = last.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (25, 15));
    assert_eq!(last.raw_json().unwrap()["type"], "message_delta");
    assert_eq!(chunks.len(), 6);

    let reply = hub
        .stream_completion("llm.memwrite", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(reply.text(), Some("Hello wörld"));
    assert_eq!(reply.id, "msg_1");
    assert_eq!(
        reply.tool_calls()[0].function.arguments,
        "{\"city\": \"Paris\"}"
    );
    assert_eq!(reply.usage.unwrap().total_tokens, 40);
}

#[tokio::test]
async fn error_event_ends_the_stream_with_an_error() {
    let body = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":1}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n",
        "event: error\n",
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    let server = serve(ResponseTemplate::new(200).set_body_string(body)).await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let mut stream = hub
        .stream_completion("llm.memwrite", [Message::user("Hi")], None)
        .await
        .unwrap();
    let start = stream.next().await.unwrap().unwrap();
    assert_eq!(
        (start.id.as_str(), start.model.as_str(), start.text()),
        ("msg_1", "claude-x", None)
    );
    assert_eq!(stream.next().await.unwrap().unwrap().text(), Some("Hel"));
    let err = stream.next().await.unwrap().unwrap_err();
    match &err {
        Error::Http { status, body, .. } => {
            assert_eq!(*status, 529);
            assert!(body.contains("Overloaded"), "{body}");
        }
        other => panic!("expected Http 529, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn tool_conversation_translates() {
    let server = serve(json_reply(json!({
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
        "stop_reason": "tool_use"
    })))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let tools = json!([{"type": "function", "function": {"name": "weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let reply = hub
        .completion(
            "llm.memwrite",
            [Message::user("Weather?")],
            Some(params(json!({"tools": tools, "tool_choice": "required"}))),
        )
        .await
        .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(
        body["tools"],
        json!([{"name": "weather", "description": "Weather now", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));
    assert_eq!(reply.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(
        reply.tool_calls()[0].function.arguments,
        "{\"city\":\"Paris\"}"
    );
}
