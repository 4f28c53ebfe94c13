//! The OpenAI-compatible protocol: `{base_url}/chat/completions` (plain and SSE),
//! `/embeddings`, `/images/generations`, `/audio/speech`, `/audio/transcriptions` (multipart),
//! and raw calls under `base_url`; the key as `Authorization: Bearer <key>`.

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderName};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::kind::Payload;
use crate::client::media::{AudioFile, ImageResponse, PROMPT_LIMIT_PARAM, Transcription};
use crate::client::message::{EmbeddingInput, Message};
use crate::client::params::{MergedParams, Wire};
use crate::client::protocol::{
    Body, ChatInput, Endpoints, Step, StreamDecode, StreamDecoder, WireProtocol,
};
use crate::client::response::{ChatChunk, ChatResponse, EmbeddingResponse};
use crate::client::sse::SseEvent;
use crate::client::status::{decode_error, error_message, status_error};
use crate::client::structured::{REPAIRS_PARAM, STRICT_PARAM};
use crate::error::{Error, Result};

/// The OpenAI-compatible protocol.
pub(crate) struct OpenAi;

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

    fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Body, String> {
        match payload {
            Payload::Chat { .. } => ChatInput::of(model, payload, params)
                .map_or_else(|| Err("not a chat call".into()), chat_body),
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
    response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<FunctionTool<'a>>>,
    #[serde(flatten)]
    params: MergedParams<'a>,
}

/// `response_format` asking for a reply that fits a JSON Schema.
#[derive(Serialize)]
struct ResponseFormat<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    json_schema: JsonSchemaFormat<'a>,
}

#[derive(Serialize)]
struct JsonSchemaFormat<'a> {
    name: &'a str,
    schema: &'a Value,
    strict: bool,
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
    parameters: &'a Value,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a EmbeddingInput,
    #[serde(flatten)]
    params: MergedParams<'a>,
}

/// Params set by the request itself are not taken from the role's params, nor llmhub's own.
fn chat_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "messages" | "stream" | "stream_options" | STRICT_PARAM | REPAIRS_PARAM => {
            Wire::Skip
        }
        _ => Wire::Keep,
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

fn embedding_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "input" => Wire::Skip,
        "embedding_dim" => Wire::Rename("dimensions"),
        _ => Wire::Keep,
    }
}

fn chat_body(chat: ChatInput<'_>) -> std::result::Result<Body, String> {
    let response_format = chat.output.map(|output| {
        let (schema, strict) = output.schema(&chat.params);
        ResponseFormat {
            kind: "json_schema",
            json_schema: JsonSchemaFormat {
                name: &output.schema.name,
                schema,
                strict,
            },
        }
    });
    let tools = chat.tools.map(|tools| {
        tools
            .iter()
            .map(|tool| FunctionTool {
                kind: "function",
                function: Function {
                    name: tool.name(),
                    description: tool.description(),
                    parameters: tool.parameters(),
                },
            })
            .collect()
    });
    let translate = if chat.output.is_some() || chat.tools.is_some() {
        typed_chat_param
    } else {
        chat_param
    };
    Body::json(&ChatRequest {
        model: chat.model,
        messages: chat.messages,
        stream: chat.stream,
        stream_options: chat.stream.then_some(StreamOptions {
            include_usage: true,
        }),
        response_format,
        tools,
        params: chat.params.translated(translate),
    })
}

fn embedding_body(
    model: &str,
    input: &EmbeddingInput,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let request = EmbeddingRequest {
        model,
        input,
        params: params.translated(embedding_param),
    };
    Body::json(&request)
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
fn transcription_body(
    model: &str,
    audio: &AudioFile,
    params: MergedParams<'_>,
) -> std::result::Result<Body, String> {
    let boundary = format!(
        "llmhub-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    );
    let mime = audio.mime_type().unwrap_or("application/octet-stream");
    let mut body = Vec::with_capacity(audio.bytes.len() + 512);
    let mut field = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    field("model", model);
    for (key, value) in params.iter() {
        if matches!(key.as_str(), "model" | "file") {
            continue;
        }
        match value {
            Value::String(text) => field(key, text),
            Value::Array(items) => {
                for item in items {
                    let text = item
                        .as_str()
                        .map_or_else(|| item.to_string(), str::to_owned);
                    field(&format!("{key}[]"), &text);
                }
            }
            Value::Null => {}
            other => field(key, &other.to_string()),
        }
    }
    let file_name = audio.file_name.replace(['"', '\r', '\n'], "_");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {mime}\r\n\r\n"
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
        content_type: Some(content_type),
    })
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
    let mut reply: ChatResponse = serde_json::from_slice(&body)?;
    reply.raw = body;
    Ok(reply)
}

pub(crate) fn parse_embedding(body: Bytes) -> serde_json::Result<EmbeddingResponse> {
    let mut reply: EmbeddingResponse = serde_json::from_slice(&body)?;
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
        // An error can come alone or inside an otherwise normal chunk (OpenRouter sends
        // `{"id": .., "error": {..}, "choices": [{"finish_reason": "error", ..}]}`); either way
        // the reply is not complete. The cheap byte test keeps the parse off normal chunks.
        if contains(data, b"\"error\"")
            && let Some(err) = stream_error(provider, data)
        {
            return Err(err);
        }
        let mut chunk: ChatChunk =
            serde_json::from_slice(data).map_err(|err| decode_error(provider, &err))?;
        if chunk.choices.is_empty() && chunk.usage.is_none() && chunk.id.is_empty() {
            return Ok(Step::Skip);
        }
        if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
            self.finished = true;
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

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
