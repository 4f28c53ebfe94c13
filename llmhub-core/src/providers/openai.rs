//! The OpenAI-compatible protocol: `POST {base_url}/chat/completions` (plain and SSE) and
//! `POST {base_url}/embeddings`, `Authorization: Bearer <key>`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{MergedParams, Wire, status_error};
use crate::error::{Error, Result};
use crate::message::{EmbeddingInput, Message};
use crate::response::{ChatChunk, ChatResponse, EmbeddingResponse};
use crate::stream::{SseEvent, Step};

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    params: MergedParams<'a>,
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

/// Params set by the request itself are not taken from the role's params.
fn chat_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "messages" | "stream" | "stream_options" => Wire::Skip,
        _ => Wire::Keep,
    }
}

fn embedding_param(key: &str, _: &Value) -> Wire {
    match key {
        "model" | "input" => Wire::Skip,
        "embedding_dim" => Wire::Rename("dimensions"),
        _ => Wire::Keep,
    }
}

pub(crate) fn chat_body(
    model: &str,
    messages: &[Message],
    stream: bool,
    params: MergedParams<'_>,
) -> std::result::Result<Bytes, String> {
    let request = ChatRequest {
        model,
        messages,
        stream,
        stream_options: stream.then_some(StreamOptions {
            include_usage: true,
        }),
        params: params.translated(chat_param),
    };
    super::to_body(&request)
}

pub(crate) fn embedding_body(
    model: &str,
    input: &EmbeddingInput,
    params: MergedParams<'_>,
) -> std::result::Result<Bytes, String> {
    let request = EmbeddingRequest {
        model,
        input,
        params: params.translated(embedding_param),
    };
    super::to_body(&request)
}

pub(crate) fn parse_chat(body: Bytes) -> serde_json::Result<ChatResponse> {
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

impl StreamState {
    pub fn on_event(&mut self, event: SseEvent, provider: &str) -> Result<Step> {
        let data = event.data.trim_ascii();
        if data == b"[DONE]" {
            return Ok(Step::Done);
        }
        if data.is_empty() {
            return Ok(Step::Skip);
        }
        let mut chunk: ChatChunk =
            serde_json::from_slice(data).map_err(|err| super::decode_error(provider, &err))?;
        if chunk.choices.is_empty() && chunk.usage.is_none() && chunk.id.is_empty() {
            if let Some(err) = stream_error(provider, data) {
                return Err(err);
            }
            return Ok(Step::Skip);
        }
        if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
            self.finished = true;
        }
        chunk.raw = event.data;
        Ok(Step::Chunk(chunk))
    }

    pub fn at_end(&self) -> std::result::Result<(), &'static str> {
        if self.finished {
            Ok(())
        } else {
            Err("no finish_reason and no [DONE]")
        }
    }
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
    Some(status_error(
        provider,
        status,
        None,
        super::error_message(data),
    ))
}
