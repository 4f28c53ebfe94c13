//! Anthropic replies, whole and streamed, translated to the OpenAI shapes.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::client::message::{FunctionCall, ReasoningBlock, ToolCall, null_as_default};
use crate::client::positions::Positions;
use crate::client::protocol::{Step, StreamDecode};
use crate::client::response::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Delta, FinishReason, FunctionDelta,
    ResponseMessage, ToolCallDelta, Usage,
};
use crate::client::sse::SseEvent;
use crate::client::status::{decode_error, status_error};
use crate::error::{Error, Result};

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
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    #[serde(other)]
    Other,
}

/// Anthropic's usage; in a stream, `message_start` has the input counts and `message_delta`
/// the output count (and, from newer servers, the input counts again), so each is optional.
#[derive(Debug, Deserialize, Default, Clone, Copy)]
struct AnthropicUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// These counts, each one taken from `later` where it has it.
    fn updated(self, later: AnthropicUsage) -> AnthropicUsage {
        AnthropicUsage {
            input_tokens: later.input_tokens.or(self.input_tokens),
            output_tokens: later.output_tokens.or(self.output_tokens),
            cache_read_input_tokens: later
                .cache_read_input_tokens
                .or(self.cache_read_input_tokens),
            cache_creation_input_tokens: later
                .cache_creation_input_tokens
                .or(self.cache_creation_input_tokens),
        }
    }

    /// In OpenAI's terms: `input_tokens` counts only the uncached input, so the prompt is it
    /// plus the cache reads and writes.
    fn to_usage(self) -> Usage {
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let written = self.cache_creation_input_tokens.unwrap_or(0);
        let prompt = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(read)
            .saturating_add(written);
        let output = self.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: output,
            total_tokens: prompt.saturating_add(output),
            cache_read_tokens: read,
            cache_creation_tokens: written,
            reasoning_tokens: 0,
        }
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

pub(super) fn parse_chat(body: Bytes) -> serde_json::Result<ChatResponse> {
    let reply: MessagesResponse = serde_json::from_slice(&body)?;
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut reasoning_blocks = Vec::new();
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
                extra_content: None,
            }),
            Block::Thinking {
                thinking,
                signature,
            } => {
                reasoning
                    .get_or_insert_with(String::new)
                    .push_str(&thinking);
                reasoning_blocks.push(ReasoningBlock::Thinking {
                    thinking,
                    signature,
                });
            }
            Block::RedactedThinking { data } => {
                reasoning_blocks.push(ReasoningBlock::RedactedThinking { data });
            }
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
                reasoning,
                reasoning_content: None,
                reasoning_blocks,
            },
            finish_reason: reply.stop_reason.as_deref().map(finish_reason),
        }],
        usage: reply.usage.map(AnthropicUsage::to_usage),
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
    ContentBlockStop {
        #[serde(default)]
        index: u32,
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
    ThinkingDelta {
        #[serde(default)]
        thinking: String,
    },
    SignatureDelta {
        #[serde(default)]
        signature: String,
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
pub(super) struct StreamState {
    id: String,
    model: String,
    usage: AnthropicUsage,
    /// Content-block index → OpenAI tool-call index, for `tool_use` blocks.
    tool_blocks: Positions,
    /// The `thinking` block being streamed: its index, text so far and signature, given back
    /// whole when it ends.
    thinking: Option<(u32, String, String)>,
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

    /// The tool-call index of a `tool_use` content block, numbered in order of appearance.
    fn tool_index(&self, block: u32) -> Option<u32> {
        self.tool_blocks.get(block).map(tool_number)
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
                self.usage = message.usage.unwrap_or_default();
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
                    let tool = tool_number(self.tool_blocks.position(index, || ()));
                    let delta = Delta {
                        tool_calls: vec![ToolCallDelta {
                            index: tool,
                            id: Some(id),
                            kind: Some("function".into()),
                            function: Some(FunctionDelta {
                                name: Some(name),
                                arguments: Some(String::new()),
                            }),
                            extra_content: None,
                        }],
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                Block::Thinking {
                    thinking,
                    signature,
                } => {
                    let delta = Delta {
                        reasoning: (!thinking.is_empty()).then(|| thinking.clone()),
                        ..Delta::default()
                    };
                    self.thinking = Some((index, thinking, signature));
                    match delta.reasoning {
                        Some(_) => Step::Chunk(self.chunk(delta, None, raw)),
                        None => Step::Skip,
                    }
                }
                Block::RedactedThinking { data } => {
                    let delta = Delta {
                        reasoning_block: Some(ReasoningBlock::RedactedThinking { data }),
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                _ => Step::Skip,
            },
            Event::ContentBlockStop { index } => match self.thinking.take() {
                Some((at, thinking, signature)) if at == index => {
                    let delta = Delta {
                        reasoning_block: Some(ReasoningBlock::Thinking {
                            thinking,
                            signature,
                        }),
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                other => {
                    self.thinking = other;
                    Step::Skip
                }
            },
            Event::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::ThinkingDelta { thinking } => {
                    if let Some((at, text, _)) = &mut self.thinking
                        && *at == index
                    {
                        text.push_str(&thinking);
                    }
                    let delta = Delta {
                        reasoning: Some(thinking),
                        ..Delta::default()
                    };
                    Step::Chunk(self.chunk(delta, None, raw))
                }
                BlockDelta::SignatureDelta { signature } => {
                    if let Some((at, _, sig)) = &mut self.thinking
                        && *at == index
                    {
                        sig.push_str(&signature);
                    }
                    Step::Skip
                }
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
                self.usage = self.usage.updated(out.unwrap_or_default());
                chunk.usage = Some(self.usage.to_usage());
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

/// A tool call's position as a wire index (a stream cannot send 2^32 blocks; it saturates if
/// one tried).
fn tool_number(position: usize) -> u32 {
    u32::try_from(position).unwrap_or(u32::MAX)
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
mod tests {
    use super::*;

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

    #[test]
    fn huge_token_counts_saturate() {
        let body = Bytes::from(format!(
            r#"{{"id":"m","content":[],"usage":{{"input_tokens":{max},"output_tokens":{max}}}}}"#,
            max = u64::MAX
        ));
        let usage = parse_chat(body).unwrap().usage.unwrap();
        assert_eq!(usage.prompt_tokens, u64::MAX);
        assert_eq!(usage.total_tokens, u64::MAX);

        let mut state = StreamState::default();
        let event = |data: String| SseEvent {
            data: Bytes::from(data),
        };
        let start = format!(
            r#"{{"type":"message_start","message":{{"id":"m","model":"c","usage":{{"input_tokens":{}}}}}}}"#,
            u64::MAX
        );
        state.on_event(event(start), "anthropic").unwrap();
        let delta = format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":"end_turn"}},"usage":{{"output_tokens":{}}}}}"#,
            u64::MAX - 1
        );
        let Step::Chunk(chunk) = state.on_event(event(delta), "anthropic").unwrap() else {
            panic!("message_delta gives a chunk")
        };
        let usage = chunk.usage.unwrap();
        assert_eq!(usage.completion_tokens, u64::MAX - 1);
        assert_eq!(usage.total_tokens, u64::MAX);
    }
}
