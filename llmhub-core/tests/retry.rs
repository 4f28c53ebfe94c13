//! Retries and error classification.

mod support;

use std::time::{Duration, Instant};

use llmhub_core::{Error, Message};
use serde_json::json;
use support::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn ok_reply() -> ResponseTemplate {
    json_reply(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}]
    }))
}

/// A server that answers `first` `times` times, then `then`.
async fn server(first: ResponseTemplate, times: u64, then: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(first)
        .up_to_n_times(times)
        .mount(&server)
        .await;
    Mock::given(any()).respond_with(then).mount(&server).await;
    server
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn rate_limit_with_retry_after_waits_then_succeeds() {
    let limited = ResponseTemplate::new(429)
        .insert_header("retry-after", "1")
        .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests"}}));
    let server = server(limited, 1, ok_reply()).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let started = Instant::now();
    let reply = ask(&hub, "llm.inference").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited only {:?}",
        started.elapsed()
    );
    assert_eq!(reply.text(), Some("done"));
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn server_error_then_success() {
    let server = server(
        ResponseTemplate::new(500).set_body_string("boom"),
        1,
        ok_reply(),
    )
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let reply = ask(&hub, "llm.inference").await.unwrap();
    assert_eq!(reply.text(), Some("done"));
    assert_eq!(requests(&server).await, 2);
}

#[tokio::test]
async fn anthropic_overloaded_is_retried_and_streams_retry_before_the_first_byte() {
    let overloaded = ResponseTemplate::new(529).set_body_json(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let stream = "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let server = server(
        overloaded,
        2,
        ResponseTemplate::new(200).set_body_string(stream),
    )
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let stream = hub
        .stream_completion("llm.memwrite", [Message::user("Hi")], None)
        .await
        .unwrap();
    use futures_util::StreamExt;
    let chunks: Vec<_> = stream.collect().await;
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].is_ok());
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn the_last_error_is_returned_after_the_retry_budget() {
    let server =
        serve(ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "try later"}})))
            .await;
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .max_retries(3)
        .build()
        .unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(
        matches!(&err, Error::Http { status: 503, body, .. } if body == "try later"),
        "{err}"
    );
    assert_eq!(requests(&server).await, 4);

    let limited = serve(
        ResponseTemplate::new(429)
            .insert_header("retry-after-ms", "20")
            .set_body_json(json!({"error": {"message": "slow down"}})),
    )
    .await;
    let hub = builder(&limited.uri(), "http://127.0.0.1:9")
        .max_retries(1)
        .build()
        .unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    match &err {
        Error::RateLimited {
            retry_after,
            message,
            provider,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_millis(20)));
            assert_eq!(
                (message.as_str(), provider.as_str()),
                ("slow down", "openai")
            );
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(requests(&limited).await, 2);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for (status, check) in [
        (
            400,
            (|e: &Error| matches!(e, Error::Http { status: 400, .. })) as fn(&Error) -> bool,
        ),
        (401, |e| matches!(e, Error::Auth { status: 401, .. })),
        (404, |e| matches!(e, Error::Http { status: 404, .. })),
    ] {
        let server = server(
            ResponseTemplate::new(status).set_body_json(json!({"error": {"message": "nope"}})),
            10,
            ok_reply(),
        )
        .await;
        let hub = hub(&server.uri(), "http://127.0.0.1:9");
        let err = ask(&hub, "llm.inference").await.unwrap_err();
        assert!(check(&err), "{status}: {err:?}");
        assert_eq!(requests(&server).await, 1, "{status} must not be retried");
    }
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let hub = builder(&url, &url).max_retries(2).build().unwrap();
    let started = Instant::now();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    // Two backoffs of ~10 ms and ~20 ms happened.
    assert!(
        started.elapsed() >= Duration::from_millis(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_replies_time_out() {
    let server = serve(ok_reply().set_delay(Duration::from_secs(2))).await;
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                what: "request",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_timeout());
}
