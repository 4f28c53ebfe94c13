//! Chat messages (OpenAI-shaped, for every provider) and what a call accepts as messages.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model. The Anthropic protocol sends these as the top-level `system`.
    System,
    /// OpenAI's newer name for system instructions; treated like `System` by Anthropic.
    Developer,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// The result of a tool call.
    Tool,
}

/// The content of a message: plain text, or a list of OpenAI-style content parts
/// (`{"type": "text", "text": ..}`, `{"type": "image_url", ..}`), passed through as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts, as raw JSON.
    Parts(Vec<Value>),
}

/// One chat message.
///
/// ```
/// use llmhub_core::{Message, Role};
/// let messages = [Message::system("Be brief."), Message::user("Hello")];
/// assert_eq!(messages[1].role, Role::User);
/// assert_eq!(messages[1].text(), Some("Hello"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says (absent on an assistant message that only calls tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// An optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls made by the assistant.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For an assistant message built from a reply ([`Message::from`]): the model's signed
    /// reasoning, sent back as it came on the next turn (the Anthropic protocol needs it to go
    /// on with tool use while thinking). Not part of the OpenAI message JSON, and not sent on
    /// the OpenAI protocol.
    #[serde(skip)]
    pub reasoning_blocks: Vec<ReasoningBlock>,
}

/// One block of a model's reasoning as the provider returned it, kept to be sent back
/// unchanged (Anthropic's `thinking` and `redacted_thinking` blocks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasoningBlock {
    /// Reasoning text and the provider's signature of it.
    Thinking {
        /// The reasoning text.
        #[serde(default)]
        thinking: String,
        /// The provider's signature, which proves the text unchanged.
        #[serde(default)]
        signature: String,
    },
    /// Reasoning the provider keeps encrypted: opaque data.
    RedactedThinking {
        /// The encrypted reasoning.
        #[serde(default)]
        data: String,
    },
}

impl Message {
    fn text_message(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: Some(Content::Text(content.into())),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning_blocks: Vec::new(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Message {
        Message::text_message(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Message {
        Message::text_message(Role::User, content)
    }

    /// An assistant message (for example an earlier reply, to continue a conversation).
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::text_message(Role::Assistant, content)
    }

    /// An assistant message that calls tools, as returned in
    /// [`ChatResponse`](crate::ChatResponse); send it back before the `tool` results.
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Message {
        Message {
            role: Role::Assistant,
            content: None,
            tool_calls,
            ..Message::text_message(Role::Assistant, "")
        }
    }

    /// The result of the tool call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            tool_call_id: Some(tool_call_id.into()),
            ..Message::text_message(Role::Tool, content)
        }
    }

    /// A user message of several parts: text, images, documents.
    ///
    /// ```
    /// use llmhub_core::{Message, Part};
    /// let png = [0x89, b'P', b'N', b'G'];
    /// let message = Message::user_parts([
    ///     Part::text("What is in this picture?"),
    ///     Part::image_bytes(png, "image/png"),
    /// ]);
    /// assert_eq!(message.text(), None);
    /// ```
    pub fn user_parts(parts: impl IntoIterator<Item = Part>) -> Message {
        Message {
            content: Some(Content::Parts(
                parts.into_iter().map(Part::into_json).collect(),
            )),
            ..Message::text_message(Role::User, "")
        }
    }

    /// The result of the tool call `tool_call_id`, in several parts (the Anthropic protocol
    /// carries images in tool results; the OpenAI protocol only text).
    pub fn tool_parts(
        tool_call_id: impl Into<String>,
        parts: impl IntoIterator<Item = Part>,
    ) -> Message {
        Message {
            role: Role::Tool,
            tool_call_id: Some(tool_call_id.into()),
            ..Message::user_parts(parts)
        }
    }

    /// The content if it is plain text.
    pub fn text(&self) -> Option<&str> {
        match &self.content {
            Some(Content::Text(text)) => Some(text),
            _ => None,
        }
    }
}

/// A typed content part, for [`Message::user_parts`] and [`Message::tool_parts`]. Each part
/// is kept as the OpenAI content part it is (a [`Content::Parts`] entry), which the Anthropic
/// protocol translates to its blocks:
///
/// | part | OpenAI protocol | Anthropic protocol |
/// |---|---|---|
/// | [`Part::text`] | `text` | `text` |
/// | [`Part::image_url`] | `image_url` | `image`, `url` source |
/// | [`Part::image_bytes`] | `image_url` with a `data:` URL | `image`, `base64` source |
/// | [`Part::document_pdf`] | `file` with `file_data` (a `data:` URL) | `document`, `base64` source |
/// | [`Part::document_url`] | refused before any request | `document`, `url` source |
#[derive(Debug, Clone, PartialEq)]
pub struct Part(Value);

impl Part {
    /// Text.
    pub fn text(text: impl Into<String>) -> Part {
        Part(serde_json::json!({"type": "text", "text": text.into()}))
    }

    /// An image the provider fetches from `url` (or a `data:` URL).
    pub fn image_url(url: impl Into<String>) -> Part {
        Part(serde_json::json!({"type": "image_url", "image_url": {"url": url.into()}}))
    }

    /// An image sent inline: its bytes and media type (`image/png`, `image/jpeg`,
    /// `image/gif`, `image/webp`).
    pub fn image_bytes(bytes: impl AsRef<[u8]>, media_type: &str) -> Part {
        Part::image_url(data_url(media_type, bytes.as_ref()))
    }

    /// A PDF document sent inline.
    pub fn document_pdf(bytes: impl AsRef<[u8]>) -> Part {
        Part(serde_json::json!({
            "type": "file",
            "file": {"file_data": data_url("application/pdf", bytes.as_ref())},
        }))
    }

    /// A PDF document the provider fetches from `url` (Anthropic only).
    pub fn document_url(url: impl Into<String>) -> Part {
        Part(serde_json::json!({"type": "document", "source": {"type": "url", "url": url.into()}}))
    }

    /// The OpenAI content part.
    pub fn into_json(self) -> Value {
        self.0
    }
}

/// `data:{media_type};base64,{bytes}`.
fn data_url(media_type: &str, bytes: &[u8]) -> String {
    use base64::Engine as _;
    let mut url = format!("data:{media_type};base64,");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut url);
    url
}

/// A tool (function) call, in requests and in responses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call id, which the `tool` message answering it repeats.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// Always `"function"` today.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The function and its arguments.
    #[serde(default)]
    pub function: FunctionCall,
    /// Provider metadata that must come back with the call on the next turn, kept as sent
    /// (Gemini's `{"google": {"thought_signature": ..}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_content: Option<Value>,
}

/// A function called by the model.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The arguments, as a JSON text (parse them with `serde_json::from_str`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub arguments: String,
}

fn function_type() -> String {
    "function".to_owned()
}

/// Deserializes `null` like a missing field: the type's default.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// What a chat call accepts as messages: `Vec<Message>`, an array or slice of them, one
/// `Message`, or raw OpenAI-style JSON (a `serde_json::Value` array of message objects).
///
/// ```
/// use llmhub_core::{IntoMessages, Message};
/// let raw = serde_json::json!([{"role": "user", "content": "Hi"}]);
/// assert_eq!(raw.into_messages().unwrap(), vec![Message::user("Hi")]);
/// ```
pub trait IntoMessages {
    /// Converts to a list of messages; the error says what is wrong with raw JSON.
    fn into_messages(self) -> Result<Vec<Message>, String>;
}

impl IntoMessages for Vec<Message> {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        Ok(self)
    }
}

impl<const N: usize> IntoMessages for [Message; N] {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        Ok(self.into())
    }
}

impl IntoMessages for &[Message] {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        Ok(self.to_vec())
    }
}

impl IntoMessages for &Vec<Message> {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        Ok(self.clone())
    }
}

impl IntoMessages for Message {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        Ok(vec![self])
    }
}

impl IntoMessages for Value {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        if !self.is_array() {
            return Err(
                "raw messages must be a JSON array of {\"role\": .., \"content\": ..} objects"
                    .into(),
            );
        }
        serde_json::from_value(self).map_err(|err| format!("raw messages are not valid: {err}"))
    }
}

impl IntoMessages for &Value {
    fn into_messages(self) -> Result<Vec<Message>, String> {
        self.clone().into_messages()
    }
}

/// The input of an embedding call: one text or a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text (sent as a JSON string).
    One(String),
    /// Several texts (sent as a JSON array); the response has one vector per text.
    Many(Vec<String>),
}

impl EmbeddingInput {
    /// The texts, as a slice.
    pub fn texts(&self) -> &[String] {
        match self {
            EmbeddingInput::One(text) => std::slice::from_ref(text),
            EmbeddingInput::Many(texts) => texts,
        }
    }
}

/// What an embedding call accepts: `&str`, `String`, `Vec<String>`, `&[&str]`, `&[String]`,
/// `[&str; N]`.
pub trait IntoEmbeddingInput {
    /// Converts to an [`EmbeddingInput`].
    fn into_embedding_input(self) -> EmbeddingInput;
}

impl IntoEmbeddingInput for EmbeddingInput {
    fn into_embedding_input(self) -> EmbeddingInput {
        self
    }
}

impl IntoEmbeddingInput for &str {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::One(self.to_owned())
    }
}

impl IntoEmbeddingInput for String {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::One(self)
    }
}

impl IntoEmbeddingInput for &String {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::One(self.clone())
    }
}

impl IntoEmbeddingInput for Vec<String> {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::Many(self)
    }
}

impl IntoEmbeddingInput for &[&str] {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::Many(self.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl IntoEmbeddingInput for &[String] {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::Many(self.to_vec())
    }
}

impl<const N: usize> IntoEmbeddingInput for [&str; N] {
    fn into_embedding_input(self) -> EmbeddingInput {
        EmbeddingInput::Many(self.iter().map(|s| (*s).to_owned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_serialize_openai_style() {
        let messages = [
            Message::system("s"),
            Message::tool("call_1", "42"),
            Message::assistant_tool_calls(vec![ToolCall {
                id: "call_1".into(),
                kind: "function".into(),
                function: FunctionCall {
                    name: "f".into(),
                    arguments: "{}".into(),
                },
                extra_content: None,
            }]),
        ];
        assert_eq!(
            serde_json::to_value(messages).unwrap(),
            json!([
                {"role": "system", "content": "s"},
                {"role": "tool", "content": "42", "tool_call_id": "call_1"},
                {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            ])
        );
    }

    #[test]
    fn raw_json_must_be_an_array_of_messages() {
        assert!(json!({"role": "user"}).into_messages().is_err());
        assert!(
            json!([{"role": "wizard", "content": "x"}])
                .into_messages()
                .is_err()
        );
        let parts = json!([{"role": "user", "content": [{"type": "text", "text": "hi"}], "tool_calls": null}]);
        let messages = parts.into_messages().unwrap();
        assert!(matches!(messages[0].content, Some(Content::Parts(_))));
    }
}
