//! The loopback HTTP server shared by the tests and the benches: a tokio `TcpListener` that
//! answers each request with a scripted [`Reply`] (whole, or cut into pieces written one at a
//! time, after an optional delay), keeps connections alive between replies that have a
//! `content-length`, and records every request it reads. wiremock sends a body whole and
//! cannot stall mid-body; this server can.
//!
//! It uses nothing from llmhub, so the benches include this file as it is
//! (`#[path = "../llmhub-core/tests/support/server.rs"] mod server;`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The head of a streamed response whose body ends when the connection closes.
pub const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";

/// One request as the server read it: the head as text, and the body.
#[derive(Clone, Debug)]
pub struct Request {
    head: String,
    /// The body, `content-length` bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// The method, such as `POST`.
    pub fn method(&self) -> &str {
        self.request_line().next().unwrap_or("")
    }

    /// The path with its query, such as `/v1/chat/completions`.
    pub fn path(&self) -> &str {
        self.request_line().nth(1).unwrap_or("")
    }

    fn request_line(&self) -> std::str::SplitWhitespace<'_> {
        self.head.lines().next().unwrap_or("").split_whitespace()
    }

    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }

    /// Head and body as text, as they came over the wire.
    pub fn text(&self) -> String {
        format!(
            "{}\r\n\r\n{}",
            self.head,
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// What the server writes back for one request: bytes cut at `cuts`, written one piece at a
/// time with a flush and `pause` after each, after waiting `delay`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Reply {
    bytes: Arc<[u8]>,
    head_len: usize,
    cuts: Arc<[usize]>,
    pause: Duration,
    delay: Duration,
    close: bool,
}

impl Reply {
    /// A complete response: `status`, `content-type` and `content-length`; the connection stays
    /// open for the next request.
    pub fn new(status: u16, content_type: &str, body: impl AsRef<[u8]>) -> Reply {
        let body = body.as_ref();
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            reason(status),
            body.len()
        );
        Reply::from_parts(head.as_bytes(), body, false)
    }

    /// A JSON response with `status`.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", body.to_string())
    }

    /// An SSE response (status 200) whose body ends when the server closes the connection.
    pub fn sse(body: impl AsRef<[u8]>) -> Reply {
        Reply::from_parts(SSE_HEAD, body.as_ref(), true)
    }

    /// Exactly `pieces`, head included, one write each; then the connection is closed.
    pub fn pieces(pieces: Vec<Vec<u8>>) -> Reply {
        let mut cuts = Vec::new();
        let mut bytes = Vec::new();
        for piece in &pieces {
            bytes.extend_from_slice(piece);
            cuts.push(bytes.len());
        }
        cuts.pop();
        Reply {
            bytes: bytes.into(),
            head_len: 0,
            cuts: cuts.into(),
            pause: Duration::ZERO,
            delay: Duration::ZERO,
            close: true,
        }
    }

    /// Reads the request, then closes the connection without answering.
    pub fn hang_up() -> Reply {
        Reply::pieces(Vec::new())
    }

    fn from_parts(head: &[u8], body: &[u8], close: bool) -> Reply {
        Reply {
            bytes: [head, body].concat().into(),
            head_len: head.len(),
            cuts: Arc::new([]),
            pause: Duration::ZERO,
            delay: Duration::ZERO,
            close,
        }
    }

    /// The head in one piece, then the body in pieces of `size` bytes.
    pub fn split(mut self, size: usize) -> Reply {
        let size = size.max(1);
        self.cuts = (self.head_len..self.bytes.len()).step_by(size).collect();
        self
    }

    /// Waits `pause` after each piece.
    pub fn pause(mut self, pause: Duration) -> Reply {
        self.pause = pause;
        self
    }

    /// Waits `delay` before the first byte.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// Writes the reply; false if the connection is to be closed (or failed).
    async fn write(&self, socket: &mut TcpStream) -> bool {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let mut start = 0;
        for end in self.cuts.iter().copied().chain([self.bytes.len()]) {
            if end > start {
                if socket.write_all(&self.bytes[start..end]).await.is_err() {
                    return false;
                }
                let _ = socket.flush().await;
                if !self.pause.is_zero() {
                    tokio::time::sleep(self.pause).await;
                }
            }
            start = end;
        }
        !self.close
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

type Respond = dyn Fn(&Request) -> Reply + Send + Sync;

struct Shared {
    respond: Box<Respond>,
    requests: Mutex<Vec<Request>>,
    count: AtomicUsize,
    keep: AtomicBool,
}

/// A running server; it stops with its runtime (or, for [`Server::on_thread`], with the process).
#[derive(Clone)]
pub struct Server {
    /// The root URL, `http://127.0.0.1:<port>`.
    pub url: String,
    shared: Arc<Shared>,
}

impl Server {
    /// Starts a server on the current tokio runtime answering each request with `respond`.
    pub async fn start(respond: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let (server, listener) = Server::bind(Box::new(respond));
        tokio::spawn(
            server
                .clone()
                .accept(TcpListener::from_std(listener).unwrap()),
        );
        server
    }

    /// Starts a server that gives the `n`th request `replies[n]`, and the last reply to any
    /// later request.
    pub async fn script(replies: Vec<Reply>) -> Server {
        Server::start(scripted(replies)).await
    }

    /// Starts a server on a thread and runtime of its own, for callers without a runtime
    /// (blocking code) or that must not share theirs (benches).
    pub fn on_thread(respond: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let (server, listener) = Server::bind(Box::new(respond));
        let accepting = server.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    accepting
                        .accept(TcpListener::from_std(listener).unwrap())
                        .await
                })
        });
        server
    }

    /// [`Server::script`] on a thread of its own.
    pub fn script_on_thread(replies: Vec<Reply>) -> Server {
        Server::on_thread(scripted(replies))
    }

    fn bind(respond: Box<Respond>) -> (Server, std::net::TcpListener) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            respond,
            requests: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            keep: AtomicBool::new(true),
        });
        (Server { url, shared }, listener)
    }

    /// Stops keeping the requests (for benches, which send millions); they are still counted.
    pub fn forget_requests(&self) {
        self.shared.keep.store(false, Ordering::Relaxed);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// The one request received; panics if there were more or none.
    pub fn only_request(&self) -> Request {
        let mut requests = self.requests();
        assert_eq!(requests.len(), 1, "expected exactly one request");
        requests.remove(0)
    }

    async fn accept(self, listener: TcpListener) {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = socket.set_nodelay(true);
            tokio::spawn(self.clone().serve(socket));
        }
    }

    /// Answers the requests of one connection until it closes or a reply closes it.
    async fn serve(self, mut socket: TcpStream) {
        let mut buf = Vec::with_capacity(16 * 1024);
        while let Some(request) = read_request(&mut socket, &mut buf).await {
            let reply = (self.shared.respond)(&request);
            if self.shared.keep.load(Ordering::Relaxed) {
                self.shared.requests.lock().unwrap().push(request);
            }
            self.shared.count.fetch_add(1, Ordering::SeqCst);
            if !reply.write(&mut socket).await {
                let _ = socket.shutdown().await;
                return;
            }
        }
    }
}

/// Replies in order, the last one repeated.
fn scripted(replies: Vec<Reply>) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    assert!(!replies.is_empty(), "a script needs a reply");
    let next = AtomicUsize::new(0);
    move |_| {
        let n = next.fetch_add(1, Ordering::SeqCst);
        replies[n.min(replies.len() - 1)].clone()
    }
}

/// Reads one request (head and `content-length` body) from `socket`, with `buf` holding what
/// was read past the previous request. None when the connection closes first.
async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match socket.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let total = head_end + 4 + length;
    while buf.len() < total {
        match socket.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    let body = buf[head_end + 4..total].to_vec();
    buf.drain(..total);
    Some(Request { head, body })
}
