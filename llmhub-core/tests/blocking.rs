//! The blocking hub (feature `blocking`), from a plain thread.
#![cfg(feature = "blocking")]

mod support;

use llmhub_core::{Message, blocking};
use support::*;

#[test]
fn blocking_completion_and_stream() {
    // The server runs on a thread of its own: this test has no runtime.
    let server = Server::script_on_thread(vec![
        Reply::new(
            200,
            "application/json",
            r#"{"choices":[{"message":{"content":"sync ok"},"finish_reason":"stop"}]}"#,
        ),
        Reply::sse(
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        ),
    ]);
    let hub = blocking::Hub::new(hub(&server.url, &server.url)).unwrap();
    let reply = hub
        .completion("llm.inference", [Message::user("Hi")], None)
        .unwrap();
    assert_eq!(reply.text(), Some("sync ok"));
    let text: String = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .unwrap()
        .map(|chunk| chunk.unwrap().text().unwrap_or("").to_owned())
        .collect();
    assert_eq!(text, "ab");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let auth = format!("Bearer {OPENAI_KEY}");
    for (request, stream) in requests.iter().zip([false, true]) {
        assert_eq!(request.method(), "POST");
        assert_eq!(request.path(), "/prefix/v1/chat/completions");
        assert_eq!(request.header("authorization"), Some(auth.as_str()));
        assert_eq!(request.header("x-team"), Some("core"));
        let body = request.json();
        assert_eq!(body["model"], "gpt-4.1");
        assert_eq!(
            body["messages"],
            serde_json::json!([{"role": "user", "content": "Hi"}])
        );
        assert_eq!(body["stream"].as_bool().unwrap_or(false), stream, "{body}");
    }
}
