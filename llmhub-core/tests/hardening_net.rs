//! A hostile server or network: redirects, secrets in errors and Debug output, size caps,
//! retry headers, raw paths and multipart names.

mod support;

use std::sync::{Arc, Mutex};

use llmhub_core::{Error, Message};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::{MockServer, ResponseTemplate};

/// A server on `ip` that records the head of every request it gets and answers a chat reply.
async fn recording_server(ip: &str) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            record
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let body = r#"{"choices":[{"index":0,"message":{"role":"assistant","content":"stolen"},"finish_reason":"stop"}]}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, seen)
}

/// A wiremock server answering every request with `status` and `Location: location`.
async fn redirecting(status: u16, location: &str) -> MockServer {
    serve(ResponseTemplate::new(status).insert_header("location", location)).await
}

#[tokio::test]
async fn redirects_are_not_followed_and_name_where_they_point() {
    // Linux routes all of 127.0.0.0/8 to the loopback interface: a second host.
    let (other, seen) = recording_server("127.0.0.2").await;
    let target = format!("{other}/v1/chat/completions");
    for status in [307, 302, 301, 308] {
        let location = format!("http://user:pw@{}?token=leak#frag", &target[7..]);
        let openai = redirecting(status, &location).await;
        let anthropic = redirecting(status, &location).await;
        let hub = hub(&openai.uri(), &anthropic.uri());
        for role in ["llm.inference", "llm.memwrite"] {
            let err = ask(&hub, role).await.unwrap_err();
            let Error::Redirect {
                status: got,
                location: Some(ref at),
                ..
            } = err
            else {
                panic!("{role}: {err:?}")
            };
            assert_eq!(got, status);
            assert_eq!(*at, target);
            let message = err.to_string();
            assert!(
                message.contains(&format!("HTTP {status} redirect to {target}")),
                "{message}"
            );
            assert!(message.contains("base_url"), "{message}");
            for secret in ["pw", "token", "leak", "frag"] {
                assert!(!message.contains(secret), "{message}");
            }
            let stream = hub
                .stream_completion(role, [Message::user("Hi")], None)
                .await
                .unwrap_err();
            assert!(matches!(stream, Error::Redirect { .. }), "{stream:?}");
        }
        // Not retried: one request per call, and nothing reached the other host.
        assert_eq!(openai.received_requests().await.unwrap().len(), 2);
        assert_eq!(anthropic.received_requests().await.unwrap().len(), 2);
        assert!(
            seen.lock().unwrap().is_empty(),
            "{:?}",
            seen.lock().unwrap()
        );
    }
}

#[tokio::test]
async fn a_relative_redirect_is_resolved_against_the_request_url() {
    let server = redirecting(307, "../elsewhere?key=1").await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    let Error::Redirect { location, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        location.as_deref(),
        Some(format!("{}/prefix/v1/elsewhere", server.uri()).as_str())
    );
    let err = serve(ResponseTemplate::new(303)).await;
    let hub = hub_for(&err);
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(err.to_string().contains("(no Location)"), "{err}");
}

fn hub_for(server: &MockServer) -> llmhub_core::Hub {
    hub(&server.uri(), "http://127.0.0.1:9")
}

#[tokio::test]
async fn errors_show_no_password_or_query_of_a_url() {
    let yaml = "project: p\nenv: dev\nproviders:\n  local: { base_url: 'http://user:pw-SECRET@127.0.0.1:1/v1', api: openai }\nroles:\n  r: { provider: local, model: m, mode: chat }\n";
    let hub = llmhub_core::Hub::builder()
        .config(llmhub_core::Config::from_yaml_str(yaml).unwrap())
        .max_retries(0)
        .build()
        .unwrap();
    let err = ask(&hub, "r").await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("http://127.0.0.1:1/v1/chat/completions"),
        "{message}"
    );
    assert!(!message.contains("pw-SECRET"), "{message}");
    assert!(!format!("{err:?}").contains("pw-SECRET"));
    assert!(!format!("{hub:?}").contains("pw-SECRET"), "{hub:?}");
}

const HEADER_SECRET: &str = "azure-HEADER-SECRET-42";

fn config_with_header_secret(openai: &str) -> llmhub_core::Config {
    let yaml = format!(
        "project: p\nenv: dev\nproviders:\n  azure:\n    base_url: {openai}/v1\n    api: openai\n    headers: {{ api-key: {HEADER_SECRET}, X-Team: core }}\nroles:\n  r: {{ provider: azure, model: m, mode: chat }}\n"
    );
    llmhub_core::Config::from_yaml_str(&yaml).unwrap()
}

#[tokio::test]
async fn header_values_are_secrets_in_debug_and_errors() {
    let echo = format!(
        r#"{{"error":{{"message":"bad api-key {HEADER_SECRET} for team core","type":"invalid_request_error"}}}}"#
    );
    let server = serve(ResponseTemplate::new(400).set_body_string(echo.clone())).await;
    let config = config_with_header_secret(&server.uri());
    assert_eq!(
        config.providers["azure"].headers["api-key"].expose(),
        HEADER_SECRET
    );
    assert!(!format!("{config:?}").contains(HEADER_SECRET), "{config:?}");
    let hub = llmhub_core::Hub::builder().config(config).build().unwrap();
    assert!(!format!("{hub:?}").contains(HEADER_SECRET), "{hub:?}");

    // The header is sent as written.
    let err = ask(&hub, "r").await.unwrap_err();
    let request = only_request(&server).await;
    assert_eq!(header(&request, "api-key"), Some(HEADER_SECRET));
    assert_eq!(header(&request, "x-team"), Some("core"));
    // An echo of it comes back masked; a short value that is no secret stays readable.
    let message = err.to_string();
    assert!(
        message.contains("bad api-key *** for team core"),
        "{message}"
    );
    assert!(!format!("{err:?}").contains(HEADER_SECRET));

    // The same inside a stream.
    let stream_body = format!(
        "data: {{\"error\":{{\"message\":\"token {HEADER_SECRET} expired\",\"code\":401}}}}\n\n"
    );
    let server = serve(ResponseTemplate::new(200).set_body_string(stream_body)).await;
    let hub = llmhub_core::Hub::builder()
        .config(config_with_header_secret(&server.uri()))
        .build()
        .unwrap();
    let err = hub
        .stream_completion("r", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("token *** expired"), "{err}");
}
