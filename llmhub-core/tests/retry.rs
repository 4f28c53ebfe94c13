//! Retries and error classification.

mod support;

use std::time::{Duration, Instant};

use llmhub_core::{Config, Error, FinishReason, Hub, Message};
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
    assert_eq!(chunks.len(), 1, "{chunks:?}");
    let chunk = chunks[0].as_ref().unwrap();
    assert_eq!(
        (chunk.text(), chunk.finish_reason()),
        (None, Some(&FinishReason::Stop))
    );
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
async fn a_connection_dropped_after_the_request_is_not_retried() {
    // The server reads each request and hangs up without answering. The request may have been
    // processed, so only connect errors are retried (counted in `tracing_spans.rs`, whose
    // subscriber sees each retry).
    let server = Server::script(vec![Reply::hang_up()]).await;
    let hub = builder(&server.url, &server.url)
        .max_retries(2)
        .build()
        .unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport { provider, .. } if provider == "openai"),
        "{err:?}"
    );
    assert_eq!(server.count(), 1, "sent once");
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let hub = builder(&url, &url).max_retries(2).build().unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    match &err {
        Error::Transport { provider, message } => {
            assert_eq!(provider, "openai");
            assert!(!message.is_empty());
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

/// The shared config with `settings` (YAML lines at provider level) added to the `openai`
/// provider, and no retry or timeout set on the builder.
fn hub_with_openai_settings(server: &str, settings: &str) -> Hub {
    let yaml = yaml(server, "http://127.0.0.1:9").replace(
        "    headers: { X-Team: core }\n",
        &format!("    headers: {{ X-Team: core }}\n{settings}"),
    );
    assert!(yaml.contains(settings), "the settings went in");
    Hub::builder()
        .config(Config::from_yaml_str(&yaml).unwrap())
        .api_key("openai", OPENAI_KEY)
        .retry_base_delay(Duration::from_millis(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_yaml_max_retries_bounds_the_requests() {
    let server = Server::script(vec![Reply::json(
        503,
        &json!({"error": {"message": "try later"}}),
    )])
    .await;
    let hub = hub_with_openai_settings(&server.url, "    max_retries: 1\n");
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(
        matches!(&err, Error::Http { status: 503, body, .. } if body == "try later"),
        "{err:?}"
    );
    assert_eq!(server.count(), 2, "one request and one retry");

    let hub = hub_with_openai_settings(&server.url, "    max_retries: 0\n");
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 503, .. }), "{err:?}");
    assert_eq!(server.count(), 3, "no retry");
}

#[tokio::test]
async fn the_yaml_timeout_ms_limits_each_request() {
    let server = Server::script(vec![
        Reply::json(200, &json!({"choices": [{"message": {"content": "late"}}]}))
            .delay(Duration::from_secs(2)),
    ])
    .await;
    let hub = hub_with_openai_settings(&server.url, "    timeout_ms: 200\n    max_retries: 0\n");
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    match &err {
        Error::Timeout {
            provider,
            what,
            after,
        } => {
            assert_eq!(
                (provider.as_str(), *what, *after),
                ("openai", "request", Duration::from_millis(200))
            );
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn the_timeout_covers_reading_the_body_too() {
    // The head comes at once; the body trickles in, 8 bytes every 60 ms: the whole reply
    // would take over 500 ms, against a timeout of 300 ms from the request's start.
    let body = json!({"choices": [{"message": {"content": "a reply that comes in slowly"}}]});
    let server = Server::script(vec![
        Reply::json(200, &body)
            .split(8)
            .pause(Duration::from_millis(60)),
    ])
    .await;
    let hub = hub_with_openai_settings(&server.url, "    timeout_ms: 300\n    max_retries: 0\n");
    let started = Instant::now();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Timeout { provider, what: "request", after }
                if provider == "openai" && *after == Duration::from_millis(300)
        ),
        "{err:?}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(900),
        "timed out after {took:?}"
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
