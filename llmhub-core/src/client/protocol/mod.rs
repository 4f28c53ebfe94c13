//! The wire protocols. Each file here owns everything about its protocol: the URL of each call
//! kind under the provider's `base_url`, the auth header and its value, fixed headers, request
//! bodies with the params translated, reply and stream decoding.
//!
//! Adding a protocol is one file implementing [`WireProtocol`] and one arm in [`wire`].

pub(crate) mod anthropic;
pub(crate) mod openai;

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::client::kind::{CallKind, Payload};
use crate::client::media::{ImageResponse, Transcription};
use crate::client::message::Message;
use crate::client::params::MergedParams;
use crate::client::response::{ChatChunk, ChatResponse, EmbeddingResponse};
use crate::client::sse::SseEvent;
use crate::client::structured::OutputRequest;
use crate::client::tools::Tool;
use crate::config::Protocol;
use crate::error::Result;

/// The implementation of `protocol`: the one place where protocols are registered.
pub(crate) fn wire(protocol: Protocol) -> &'static dyn WireProtocol {
    match protocol {
        Protocol::OpenAi => &openai::OpenAi,
        Protocol::Anthropic => &anthropic::Anthropic,
    }
}

/// What a wire protocol knows. Built into a provider once; called on every request.
pub(crate) trait WireProtocol: Sync {
    /// The URL of each call kind this protocol serves, under `base_url` (no trailing `/`).
    fn endpoints(&self, base_url: &str) -> std::result::Result<Endpoints, String>;

    /// The header that carries the API key.
    fn auth_header(&self) -> HeaderName;

    /// The auth header's value for `key`.
    fn auth_value(&self, key: &str) -> String;

    /// Headers every request of this protocol carries (a version header, …).
    fn fixed_headers(&self, _headers: &mut HeaderMap) {}

    /// The request body of `payload`; an `Err` says why the protocol cannot carry it.
    fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Body, String>;

    /// A chat reply.
    fn decode_chat(&self, body: Bytes) -> serde_json::Result<ChatResponse>;

    /// A fresh decoder for one streamed reply.
    fn stream_decoder(&self) -> StreamDecoder;

    /// An embedding reply (OpenAI-shaped unless a protocol says otherwise).
    fn decode_embedding(&self, body: Bytes) -> serde_json::Result<EmbeddingResponse> {
        openai::parse_embedding(body)
    }

    /// An image generation reply (OpenAI-shaped unless a protocol says otherwise).
    fn decode_image(&self, body: Bytes) -> serde_json::Result<ImageResponse> {
        openai::parse_image(body)
    }

    /// A transcription (OpenAI-shaped unless a protocol says otherwise).
    fn decode_transcription(&self, body: Bytes) -> serde_json::Result<Transcription> {
        openai::parse_transcription(body)
    }
}

/// Where each call kind is sent; `None` for a kind the protocol does not serve.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    /// `base_url` itself, under which raw calls name their path.
    pub base: Url,
    pub chat: Option<Url>,
    pub embeddings: Option<Url>,
    pub images: Option<Url>,
    pub speech: Option<Url>,
    pub transcriptions: Option<Url>,
}

impl Endpoints {
    /// The URL of `kind` (raw calls build theirs from [`Endpoints::base`]).
    pub fn url(&self, kind: CallKind) -> Option<&Url> {
        match kind {
            CallKind::Completion | CallKind::CompletionJson | CallKind::Stream => {
                self.chat.as_ref()
            }
            CallKind::Embedding => self.embeddings.as_ref(),
            CallKind::Generate => self.images.as_ref(),
            CallKind::Speech => self.speech.as_ref(),
            CallKind::Transcribe => self.transcriptions.as_ref(),
            CallKind::Raw => Some(&self.base),
        }
    }
}

/// A request body, and its content type when it is not JSON.
pub(crate) struct Body {
    pub bytes: Bytes,
    pub content_type: Option<HeaderValue>,
}

impl Body {
    /// A JSON body.
    pub fn json(request: &impl Serialize) -> std::result::Result<Body, String> {
        serde_json::to_vec(request)
            .map(|bytes| Body {
                bytes: Bytes::from(bytes),
                content_type: None,
            })
            .map_err(|err| err.to_string())
    }
}

/// What a chat request is made of, in any protocol.
pub(crate) struct ChatInput<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    pub stream: bool,
    pub params: MergedParams<'a>,
    /// A typed reply asked for, which the protocol requests its own way.
    pub output: Option<OutputRequest<'a>>,
    /// Tools given with the call.
    pub tools: Option<&'a [Tool]>,
}

impl<'a> ChatInput<'a> {
    /// The chat request of `payload`, if it is a chat call.
    pub fn of(model: &'a str, payload: Payload<'a>, params: MergedParams<'a>) -> Option<Self> {
        match payload {
            Payload::Chat {
                messages,
                stream,
                output,
                tools,
            } => Some(ChatInput {
                model,
                messages,
                stream,
                params,
                output,
                tools,
            }),
            _ => None,
        }
    }
}

/// What a protocol makes of one server-sent event.
pub(crate) enum Step {
    /// A chunk for the caller.
    Chunk(ChatChunk),
    /// Nothing for the caller (a ping, a block start without content, …).
    Skip,
    /// The reply is complete.
    Done,
}

/// Turns one stream's server-sent events into chunks.
pub(crate) trait StreamDecode: Send + Sync {
    /// The chunk (or nothing, or the end) an event makes.
    fn on_event(&mut self, event: SseEvent, provider: &str) -> Result<Step>;

    /// Whether the end of the body is a proper end; if not, what was missing.
    fn at_end(&self) -> std::result::Result<(), &'static str>;
}

/// A protocol's stream decoder, one per stream.
pub(crate) type StreamDecoder = Box<dyn StreamDecode>;
