//! The test kit's HTTP server: HTTP/1.1 with keep-alive on loopback, on a thread of its own
//! with a one-thread tokio runtime, answering each request with its role's next scripted reply.
//! It stops when the [`Running`] handle is dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::testing::render::{Asked, Rendered, Reply, render, unscripted};
use crate::testing::{MockState, ROLE_HEADER, Request, TEST_KEY};

/// The largest request the server reads (a test's request is far smaller).
const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// A running server; dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Running {
    /// Binds 127.0.0.1 on a free port and serves `state` until dropped.
    pub fn start(state: Arc<MockState>) -> std::io::Result<Running> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("llmhub-test-kit".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = stopped => {}
                        _ = accept(listener, state) => {}
                    }
                });
            })?;
        Ok(Running {
            addr,
            stop: Some(stop),
        })
    }
}

async fn accept(listener: TcpListener, state: Arc<MockState>) {
    while let Ok((socket, _)) = listener.accept().await {
        let _ = socket.set_nodelay(true);
        tokio::spawn(connection(socket, state.clone()));
    }
}

/// Serves the requests of one connection until the client closes it.
async fn connection(mut socket: TcpStream, state: Arc<MockState>) {
    let mut buf = Vec::new();
    loop {
        let Some((head_len, content_length)) = read_head(&mut socket, &mut buf).await else {
            return;
        };
        while buf.len() < head_len + content_length {
            let mut chunk = [0u8; 16 * 1024];
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let request = parse(&buf[..head_len], &buf[head_len..head_len + content_length]);
        buf.drain(..head_len + content_length);
        let response = answer(&state, request).await;
        if socket.write_all(&response).await.is_err() {
            return;
        }
    }
}

/// Reads until the end of a request head; returns its length and the body's length.
async fn read_head(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]);
            let content_length = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            return (content_length <= MAX_REQUEST_BYTES).then_some((end + 4, content_length));
        }
        if buf.len() > MAX_REQUEST_BYTES {
            return None;
        }
        let mut chunk = [0u8; 16 * 1024];
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The request as recorded: auth values other than the test key masked.
fn parse(head: &[u8], body: &[u8]) -> Request {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            let secret = matches!(name.as_str(), "authorization" | "x-api-key" | "api-key")
                && !value.ends_with(TEST_KEY);
            let value = if secret { "***" } else { value };
            (name, value.to_owned())
        })
        .collect();
    let role = headers
        .iter()
        .find(|(name, _)| name == ROLE_HEADER)
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    Request {
        role,
        method,
        path,
        headers,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    }
}

/// Records `request` and writes its role's next reply.
async fn answer(state: &MockState, request: Request) -> Vec<u8> {
    let reply = state.next_reply(&request.role);
    let protocol = state
        .protocol(&request.role)
        .or_else(|| state.protocol(""))
        .unwrap_or(crate::config::Protocol::OpenAi);
    let rendered = match &reply {
        Some(reply) => render(
            reply,
            &Asked {
                protocol,
                path: &request.path,
                body: &request.body,
            },
        ),
        None => unscripted(&request.role),
    };
    state.record(request);
    if let Some(Reply::Delayed(delay, _)) = reply {
        tokio::time::sleep(delay).await;
    }
    bytes(rendered)
}

fn bytes(rendered: Rendered) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n",
        rendered.status,
        reason(rendered.status),
        rendered.content_type,
        rendered.body.len()
    );
    for (name, value) in &rendered.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&rendered.body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
