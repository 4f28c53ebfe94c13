//! The blocking hub (feature `blocking`), from a plain thread.
#![cfg(feature = "blocking")]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use llmhub_core::{Config, Message, blocking};
use support::*;

/// A one-thread HTTP server answering each connection with `reply` (an SSE body if `sse`).
fn serve(replies: Vec<(&'static str, &'static str)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (content_type, body) in replies {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0u8; 8192];
            let mut seen = Vec::new();
            while !String::from_utf8_lossy(&seen).contains("\"messages\"") {
                let n = socket.read(&mut buf).unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).unwrap();
            socket.write_all(body.as_bytes()).unwrap();
        }
    });
    url
}

#[test]
fn blocking_completion_and_stream() {
    let url = serve(vec![
        (
            "application/json",
            r#"{"choices":[{"message":{"content":"sync ok"},"finish_reason":"stop"}]}"#,
        ),
        (
            "text/event-stream",
            "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        ),
    ]);
    let config = Config::from_yaml_str(&yaml(&url, &url)).unwrap();
    let hub = llmhub_core::Hub::builder()
        .config(config)
        .api_key("openai", OPENAI_KEY)
        .build()
        .unwrap();
    let hub = blocking::Hub::new(hub).unwrap();
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
}
