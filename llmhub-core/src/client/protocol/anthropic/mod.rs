//! The Anthropic Messages protocol: `POST {base_url}/v1/messages`, `x-api-key` and
//! `anthropic-version: 2023-06-01`; requests translated from, and replies translated to, the
//! OpenAI shapes.
//!
//! Translation: system (and developer) messages go to the top-level `system`; `stop` becomes
//! `stop_sequences`; `max_tokens` is always sent ([`DEFAULT_MAX_TOKENS`] if the params have
//! none); OpenAI `tools` / `tool_choice` become Anthropic's; assistant tool calls become
//! `tool_use` blocks and `tool` messages `tool_result` blocks; `image_url` parts become `image`
//! blocks, `file` parts with an inline PDF `document` blocks (in tool results too); a part
//! Anthropic cannot carry (audio, an uploaded file id) is refused before any request; `user`
//! becomes `metadata.user_id`. OpenAI-only params (`response_format`, `seed`, `n`, `logprobs`,
//! …) and llmhub's own (`strict_json`, `json_repair_retries`, `reasoning_effort`, `cache`) are
//! not sent as such. A typed reply is asked for with a forced tool, whose input is the value.
//! Other params are passed through as given.
//!
//! Reasoning: the portable `reasoning_effort` param becomes
//! `thinking: {type: enabled, budget_tokens}` with the budgets of [`THINKING_BUDGETS`]
//! (`minimal` 1024, `low` 2048, `medium` 8192, `high` 24576 tokens), unless the params give
//! `thinking` themselves. Anthropic counts thinking in `max_tokens`, which must exceed the
//! budget: a `max_tokens` (or the default) at or under the budget is raised to the budget plus
//! that many tokens, so the answer keeps the room it was given. An assistant message built
//! from a reply sends its `thinking` and `redacted_thinking` blocks back first, as they came.
//!
//! Prompt caching: with the role param `cache: true` (llmhub's own, never sent), the last
//! system block and the last tool get a `cache_control: {type: ephemeral}` breakpoint (unless
//! they have one). A `cache_control` written by the caller is kept wherever it is: on system
//! blocks, on content parts, on tools (beside `function` or inside it).

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Value, json};

use crate::client::kind::Payload;
use crate::client::message::{Content, Message, ReasoningBlock, Role, ToolCall};
use crate::client::params::{MergedParams, Wire};
use crate::client::protocol::{Body, ChatInput, Endpoints, StreamDecoder, WireProtocol};
use crate::client::response::ChatResponse;
use crate::client::structured::{REPAIRS_PARAM, STRICT_PARAM};

mod reply;

use reply::{StreamState, parse_chat};

/// `max_tokens` sent when the params have none (the Messages API requires it).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The `thinking` budget (`budget_tokens`) of each `reasoning_effort`.
pub(crate) const THINKING_BUDGETS: [(&str, u64); 4] = [
    ("minimal", 1024),
    ("low", 2048),
    ("medium", 8192),
    ("high", 24576),
];

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
            Payload::Chat { .. } => ChatInput::of(model, payload, params)
                .map_or_else(|| Err("not a chat call".into()), chat_body),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<AnthropicTool<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(flatten)]
    params: MergedParams<'a>,
}

/// A tool given with the call: `{name, description, input_schema}`.
#[derive(Serialize)]
struct AnthropicTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    input_schema: &'a serde_json::value::RawValue,
}

/// `tool_choice: {type: tool, name}`: the model must call that tool.
#[derive(Serialize)]
struct ToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
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
    /// Raised above the thinking budget.
    Raised(u64),
}

/// `thinking: {type: enabled, budget_tokens}`.
#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u64,
}

/// The thinking budget of a `reasoning_effort` value (`null` asks for none).
fn thinking_budget(effort: &Value) -> std::result::Result<Option<u64>, String> {
    if effort.is_null() {
        return Ok(None);
    }
    THINKING_BUDGETS
        .iter()
        .find(|(name, _)| effort.as_str() == Some(name))
        .map(|(_, budget)| Some(*budget))
        .ok_or_else(|| {
            format!("param `reasoning_effort` must be `minimal`, `low`, `medium` or `high`, found {effort}")
        })
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
        | "max_completion_tokens"
        | "reasoning_effort"
        | "cache"
        | STRICT_PARAM
        | REPAIRS_PARAM => Wire::Skip,
        // OpenAI-only params: the Messages API rejects unknown fields.
        "response_format"
        | "parallel_tool_calls"
        | "logprobs"
        | "top_logprobs"
        | "n"
        | "presence_penalty"
        | "frequency_penalty"
        | "seed"
        | "logit_bias" => {
            tracing::debug!(
                param = key,
                "not sent: the Anthropic Messages API has no such field"
            );
            Wire::Skip
        }
        "user" => match value {
            Value::String(user) => Wire::Replace("metadata", json!({ "user_id": user })),
            _ => Wire::Skip,
        },
        "stop" => match value {
            Value::String(stop) => Wire::Replace("stop_sequences", json!([stop])),
            _ => Wire::Rename("stop_sequences"),
        },
        "tools" => Wire::Replace("tools", tools(value, false)),
        "tool_choice" => Wire::Replace("tool_choice", tool_choice(value)),
        _ => Wire::Keep,
    }
}

/// [`param`], with a cache breakpoint on the last tool (`cache: true`).
fn cached_param(key: &str, value: &Value) -> Wire {
    match key {
        "tools" => Wire::Replace("tools", tools(value, true)),
        _ => param(key, value),
    }
}

/// A call that asks for a typed reply or gives tools sets `tools` (and, for a typed reply,
/// `tool_choice`) itself: the role's params of those names give way.
fn typed_param(key: &str, value: &Value) -> Wire {
    match key {
        "tools" | "tool_choice" => Wire::Skip,
        _ => param(key, value),
    }
}

/// A prompt-cache breakpoint.
fn ephemeral() -> Value {
    json!({"type": "ephemeral"})
}

/// Puts a cache breakpoint on `block` (a JSON object) unless it has one.
fn add_breakpoint(block: &mut Value) {
    if let Value::Object(block) = block {
        block.entry("cache_control").or_insert_with(ephemeral);
    }
}

/// OpenAI `[{type: function, function: {name, description, parameters}}]` →
/// Anthropic `[{name, description, input_schema}]` (keeping a `cache_control`); other entries
/// are passed through. With `breakpoint`, the last tool gets a cache breakpoint.
fn tools(value: &Value, breakpoint: bool) -> Value {
    let Some(list) = value.as_array() else {
        return value.clone();
    };
    let mut translated = list
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
                if let Some(cache) = tool
                    .get("cache_control")
                    .or_else(|| function.get("cache_control"))
                {
                    out.insert("cache_control".into(), cache.clone());
                }
                Value::Object(out)
            }
            _ => tool.clone(),
        })
        .collect::<Vec<_>>();
    if breakpoint && let Some(last) = translated.last_mut() {
        add_breakpoint(last);
    }
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

/// An OpenAI content part → an Anthropic content block; an `Err` names a part Anthropic
/// cannot carry. Text parts and Anthropic's own blocks pass through.
fn part(part: &Value) -> std::result::Result<Value, String> {
    let mut block = match part.get("type").and_then(Value::as_str) {
        Some("image_url") => {
            let url = part
                .get("image_url")
                .and_then(|i| i.get("url").or(Some(i)))
                .and_then(Value::as_str)
                .unwrap_or("");
            match inline_data(url) {
                Some((media_type, data)) => {
                    json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
                }
                None => json!({"type": "image", "source": {"type": "url", "url": url}}),
            }
        }
        Some("file") => {
            let file = part.get("file");
            let data = file
                .and_then(|f| f.get("file_data"))
                .and_then(Value::as_str);
            match data.and_then(inline_data) {
                Some((media_type @ "application/pdf", data)) => {
                    json!({"type": "document", "source": {"type": "base64", "media_type": media_type, "data": data}})
                }
                Some((media_type, _)) => {
                    return Err(format!(
                        "a `file` part of type `{media_type}` cannot be sent on the anthropic protocol, which takes PDF documents (`Part::document_pdf`)"
                    ));
                }
                None => {
                    return Err("a `file` part without inline `file_data` (an uploaded file id) cannot be sent on the anthropic protocol; send the bytes with `Part::document_pdf`".into());
                }
            }
        }
        Some(kind @ ("input_audio" | "audio" | "video_url")) => {
            return Err(format!(
                "a `{kind}` part cannot be sent on the anthropic protocol, which takes text, images and PDF documents"
            ));
        }
        _ => return Ok(part.clone()),
    };
    if let Some(cache) = part.get("cache_control") {
        block["cache_control"] = cache.clone();
    }
    Ok(block)
}

/// The media type and base64 data of a `data:{media_type};base64,{data}` URL.
fn inline_data(url: &str) -> Option<(&str, &str)> {
    url.strip_prefix("data:")?.split_once(";base64,")
}

/// Content parts → Anthropic blocks.
fn blocks(parts: &[Value]) -> std::result::Result<Vec<Value>, String> {
    parts.iter().map(part).collect()
}

fn tool_use(call: &ToolCall) -> Value {
    let input: Value = serde_json::from_str(&call.function.arguments).unwrap_or_else(|_| json!({}));
    json!({"type": "tool_use", "id": call.id, "name": call.function.name, "input": input})
}

/// A reasoning block as Anthropic sent it.
fn reasoning_block(block: &ReasoningBlock) -> Value {
    match block {
        ReasoningBlock::Thinking {
            thinking,
            signature,
        } => json!({"type": "thinking", "thinking": thinking, "signature": signature}),
        ReasoningBlock::RedactedThinking { data } => {
            json!({"type": "redacted_thinking", "data": data})
        }
    }
}

/// The system text and the turns of a conversation.
fn turns(messages: &[Message]) -> std::result::Result<(Option<String>, Vec<Turn<'_>>), String> {
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(messages.len());
    let mut last_was_tool = false;
    for message in messages {
        let is_tool = message.role == Role::Tool;
        match message.role {
            Role::System | Role::Developer => system.push(content_texts(message.content.as_ref())),
            Role::User | Role::Assistant
                if message.tool_calls.is_empty() && message.reasoning_blocks.is_empty() =>
            {
                let content = match &message.content {
                    Some(Content::Text(text)) => TurnContent::Text(text),
                    Some(Content::Parts(parts)) => TurnContent::Blocks(blocks(parts)?),
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
                let mut blocks = Vec::with_capacity(
                    message.reasoning_blocks.len() + message.tool_calls.len() + 1,
                );
                blocks.extend(message.reasoning_blocks.iter().map(reasoning_block));
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
                let content = match &message.content {
                    Some(Content::Parts(parts)) => Value::Array(blocks(parts)?),
                    other => Value::String(content_texts(other.as_ref())),
                };
                let result = json!({
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id.as_deref().unwrap_or(""),
                    "content": content,
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
    Ok((system, turns))
}

fn chat_body(chat: ChatInput<'_>) -> std::result::Result<Body, String> {
    let size = chat.body_size_hint();
    let params = chat.params;
    let (from_messages, messages) = turns(chat.messages)?;
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
    let cache = params.get("cache") == Some(&Value::Bool(true));
    let system = match system {
        Some(System::Text(text)) if cache => Some(System::Blocks(vec![
            json!({"type": "text", "text": text, "cache_control": ephemeral()}),
        ])),
        Some(System::Blocks(mut blocks)) if cache => {
            if let Some(last) = blocks.last_mut() {
                add_breakpoint(last);
            }
            Some(System::Blocks(blocks))
        }
        system => system,
    };
    // `thinking` given as a param is sent as is instead.
    let budget = match (params.get("reasoning_effort"), params.get("thinking")) {
        (Some(effort), None) => thinking_budget(effort)?,
        _ => None,
    };
    let given = params
        .get("max_tokens")
        .or_else(|| params.get("max_completion_tokens"));
    let max_tokens = match (budget, given) {
        (None, Some(given)) => MaxTokens::Given(given),
        (None, None) => MaxTokens::Default(DEFAULT_MAX_TOKENS),
        (Some(budget), given) => {
            let room = given
                .and_then(Value::as_u64)
                .unwrap_or(u64::from(DEFAULT_MAX_TOKENS));
            MaxTokens::Raised(if room > budget {
                room
            } else {
                budget.saturating_add(room)
            })
        }
    };
    // A typed reply is a forced tool whose input is the value.
    let output = chat.output.map(|output| AnthropicTool {
        name: &output.schema.name,
        description: &output.schema.description,
        input_schema: &output.schema.loose_json,
    });
    let tool_choice = output.as_ref().map(|tool| ToolChoice {
        kind: "tool",
        name: tool.name,
    });
    let given_tools = chat.tools.into_iter().flatten().map(|tool| AnthropicTool {
        name: tool.name(),
        description: tool.description(),
        input_schema: tool.parameters_json(),
    });
    let tools = (chat.output.is_some() || chat.tools.is_some())
        .then(|| given_tools.chain(output).collect());
    let translate = match (tools.is_some(), cache) {
        (true, _) => typed_param,
        (false, true) => cached_param,
        (false, false) => param,
    };
    Body::json_sized(
        &MessagesRequest {
            model: chat.model,
            system,
            messages,
            max_tokens,
            thinking: budget.map(|budget_tokens| Thinking {
                kind: "enabled",
                budget_tokens,
            }),
            stream: chat.stream,
            tools,
            tool_choice,
            params: params.translated(translate),
        },
        size,
    )
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
            output: None,
            tools: None,
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
    use crate::client::message::FunctionCall;
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
                extra_content: None,
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
            output: None,
            tools: None,
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
}
