//! The runtime against the tests' loopback HTTP server (`llmhub-core/tests/support/server.rs`,
//! on tokio, serving canned replies with keep-alive, so the server is not the bottleneck):
//!
//! * `per_call`: one chat completion through `Hub` (by role name, and through the role's
//!   typed method that `llmhub::roles!` generates from `benches/runtime.yaml`) and the same
//!   request through bare
//!   `reqwest` and `serde_json` (body built with `json!`, reply parsed into a
//!   `serde_json::Value`; strictest, with a pre-parsed URL and typed structs that hold only
//!   the reply's text; the same decoding into llmhub's own `ChatResponse`; and the strictest
//!   given llmhub's default timeout, a deadline over request and body), one caller, client and
//!   server on one thread.
//! * `sse_throughput`: a long OpenAI stream (5.4 MB, 30,000 chunks) read through
//!   `hub.stream_completion`, in bytes per second.
//! * `concurrent_64`: 64 callers at once, `Hub` (by name and through the typed method) against
//!   bare `reqwest` (with and without the timeout).
//! * `structured`: `completion_json::<T>` against `completion` of the same reply (whose text is
//!   a JSON object), one caller. Target: within 5%.
//! * `stream_50`: a stream of 50 SSE chunks read to typed chunks through the hub, against bare
//!   reqwest reading the same stream with a plain SSE splitter and typed chunk structs (that
//!   hold only the text delta, or llmhub's own `ChatChunk`).
//! * `embedding`: one embedding call (1,536 floats) through the hub against bare reqwest with
//!   typed structs (with and without llmhub's default timeout).
//! * `limits_and_fallbacks_64`: 64 callers on a role with provider limits that are never
//!   reached and an unused fallback, against a plain role.
//! * `client_cpu`: the client thread's CPU time per chat call, the server on a thread of its
//!   own, against the strict typed bare call.
//! * allocations per call (a counting global allocator) for chat, stream and embedding, hub and
//!   bare, client and server together.
//!
//! Interleaved rounds rotate which contestant goes first, so that neither always runs warm.
//! `LLMHUB_BENCH=per_call,stream_and_embedding cargo bench --bench runtime` runs only the
//! functions named (each prints its interleaved ratios).

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use llmhub::{Config, Hub, Message};
use serde_json::{Value, json};
use server::{Reply, Server};

#[path = "../llmhub-core/tests/support/server.rs"]
mod server;

const KEY: &str = "sk-bench";

/// Whether the bench function `name` runs: all of them unless `LLMHUB_BENCH` names some
/// (comma-separated, e.g. `LLMHUB_BENCH=per_call,stream_and_embedding`). Criterion's own
/// filter selects only its timings, not the interleaved rounds each function prints.
fn selected(name: &str) -> bool {
    std::env::var("LLMHUB_BENCH")
        .map(|names| names.split(',').any(|n| n.trim() == name))
        .unwrap_or(true)
}

/// Counts allocations (and reallocations), for the per-call allocation figures.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged; the counter is a side note.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// An embedding reply of 1,536 floats.
fn embedding_reply() -> Value {
    let vector: Vec<f32> = (0..1536).map(|i| (i as f32 * 0.001).sin()).collect();
    json!({
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 2, "total_tokens": 2}
    })
}

/// The canned replies: a chat completion, or a stream of `stream_chunks` chunks to a request
/// whose body asks for a stream. Both have a `content-length`, so connections stay open.
fn respond(stream_chunks: usize) -> impl Fn(&server::Request) -> Reply + Send + Sync + 'static {
    respond_with("Hello! How can I help you today?", stream_chunks)
}

/// [`respond`] with `content` as the text of every chat reply.
fn respond_with(
    content: &str,
    stream_chunks: usize,
) -> impl Fn(&server::Request) -> Reply + Send + Sync + 'static {
    let chat = Reply::json(
        200,
        &json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "gpt-4.1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18}
        }),
    );
    let stream = Reply::new(200, "text/event-stream", stream_body(stream_chunks));
    let embedding = Reply::json(200, &embedding_reply());
    move |request| {
        if request.path().ends_with("/embeddings") {
            return embedding.clone();
        }
        // A substring search, so that a longer request body (a structured call's schema)
        // costs the server no more than reading it.
        let wants_stream = memchr::memmem::find(&request.body, b"\"stream\":true").is_some();
        if wants_stream { &stream } else { &chat }.clone()
    }
}

fn stream_body(chunks: usize) -> String {
    let mut body = String::new();
    for i in 0..chunks {
        body.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4.1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    body.push_str("data: {\"id\":\"chatcmpl-bench\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    body
}

/// A runtime with one thread.
fn one_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Starts the server on its own thread and runtime; returns its root URL.
fn start_server(stream_chunks: usize) -> String {
    let server = Server::on_thread(respond(stream_chunks));
    server.forget_requests();
    server.url
}

llmhub::roles!("benches/runtime.yaml");

/// The bench's config (`benches/runtime.yaml`), its provider pointed at the server at `url`.
fn bench_config(url: &str) -> Config {
    let yaml = include_str!("runtime.yaml").replace("http://127.0.0.1:9", url);
    Config::from_yaml_str(&yaml).unwrap()
}

fn hub(url: &str) -> Hub {
    Hub::builder()
        .config(bench_config(url))
        .api_key("openai", KEY)
        .build()
        .unwrap()
}

/// The same hub's roles as typed methods (what `llmhub::roles!` generates).
fn typed_roles(url: &str) -> Roles {
    Roles::builder()
        .config(bench_config(url))
        .api_key("openai", KEY)
        .build()
        .unwrap()
}

fn bare_client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

/// The same call, written directly with reqwest and serde_json.
async fn bare_call(client: &reqwest::Client, url: &str) -> Value {
    let body = json!({
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Hello"}],
        "temperature": 0.7,
        "max_tokens": 2048,
    });
    let bytes = bare_post(client, url, &body).await;
    serde_json::from_slice(&bytes).unwrap()
}

/// POSTs `body` as JSON with the key, as bare reqwest code does; returns the reply's body.
async fn bare_post(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &impl serde::Serialize,
) -> bytes::Bytes {
    bare_post_within(client, url, body, None).await
}

/// [`bare_post`], the request and the reply's body given `timeout` (as llmhub gives every
/// attempt its provider's timeout), or no timeout at all.
async fn bare_post_within(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &impl serde::Serialize,
    timeout: Option<Duration>,
) -> bytes::Bytes {
    let send = client
        .post(url)
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send();
    let Some(timeout) = timeout else {
        let response = send.await.unwrap();
        assert!(response.status().is_success());
        return response.bytes().await.unwrap();
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let response = tokio::time::timeout_at(deadline, send)
        .await
        .unwrap()
        .unwrap();
    assert!(response.status().is_success());
    tokio::time::timeout_at(deadline, response.bytes())
        .await
        .unwrap()
        .unwrap()
}

/// The same call written as tightly as bare reqwest allows: URL parsed once, typed request
/// and reply structs that hold only the reply's text (the strictest baseline).
async fn bare_typed_call(client: &reqwest::Client, url: &reqwest::Url) -> String {
    bare_typed_call_within(client, url, None).await
}

/// The timeout llmhub gives a call by default, for the bare clients that are given one: a
/// deadline over the request and the reply's body, so a timer armed per call.
const LLMHUB_TIMEOUT: Option<Duration> = Some(Duration::from_secs(600));

/// [`bare_typed_call`] with `timeout` (see [`bare_post_within`]).
async fn bare_typed_call_within(
    client: &reqwest::Client,
    url: &reqwest::Url,
    timeout: Option<Duration>,
) -> String {
    #[derive(serde::Deserialize)]
    struct Reply {
        choices: Vec<Choice>,
    }
    #[derive(serde::Deserialize)]
    struct Choice {
        message: Text,
    }
    #[derive(serde::Deserialize)]
    struct Text {
        content: Option<String>,
    }
    let bytes = bare_typed_post(client, url, timeout).await;
    let reply: Reply = serde_json::from_slice(&bytes).unwrap();
    reply
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .unwrap_or_default()
}

/// [`bare_typed_call`] decoding the reply into llmhub's own [`llmhub::ChatResponse`] (id,
/// model, every choice with its role and finish reason, usage): what is left of llmhub's cost
/// once both read the same reply type.
async fn bare_typed_call_full_reply(client: &reqwest::Client, url: &reqwest::Url) -> String {
    let bytes = bare_typed_post(client, url, None).await;
    let reply: llmhub::ChatResponse = serde_json::from_slice(&bytes).unwrap();
    reply.text().unwrap_or_default().to_owned()
}

/// The request of [`bare_typed_call`], sent with a typed body.
async fn bare_typed_post(
    client: &reqwest::Client,
    url: &reqwest::Url,
    timeout: Option<Duration>,
) -> bytes::Bytes {
    #[derive(serde::Serialize)]
    struct Request<'a> {
        model: &'a str,
        messages: [Turn<'a>; 1],
        temperature: f64,
        max_tokens: u32,
    }
    #[derive(serde::Serialize)]
    struct Turn<'a> {
        role: &'a str,
        content: &'a str,
    }
    let body = Request {
        model: "gpt-4.1",
        messages: [Turn {
            role: "user",
            content: "Hello",
        }],
        temperature: 0.7,
        max_tokens: 2048,
    };
    bare_post_within(client, url.clone(), &body, timeout).await
}

async fn hub_call(hub: &Hub) -> String {
    let reply = hub
        .completion("llm.inference", [Message::user("Hello")], None)
        .await
        .unwrap();
    reply.text().unwrap_or_default().to_owned()
}

/// [`hub_call`] through the role's typed method.
async fn typed_call(roles: &Roles) -> String {
    let reply = roles
        .llm_inference()
        .completion([Message::user("Hello")])
        .await
        .unwrap();
    reply.text().unwrap_or_default().to_owned()
}

fn per_call(c: &mut Criterion) {
    if !selected("per_call") {
        return;
    }
    // Client and server share one thread: no cross-thread wake-ups, so the time is the CPU
    // cost of both sides plus the loopback syscalls, the same for both variants.
    let runtime = one_thread();
    let server = runtime.block_on(Server::start(respond(10)));
    server.forget_requests();
    let url = server.url;
    let hub = hub(&url);
    let roles = typed_roles(&url);
    let client = bare_client();
    let endpoint = format!("{url}/v1/chat/completions");
    let mut group = c.benchmark_group("per_call");
    group.bench_function("bare_reqwest", |b| {
        b.to_async(&runtime).iter(|| bare_call(&client, &endpoint))
    });
    let parsed = reqwest::Url::parse(&endpoint).unwrap();
    group.bench_function("bare_reqwest_typed", |b| {
        b.to_async(&runtime)
            .iter(|| bare_typed_call(&client, &parsed))
    });
    group.bench_function("llmhub", |b| b.to_async(&runtime).iter(|| hub_call(&hub)));
    group.bench_function("llmhub_typed", |b| {
        b.to_async(&runtime).iter(|| typed_call(&roles))
    });
    group.finish();
    let by_name =
        std::mem::size_of_val(&hub.completion("llm.inference", [Message::user("Hello")], None));
    let handle = roles.llm_inference();
    let typed = std::mem::size_of_val(&*handle.completion([Message::user("Hello")]));
    println!(
        "per_call: the future of a chat call is {by_name} bytes by name, {typed} bytes through the typed method (which boxes it)"
    );

    // The machine is shared and its speed drifts between criterion's runs of the variants, so
    // also time them interleaved, in short alternating rounds, and print the median ratios.
    runtime.block_on(async {
        let typed = interleaved(
            30,
            300,
            || hub_call(&hub),
            || bare_typed_call(&client, &parsed),
        )
        .await;
        let full = interleaved(
            30,
            300,
            || hub_call(&hub),
            || bare_typed_call_full_reply(&client, &parsed),
        )
        .await;
        let value = interleaved(
            30,
            300,
            || hub_call(&hub),
            || bare_call(&client, &endpoint),
        )
        .await;
        let timed = interleaved(
            30,
            300,
            || hub_call(&hub),
            || bare_typed_call_within(&client, &parsed, LLMHUB_TIMEOUT),
        )
        .await;
        let timer = interleaved(
            30,
            300,
            || bare_typed_call_within(&client, &parsed, LLMHUB_TIMEOUT),
            || bare_typed_call(&client, &parsed),
        )
        .await;
        let method = interleaved(
            30,
            300,
            || typed_call(&roles),
            || bare_typed_call(&client, &parsed),
        )
        .await;
        println!(
            "per_call interleaved, median of 30 rounds of 300 calls: llmhub / bare typed = {typed:.3}, llmhub / bare typed into llmhub's ChatResponse = {full:.3}, llmhub / bare json! + Value = {value:.3}, llmhub / bare typed with the same timeout = {timed:.3}, bare typed with / without the timeout = {timer:.3}, llmhub's typed method / bare typed = {method:.3}"
        );
    });
}

/// CPU time this thread has used, in seconds (Linux: `/proc/thread-self/schedstat`).
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let nanos: u64 = stat.split_whitespace().next().unwrap().parse().unwrap();
    nanos as f64 * 1e-9
}

/// The client's CPU time per chat call, the server on a thread of its own: llmhub against
/// the strict typed bare call (and the same decoding into llmhub's `ChatResponse`).
fn client_cpu(_: &mut Criterion) {
    if !selected("client_cpu") {
        return;
    }
    let url = start_server(10);
    let runtime = one_thread();
    let hub = hub(&url);
    let client = bare_client();
    let parsed = reqwest::Url::parse(&format!("{url}/v1/chat/completions")).unwrap();
    runtime.block_on(async {
        let typed = interleaved_by(
            thread_cpu_seconds,
            30,
            300,
            || hub_call(&hub),
            || bare_typed_call(&client, &parsed),
        )
        .await;
        let full = interleaved_by(
            thread_cpu_seconds,
            30,
            300,
            || hub_call(&hub),
            || bare_typed_call_full_reply(&client, &parsed),
        )
        .await;
        println!(
            "client_cpu interleaved, median of 30 rounds of 300 calls, server on its own thread: client CPU per chat call llmhub / bare typed = {typed:.3}, llmhub / bare typed into llmhub's ChatResponse = {full:.3}"
        );
    });
}

/// Seconds on the wall clock since its first reading.
fn wall_seconds() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Seconds for `count` sequential calls, on `clock`.
async fn measure_calls<F: Future>(clock: fn() -> f64, count: usize, call: impl Fn() -> F) -> f64 {
    let start = clock();
    for _ in 0..count {
        std::hint::black_box(call().await);
    }
    clock() - start
}

/// Wall-clock seconds for `count` sequential calls.
async fn time_calls<F: Future>(count: usize, call: impl Fn() -> F) -> f64 {
    measure_calls(wall_seconds, count, call).await
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn sse_throughput(c: &mut Criterion) {
    if !selected("sse_throughput") {
        return;
    }
    const CHUNKS: usize = 30_000;
    let url = start_server(CHUNKS);
    let bytes = stream_body(CHUNKS).len() as u64;
    let runtime = one_thread();
    let hub = hub(&url);
    let mut group = c.benchmark_group("sse_throughput");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("llmhub_stream_30000_chunks", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut stream = hub
                .stream_completion("llm.inference", [Message::user("Hello")], None)
                .await
                .unwrap();
            let mut count = 0usize;
            while let Some(chunk) = stream.next().await {
                count += chunk.unwrap().choices.len();
            }
            assert_eq!(count, CHUNKS + 1);
        })
    });
    group.finish();
}

/// A runtime with two workers, for the benches with many callers.
fn two_workers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `callers` calls at once, each on its own task, and waits for all.
async fn all_at_once<F, Fut>(callers: usize, call: F)
where
    F: Fn() -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let tasks: Vec<_> = (0..callers).map(|_| tokio::spawn(call())).collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn concurrent_64(c: &mut Criterion) {
    if !selected("concurrent_64") {
        return;
    }
    const CALLERS: usize = 64;
    let url = start_server(10);
    let runtime = two_workers();
    let hub = hub(&url);
    let roles = Arc::new(typed_roles(&url));
    let client = bare_client();
    let endpoint: Arc<str> = format!("{url}/v1/chat/completions").into();
    let mut group = c.benchmark_group("concurrent_64");
    group.throughput(Throughput::Elements(CALLERS as u64));
    let bare = || {
        all_at_once(CALLERS, || {
            let (client, endpoint) = (client.clone(), endpoint.clone());
            async move { bare_call(&client, &endpoint).await }
        })
    };
    let llmhub = || {
        all_at_once(CALLERS, || {
            let hub = hub.clone();
            async move { hub_call(&hub).await }
        })
    };
    group.bench_function("bare_reqwest", |b| b.to_async(&runtime).iter(bare));
    group.bench_function("llmhub", |b| b.to_async(&runtime).iter(llmhub));
    group.finish();

    let parsed = reqwest::Url::parse(&endpoint).unwrap();
    let bare_typed = || {
        all_at_once(CALLERS, || {
            let (client, url) = (client.clone(), parsed.clone());
            async move { bare_typed_call(&client, &url).await }
        })
    };
    runtime.block_on(async {
        // A throughput ratio is the inverse of the time ratio.
        let typed = 1.0 / interleaved(30, 10, llmhub, bare_typed).await;
        let value = 1.0 / interleaved(30, 10, llmhub, bare).await;
        let bare_timed = || {
            all_at_once(CALLERS, || {
                let (client, url) = (client.clone(), parsed.clone());
                async move { bare_typed_call_within(&client, &url, LLMHUB_TIMEOUT).await }
            })
        };
        let timed = 1.0 / interleaved(30, 10, llmhub, bare_timed).await;
        let timer = 1.0 / interleaved(30, 10, bare_timed, bare_typed).await;
        let methods = || {
            all_at_once(CALLERS, || {
                let roles = roles.clone();
                async move { typed_call(&roles).await }
            })
        };
        let method = 1.0 / interleaved(30, 10, methods, bare_typed).await;
        println!(
            "concurrent_64 interleaved, median of 30 rounds of 10 batches: throughput llmhub / bare typed = {typed:.3}, llmhub / bare json! + Value = {value:.3}, llmhub / bare typed with the same timeout = {timed:.3}, bare typed with / without the timeout = {timer:.3}, llmhub's typed method / bare typed = {method:.3}"
        );
    });
}

/// Call throughput while a thread reloads the config every millisecond, against the same calls
/// without reloads (the target: within 5%). Each reload reads, parses and validates the file,
/// builds the providers and swaps the state in.
fn reload_under_load(c: &mut Criterion) {
    if !selected("reload_under_load") {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    const CALLERS: usize = 8;
    let url = start_server(10);
    let runtime = two_workers();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llmhub.yaml");
    let yaml = format!(
        "project: bench\nenv: dev\nproviders:\n  openai:\n    base_url: {url}/v1\nroles:\n  llm.inference:\n    provider: openai\n    model: gpt-4.1\n    mode: chat\n    params: {{ temperature: 0.7, max_tokens: 2048 }}\n"
    );
    std::fs::write(&path, &yaml).unwrap();
    let hub = Hub::builder()
        .reload_from(&path)
        .api_key("openai", KEY)
        .build()
        .unwrap();
    let reloading = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let reloader = {
        let (hub, reloading, done) = (hub.clone(), reloading.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if reloading.load(Ordering::Relaxed) {
                    hub.reload().unwrap();
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let calls = || {
        all_at_once(CALLERS, || {
            let hub = hub.clone();
            async move { hub_call(&hub).await }
        })
    };
    let mut group = c.benchmark_group("reload");
    group.throughput(Throughput::Elements(CALLERS as u64));
    group.bench_function("no_reloads", |bench| bench.to_async(&runtime).iter(calls));
    reloading.store(true, Ordering::Relaxed);
    group.bench_function("reload_every_ms", |bench| {
        bench.to_async(&runtime).iter(calls)
    });
    group.finish();
    // Interleaved rounds with and without reloads, as for the other benches: the machine's
    // speed drifts between criterion's runs.
    runtime.block_on(async {
        let mut ratios = Vec::new();
        for _ in 0..30 {
            reloading.store(false, Ordering::Relaxed);
            let quiet = time_calls(20, calls).await;
            reloading.store(true, Ordering::Relaxed);
            ratios.push(quiet / time_calls(20, calls).await);
        }
        println!(
            "reload interleaved, median of 30 rounds of 20 batches: throughput with a reload every ms / without = {:.3}",
            median(&mut ratios)
        );
    });
    done.store(true, Ordering::Relaxed);
    reloader.join().unwrap();
}

/// The structured reply of the `structured` bench.
#[derive(serde::Deserialize, llmhub::schemars::JsonSchema)]
#[schemars(crate = "llmhub::schemars")]
struct Greeting {
    greeting: String,
    language: String,
    tokens: u32,
    mood: Option<String>,
}

fn structured(c: &mut Criterion) {
    if !selected("structured") {
        return;
    }
    let runtime = one_thread();
    let content = r#"{"greeting": "Hello! How can I help you today?", "language": "en", "tokens": 9, "mood": null}"#;
    let server = runtime.block_on(Server::start(respond_with(content, 10)));
    server.forget_requests();
    let hub = hub(&server.url);
    let json_call = || async {
        let greeting: Greeting = hub
            .completion_json("llm.inference", [Message::user("Hello")], None)
            .await
            .unwrap();
        greeting.greeting.len()
            + greeting.language.len()
            + greeting.tokens as usize
            + greeting.mood.map_or(0, |m| m.len())
    };
    let mut group = c.benchmark_group("structured");
    group.bench_function("completion", |b| {
        b.to_async(&runtime).iter(|| hub_call(&hub))
    });
    group.bench_function("completion_json", |b| b.to_async(&runtime).iter(json_call));
    group.finish();

    runtime.block_on(async {
        let ratio = interleaved(30, 300, json_call, || hub_call(&hub)).await;
        println!(
            "structured interleaved, median of 30 rounds of 300 calls: completion_json / completion = {ratio:.3}"
        );
    });
}

/// The number of choices in a stream chunk, decoded into typed structs that hold only the
/// text delta (what a hand-written client does).
fn minimal_chunk_choices(data: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct Chunk {
        choices: Vec<ChunkChoice>,
    }
    #[derive(serde::Deserialize)]
    struct ChunkChoice {
        #[allow(dead_code)]
        delta: Delta,
    }
    #[derive(serde::Deserialize)]
    struct Delta {
        #[allow(dead_code)]
        content: Option<String>,
    }
    let chunk: Chunk = serde_json::from_slice(data).unwrap();
    chunk.choices.len()
}

/// The number of choices in a stream chunk, decoded into llmhub's own [`llmhub::ChatChunk`]
/// (id, model, created, each choice's index, delta and finish reason, usage).
fn full_chunk_choices(data: &[u8]) -> usize {
    let chunk: llmhub::ChatChunk = serde_json::from_slice(data).unwrap();
    chunk.choices.len()
}

/// A stream read with bare reqwest: the body split at blank lines, `data:` lines decoded by
/// `decode` (which counts the chunk's choices).
async fn bare_stream(
    client: &reqwest::Client,
    url: &reqwest::Url,
    decode: fn(&[u8]) -> usize,
) -> usize {
    let body = json!({
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Hello"}],
        "temperature": 0.7,
        "max_tokens": 2048,
        "stream": true,
    });
    let response = client
        .post(url.clone())
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut choices = 0;
    while let Some(bytes) = body.next().await {
        buf.extend_from_slice(&bytes.unwrap());
        while let Some(end) = buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buf.drain(..end + 2).collect();
            let Some(data) = event.strip_prefix(b"data: ") else {
                continue;
            };
            let data = &data[..data.len() - 2];
            if data == b"[DONE]" {
                return choices;
            }
            choices += decode(data);
        }
    }
    choices
}

async fn hub_stream(hub: &Hub) -> usize {
    let mut stream = hub
        .stream_completion("llm.inference", [Message::user("Hello")], None)
        .await
        .unwrap();
    let mut choices = 0;
    while let Some(chunk) = stream.next().await {
        choices += chunk.unwrap().choices.len();
    }
    choices
}

/// An embedding call with bare reqwest and typed structs.
async fn bare_embedding(client: &reqwest::Client, url: &reqwest::Url) -> usize {
    bare_embedding_within(client, url, None).await
}

/// [`bare_embedding`] with `timeout` (see [`bare_post_within`]).
async fn bare_embedding_within(
    client: &reqwest::Client,
    url: &reqwest::Url,
    timeout: Option<Duration>,
) -> usize {
    #[derive(serde::Deserialize)]
    struct Reply {
        data: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        embedding: Vec<f32>,
    }
    let body = json!({"model": "text-embedding-3-small", "input": "Hello world"});
    let bytes = bare_post_within(client, url.clone(), &body, timeout).await;
    let reply: Reply = serde_json::from_slice(&bytes).unwrap();
    reply.data.first().map_or(0, |item| item.embedding.len())
}

async fn hub_embedding(hub: &Hub) -> usize {
    let reply = hub
        .embedding("llm.embedding", "Hello world", None)
        .await
        .unwrap();
    reply.first().map_or(0, |v| v.len())
}

/// The median ratio of `llmhub`'s time to `bare`'s over `rounds` interleaved rounds of
/// `calls` calls, the order of the two rotating each round.
async fn interleaved<A, FA, B, FB>(rounds: usize, calls: usize, llmhub: A, bare: B) -> f64
where
    A: Fn() -> FA,
    FA: Future,
    B: Fn() -> FB,
    FB: Future,
{
    interleaved_by(wall_seconds, rounds, calls, llmhub, bare).await
}

/// [`interleaved`] on `clock` (wall time, or this thread's CPU time).
async fn interleaved_by<A, FA, B, FB>(
    clock: fn() -> f64,
    rounds: usize,
    calls: usize,
    llmhub: A,
    bare: B,
) -> f64
where
    A: Fn() -> FA,
    FA: Future,
    B: Fn() -> FB,
    FB: Future,
{
    let mut ratios = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (ours, theirs) = if round % 2 == 0 {
            let ours = measure_calls(clock, calls, &llmhub).await;
            (ours, measure_calls(clock, calls, &bare).await)
        } else {
            let theirs = measure_calls(clock, calls, &bare).await;
            (measure_calls(clock, calls, &llmhub).await, theirs)
        };
        ratios.push(ours / theirs);
    }
    median(&mut ratios)
}

/// Allocations per call of `call`, over `calls` calls after a warm-up.
async fn allocations_per_call<F: Future>(calls: usize, call: impl Fn() -> F) -> f64 {
    for _ in 0..10 {
        std::hint::black_box(call().await);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..calls {
        std::hint::black_box(call().await);
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / calls as f64
}

fn stream_and_embedding(c: &mut Criterion) {
    if !selected("stream_and_embedding") {
        return;
    }
    let runtime = one_thread();
    let server = runtime.block_on(Server::start(respond(50)));
    server.forget_requests();
    let hub = hub(&server.url);
    let roles = typed_roles(&server.url);
    let client = bare_client();
    let chat_url = reqwest::Url::parse(&format!("{}/v1/chat/completions", server.url)).unwrap();
    let embeddings_url = reqwest::Url::parse(&format!("{}/v1/embeddings", server.url)).unwrap();
    let mut group = c.benchmark_group("stream_50");
    group.bench_function("bare_reqwest_typed", |b| {
        b.to_async(&runtime)
            .iter(|| bare_stream(&client, &chat_url, minimal_chunk_choices))
    });
    group.bench_function("llmhub", |b| b.to_async(&runtime).iter(|| hub_stream(&hub)));
    group.finish();
    let mut group = c.benchmark_group("embedding");
    group.bench_function("bare_reqwest_typed", |b| {
        b.to_async(&runtime)
            .iter(|| bare_embedding(&client, &embeddings_url))
    });
    group.bench_function("llmhub", |b| {
        b.to_async(&runtime).iter(|| hub_embedding(&hub))
    });
    group.finish();

    runtime.block_on(async {
        assert_eq!(hub_stream(&hub).await, bare_stream(&client, &chat_url, minimal_chunk_choices).await);
        let stream = interleaved(
            30,
            100,
            || hub_stream(&hub),
            || bare_stream(&client, &chat_url, minimal_chunk_choices),
        )
        .await;
        let stream_full = interleaved(
            30,
            100,
            || hub_stream(&hub),
            || bare_stream(&client, &chat_url, full_chunk_choices),
        )
        .await;
        let embedding = interleaved(
            30,
            200,
            || hub_embedding(&hub),
            || bare_embedding(&client, &embeddings_url),
        )
        .await;
        let embedding_timed = interleaved(
            30,
            200,
            || hub_embedding(&hub),
            || bare_embedding_within(&client, &embeddings_url, LLMHUB_TIMEOUT),
        )
        .await;
        println!(
            "interleaved, median of 30 rounds: stream of 50 chunks llmhub / bare typed = {stream:.3}, llmhub / bare typed into llmhub's ChatChunk = {stream_full:.3}, embedding (1,536 floats) llmhub / bare typed = {embedding:.3}, llmhub / bare typed with the same timeout = {embedding_timed:.3}"
        );
        let parsed = chat_url.clone();
        let chat_hub = allocations_per_call(200, || hub_call(&hub)).await;
        let chat_typed = allocations_per_call(200, || typed_call(&roles)).await;
        let chat_bare = allocations_per_call(200, || bare_typed_call(&client, &parsed)).await;
        let stream_hub = allocations_per_call(50, || hub_stream(&hub)).await;
        let stream_bare = allocations_per_call(50, || bare_stream(&client, &chat_url, minimal_chunk_choices)).await;
        let emb_hub = allocations_per_call(200, || hub_embedding(&hub)).await;
        let emb_bare = allocations_per_call(200, || bare_embedding(&client, &embeddings_url)).await;
        println!(
            "allocations per call (client and server): chat llmhub {chat_hub:.0} (typed method {chat_typed:.0}) / bare typed {chat_bare:.0}; stream of 50 chunks llmhub {stream_hub:.0} / bare typed {stream_bare:.0}; embedding llmhub {emb_hub:.0} / bare typed {emb_bare:.0}"
        );
    });
}

/// 64 concurrent callers on a role whose provider has limits that are never reached
/// (`max_concurrency`, `rpm`, `tpm`) and a fallback that is never needed, against the same
/// calls on a plain role, in interleaved rounds (target: within 2 %).
fn limits_and_fallbacks(c: &mut Criterion) {
    if !selected("limits_and_fallbacks") {
        return;
    }
    const CALLERS: usize = 64;
    let url = start_server(10);
    let runtime = two_workers();
    let plain = hub(&url);
    let yaml = format!(
        "project: bench\nenv: dev\nproviders:\n  openai:\n    base_url: {url}/v1\n    max_concurrency: 100000\n    rpm: 100000000\n    tpm: 1000000000\nroles:\n  llm.inference:\n    provider: openai\n    model: gpt-4.1\n    mode: chat\n    params: {{ temperature: 0.7, max_tokens: 2048 }}\n    fallbacks: [llm.backup]\n  llm.backup:\n    provider: openai\n    model: gpt-4.1-mini\n    mode: chat\n"
    );
    let guarded = Hub::builder()
        .config(Config::from_yaml_str(&yaml).unwrap())
        .api_key("openai", KEY)
        .build()
        .unwrap();
    let batch = |hub: &Hub| {
        let hub = hub.clone();
        all_at_once(CALLERS, move || {
            let hub = hub.clone();
            async move { hub_call(&hub).await }
        })
    };
    let mut group = c.benchmark_group("limits_and_fallbacks_64");
    group.throughput(Throughput::Elements(CALLERS as u64));
    group.bench_function("plain", |b| b.to_async(&runtime).iter(|| batch(&plain)));
    group.bench_function("limits_and_fallback", |b| {
        b.to_async(&runtime).iter(|| batch(&guarded))
    });
    group.finish();
    runtime.block_on(async {
        let cost = interleaved(30, 10, || batch(&guarded), || batch(&plain)).await;
        println!(
            "limits_and_fallbacks interleaved, median of 30 rounds of 10 batches of 64 callers: time with limits and a fallback / plain = {cost:.3}"
        );
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(40);
    targets = structured, per_call, client_cpu, stream_and_embedding, sse_throughput, concurrent_64, limits_and_fallbacks, reload_under_load
}
criterion_main!(benches);
