//! A hostile server or network: redirects, secrets in errors and Debug output, size caps,
//! retry headers, raw paths and multipart names.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmhub_core::{Error, Message};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

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

/// A server that answers every request with `head`, then `first`, then `piece` over and over
/// (at most `MAX_PIECES` times) until the client hangs up. Returns its URL and the bytes it
/// wrote after the head.
async fn endless_server(
    head: &'static str,
    first: &'static [u8],
    piece: Vec<u8>,
) -> (String, Arc<AtomicUsize>) {
    const MAX_PIECES: usize = 4096;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let count = written.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = count.clone();
            let piece = piece.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                if socket.write_all(head.as_bytes()).await.is_err()
                    || socket.write_all(first).await.is_err()
                {
                    return;
                }
                for _ in 0..MAX_PIECES {
                    if socket.write_all(&piece).await.is_err() {
                        return;
                    }
                    count.fetch_add(piece.len(), Ordering::Relaxed);
                }
            });
        }
    });
    (url, written)
}

const PIECE: usize = 16 << 10;
/// What an endless server may have written when the client stopped reading: the cap plus what
/// the sockets' buffers hold.
const STOPPED_BY: usize = 16 << 20;

fn capped_hub(url: &str) -> llmhub_core::Hub {
    builder(url, url)
        .max_retries(0)
        .max_response_bytes(256 << 10)
        .max_event_bytes(64 << 10)
        .build()
        .unwrap()
}

fn assert_too_large(err: &Error, what: &str, limit: usize, setter: &str) {
    let Error::TooLarge {
        what: got,
        limit: got_limit,
        setter: got_setter,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((*got, *got_limit, *got_setter), (what, limit, setter));
    let message = err.to_string();
    assert!(
        message.contains(&format!("HubBuilder::{setter}")),
        "{message}"
    );
    assert!(message.contains(&limit.to_string()), "{message}");
}

#[tokio::test]
async fn an_endless_reply_body_stops_at_the_cap() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
    let (url, written) = endless_server(head, b"", vec![b' '; PIECE]).await;
    let err = ask(&capped_hub(&url), "llm.inference").await.unwrap_err();
    assert_too_large(&err, "reply body", 256 << 10, "max_response_bytes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(written.load(Ordering::Relaxed) < STOPPED_BY);
}

#[tokio::test]
async fn a_reply_announced_too_large_is_refused_before_reading() {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000000000\r\n\r\n";
    let (url, written) = endless_server(head, b"", vec![b' '; PIECE]).await;
    let err = ask(&capped_hub(&url), "llm.inference").await.unwrap_err();
    assert_too_large(&err, "reply body", 256 << 10, "max_response_bytes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(written.load(Ordering::Relaxed) < STOPPED_BY);
}

#[tokio::test]
async fn an_endless_error_body_is_read_only_in_part() {
    let head = "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n";
    let (url, written) = endless_server(head, b"", vec![b'e'; PIECE]).await;
    let err = ask(&capped_hub(&url), "llm.inference").await.unwrap_err();
    let Error::Http {
        status: 400,
        ref body,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(body.chars().count() <= 501, "{}", body.len());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(written.load(Ordering::Relaxed) < STOPPED_BY);
}

async fn stream_error(url: &str) -> Error {
    capped_hub(url)
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_stream_line_without_end_stops_at_the_cap() {
    // A fast server: the idle timer never fires, the cap does.
    let (url, written) = endless_server(
        std::str::from_utf8(SSE_HEAD).unwrap(),
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
        vec![b'z'; PIECE],
    )
    .await;
    let err = stream_error(&url).await;
    assert_too_large(&err, "stream line or event", 64 << 10, "max_event_bytes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(written.load(Ordering::Relaxed) < STOPPED_BY);
}

#[tokio::test]
async fn an_endless_multi_line_event_stops_at_the_cap() {
    let mut piece = Vec::new();
    while piece.len() < PIECE {
        piece.extend_from_slice(b"data: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n");
    }
    let (url, written) = endless_server(std::str::from_utf8(SSE_HEAD).unwrap(), b"", piece).await;
    let err = stream_error(&url).await;
    assert_too_large(&err, "stream line or event", 64 << 10, "max_event_bytes");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(written.load(Ordering::Relaxed) < STOPPED_BY);
}

#[tokio::test]
async fn replies_under_the_caps_pass() {
    let big = "x".repeat(200 << 10);
    let reply = serde_json::json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": big}, "finish_reason": "stop"}]
    });
    let server = serve(json_reply(reply)).await;
    let reply = ask(&capped_hub(&server.uri()), "llm.inference")
        .await
        .unwrap();
    assert_eq!(reply.text().map(str::len), Some(200 << 10));
}

fn ok_reply() -> ResponseTemplate {
    json_reply(serde_json::json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}]
    }))
}

/// A server that answers `first` once, then `ok_reply()`; and a hub on it with tiny backoff.
async fn once_then_ok(first: ResponseTemplate) -> (MockServer, llmhub_core::Hub) {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(first)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ok_reply())
        .mount(&server)
        .await;
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .retry_base_delay(Duration::from_millis(1))
        .retry_max_delay(Duration::from_millis(5))
        .retry_after_ceiling(Duration::from_millis(500))
        .build()
        .unwrap();
    (server, hub)
}

async fn count(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn limited() -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(serde_json::json!({"error": {"message": "slow down"}}))
}

#[tokio::test]
async fn a_retry_after_past_the_ceiling_fails_at_once_with_the_asked_delay() {
    for (name, value, asked) in [
        ("retry-after", "120", Duration::from_secs(120)),
        ("retry-after-ms", "900", Duration::from_millis(900)),
        ("llm_provider-retry-after", "2", Duration::from_secs(2)),
        (
            "llm_provider-retry-after-ms",
            "700",
            Duration::from_millis(700),
        ),
    ] {
        let (server, hub) = once_then_ok(limited().insert_header(name, value)).await;
        let err = ask(&hub, "llm.inference").await.unwrap_err();
        let Error::RateLimited { retry_after, .. } = err else {
            panic!("{name}: {err:?}")
        };
        assert_eq!(retry_after, Some(asked), "{name}");
        assert_eq!(count(&server).await, 1, "{name}: no retry");
    }
}

#[tokio::test]
async fn a_retry_after_under_the_ceiling_is_honoured_beyond_the_backoff_cap() {
    for (name, value) in [
        ("retry-after-ms", "50"),
        ("llm_provider-retry-after-ms", "50"),
        ("retry-after", "0"),
    ] {
        let (server, hub) = once_then_ok(limited().insert_header(name, value)).await;
        let started = std::time::Instant::now();
        assert_eq!(
            ask(&hub, "llm.inference").await.unwrap().text(),
            Some("done")
        );
        assert_eq!(count(&server).await, 2, "{name}");
        if value == "50" {
            // Not cut to the 5 ms backoff cap.
            assert!(started.elapsed() >= Duration::from_millis(50), "{name}");
        }
    }
}

#[tokio::test]
async fn x_should_retry_is_obeyed() {
    // `false`: not even a 500 or a 429 is retried.
    for status in [500, 429, 503] {
        let (server, hub) =
            once_then_ok(ResponseTemplate::new(status).insert_header("x-should-retry", "false"))
                .await;
        assert!(ask(&hub, "llm.inference").await.is_err());
        assert_eq!(count(&server).await, 1, "{status}");
    }
    // `true`: a status we would not retry is.
    let (server, hub) =
        once_then_ok(ResponseTemplate::new(409).insert_header("x-should-retry", "true")).await;
    assert_eq!(
        ask(&hub, "llm.inference").await.unwrap().text(),
        Some("done")
    );
    assert_eq!(count(&server).await, 2);
    // Without it, the status decides.
    let (server, hub) = once_then_ok(ResponseTemplate::new(409)).await;
    assert!(ask(&hub, "llm.inference").await.is_err());
    assert_eq!(count(&server).await, 1);
}

#[tokio::test]
async fn raw_paths_cannot_leave_the_base_url_however_spelled() {
    let server = serve(json_reply(serde_json::json!({"ok": true}))).await;
    let yaml = format!(
        "project: p\nenv: dev\nproviders:\n  openai:\n    env_key: LLMHUB_TEST_UNSET_OPENAI\n    base_url: {}/prefix/v1\nroles:\n  r: {{ provider: openai, model: m, mode: other }}\n",
        server.uri()
    );
    let hub = llmhub_core::Hub::builder()
        .config(llmhub_core::Config::from_yaml_str(&yaml).unwrap())
        .api_key("openai", OPENAI_KEY)
        .build()
        .unwrap();
    let raw = |path: &'static str| hub.raw("r", path, serde_json::json!({}), None);
    for path in [
        "../admin",
        "%2e%2e/admin",
        "%2E%2E/admin",
        "%2e./admin",
        ".%2E/admin",
        "a/%2e%2e/%2e%2e/admin",
        "%2e%2e%2fadmin",
        "..%2Fadmin",
        "..\\admin",
        "a\\..\\..\\admin",
        "..%5cadmin",
        "..%5Cadmin",
        "./%2e%2e/admin",
        "/./admin",
        "moderations/../../admin",
        "http://evil.example/x",
    ] {
        let err = raw(path).await.expect_err(path);
        assert!(
            matches!(err, Error::InvalidInput { .. })
                && err.to_string().contains("not a path under"),
            "{path}: {err:?}"
        );
    }
    assert_eq!(count(&server).await, 0, "nothing was sent");
    // Paths that stay under the base URL pass, as written.
    for (path, sent) in [
        ("moderations", "/prefix/v1/moderations"),
        ("/files/org%2Fname", "/prefix/v1/files/org%2Fname"),
        ("a/..b/c", "/prefix/v1/a/..b/c"),
        ("search?q=../x", "/prefix/v1/search"),
        // Leading slashes are dropped: not a scheme-relative URL to another host.
        ("//evil.example/x", "/prefix/v1/evil.example/x"),
    ] {
        raw(path).await.unwrap();
        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.last().unwrap().url.path(), sent, "{path}");
    }
}

#[tokio::test]
async fn a_hostile_multipart_field_name_adds_no_header_and_no_part() {
    let server = serve(json_reply(serde_json::json!({"text": "ok"}))).await;
    let yaml = format!(
        "project: p\nenv: dev\nproviders:\n  openai:\n    env_key: LLMHUB_TEST_UNSET_OPENAI\n    base_url: {}/v1\nroles:\n  stt: {{ provider: openai, model: whisper-1, mode: audio }}\n",
        server.uri()
    );
    let hub = llmhub_core::Hub::builder()
        .config(llmhub_core::Config::from_yaml_str(&yaml).unwrap())
        .api_key("openai", OPENAI_KEY)
        .build()
        .unwrap();
    let hostile = "evil\"; filename=\"x.sh\"\r\nContent-Type: text/html\r\n\r\ninjected\r\n--";
    let mut params = llmhub_core::Params::new();
    params.insert(hostile.into(), "line one\r\nline two".into());
    let audio = llmhub_core::AudioFile::new(&b"RIFF\x00fake-wav"[..], "a\"b\r\n.wav");
    hub.transcribe("stt", audio, Some(params)).await.unwrap();

    let request = only_request(&server).await;
    let content_type = header(&request, "content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"evil%22; filename=%22x.sh%22%0D%0AContent-Type: text/html%0D%0A%0D%0Ainjected%0D%0A--\"\r\n\r\nline one\r\nline two\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a%22b%0D%0A.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\x00fake-wav\r\n--{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&request.body), expected);
    // Three parts, each with one header line.
    let body = String::from_utf8_lossy(&request.body);
    assert_eq!(body.matches(&format!("--{boundary}\r\n")).count(), 3);
    assert_eq!(body.matches("Content-Disposition").count(), 3);
}

#[tokio::test]
async fn secrets_echoed_in_a_bad_reply_or_a_redirect_are_masked() {
    // A reply that does not decode: the decode error quotes the value.
    let server = serve(json_reply(
        serde_json::json!({"choices": format!("{OPENAI_KEY} {HEADER_SECRET}")}),
    ))
    .await;
    let hub = llmhub_core::Hub::builder()
        .config(config_with_header_secret(&server.uri()))
        .api_key("azure", OPENAI_KEY)
        .build()
        .unwrap();
    let err = ask(&hub, "r").await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("*** ***"), "{message}");
    // A redirect whose path carries them.
    let server = redirecting(
        307,
        &format!("https://other.example/{OPENAI_KEY}/{HEADER_SECRET}/v1"),
    )
    .await;
    let hub = llmhub_core::Hub::builder()
        .config(config_with_header_secret(&server.uri()))
        .api_key("azure", OPENAI_KEY)
        .build()
        .unwrap();
    let err = ask(&hub, "r").await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("https://other.example/***/***/v1"),
        "{message}"
    );
}
