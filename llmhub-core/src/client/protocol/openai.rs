//! The OpenAI-compatible protocol: `{base_url}/chat/completions` (plain and SSE),
//! `/embeddings`, `/images/generations`, `/audio/speech`, `/audio/transcriptions` (multipart),
//! and raw calls under `base_url`; the key as `Authorization: Bearer <key>`.
//!
//! Params go out under their own names, except: `max_tokens` is sent as
//! `max_completion_tokens` to OpenAI's own API (`api.openai.com`, decided once per provider),
//! where `max_tokens` is deprecated and refused by reasoning models; `reasoning_effort` is sent
//! as is; `cache` (llmhub's own) is never sent, caching being automatic. `seed` and `user` are
//! deprecated in OpenAI's chat API but still passed through when a role sets them.

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::kind::Payload;
use crate::client::media::{AudioFile, ImageResponse, PROMPT_LIMIT_PARAM, Transcription};
use crate::client::message::{Content, EmbeddingInput, Message, Role};
use crate::client::params::{MergedParams, Wire};
use crate::client::protocol::{
    Body, ChatInput, Endpoints, Step, StreamDecode, StreamDecoder, WireProtocol, chat_reader,
};
use crate::client::response::{ChatChunk, ChatResponse};
use crate::client::sse::SseEvent;
use crate::client::status::{decode_error, error_message, status_error};
use crate::client::structured::{REPAIRS_PARAM, STRICT_PARAM};
use crate::error::{Error, Result};

/// The OpenAI-compatible protocol.
pub(crate) struct OpenAi {
    /// Whether `max_tokens` is sent as `max_completion_tokens` (OpenAI's own API, where
    /// `max_tokens` is deprecated and refused by reasoning models).
    max_completion_tokens: bool,
}

impl OpenAi {
    /// Any OpenAI-compatible server: params sent under their own names.
    pub(crate) const COMPATIBLE: OpenAi = OpenAi {
        max_completion_tokens: false,
    };

    /// OpenAI's own API.
    const OPENAI_API: OpenAi = OpenAi {
        max_completion_tokens: true,
    };

    /// The protocol for a provider at `base_url`, decided once when the provider is built.
    pub(crate) fn for_base_url(base_url: &str) -> &'static OpenAi {
        let host = Url::parse(base_url).ok();
        match host.as_ref().and_then(Url::host_str) {
            Some(host) if is_openai_api_host(host) => &OpenAi::OPENAI_API,
            _ => &OpenAi::COMPATIBLE,
        }
    }
}

/// Whether `host` is OpenAI's own API, which takes `max_completion_tokens` instead of
/// `max_tokens`; other OpenAI-compatible servers keep `max_tokens`.
pub(crate) fn is_openai_api_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("api.openai.com")
}

impl WireProtocol for OpenAi {
    fn endpoints(&self, base_url: &str) -> std::result::Result<Endpoints, String> {
        let url = |path: &str| Url::parse(&format!("{base_url}{path}")).map_err(|e| e.to_string());
        Ok(Endpoints {
            base: url("")?,
            chat: Some(url("/chat/completions")?),
            embeddings: Some(url("/embeddings")?),
            images: Some(url("/images/generations")?),
            speech: Some(url("/audio/speech")?),
            transcriptions: Some(url("/audio/transcriptions")?),
        })
    }

    fn auth_header(&self) -> HeaderName {
        AUTHORIZATION
    }

    fn auth_value(&self, key: &str) -> String {
        format!("Bearer {key}")
    }

    /// The bodies of image, speech, transcription and raw calls are written out of line
    /// (`#[inline(never)]`), so that the code a chat or embedding call runs through here
    /// stays small: inlined, they made this function some 18 KB.
    fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Body, String> {
        match payload {
            Payload::Chat { .. } => match ChatInput::of(model, payload, params) {
                Some(chat) => chat_body(chat, self.max_completion_tokens),
                None => Err("not a chat call".into()),
            },
            Payload::Embedding(input) => embedding_body(model, input, params),
            Payload::Image { prompt } => image_body(model, prompt, params),
            Payload::Speech { text } => speech_body(model, text, params),
            Payload::Transcription { audio } => transcription_body(model, audio, params),
            Payload::Raw { body, .. } => raw_body(model, body, params),
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
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `response_format` asking for a reply that fits a JSON Schema, serialized once per type.
    response_format: Option<&'a serde_json::value::RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<FunctionTool<'a>>>,
    // The params follow as the object's last fields (see `chat_body`).
}

/// A tool given with the call: `{type: function, function: {name, description, parameters}}`.
#[derive(Serialize)]
struct FunctionTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    parameters: &'a serde_json::value::RawValue,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a EmbeddingInput,
    // The params follow as the object's last fields (see `embedding_body`).
}

/// Params set by the request itself are not taken from the role's params, nor llmhub's own.
fn chat_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "messages" | "stream" | "stream_options" | "cache" | STRICT_PARAM
        | REPAIRS_PARAM => Wire::Skip,
        _ => Wire::Keep,
    }
}

/// [`chat_param`], with `max_tokens` sent as `max_completion_tokens`.
fn openai_api_chat_param(key: &str, value: &Value) -> Wire {
    match key {
        "max_tokens" => Wire::Rename("max_completion_tokens"),
        _ => chat_param(key, value),
    }
}

/// A call that asks for a typed reply or gives tools sets `response_format` and `tools`
/// itself: the role's params of those names give way.
fn typed_chat_param(key: &str, value: &Value) -> Wire {
    match key {
        "response_format" | "tools" => Wire::Skip,
        _ => chat_param(key, value),
    }
}

/// [`typed_chat_param`] for OpenAI's own API ([`openai_api_chat_param`]).
fn typed_openai_api_chat_param(key: &str, value: &Value) -> Wire {
    match key {
        "response_format" | "tools" => Wire::Skip,
        _ => openai_api_chat_param(key, value),
    }
}

fn embedding_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "input" => Wire::Skip,
        "embedding_dim" => Wire::Rename("dimensions"),
        _ => Wire::Keep,
    }
}

/// A chat request; `max_completion_tokens` for OpenAI's own API, which renames `max_tokens`.
fn chat_body(
    chat: ChatInput<'_>,
    max_completion_tokens: bool,
) -> std::result::Result<Body, String> {
    check_parts(chat.messages)?;
    let response_format = chat.output.map(|output| output.openai_format(&chat.params));
    let tools = chat.tools.map(|tools| {
        tools
            .iter()
            .map(|tool| FunctionTool {
                kind: "function",
                function: Function {
                    name: tool.name(),
                    description: tool.description(),
                    parameters: tool.parameters_json(),
                },
            })
            .collect()
    });
    let size = chat.body_size_hint();
    let typed = chat.output.is_some() || chat.tools.is_some();
    // One translation for a provider's plain calls and one for its typed calls: the text of
    // each may be kept (see `MergedParams::kept_in`).
    let translate = match (typed, max_completion_tokens) {
        (false, false) => chat_param,
        (false, true) => openai_api_chat_param,
        (true, false) => typed_chat_param,
        (true, true) => typed_openai_api_chat_param,
    };
    let request = ChatRequest {
        model: chat.model,
        messages: chat.messages,
        stream: chat.stream,
        stream_options: chat.stream.then_some(StreamOptions {
            include_usage: true,
        }),
        response_format,
        tools,
    };
    let params = chat.params.translated(translate);
    Body::json_then(&request, size, |bytes| params.close_object(bytes, typed))
}

/// Refuses, before any request, the content parts this protocol cannot carry: Anthropic's own
/// blocks (`document`, `image`), and anything but text in a tool result.
fn check_parts(messages: &[Message]) -> std::result::Result<(), String> {
    for (at, message) in messages.iter().enumerate() {
        let Some(Content::Parts(parts)) = &message.content else {
            continue;
        };
        for part in parts {
            let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
            let why = match kind {
                "text" => continue,
                "document" | "image" => {
                    "is an Anthropic block; send documents as `Part::document_pdf` and images as `Part::image_url` or `Part::image_bytes`"
                }
                _ if message.role == Role::Tool => {
                    "is in a tool result, which carries only text on this protocol; put it in a user message"
                }
                _ => continue,
            };
            return Err(format!(
                "message {at} has a `{kind}` part, which the OpenAI protocol cannot carry: it {why}"
            ));
        }
    }
    Ok(())
}

/// An embedding request: the model, the input, then the params, whose text a role keeps as
/// a chat role does (see `MergedParams::kept_in`).
fn embedding_body(
    model: &str,
    input: &EmbeddingInput,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let params = params.translated(embedding_param);
    Body::json_then(
        &EmbeddingRequest { model, input },
        Body::JSON_CAPACITY,
        |bytes| params.close_object(bytes, false),
    )
}

#[derive(Serialize)]
struct ImageRequest<'a> {
    model: &'a str,
    prompt: &'a str,
    #[serde(flatten)]
    params: MergedParams<'a>,
}

#[derive(Serialize)]
struct SpeechRequest<'a> {
    model: &'a str,
    input: &'a str,
    #[serde(flatten)]
    params: MergedParams<'a>,
}

fn image_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "prompt" | PROMPT_LIMIT_PARAM => Wire::Skip,
        _ => Wire::Keep,
    }
}

fn speech_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "input" | PROMPT_LIMIT_PARAM => Wire::Skip,
        _ => Wire::Keep,
    }
}

#[inline(never)]
fn image_body(
    model: &str,
    prompt: &str,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let params = params.translated(image_param);
    Body::json(&ImageRequest {
        model,
        prompt,
        params,
    })
}

#[inline(never)]
fn speech_body(
    model: &str,
    input: &str,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let params = params.translated(speech_param);
    Body::json(&SpeechRequest {
        model,
        input,
        params,
    })
}

/// The body of a raw call: the role's model and params, then the caller's JSON object, whose
/// keys win (a raw call says exactly what it sends).
#[inline(never)]
fn raw_body(
    model: &str,
    body: &Value,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let empty = serde_json::Map::new();
    let body = match body {
        Value::Object(map) => map,
        Value::Null => &empty,
        other => {
            return Err(format!(
                "the JSON body of a raw call must be an object, not {other}"
            ));
        }
    };
    let mut merged = serde_json::Map::with_capacity(body.len() + 4);
    merged.insert("model".into(), Value::from(model));
    merged.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
    merged.extend(body.iter().map(|(k, v)| (k.clone(), v.clone())));
    Body::json(&merged)
}

/// A `multipart/form-data` transcription request: the file, the model, and each param as a
/// text field (a list as repeated `name[]` fields, an object as JSON). Returns the content
/// type (with its boundary) and the body.
///
/// Field and file names are escaped as browsers do (`"`, CR and LF as `%22`, `%0D`, `%0A`), so
/// that no name can end its header line and add a header or a part; values sit in the part's
/// body, where a line break is data, and the boundary is one that occurs in no value and not in
/// the file.
#[inline(never)]
fn transcription_body(
    model: &str,
    audio: &AudioFile,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let mut fields: Vec<(String, String)> = vec![("model".into(), model.into())];
    for (key, value) in params.iter() {
        if matches!(key.as_str(), "model" | "file") {
            continue;
        }
        match value {
            Value::String(text) => fields.push((key.clone(), text.clone())),
            Value::Array(items) => {
                for item in items {
                    let text = item
                        .as_str()
                        .map_or_else(|| item.to_string(), str::to_owned);
                    fields.push((format!("{key}[]"), text));
                }
            }
            Value::Null => {}
            other => fields.push((key.clone(), other.to_string())),
        }
    }
    let boundary = loop {
        let boundary = format!(
            "llmhub-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        );
        let found = |bytes: &[u8]| memchr::memmem::find(bytes, boundary.as_bytes()).is_some();
        if !found(&audio.bytes) && !fields.iter().any(|(_, value)| found(value.as_bytes())) {
            break boundary;
        }
    };
    let mime = audio.mime_type().unwrap_or("application/octet-stream");
    let mut body = Vec::with_capacity(audio.bytes.len() + 512);
    for (name, value) in &fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n",
                disposition_name(name)
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: {mime}\r\n\r\n",
            disposition_name(&audio.file_name)
        )
        .as_bytes(),
    );
    body.extend_from_slice(&audio.bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = reqwest::header::HeaderValue::from_str(&format!(
        "multipart/form-data; boundary={boundary}"
    ))
    .map_err(|err| err.to_string())?;
    Ok(Body {
        bytes: Bytes::from(body),
        content_type: Some(Box::new(content_type)),
    })
}

/// A field or file name as it may stand between the quotes of a `Content-Disposition`.
fn disposition_name(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.contains(['"', '\r', '\n']) {
        return name.into();
    }
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .into()
}

pub(crate) fn parse_image(body: Bytes) -> serde_json::Result<ImageResponse> {
    let mut reply: ImageResponse = serde_json::from_slice(&body)?;
    reply.raw = body;
    Ok(reply)
}

pub(crate) fn parse_transcription(body: Bytes) -> serde_json::Result<Transcription> {
    let trimmed = body.trim_ascii_start();
    let mut reply: Transcription = if trimmed.starts_with(b"{") {
        serde_json::from_slice(&body)?
    } else {
        Transcription {
            text: String::from_utf8_lossy(&body).into_owned(),
            language: None,
            duration: None,
            raw: Bytes::new(),
        }
    };
    reply.raw = body;
    Ok(reply)
}

fn parse_chat(body: Bytes) -> serde_json::Result<ChatResponse> {
    let mut reply = match chat_reader::read_reply(&body) {
        Some(reply) => reply,
        None => serde_json::from_slice(&body)?,
    };
    for choice in &mut reply.choices {
        let message = &mut choice.message;
        if message.reasoning.is_none() {
            message.reasoning = message.reasoning_content.take();
        }
    }
    reply.raw = body;
    Ok(reply)
}

/// The state of an OpenAI-compatible stream: whether a choice has finished (a stream that
/// ends after that without `[DONE]` is complete; one that ends before is cut).
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    finished: bool,
}

impl StreamDecode for StreamState {
    fn on_event(&mut self, event: SseEvent, provider: &str) -> Result<Step> {
        let data = event.data.trim_ascii();
        if data == b"[DONE]" {
            return Ok(Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::Skip);
        }
        let mut chunk = match chat_reader::read_chunk(data) {
            Some(chunk) => chunk,
            None => read_chunk_fully(provider, data)?,
        };
        if chunk.choices.is_empty() && chunk.usage.is_none() && chunk.id.is_empty() {
            return Ok(Step::Skip);
        }
        for choice in &mut chunk.choices {
            if choice.finish_reason.is_some() {
                self.finished = true;
            }
            // DeepSeek and vLLM name the reasoning delta `reasoning_content`.
            if choice.delta.reasoning.is_none() {
                choice.delta.reasoning = choice.delta.reasoning_content.take();
            }
        }
        chunk.raw = event.data;
        Ok(Step::Chunk(chunk))
    }

    fn at_end(&self) -> std::result::Result<(), &'static str> {
        if self.finished {
            Ok(())
        } else {
            Err("no finish_reason and no [DONE]")
        }
    }
}

/// A chunk the plain reader left (an error, a tool call, anything unusual), read with the
/// deserializer.
#[cold]
fn read_chunk_fully(provider: &str, data: &[u8]) -> Result<ChatChunk> {
    // An error can come alone or inside an otherwise normal chunk (OpenRouter sends
    // `{"id": .., "error": {..}, "choices": [{"finish_reason": "error", ..}]}`); either way
    // the reply is not complete. The cheap byte test keeps the parse off other chunks.
    if ERROR_KEY.find(data).is_some()
        && let Some(err) = stream_error(provider, data)
    {
        return Err(err);
    }
    serde_json::from_slice(data).map_err(|err| decode_error(provider, &err))
}

/// The searcher for an `"error"` key in a stream event, built once.
static ERROR_KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"error\""));

/// An `{"error": {..}}` event, which some OpenAI-compatible servers send mid-stream.
fn stream_error(provider: &str, data: &[u8]) -> Option<Error> {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<Value>,
    }
    let envelope: Envelope = serde_json::from_slice(data).ok()?;
    envelope.error?;
    let status = serde_json::from_slice::<Value>(data)
        .ok()
        .and_then(|v| v["error"]["code"].as_u64())
        .and_then(|code| u16::try_from(code).ok())
        .filter(|code| (400..600).contains(code))
        .unwrap_or(500);
    Some(status_error(provider, status, None, error_message(data)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::message::Message;
    use crate::client::protocol::ChatInput;
    use crate::client::structured::OutputRequest;
    use crate::client::tool::Tool;
    use crate::config::Params;
    use serde_json::json;

    fn boundary_of(body: &Body) -> String {
        let content_type = body.content_type.as_ref().unwrap().to_str().unwrap();
        content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn the_multipart_boundary_is_in_no_value_and_not_in_the_file() {
        let params = crate::config::Params::new();
        let audio = AudioFile::new(&b"RIFF"[..], "a.wav");
        fastrand::seed(7);
        let first = transcription_body("m", &audio, MergedParams::new(&params, None)).unwrap();
        let first = boundary_of(&first);
        // The same random draw, with the boundary it gives already in a value and in the file.
        let mut params = crate::config::Params::new();
        params.insert("prompt".into(), format!("x--{first}\r\n").into());
        let audio = AudioFile::new(format!("RIFF--{first}--").into_bytes(), "a.wav");
        fastrand::seed(7);
        let body = transcription_body("m", &audio, MergedParams::new(&params, None)).unwrap();
        let boundary = boundary_of(&body);
        assert_ne!(boundary, first);
        let text = String::from_utf8_lossy(&body.bytes);
        assert_eq!(text.matches(&format!("--{boundary}")).count(), 4);
    }

    #[test]
    fn a_typed_body_fits_the_buffer_it_starts_with() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Invoice {
            number: String,
            lines: Vec<Line>,
            paid: Option<bool>,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Line {
            item: String,
            price: f64,
        }
        let schema = crate::client::structured::schema_of::<Invoice>();
        let tools = [Tool::new::<Line>("price", "Looks up the price of an item")];
        let messages = [
            Message::system("You read invoices."),
            Message::user("Invoice 7: two pens at 1.50 each, paid in cash on the day."),
        ];
        let params: Params = json!({"temperature": 0.2, "max_tokens": 512})
            .as_object()
            .unwrap()
            .clone();
        for (output, tools) in [
            (Some(OutputRequest { schema: &schema }), None),
            (None, Some(&tools[..])),
        ] {
            let chat = ChatInput {
                model: "gpt-4.1",
                messages: &messages,
                stream: false,
                params: MergedParams::new(&params, None),
                output,
                tools,
            };
            let hint = chat.body_size_hint();
            let body = chat_body(chat, false).unwrap();
            assert!(
                body.bytes.len() <= hint && hint <= 2 * body.bytes.len(),
                "a body of {} bytes, a first buffer of {hint}",
                body.bytes.len()
            );
        }
    }

    #[test]
    fn only_openais_own_host_gets_max_completion_tokens() {
        assert!(is_openai_api_host("api.openai.com"));
        assert!(is_openai_api_host("API.OpenAI.com"));
        for host in [
            "127.0.0.1",
            "openai.com",
            "api.openai.com.evil.test",
            "my.openai.azure.com",
        ] {
            assert!(!is_openai_api_host(host), "{host}");
        }
        let params: Params = json!({"max_tokens": 100, "temperature": 1})
            .as_object()
            .unwrap()
            .clone();
        let messages = [Message::user("Hi")];
        let body = |base_url: &str| {
            let payload = Payload::Chat {
                messages: &messages,
                stream: false,
                output: None,
                tools: None,
            };
            let body = OpenAi::for_base_url(base_url)
                .encode("o3", payload, MergedParams::new(&params, None))
                .unwrap();
            serde_json::from_slice::<Value>(&body.bytes).unwrap()
        };
        let own = body("https://api.openai.com/v1");
        assert_eq!(own["max_completion_tokens"], 100);
        assert!(own.get("max_tokens").is_none());
        let other = body("https://api.groq.com/openai/v1");
        assert_eq!(other["max_tokens"], 100);
        assert!(other.get("max_completion_tokens").is_none());
    }
}
