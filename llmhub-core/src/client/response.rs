//! OpenAI-shaped responses, for every provider: [`ChatResponse`], [`ChatChunk`],
//! [`EmbeddingResponse`].
//!
//! Parsing is lenient: a missing optional field, a `null`, an unknown finish reason or an extra
//! field never fails. The provider's own body is kept as bytes; [`ChatResponse::raw_json`] parses
//! it on demand for fields not modelled here.

use std::fmt;

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::client::message::{Content, Message, ReasoningBlock, Role, ToolCall, null_as_default};

/// Token counts of a call.
///
/// `prompt_tokens` counts every input token, cached or not, on every protocol (the Anthropic
/// protocol adds its cache reads and writes to `input_tokens`); `cache_read_tokens` and
/// `cache_creation_tokens` say how many of them were read from, or written to, the provider's
/// prompt cache. `reasoning_tokens` are the part of `completion_tokens` the model spent
/// reasoning, where the provider reports it.
///
/// Serialized in OpenAI's shape (`prompt_tokens_details.cached_tokens`,
/// `completion_tokens_details.reasoning_tokens`), with `cache_creation_input_tokens` beside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "WireUsage", into = "WireUsage")]
pub struct Usage {
    /// Tokens in the prompt, cached ones included.
    pub prompt_tokens: u64,
    /// Tokens in the reply (0 for embeddings), reasoning included.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's cache (OpenAI
    /// `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`, DeepSeek
    /// `prompt_cache_hit_tokens`).
    pub cache_read_tokens: u64,
    /// Prompt tokens written to the provider's cache (Anthropic
    /// `cache_creation_input_tokens`; OpenAI caches without reporting it).
    pub cache_creation_tokens: u64,
    /// Completion tokens spent reasoning (OpenAI
    /// `completion_tokens_details.reasoning_tokens`; Anthropic does not report them apart).
    pub reasoning_tokens: u64,
}

/// [`Usage`] as OpenAI-compatible servers send it.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) prompt_tokens: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) completion_tokens: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_tokens_details: Option<PromptDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) completion_tokens_details: Option<CompletionDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cache_creation_input_tokens: Option<u64>,
    /// DeepSeek's name for cache reads.
    #[serde(default, skip_serializing)]
    pub(crate) prompt_cache_hit_tokens: Option<u64>,
}

/// `prompt_tokens_details`.
#[derive(Serialize, Deserialize)]
pub(crate) struct PromptDetails {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) cached_tokens: u64,
}

/// `completion_tokens_details`.
#[derive(Serialize, Deserialize)]
pub(crate) struct CompletionDetails {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) reasoning_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(wire: WireUsage) -> Usage {
        Usage {
            prompt_tokens: wire.prompt_tokens,
            completion_tokens: wire.completion_tokens,
            total_tokens: wire.total_tokens,
            cache_read_tokens: wire
                .prompt_tokens_details
                .map(|d| d.cached_tokens)
                .or(wire.prompt_cache_hit_tokens)
                .unwrap_or(0),
            cache_creation_tokens: wire.cache_creation_input_tokens.unwrap_or(0),
            reasoning_tokens: wire
                .completion_tokens_details
                .map_or(0, |d| d.reasoning_tokens),
        }
    }
}

impl From<Usage> for WireUsage {
    fn from(usage: Usage) -> WireUsage {
        WireUsage {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.total_tokens,
            prompt_tokens_details: (usage.cache_read_tokens > 0).then_some(PromptDetails {
                cached_tokens: usage.cache_read_tokens,
            }),
            completion_tokens_details: (usage.reasoning_tokens > 0).then_some(CompletionDetails {
                reasoning_tokens: usage.reasoning_tokens,
            }),
            cache_creation_input_tokens: (usage.cache_creation_tokens > 0)
                .then_some(usage.cache_creation_tokens),
            prompt_cache_hit_tokens: None,
        }
    }
}

/// Why the model stopped. Unknown values are kept in [`FinishReason::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    Stop,
    /// The `max_tokens` limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Content was filtered.
    ContentFilter,
    /// Any other value, as the provider sent it.
    Other(String),
}

impl FinishReason {
    /// The OpenAI name of the reason.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(other) => other,
        }
    }

    /// Parses an OpenAI finish reason.
    pub fn parse(reason: &str) -> FinishReason {
        match reason {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let reason = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(FinishReason::parse(&reason))
    }
}

/// A chat reply or a chunk of one: OpenAI's `chat.completion` and `chat.completion.chunk`
/// differ only in their choices. Use it as [`ChatResponse`] and [`ChatChunk`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(bound(deserialize = "C: Deserialize<'de>"))]
pub struct Completion<C> {
    /// The provider's id of the reply.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// The model that answered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// Creation time (Unix seconds), if the provider sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// The choices (one unless `n` was asked for; none in a stream's usage-only last chunk).
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<C>,
    /// Token counts, if the provider sent them (in a stream: in the last chunk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip)]
    pub(crate) raw: Bytes,
}

impl<C> Completion<C> {
    /// The provider's body (or stream event data) as received; the Anthropic JSON for
    /// Anthropic providers.
    pub fn raw_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The provider's body parsed as JSON, for fields not modelled here.
    pub fn raw_json(&self) -> serde_json::Result<Value> {
        serde_json::from_slice(&self.raw)
    }
}

/// The reply to a chat call.
///
/// ```
/// # let reply: llmhub_core::ChatResponse = serde_json::from_str(
/// #     r#"{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}"#).unwrap();
/// assert_eq!(reply.text(), Some("Hi"));
/// ```
pub type ChatResponse = Completion<Choice>;

impl ChatResponse {
    /// The text of the first choice.
    pub fn text(&self) -> Option<&str> {
        self.choices.first()?.message.content.as_deref()
    }

    /// The tool calls of the first choice (empty if none).
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.choices
            .first()
            .map_or(&[], |choice| &choice.message.tool_calls)
    }

    /// Why the first choice stopped.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.choices.first()?.finish_reason.as_ref()
    }

    /// The reasoning text of the first choice, where the provider returns it (Anthropic
    /// `thinking`, DeepSeek and vLLM `reasoning_content`, OpenRouter `reasoning`).
    pub fn reasoning(&self) -> Option<&str> {
        self.choices.first()?.message.reasoning()
    }

    /// The assistant message of the first choice, to send back on the next turn: its text,
    /// its tool calls with their provider metadata, and its signed reasoning blocks. The same
    /// as [`Message::from`].
    pub fn to_message(&self) -> Message {
        Message::from(self)
    }
}

impl From<&ChatResponse> for Message {
    /// The reply's first choice as an assistant message (see [`ChatResponse::to_message`]).
    fn from(reply: &ChatResponse) -> Message {
        let default = ResponseMessage::default();
        let message = reply.choices.first().map_or(&default, |c| &c.message);
        Message {
            role: Role::Assistant,
            content: message.content.clone().map(Content::Text),
            name: None,
            tool_calls: message.tool_calls.clone(),
            tool_call_id: None,
            reasoning_blocks: message.reasoning_blocks.clone(),
        }
    }
}

/// One choice of a [`ChatResponse`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Choice {
    /// Position among the choices.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// The assistant's message.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: ResponseMessage,
    /// Why the model stopped.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}

/// The assistant message of a [`Choice`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ResponseMessage {
    /// Usually `assistant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The text (`None` when the model only called tools).
    #[serde(default, deserialize_with = "text_or_parts")]
    pub content: Option<String>,
    /// Tool calls.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// A refusal message, if the model refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// The reasoning text, where the provider returns it (read it with
    /// [`ResponseMessage::reasoning`], which also sees `reasoning_content`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// DeepSeek's and vLLM's name for the reasoning text.
    #[serde(default, skip_serializing)]
    pub(crate) reasoning_content: Option<String>,
    /// The signed reasoning blocks (Anthropic), sent back by [`Message::from`].
    #[serde(skip)]
    pub reasoning_blocks: Vec<ReasoningBlock>,
}

impl ResponseMessage {
    /// The reasoning text, under whichever name the provider sent it.
    pub fn reasoning(&self) -> Option<&str> {
        self.reasoning
            .as_deref()
            .or(self.reasoning_content.as_deref())
    }
}

/// Accepts a string, `null`, or a list of content parts (whose `text`s are joined); any other
/// value is no text. Read straight from the parser (a plain string, the common case, is not
/// buffered first).
fn text_or_parts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct Text;
    #[derive(Deserialize)]
    struct Part {
        #[serde(default)]
        text: Option<String>,
    }
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, null or a list of content parts")
        }
        fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Some(text.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(Some(text))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
            inner.deserialize_any(Text)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut text = String::new();
            // A part that is not an object (or has no text) adds nothing.
            while let Some(part) = seq.next_element::<Option<PartOrOther>>()? {
                if let Some(PartOrOther::Part(Part { text: Some(piece) })) = part {
                    text.push_str(&piece);
                }
            }
            Ok(Some(text))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum PartOrOther {
        Part(Part),
        Other(serde::de::IgnoredAny),
    }
    deserializer.deserialize_any(Text)
}

/// One chunk of a streamed chat reply (OpenAI's `chat.completion.chunk`).
pub type ChatChunk = Completion<ChunkChoice>;

impl ChatChunk {
    /// The text delta of the first choice, if this chunk carries text.
    pub fn text(&self) -> Option<&str> {
        self.choices.first()?.delta.content.as_deref()
    }

    /// Why the first choice stopped, in its final chunk.
    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.choices.first()?.finish_reason.as_ref()
    }

    /// The tool-call deltas of the first choice.
    pub fn tool_calls(&self) -> &[ToolCallDelta] {
        self.choices
            .first()
            .map_or(&[], |choice| &choice.delta.tool_calls)
    }

    /// The reasoning delta of the first choice, if this chunk carries reasoning text.
    pub fn reasoning(&self) -> Option<&str> {
        self.choices.first()?.delta.reasoning.as_deref()
    }
}

/// One choice of a [`ChatChunk`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Position among the choices.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// What this chunk adds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub delta: Delta,
    /// Set in the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
}

/// What a chunk adds to a choice.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delta {
    /// Set in the first chunk (`assistant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// More text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Pieces of tool calls; join them by `index`.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub tool_calls: Vec<ToolCallDelta>,
    /// More reasoning text (Anthropic `thinking_delta`, DeepSeek and vLLM
    /// `reasoning_content`, OpenRouter `reasoning`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// DeepSeek's and vLLM's name, moved to `reasoning` by the stream decoder.
    #[serde(default, skip_serializing)]
    pub(crate) reasoning_content: Option<String>,
    /// A whole reasoning block, once it is complete (Anthropic: at the end of a `thinking`
    /// block, with its signature; a `redacted_thinking` block as it comes), for
    /// [`ChatStream::collect_response`](crate::ChatStream::collect_response) to send back.
    #[serde(skip)]
    pub reasoning_block: Option<ReasoningBlock>,
}

/// A piece of a streamed tool call: the first piece has `id` and the function name, later pieces
/// add to `arguments`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which tool call of the choice this piece belongs to.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
    /// The call id (first piece only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function` (first piece only).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function name and an argument fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
    /// Provider metadata of the call (Gemini's thought signature), kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<Value>,
}

/// A piece of a streamed function call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionDelta {
    /// The name (first piece only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A fragment of the JSON arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// The reply to an embedding call.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// One vector per input text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub data: Vec<Embedding>,
    /// The model.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// Token counts, if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(skip)]
    pub(crate) raw: Bytes,
}

impl EmbeddingResponse {
    /// The first vector (the only one for a single input).
    pub fn first(&self) -> Option<&[f32]> {
        self.data.first().map(|e| e.embedding.as_slice())
    }

    /// The vectors in input order.
    pub fn vectors(&self) -> impl Iterator<Item = &[f32]> {
        self.data.iter().map(|e| e.embedding.as_slice())
    }

    /// The provider's body, as received.
    pub fn raw_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The provider's body parsed as JSON, for fields not modelled here.
    pub fn raw_json(&self) -> serde_json::Result<Value> {
        serde_json::from_slice(&self.raw)
    }
}

/// One vector of an [`EmbeddingResponse`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Embedding {
    /// The vector.
    #[serde(default, deserialize_with = "null_as_default")]
    pub embedding: Vec<f32>,
    /// The position of its input text.
    #[serde(default, deserialize_with = "null_as_default")]
    pub index: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_but_valid_chat_responses_parse() {
        let body =
            br#"{"id":"c1","object":"chat.completion","created":1,"model":"m","extra":{"x":1},
            "choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[
              {"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},
              "finish_reason":"brand_new_reason","logprobs":null}]}"#;
        let reply: ChatResponse = serde_json::from_slice(body).unwrap();
        assert_eq!(reply.text(), None);
        assert_eq!(reply.usage, None);
        assert_eq!(reply.tool_calls()[0].function.name, "get");
        assert_eq!(
            reply.finish_reason(),
            Some(&FinishReason::Other("brand_new_reason".into()))
        );
        let minimal: ChatResponse = serde_json::from_slice(br#"{"choices":null}"#).unwrap();
        assert!(minimal.choices.is_empty());
        let parts: ChatResponse = serde_json::from_slice(
            br#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#,
        )
        .unwrap();
        assert_eq!(parts.text(), Some("ab"));
    }

    #[test]
    fn message_content_of_any_shape_parses() {
        let text = |content: &str| {
            let body = format!(r#"{{"choices":[{{"message":{{"content":{content}}}}}]}}"#);
            let reply: ChatResponse = serde_json::from_str(&body).unwrap();
            reply.text().map(str::to_owned)
        };
        assert_eq!(text(r#""plain""#).as_deref(), Some("plain"));
        assert_eq!(text(r#""esc\"aped\n""#).as_deref(), Some("esc\"aped\n"));
        assert_eq!(text("null"), None);
        // Parts that are not objects, or have no text, add nothing.
        assert_eq!(
            text(r#"[{"type":"text","text":"a"},"stray",{"type":"image"},null,{"text":"b"}]"#)
                .as_deref(),
            Some("ab")
        );
        assert_eq!(text("[]").as_deref(), Some(""));
        for other in ["1", "-2", "1.5", "true", r#"{"text":"x"}"#] {
            assert_eq!(text(other), None, "{other}");
        }
    }

    #[test]
    fn usage_with_nulls_and_extras_parses() {
        let usage: Usage = serde_json::from_slice(
            br#"{"prompt_tokens":3,"completion_tokens":null,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}"#,
        )
        .unwrap();
        assert_eq!(usage.prompt_tokens, 3);
        assert_eq!(usage.completion_tokens, 0);
        let details: Usage = serde_json::from_slice(
            br#"{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16,
            "prompt_tokens_details":{"cached_tokens":4,"audio_tokens":null},
            "completion_tokens_details":{"reasoning_tokens":null}}"#,
        )
        .unwrap();
        assert_eq!(
            (details.cache_read_tokens, details.reasoning_tokens),
            (4, 0)
        );
        let all = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
            cache_read_tokens: 3,
            cache_creation_tokens: 2,
            reasoning_tokens: 1,
        };
        let text = serde_json::to_string(&all).unwrap();
        assert_eq!(serde_json::from_str::<Usage>(&text).unwrap(), all);
    }
}
