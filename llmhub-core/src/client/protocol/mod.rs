//! The wire protocols. Each file here owns everything about its protocol: the URL of each call
//! kind under the provider's `base_url`, the auth header and its value, fixed headers, request
//! bodies with the params translated, reply and stream decoding.
//!
//! Adding a protocol is one file implementing [`WireProtocol`] and one arm in [`wire`].

pub(crate) mod anthropic;
pub(crate) mod azure;
mod chat_reader;
mod embedding;
pub(crate) mod openai;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::client::kind::{CallKind, Payload};
use crate::client::media::{ImageResponse, Transcription};
use crate::client::message::{Content, Message};
use crate::client::params::MergedParams;
use crate::client::response::{ChatChunk, ChatResponse, EmbeddingResponse};
use crate::client::sse::SseEvent;
use crate::client::structured::OutputRequest;
use crate::client::tool::Tool;
use crate::config::{Protocol, ProviderConfig};
use crate::error::Result;

/// The implementation of `protocol` for `provider`: the one place where protocols are
/// registered. Called once, when the provider is built.
pub(crate) fn wire(provider: &ProviderConfig) -> &'static dyn WireProtocol {
    match provider.api {
        Protocol::OpenAi => openai::OpenAi::for_base_url(&provider.base_url),
        Protocol::Anthropic => &anthropic::Anthropic,
        Protocol::Azure => &azure::Azure,
    }
}

/// What a wire protocol knows. Built into a provider once; called on every request.
pub(crate) trait WireProtocol: Sync {
    /// The URL of each call kind this protocol serves, under `base_url` (no trailing `/`).
    fn endpoints(&self, base_url: &str) -> std::result::Result<Endpoints, String>;

    /// How `provider`'s URLs are laid out: by default one set, [`WireProtocol::endpoints`],
    /// for every model.
    fn routes(&self, provider: &ProviderConfig) -> std::result::Result<Routes, String> {
        self.endpoints(&provider.base_url).map(Routes::Fixed)
    }

    /// The header that carries a key given as a bearer token instead (an Entra ID token for
    /// Azure).
    fn token_header(&self) -> HeaderName {
        reqwest::header::AUTHORIZATION
    }

    /// The token header's value for `token`.
    fn token_value(&self, token: &str) -> String {
        format!("Bearer {token}")
    }

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
        embedding::parse_embedding(body)
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

/// Where a provider's requests go.
// One per provider, built once and never moved on a call: the common case stays inline.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Routes {
    /// One set of URLs for every model.
    Fixed(Endpoints),
    /// URLs that name the model (Azure deployments): built the first time a model is called,
    /// then kept.
    PerModel(PerModel),
}

impl Routes {
    /// `base_url`, under which raw calls name their path.
    pub fn base(&self) -> &Url {
        match self {
            Routes::Fixed(endpoints) => &endpoints.base,
            Routes::PerModel(per_model) => &per_model.base,
        }
    }
}

/// Builds the endpoints of one model.
type BuildEndpoints = Box<dyn Fn(&str) -> std::result::Result<Endpoints, String> + Send + Sync>;

/// URLs built per model, and the ones built so far.
pub(crate) struct PerModel {
    pub base: Url,
    /// The endpoints of one model.
    build: BuildEndpoints,
    built: RwLock<HashMap<Box<str>, Arc<Endpoints>>>,
}

impl PerModel {
    pub fn new(
        base: Url,
        build: impl Fn(&str) -> std::result::Result<Endpoints, String> + Send + Sync + 'static,
    ) -> PerModel {
        PerModel {
            base,
            build: Box::new(build),
            built: RwLock::new(HashMap::new()),
        }
    }

    /// The endpoints of `model`, built on its first call. (A poisoned lock only means another
    /// thread panicked while inserting; the map itself is still whole.)
    pub fn endpoints(&self, model: &str) -> std::result::Result<Arc<Endpoints>, String> {
        let read = self.built.read().unwrap_or_else(|e| e.into_inner());
        if let Some(endpoints) = read.get(model) {
            return Ok(endpoints.clone());
        }
        drop(read);
        let endpoints = Arc::new((self.build)(model)?);
        self.built
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(model.into(), endpoints.clone());
        Ok(endpoints)
    }
}

/// A request body, and its content type when it is not JSON.
pub(crate) struct Body {
    pub bytes: Bytes,
    /// The body's own `Content-Type`, for one that is not JSON (which the provider's headers
    /// name); boxed, as such bodies are rare and every call's future holds a body.
    pub content_type: Option<Box<HeaderValue>>,
}

impl Body {
    /// The buffer a JSON body of no known size starts with.
    pub const JSON_CAPACITY: usize = 128;

    /// A JSON body.
    pub fn json(request: &impl Serialize) -> std::result::Result<Body, String> {
        Body::json_sized(request, Body::JSON_CAPACITY)
    }

    /// A JSON body written into a buffer of `capacity` bytes to start with: a body known to
    /// be larger (a schema, long messages) is then written without growing its buffer.
    pub fn json_sized(
        request: &impl Serialize,
        capacity: usize,
    ) -> std::result::Result<Body, String> {
        Body::json_then(request, capacity, |_| Ok(()))
    }

    /// [`Body::json_sized`], with `then` writing after the request's JSON into the same buffer
    /// (the params that close a chat request's object, say).
    pub fn json_then(
        request: &impl Serialize,
        capacity: usize,
        then: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> std::result::Result<Body, String> {
        let mut bytes = Vec::with_capacity(capacity);
        serde_json::to_writer(&mut bytes, request)
            .and_then(|()| then(&mut bytes))
            .map(|()| Body {
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
    /// A first guess at the size of this request's JSON body, a little over what the schema,
    /// the tools and the messages' text take: the body's buffer then rarely grows.
    pub fn body_size_hint(&self) -> usize {
        let messages: usize = self
            .messages
            .iter()
            .map(|message| match &message.content {
                Some(Content::Text(text)) => 32 + text.len(),
                _ => 128,
            })
            .sum();
        let output = self
            .output
            .map_or(0, |output| output.schema.strict_format.get().len());
        let tools: usize = self.tools.into_iter().flatten().map(Tool::size_hint).sum();
        128 + messages + output + tools
    }

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
