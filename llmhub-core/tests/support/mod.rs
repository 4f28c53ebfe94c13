//! Test support: the config the tests share, a hub builder for it, wiremock helpers, the
//! loopback server of `server.rs` (which writes replies in pieces, as wiremock cannot),
//! `params()` and temporary config files.
#![allow(dead_code)]

pub mod server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use llmhub_core::{Config, Hub, HubBuilder, Params};
use serde_json::Value;

#[allow(unused_imports)]
pub use server::{Reply, SSE_HEAD, Server};

pub const OPENAI_KEY: &str = "sk-openai-TESTKEY-1234";
pub const ANTHROPIC_KEY: &str = "sk-ant-TESTKEY-5678";

/// The shared test config; `openai` and `anthropic` are server roots, to which a path prefix is
/// added to check that the client keeps it.
pub fn yaml(openai: &str, anthropic: &str) -> String {
    format!(
        r#"
project: test
env: dev
providers:
  openai:
    env_key: LLMHUB_TEST_UNSET_OPENAI
    base_url: {openai}/prefix/v1
    headers: {{ X-Team: core }}
  anthropic:
    env_key: LLMHUB_TEST_UNSET_ANTHROPIC
    base_url: {anthropic}/anthropic
roles:
  llm.inference:
    provider: openai
    model: gpt-4.1
    mode: chat
    params: {{ temperature: 0.7, max_tokens: 2048 }}
  llm.embedding:
    provider: openai
    model: text-embedding-3-small
    mode: embedding
    params: {{ embedding_dim: 256 }}
  llm.memwrite:
    provider: anthropic
    model: claude-3-5-sonnet-20241022
    mode: chat
    params: {{ temperature: 0.3, stop: END }}
  llm.tools:
    provider: openai
    model: gpt-4.1
    mode: tool
defaults:
  provider: openai
  model: gpt-4o-mini
  mode: chat
  params: {{ temperature: 0.3 }}
"#
    )
}

/// The shared config with the OpenAI server at `openai`, no Anthropic server, and the keys
/// read from the environment variables `openai_var` and `anthropic_var`.
pub fn yaml_with_env(openai: &str, openai_var: &str, anthropic_var: &str) -> String {
    yaml(openai, "http://127.0.0.1:9")
        .replace("LLMHUB_TEST_UNSET_OPENAI", openai_var)
        .replace("LLMHUB_TEST_UNSET_ANTHROPIC", anthropic_var)
}

/// A builder for the shared config with both keys given and fast retries.
pub fn builder(openai: &str, anthropic: &str) -> HubBuilder {
    Hub::builder()
        .config(Config::from_yaml_str(&yaml(openai, anthropic)).unwrap())
        .api_key("openai", OPENAI_KEY)
        .api_key("anthropic", ANTHROPIC_KEY)
        .retry_base_delay(Duration::from_millis(10))
}

pub fn hub(openai: &str, anthropic: &str) -> Hub {
    builder(openai, anthropic).build().unwrap()
}

/// The one request the server received.
pub async fn only_request(server: &wiremock::MockServer) -> wiremock::Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}

/// The bodies of every request the server received, in order, as text (for tests that pin
/// the exact bytes sent).
pub async fn bodies(server: &wiremock::MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    requests
        .into_iter()
        .map(|request| String::from_utf8(request.body).expect("request body is UTF-8"))
        .collect()
}

pub fn body_json(request: &wiremock::Request) -> Value {
    serde_json::from_slice(&request.body).expect("request body is JSON")
}

pub fn header<'r>(request: &'r wiremock::Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A loopback server that answers every connection with `pieces`, written one at a time with a
/// flush and a pause after each, then closes the connection. Returns its root URL and the
/// requests it received (head and body, as text). [`Server`] gives the requests parsed.
pub async fn piecewise_server(
    pieces: Vec<Vec<u8>>,
    pause: Duration,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let reply = Reply::pieces(pieces).pause(pause);
    let server = Server::start(move |request| {
        seen.lock().unwrap().push(request.text());
        reply.clone()
    })
    .await;
    (server.url, requests)
}

/// Reads one HTTP request (head and `content-length` body).
pub async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

/// `body` cut into pieces of `size` bytes, after the response head.
pub fn head_and_pieces(body: &[u8], size: usize) -> Vec<Vec<u8>> {
    let mut pieces = vec![SSE_HEAD.to_vec()];
    pieces.extend(body.chunks(size).map(<[u8]>::to_vec));
    pieces
}

/// A wiremock server answering every request with `reply`.
pub async fn serve(reply: wiremock::ResponseTemplate) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

/// A JSON reply with status 200.
pub fn json_reply(body: Value) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(body)
}

/// `role` asked "Hi".
pub async fn ask(hub: &Hub, role: &str) -> llmhub_core::Result<llmhub_core::ChatResponse> {
    hub.completion(role, [llmhub_core::Message::user("Hi")], None)
        .await
}

/// The JSON object `value` as call parameters.
pub fn params(value: Value) -> Params {
    match value {
        Value::Object(map) => map,
        other => panic!("params must be a JSON object, not {other}"),
    }
}

/// A file in a temporary directory of its own; both are removed when this is dropped.
/// Stands in for its path: it derefs to it, converts into a `PathBuf` and compares with a
/// `&Path`.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempFile {
    /// `name` in a new temporary directory, holding `text`.
    pub fn new(name: &str, text: impl AsRef<[u8]>) -> TempFile {
        TempFile::with_prefix("llmhub-test-", name, text)
    }

    /// `name` holding `text`, in a new temporary directory whose name starts with `prefix`.
    pub fn with_prefix(prefix: &str, name: &str, text: impl AsRef<[u8]>) -> TempFile {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        TempFile { path, _dir: dir }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::ops::Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl From<&TempFile> for PathBuf {
    fn from(file: &TempFile) -> PathBuf {
        file.path.clone()
    }
}

impl PartialEq<TempFile> for &Path {
    fn eq(&self, file: &TempFile) -> bool {
        *self == file.path
    }
}

/// A loopback OpenAI-compatible server that answers each request after `delay`, counting the
/// requests in flight (and the most at once) and when each arrived.
pub struct CountingServer {
    pub url: String,
    pub in_flight: Arc<AtomicUsize>,
    pub peak: Arc<AtomicUsize>,
    pub arrivals: Arc<Mutex<Vec<Instant>>>,
}

pub async fn counting_server(delay: Duration) -> CountingServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = CountingServer {
        url: format!("http://{}", listener.local_addr().unwrap()),
        in_flight: Arc::default(),
        peak: Arc::default(),
        arrivals: Arc::default(),
    };
    let (in_flight, peak, arrivals) = (
        server.in_flight.clone(),
        server.peak.clone(),
        server.arrivals.clone(),
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (in_flight, peak, arrivals) = (in_flight.clone(), peak.clone(), arrivals.clone());
            tokio::spawn(async move {
                // Keep-alive: one request after another on the same connection.
                loop {
                    let request = read_request(&mut socket).await;
                    if request.is_empty() {
                        return;
                    }
                    arrivals.lock().unwrap().push(Instant::now());
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    let body = serde_json::json!({
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "counted"}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
                    })
                    .to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    server
}
