//! The Anthropic Messages protocol: `POST {base_url}/v1/messages`, `x-api-key` and
//! `anthropic-version: 2023-06-01`; requests translated from, and replies translated to, the
//! OpenAI shapes.
//!
//! Translation: system (and developer) messages go to the top-level `system`; `stop` becomes
//! `stop_sequences`; `max_tokens` is always sent ([`DEFAULT_MAX_TOKENS`] if the params have
//! none); OpenAI `tools` / `tool_choice` become Anthropic's; assistant tool calls become
//! `tool_use` blocks and `tool` messages `tool_result` blocks; `image_url` parts become `image`
//! blocks. Other params are passed through as given.

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::kind::Payload;
use crate::client::message::{Content, FunctionCall, Message, Role, ToolCall, null_as_default};
use crate::client::params::{MergedParams, Wire};
use crate::client::protocol::{
    Body, ChatInput, Endpoints, Step, StreamDecode, StreamDecoder, WireProtocol,
};
use crate::client::response::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, FunctionDelta,
    ResponseMessage, ToolCallDelta, Usage,
};
use crate::client::sse::SseEvent;
use crate::client::status::{decode_error, status_error};
use crate::error::{Error, Result};

/// `max_tokens` sent when the params have none (the Messages API requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The Messages API version every request names.
const API_VERSION: &str = "2023-06-01";

/// The Anthropic Messages protocol.
pub(crate) struct Anthropic;

impl WireProtocol for Anthropic {
    /// Only chat: `{base_url}/v1/messages` (the base URL has no version segment, as in
    /// Anthropic's SDKs; any path prefix is kept).
    fn endpoints(&self, base_url: &str) -> std::result::Result<Endpoints, String> {
        let url = |path: &str| Url::parse(&format!("{base_url}{path}")).map_err(|e| e.to_string());
        Ok(Endpoints {
            base: url("")?,
            chat: Some(url("/v1/messages")?),
            embeddings: None,
            images: None,
            speech: None,
            transcriptions: None,
        })
    }

    fn auth_header(&self) -> HeaderName {
        HeaderName::from_static("x-api-key")
    }

    fn auth_value(&self, key: &str) -> String {
        key.to_owned()
    }

    fn fixed_headers(&self, headers: &mut HeaderMap) {
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
    }

    fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Body, String> {
        match payload {
            Payload::Chat { messages, stream } => chat_body(ChatInput {
                model,
                messages,
                stream,
                params,
            }),
            _ => Err("the anthropic protocol serves only chat (and tool) roles; bind this role to an OpenAI-compatible provider".into()),
        }
    }

    fn decode_chat(&self, body: Bytes) -> serde_json::Result<ChatResponse> {
        parse_chat(body)
    }

    fn stream_decoder(&self) -> StreamDecoder {
        Box::new(StreamState::default())
    }
}

#[derive(Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<System>,
    messages: Vec<Turn<'a>>,
    max_tokens: MaxTokens<'a>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(flatten)]
    params: MergedParams<'a>,
}

/// Anthropic's `system`: text, or a list of blocks (for prompt caching).
#[derive(Serialize)]
#[serde(untagged)]
enum System {
    Text(String),
    Blocks(Vec<Value>),
}

#[derive(Serialize)]
#[serde(untagged)]
enum MaxTokens<'a> {
    Given(&'a Value),
    Default(u32),
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: TurnContent<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TurnContent<'a> {
    Text(&'a str),
    Blocks(Vec<Value>),
}

fn param(key: &str, value: &Value) -> Wire {
    match key {
        "model"
        | "messages"
        | "stream"
        | "stream_options"
        | "system"
        | "max_tokens"
        | "max_completion_tokens" => Wire::Skip,
        "stop" => match value {
            Value::String(stop) => Wire::Replace("stop_sequences", json!([stop])),
            _ => Wire::Rename("stop_sequences"),
        },
        "tools" => Wire::Replace("tools", tools(value)),
        "tool_choice" => Wire::Replace("tool_choice", tool_choice(value)),
        _ => Wire::Keep,
    }
}

/// OpenAI `[{type: function, function: {name, description, parameters}}]` →
/// Anthropic `[{name, description, input_schema}]`; other entries are passed through.
fn tools(value: &Value) -> Value {
    let Some(list) = value.as_array() else {
        return value.clone();
    };
    let translated = list
        .iter()
        .map(|tool| match tool.get("function") {
            Some(function) if tool.get("type") == Some(&json!("function")) => {
                let mut out = serde_json::Map::new();
                out.insert(
                    "name".into(),
                    function.get("name").cloned().unwrap_or_default(),
                );
                if let Some(description) = function.get("description") {
                    out.insert("description".into(), description.clone());
                }
                out.insert(
                    "input_schema".into(),
                    function
                        .get("parameters")
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                );
                Value::Object(out)
            }
            _ => tool.clone(),
        })
        .collect();
    Value::Array(translated)
}

/// OpenAI `tool_choice` → Anthropic's.
fn tool_choice(value: &Value) -> Value {
    match value {
        Value::String(choice) => match choice.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" | "any" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            _ => value.clone(),
        },
        Value::Object(choice) if choice.get("type") == Some(&json!("function")) => {
            json!({"type": "tool", "name": choice.get("function").and_then(|f| f.get("name"))})
        }
        _ => value.clone(),
    }
}

fn content_texts(content: Option<&Content>) -> String {
    match content {
        Some(Content::Text(text)) => text.clone(),
        Some(Content::Parts(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        None => String::new(),
    }
}

/// An OpenAI content part → an Anthropic content block.
fn part(part: &Value) -> Value {
    match part.get("type").and_then(Value::as_str) {
        Some("image_url") => {
            let url = part
                .get("image_url")
                .and_then(|i| i.get("url").or(Some(i)))
                .and_then(Value::as_str)
                .unwrap_or("");
            let inline = url
                .strip_prefix("data:")
                .and_then(|rest| rest.split_once(";base64,"));
            match inline {
                Some((media_type, data)) => {
                    json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
                }
                None => json!({"type": "image", "source": {"type": "url", "url": url}}),
            }
        }
        _ => part.clone(),
    }
}

fn tool_use(call: &ToolCall) -> Value {
    let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
    json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input})
}

/// The system text and the turns of a conversation.
fn turns(messages: &[Message]) -> (Option<String>, Vec<Turn<'_>>) {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(messages.len());
    let mut last_was_tool = false;
    for message in messages {
        let is_tool = message.role == Role::Tool;
        match message.role {
            Role::System | Role::Developer => system.push(content_texts(message.content.as_ref())),
            Role::User | Role::Assistant if message.tool_calls.is_empty() => {
                let content = match &message.content {
                    Some(Content::Text(text)) => TurnContent::Text(text),
                    Some(Content::Parts(parts)) => {
                        TurnContent::Blocks(parts.iter().map(part).collect())
                    }
                    None => TurnContent::Text(""),
                };
                let role = if message.role == Role::User {
                    "user"
                } else {
                    "assistant"
                };
                turns.push(Turn { role, content });
            }
            Role::User | Role::Assistant => {
                let mut blocks = Vec::with_capacity(message.tool_calls.len() + 1);
                let text = content_texts(message.content.as_ref());
                if !text.is_empty() {
                    blocks.push(json!({"type": "text", "text": text}));
                }
                blocks.extend(message.tool_calls.iter().map(tool_use));
                turns.push(Turn {
                    role: "assistant",
                    content: TurnContent::Blocks(blocks),
                });
            }
            Role::Tool => {
                let result = json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.as_deref().unwrap_or(""),
                    "content": content_texts(message.content.as_ref()),
                });
                match turns.last_mut() {
                    Some(Turn {
                        content: TurnContent::Blocks(blocks),
                        ..
                    }) if last_was_tool => blocks.push(result),
                    _ => turns.push(Turn {
                        role: "user",
                        content: TurnContent::Blocks(vec![result]),
                    }),
                }
            }
        }
        last_was_tool = is_tool;
    }
    let system = (!system.is_empty()).then(|| system.join("\n\n"));
    (system, turns)
}

fn chat_body(chat: ChatInput<'_>) -> std::result::Result<Body, String> {
    let params = chat.params;
    let (from_messages, messages) = turns(chat.messages);
    // A `system` param comes first, then the system messages.
    let system = match (params.get("system"), from_messages) {
        (None | Some(Value::Null), text) => text.map(System::Text),
        (Some(Value::String(extra)), Some(text)) => {
            Some(System::Text(format!("{extra}\n\n{text}")))
        }
        (Some(Value::String(extra)), None) => Some(System::Text(extra.clone())),
        (Some(Value::Array(blocks)), text) => {
            let mut blocks = blocks.clone();
            blocks.extend(text.map(|text| json!({"type": "text", "text": text})));
            Some(System::Blocks(blocks))
        }
        (Some(other), _) => {
            return Err(format!(
                "param `system` must be a string or a list of Anthropic system blocks, found {other}"
            ));
        }
    };
    let max_tokens = params
        .get("max_tokens")
        .or_else(|| params.get("max_completion_tokens"))
        .map_or(MaxTokens::Default(DEFAULT_MAX_TOKENS), MaxTokens::Given);
    Body::json(&MessagesRequest {
        model: chat.model,
        system,
        messages,
        max_tokens,
        stream: chat.stream,
        params: params.translated(param),
    })
}

#[derive(Deserialize)]
struct MessagesResponse {
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    model: String,
    #[serde(default, deserialize_with = "null_as_default")]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct AnthropicUsage {
    #[serde(default, deserialize_with = "null_as_default")]
    input_tokens: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    output_tokens: u64,
}

fn usage(input: u64, output: u64) -> Usage {
    Usage {
        prompt_tokens: input,
        completion_tokens: output,
        total_tokens: input + output,
    }
}

fn finish_reason(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn arguments(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_owned(),
        input => input.to_string(),
    }
}

fn parse_chat(body: Bytes) -> serde_json::Result<ChatResponse> {
    let reply: MessagesResponse = serde_json::from_slice(&body)?;
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    for block in reply.content {
        match block {
            Block::Text { text: more } => text.get_or_insert_with(String::new).push_str(&more),
            Block::ToolUse { id, name, input } => tool_calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall {
                    name,
                    arguments: arguments(&input),
                },
            }),
            Block::Other => {}
        }
    }
    Ok(ChatResponse {
        id: reply.id,
        model: reply.model,
        created: None,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: Some("assistant".into()),
                content: text,
                tool_calls,
                refusal: None,
            },
            finish_reason: reply.stop_reason.as_deref().map(finish_reason),
        }],
        usage: reply.usage.map(|u| usage(u.input_tokens, u.output_tokens)),
        raw: body,
    })
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        #[serde(default)]
        index: u32,
        content_block: Block,
    },
    ContentBlockDelta {
        #[serde(default)]
        index: u32,
        delta: BlockDelta,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<AnthropicUsage>,
    },
    MessageStop {},
    Error {
        #[serde(default)]
        error: ApiError,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    #[serde(default, deserialize_with = "null_as_default")]
    id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    model: String,
    #[serde(default)]
    usage: Option<AnthropicUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        #[serde(default)]
        text: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct ApiError {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

/// The state of an Anthropic stream.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    id: String,
    model: String,
    input_tokens: u64,
    /// Content-block index → OpenAI tool-call index, for `tool_use` blocks.
    tool_blocks: Vec<(u32, u32)>,
    stopped: bool,
}

impl StreamState {
    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>, raw: Bytes) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            model: self.model.clone(),
            created: None,
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
            }],
            usage: None,
            raw,
        }
    }

    fn tool_index(&self, block: u32) -> Option<u32> {
        self.tool_blocks
            .iter()
            .find(|(b, _)| *b == block)
            .map(|(_, tool)| *tool)
    }
}

impl StreamDecode for StreamState {
    fn on_event(&mut self, event: SseEvent, provider: &str) -> Result<Step> {
        let parsed: Event =
            serde_json::from_slice(&event.data).map_err(|err| decode_error(provider, &err))?;
        let raw = event.data;
        let step = match parsed {
            Event::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                self.input_tokens = message.usage.unwrap_or_default().input_tokens;
                let delta = Delta {
                    role: Some("assistant".into()),
                    ..Delta::default()
                };
                Step::Chunk(self.chunk(delta, None, raw))
            }
            Event::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                Block::Text { text } if !text.is_empty() => {
                    let delta = Delta {
                        content: Some(text),
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                Block::ToolUse { id, name, .. } => {
                    let tool = self.tool_blocks.len() as u32;
                    self.tool_blocks.push((index, tool));
                    let delta = Delta {
                        tool_calls: vec![ToolCallDelta {
                            index: tool,
                            id: Some(id),
                            kind: Some("function".into()),
                            function: Some(FunctionDelta {
                                name: Some(name),
                                arguments: Some(String::new()),
                            }),
                        }],
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                _ => Step::Skip,
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => {
                    let delta = Delta {
                        content: Some(text),
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                BlockDelta::InputJsonDelta { partial_json } => match self.tool_index(index) {
                    Some(tool) => {
                        let delta = Delta {
                            tool_calls: vec![ToolCallDelta {
                                index: tool,
                                function: Some(FunctionDelta {
                                    name: None,
                                    arguments: Some(partial_json),
                                }),
                                ..ToolCallDelta::default()
                            }],
                            ..Delta::default()
                        };
                        Step::Chunk(self.chunk(delta, None, raw))
                    }
                    None => Step::Skip,
                },
                BlockDelta::Other => Step::Skip,
            },
            Event::MessageDelta { delta, usage: out } => {
                self.stopped = true;
                let reason = delta
                    .stop_reason
                    .as_deref()
                    .map_or(FinishReason::Stop, finish_reason);
                let mut chunk = self.chunk(Delta::default(), Some(reason), raw);
                chunk.usage = Some(usage(
                    self.input_tokens,
                    out.unwrap_or_default().output_tokens,
                ));
                Step::Chunk(chunk)
            }
            Event::MessageStop {} => Step::Done,
            Event::Error { error } => return Err(stream_error(provider, error)),
            Event::Other => Step::Skip,
        };
        Ok(step)
    }

    fn at_end(&self) -> std::result::Result<(), &'static str> {
        if self.stopped {
            Ok(())
        } else {
            Err("no message_delta and no message_stop")
        }
    }
}

/// An `error` event, classified like the HTTP status Anthropic uses for that error type.
fn stream_error(provider: &str, error: ApiError) -> Error {
    let status = match error.kind.as_str() {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        _ => 500,
    };
    let message = if error.kind.is_empty() {
        error.message
    } else {
        format!("{} ({}) in the stream", error.message, error.kind)
    };
    status_error(provider, status, None, message)
}

#[cfg(test)]
mod system_tests {
    use super::*;

    fn body(system: Value) -> std::result::Result<Value, String> {
        let params = json!({ "system": system }).as_object().cloned().unwrap();
        let messages = [Message::system("From messages."), Message::user("Hi")];
        let chat = ChatInput {
            model: "claude",
            messages: &messages,
            stream: false,
            params: MergedParams::new(&params, None),
        };
        chat_body(chat).map(|b| serde_json::from_slice(&b.bytes).unwrap())
    }

    #[test]
    fn system_param_as_text_or_blocks() {
        assert_eq!(
            body(json!("Be brief.")).unwrap()["system"],
            "Be brief.\n\nFrom messages."
        );
        let blocks =
            json!([{"type": "text", "text": "Cached.", "cache_control": {"type": "ephemeral"}}]);
        assert_eq!(
            body(blocks).unwrap()["system"],
            json!([
                {"type": "text", "text": "Cached.", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "From messages."}
            ])
        );
        assert!(body(json!(7)).unwrap_err().contains("param `system`"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Params;

    #[test]
    fn conversation_with_tools_translates() {
        let messages = vec![
            Message::system("Be brief."),
            Message::user("Weather?"),
            Message::assistant_tool_calls(vec![ToolCall {
                id: "t1".into(),
                kind: "function".into(),
                function: FunctionCall {
                    name: "weather".into(),
                    arguments: r#"{"city":"Paris"}"#.into(),
                },
            }]),
            Message::tool("t1", "sunny"),
            Message::tool("t2", "warm"),
        ];
        let params: Params = json!({
            "stop": "END",
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "weather"}},
            "top_k": 3,
        })
        .as_object()
        .unwrap()
        .clone();
        let body = chat_body(ChatInput {
            model: "claude",
            messages: &messages,
            stream: false,
            params: MergedParams::new(&params, None),
        })
        .unwrap();
        let body: Value = serde_json::from_slice(&body.bytes).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "claude",
                "system": "Be brief.",
                "max_tokens": 4096,
                "messages": [
                    {"role": "user", "content": "Weather?"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                        {"type": "tool_result", "tool_use_id": "t2", "content": "warm"},
                    ]},
                ],
                "stop_sequences": ["END"],
                "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "weather"},
                "top_k": 3,
            })
        );
    }

    #[test]
    fn reply_with_tool_use_and_unknown_blocks_parses() {
        let body = Bytes::from_static(
            br#"{"id":"msg_1","type":"message","role":"assistant","model":"claude",
            "content":[{"type":"thinking","thinking":"hm"},{"type":"text","text":"Let me check."},
            {"type":"tool_use","id":"t1","name":"weather","input":{"city":"Paris"}}],
            "stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":0}}"#,
        );
        let reply = parse_chat(body).unwrap();
        assert_eq!(reply.text(), Some("Let me check."));
        assert_eq!(
            reply.tool_calls()[0].function.arguments,
            r#"{"city":"Paris"}"#
        );
        assert_eq!(reply.finish_reason(), Some(&FinishReason::ToolCalls));
        assert_eq!(reply.usage.unwrap().total_tokens, 15);
        assert_eq!(reply.raw_json().unwrap()["id"], "msg_1");
    }
}
