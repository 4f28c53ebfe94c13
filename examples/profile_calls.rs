//! Calls of one kind, repeated, against the tests' loopback server on the same thread: a
//! harness for profilers, whose counts (instructions, cache misses) do not drift between runs
//! as timings do on a shared machine.
//!
//! ```text
//! cargo build --release --example profile_calls
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/profile_calls chat 2000
//! valgrind --tool=cachegrind --cache-sim=yes target/release/examples/profile_calls chat 4000
//! ```
//!
//! The difference between two runs, divided by the difference in calls, is what one call costs
//! (client and server together), without the setup. The kinds:
//!
//! - `chat`: a chat call through the role's typed method; `chat-by-name`: the same through
//!   `Hub::completion`; `bare-chat`: the same request with bare reqwest, the URL parsed once
//!   and typed structs that hold only the reply's text (the runtime bench's strictest client);
//!   `bare-chat-timed`: the same within the deadline llmhub gives a call by default, so that
//!   the difference from `bare-chat` is what the timer costs;
//! - `stream`, `bare-stream`: a stream of 50 chunks, read through the hub, or with bare reqwest,
//!   a plain SSE splitter and chunk structs that hold only the text;
//! - `embedding`, `bare-embedding`: an embedding of 1,536 floats.

#[path = "../llmhub-core/tests/support/server.rs"]
mod server;

use std::error::Error;
use std::time::Duration;

use futures_util::StreamExt;
use llmhub::{Config, Message};
use server::{Reply, Server};

llmhub::roles!("fixtures/llmhub.yaml");

const KEY: &str = "sk-profile";

/// The server's answers: a chat reply, a stream of 50 chunks, an embedding.
fn respond() -> impl Fn(&server::Request) -> Reply + Send + Sync + 'static {
    let chat = Reply::json(
        200,
        &serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
        }),
    );
    let mut events = String::new();
    for i in 0..50 {
        events.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4.1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    events.push_str("data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    let stream = Reply::new(200, "text/event-stream", events);
    let vector: Vec<f32> = (0..1536).map(|i| (i as f32 * 0.001).sin()).collect();
    let embedding = Reply::json(
        200,
        &serde_json::json!({
            "object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": vector}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}
        }),
    );
    move |request| {
        if request.path().ends_with("/embeddings") {
            embedding.clone()
        } else if memchr::memmem::find(&request.body, b"\"stream\":true").is_some() {
            stream.clone()
        } else {
            chat.clone()
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(kind), Some(count)) = (args.next(), args.next()) else {
        return Err("usage: profile_calls <kind> <count> (see the example's docs)".into());
    };
    let count: usize = count.parse()?;
    let server = Server::start(respond()).await;
    let root = format!("{}/v1", server.url);
    let config = include_str!("../fixtures/llmhub.yaml").replace(
        "    env_key: OPENAI_API_KEY",
        &format!("    base_url: {root}"),
    );
    let roles = Roles::builder()
        .config(Config::from_yaml_str(&config)?)
        .api_key("openai", KEY)
        .build()?;
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let chat_url = reqwest::Url::parse(&format!("{root}/chat/completions"))?;
    let embedding_url = reqwest::Url::parse(&format!("{root}/embeddings"))?;
    let mut total = 0;
    for _ in 0..count {
        total += match kind.as_str() {
            "chat" => text_length(
                roles
                    .llm_inference()
                    .completion([Message::user("Hello")])
                    .await?,
            ),
            "chat-by-name" => text_length(
                roles
                    .hub()
                    .completion("llm.inference", [Message::user("Hello")], None)
                    .await?,
            ),
            "bare-chat" => bare::chat(&client, &chat_url).await?,
            "bare-chat-timed" => {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
                tokio::time::timeout_at(deadline, bare::chat(&client, &chat_url)).await??
            }
            "stream" => {
                let mut stream = roles
                    .llm_inference()
                    .stream([Message::user("Hello")])
                    .await?;
                let mut choices = 0;
                while let Some(chunk) = stream.next().await {
                    choices += chunk?.choices.len();
                }
                choices
            }
            "bare-stream" => bare::stream(&client, &chat_url).await?,
            "embedding" => roles
                .llm_embedding()
                .embedding("Hello world")
                .await?
                .first()
                .map_or(0, <[f32]>::len),
            "bare-embedding" => bare::embedding(&client, &embedding_url).await?,
            other => return Err(format!("no kind `{other}` (see the example's docs)").into()),
        };
    }
    println!("{kind}: {count} calls; read {total} (text bytes, chunk choices or floats)");
    Ok(())
}

/// The length of a chat reply's text.
fn text_length(reply: llmhub::ChatResponse) -> usize {
    reply.text().map_or(0, str::len)
}

/// The same requests with bare reqwest and typed structs that hold only what is read.
mod bare {
    use futures_util::StreamExt;
    use serde::{Deserialize, Serialize};

    use super::KEY;

    type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

    #[derive(Serialize)]
    struct Request<'a> {
        model: &'a str,
        messages: [Turn<'a>; 1],
        temperature: f64,
        max_tokens: u32,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        stream: bool,
    }

    #[derive(Serialize)]
    struct Turn<'a> {
        role: &'a str,
        content: &'a str,
    }

    #[derive(Deserialize)]
    struct Text {
        content: Option<String>,
    }

    /// The chat request, asking for a stream or not.
    fn chat_request(stream: bool) -> Request<'static> {
        Request {
            model: "gpt-4.1",
            messages: [Turn {
                role: "user",
                content: "Hello",
            }],
            temperature: 0.7,
            max_tokens: 2048,
            stream,
        }
    }

    /// A POST of `body` as JSON with the key; the response, if its status is a success.
    async fn post(
        client: &reqwest::Client,
        url: &reqwest::Url,
        body: &impl Serialize,
    ) -> Result<reqwest::Response> {
        Ok(client
            .post(url.clone())
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?)
            .send()
            .await?
            .error_for_status()?)
    }

    /// A chat call; the length of its text.
    pub async fn chat(client: &reqwest::Client, url: &reqwest::Url) -> Result<usize> {
        #[derive(Deserialize)]
        struct Reply {
            choices: Vec<Choice>,
        }
        #[derive(Deserialize)]
        struct Choice {
            message: Text,
        }
        let bytes = post(client, url, &chat_request(false))
            .await?
            .bytes()
            .await?;
        let reply: Reply = serde_json::from_slice(&bytes)?;
        Ok(reply
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .map_or(0, |text| text.len()))
    }

    /// A streamed chat call; the number of choices its chunks carried.
    pub async fn stream(client: &reqwest::Client, url: &reqwest::Url) -> Result<usize> {
        #[derive(Deserialize)]
        struct Chunk {
            choices: Vec<Choice>,
        }
        #[derive(Deserialize)]
        struct Choice {
            #[allow(dead_code)]
            delta: Text,
        }
        let mut body = post(client, url, &chat_request(true)).await?.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut choices = 0;
        while let Some(bytes) = body.next().await {
            buffer.extend_from_slice(&bytes?);
            while let Some(end) = buffer.windows(2).position(|pair| pair == b"\n\n") {
                let event: Vec<u8> = buffer.drain(..end + 2).collect();
                let Some(data) = event.strip_prefix(b"data: ") else {
                    continue;
                };
                let data = &data[..data.len() - 2];
                if data == b"[DONE]" {
                    return Ok(choices);
                }
                choices += serde_json::from_slice::<Chunk>(data)?.choices.len();
            }
        }
        Ok(choices)
    }

    /// An embedding call; the length of its vector.
    pub async fn embedding(client: &reqwest::Client, url: &reqwest::Url) -> Result<usize> {
        #[derive(Deserialize)]
        struct Reply {
            data: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            embedding: Vec<f32>,
        }
        let body = serde_json::json!({"model": "text-embedding-3-small", "input": "Hello world"});
        let bytes = post(client, url, &body).await?.bytes().await?;
        let reply: Reply = serde_json::from_slice(&bytes)?;
        Ok(reply.data.first().map_or(0, |item| item.embedding.len()))
    }
}
