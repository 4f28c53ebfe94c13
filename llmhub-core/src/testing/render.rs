//! Scripted replies, written in the wire format of the role's protocol: OpenAI-compatible
//! chat completions, SSE chunks and embeddings; Anthropic messages and their event stream.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::Protocol;

/// One scripted answer of a model.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// A chat reply with this text.
    Text(String),
    /// A structured reply: the model answers this JSON value (on Anthropic, as the input of
    /// the forced tool when the request forces one, else as text).
    Json(Value),
    /// A chat reply calling these tools: `(name, arguments)`.
    ToolCalls(Vec<(String, Value)>),
    /// A chat reply in pieces: streamed chunk by chunk when the request asks for a stream,
    /// else joined into one text.
    Stream(Vec<String>),
    /// An embedding reply, one vector per input.
    Embeddings(Vec<Vec<f32>>),
    /// An error status with the protocol's error body.
    Error {
        /// The HTTP status.
        status: u16,
        /// The provider's error message.
        message: String,
        /// A `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// A reply sent only after a delay.
    Delayed(Duration, Box<Reply>),
}

/// What the request asked for, as far as the reply's form depends on it.
pub(crate) struct Asked<'a> {
    pub protocol: Protocol,
    pub path: &'a str,
    pub body: &'a Value,
}

impl Asked<'_> {
    fn stream(&self) -> bool {
        self.body["stream"] == true
    }

    fn model(&self) -> &str {
        self.body["model"].as_str().unwrap_or("mock-model")
    }

    /// The tool an Anthropic request forces, if any.
    fn forced_tool(&self) -> Option<&str> {
        let choice = &self.body["tool_choice"];
        (choice["type"] == "tool")
            .then(|| choice["name"].as_str())
            .flatten()
    }
}

/// A whole HTTP response: status, content type, extra headers and body.
pub(crate) struct Rendered {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Rendered {
    fn json(status: u16, body: Value) -> Rendered {
        Rendered {
            status,
            content_type: "application/json",
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn sse(events: Vec<String>) -> Rendered {
        Rendered {
            status: 200,
            content_type: "text/event-stream",
            headers: Vec::new(),
            body: events.concat().into_bytes(),
        }
    }
}

/// The error a request gets when its role has no reply left.
pub(crate) fn unscripted(role: &str) -> Rendered {
    Rendered::json(
        500,
        json!({"error": {"message": format!("llmhub test kit: no reply scripted for role `{role}`; add one with mock.script(\"{role}\")"), "type": "unscripted"}}),
    )
}

/// `reply` in the form `asked` expects.
pub(crate) fn render(reply: &Reply, asked: &Asked<'_>) -> Rendered {
    match reply {
        Reply::Delayed(_, inner) => render(inner, asked),
        Reply::Error {
            status,
            message,
            retry_after,
        } => {
            let body = match asked.protocol {
                Protocol::Anthropic => {
                    json!({"type": "error", "error": {"type": "api_error", "message": message}})
                }
                _ => json!({"error": {"message": message, "type": "scripted_error"}}),
            };
            let mut rendered = Rendered::json(*status, body);
            if let Some(seconds) = retry_after {
                rendered.headers.push(("retry-after", seconds.to_string()));
            }
            rendered
        }
        Reply::Embeddings(vectors) => Rendered::json(
            200,
            json!({
                "object": "list",
                "data": vectors.iter().enumerate().map(|(index, v)| json!({"object": "embedding", "index": index, "embedding": v})).collect::<Vec<_>>(),
                "model": asked.model(),
                "usage": {"prompt_tokens": 1, "total_tokens": 1}
            }),
        ),
        Reply::Stream(pieces) if asked.stream() => match asked.protocol {
            Protocol::Anthropic => anthropic_stream(pieces, asked.model()),
            _ => openai_stream(pieces, asked.model()),
        },
        Reply::Stream(pieces) => render(&Reply::Text(pieces.concat()), asked),
        Reply::Text(text) if asked.stream() => render(&Reply::Stream(vec![text.clone()]), asked),
        chat => match asked.protocol {
            Protocol::Anthropic => Rendered::json(200, anthropic_message(chat, asked)),
            _ => Rendered::json(200, openai_completion(chat, asked)),
        },
    }
    .with_path_check(asked.path)
}

impl Rendered {
    /// A request to an endpoint the test kit does not script gets 404.
    fn with_path_check(self, path: &str) -> Rendered {
        const SERVED: [&str; 3] = ["/chat/completions", "/v1/messages", "/embeddings"];
        let path = path.split('?').next().unwrap_or(path);
        if SERVED.iter().any(|end| path.ends_with(end)) {
            self
        } else {
            Rendered::json(
                404,
                json!({"error": {"message": format!("llmhub test kit: it scripts chat and embedding calls, not {path}"), "type": "not_found"}}),
            )
        }
    }
}

fn openai_completion(reply: &Reply, asked: &Asked<'_>) -> Value {
    let (content, tool_calls, finish) = match reply {
        Reply::Text(text) => (Value::from(text.as_str()), Value::Null, "stop"),
        Reply::Json(value) => (Value::from(value.to_string()), Value::Null, "stop"),
        Reply::ToolCalls(calls) => (
            Value::Null,
            calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({"id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": args.to_string()}})
                })
                .collect(),
            "tool_calls",
        ),
        _ => (Value::Null, Value::Null, "stop"),
    };
    let mut message = json!({"role": "assistant", "content": content});
    if !tool_calls.is_null() {
        message["tool_calls"] = tool_calls;
    }
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_764_000_000,
        "model": asked.model(),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

fn anthropic_message(reply: &Reply, asked: &Asked<'_>) -> Value {
    let tool_use = |i: usize, name: &str, input: &Value| json!({"type": "tool_use", "id": format!("toolu_{i}"), "name": name, "input": input});
    let (content, stop) = match (reply, asked.forced_tool()) {
        (Reply::Json(value), Some(tool)) => (vec![tool_use(0, tool, value)], "tool_use"),
        (Reply::Json(value), None) => (
            vec![json!({"type": "text", "text": value.to_string()})],
            "end_turn",
        ),
        (Reply::Text(text), _) => (vec![json!({"type": "text", "text": text})], "end_turn"),
        (Reply::ToolCalls(calls), _) => (
            calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| tool_use(i, name, args))
                .collect(),
            "tool_use",
        ),
        _ => (Vec::new(), "end_turn"),
    };
    json!({
        "id": "msg_mock",
        "type": "message",
        "role": "assistant",
        "model": asked.model(),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {"input_tokens": 10, "output_tokens": 5}
    })
}

fn openai_stream(pieces: &[String], model: &str) -> Rendered {
    let chunk = |delta: Value, finish: Value| {
        let chunk = json!({
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": 1_764_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        });
        format!("data: {chunk}\n\n")
    };
    let mut events = vec![chunk(json!({"role": "assistant"}), Value::Null)];
    events.extend(
        pieces
            .iter()
            .map(|piece| chunk(json!({"content": piece}), Value::Null)),
    );
    events.push(chunk(json!({}), json!("stop")));
    events.push("data: [DONE]\n\n".into());
    Rendered::sse(events)
}

fn anthropic_stream(pieces: &[String], model: &str) -> Rendered {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [], "usage": {"input_tokens": 10, "output_tokens": 0}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    events.extend(pieces.iter().map(|piece| {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}),
        )
    }));
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 5}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    Rendered::sse(events)
}
