//! The provider layer: one [`Provider`] per entry of `providers:`, built once when the hub is
//! built (URLs, headers, auth value, timeouts, retry policy), and the dispatch to the wire
//! protocols in [`openai`] and [`anthropic`].

pub(crate) mod anthropic;
pub(crate) mod openai;

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::{Deserialize, Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;

use crate::config::{Params, Protocol, ProviderConfig};
use crate::config::{ConfigError, ConfigProblem};
use crate::error::{Error, MissingEnvVar, Result};
use crate::media::{AudioFile, ImageResponse, Speech, Transcription};
use crate::message::{EmbeddingInput, Message};
use crate::response::{ChatResponse, EmbeddingResponse};
use crate::retry::RetryPolicy;
use crate::secret::SecretString;
use crate::stream::{SseEvent, Step};

/// Timeouts and retries chosen in the builder; each `Some` overrides every provider's config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub connect_timeout: Duration,
    pub stream_idle_timeout: Option<Duration>,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
}

/// Whole-request timeout when neither the config nor the builder sets one.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Retries when neither the config nor the builder sets them.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 2;

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: None,
            max_retries: None,
            connect_timeout: Duration::from_secs(10),
            stream_idle_timeout: None,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
        }
    }
}

/// What a call sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// A chat call.
    Chat {
        messages: &'a [Message],
        stream: bool,
    },
    /// An embedding call.
    Embedding(&'a EmbeddingInput),
    /// An image generation call.
    Image { prompt: &'a str },
    /// A text-to-speech call.
    Speech { text: &'a str },
    /// A transcription call (a multipart body).
    Transcription { audio: &'a AudioFile },
    /// A POST of `body` (merged with model and params) to the base URL + `path`.
    Raw { path: &'a str, body: &'a Value },
}

/// A request body ready to send: where, what, and its content type when not JSON.
pub(crate) struct Encoded<'p> {
    pub url: Cow<'p, Url>,
    pub body: Bytes,
    pub content_type: Option<HeaderValue>,
}

impl<'p> Encoded<'p> {
    fn json(url: &'p Url, body: Bytes) -> Encoded<'p> {
        Encoded {
            url: Cow::Borrowed(url),
            body,
            content_type: None,
        }
    }
}

/// What a chat request is made of, in either protocol.
pub(crate) struct ChatInput<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    pub stream: bool,
    pub params: MergedParams<'a>,
}

/// A provider, ready to send: everything that does not change between calls is computed here.
#[derive(Debug)]
pub(crate) struct Provider {
    pub id: Arc<str>,
    pub api: Protocol,
    chat_url: Url,
    embeddings_url: Url,
    images_url: Url,
    speech_url: Url,
    transcriptions_url: Url,
    /// `base_url`, for `other` roles' raw calls.
    base_url: Url,
    headers: HeaderMap,
    auth_header: HeaderName,
    env_key: Option<String>,
    /// The auth header value, once the key is known (marked sensitive: `Debug` hides it).
    auth: OnceLock<HeaderValue>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
}

fn config_error(file: &str, message: String, hint: &str) -> Error {
    Error::Config(ConfigError::new(vec![ConfigProblem::whole_file(
        file,
        message,
        Some(hint),
    )]))
}

impl Provider {
    /// Builds a provider. `key` is a key given to the builder; without one the key is read
    /// from `env_key` now, or at the first call if it is not set yet.
    pub fn new(
        config: &ProviderConfig,
        file: &str,
        key: Option<&SecretString>,
        settings: &Settings,
    ) -> Result<Provider> {
        crate::config::base_url::check_base_url(&config.base_url, config.allow_insecure_http).map_or(
            Ok(()),
            |(message, hint)| {
                Err(config_error(
                    file,
                    format!("provider `{}`: {message}", config.id),
                    &hint,
                ))
            },
        )?;
        let url = |path: &str| {
            Url::parse(&format!("{}{path}", config.base_url)).map_err(|err| {
                config_error(
                    file,
                    format!(
                        "provider `{}`: `base_url` {} is not a valid URL: {err}",
                        config.id, config.base_url
                    ),
                    "write it as https://host/path",
                )
            })
        };
        let (chat_url, embeddings_url, auth_header) = match config.api {
            Protocol::OpenAi => (
                url("/chat/completions")?,
                url("/embeddings")?,
                AUTHORIZATION,
            ),
            Protocol::Anthropic => {
                let messages = url("/v1/messages")?;
                (
                    messages.clone(),
                    messages,
                    HeaderName::from_static("x-api-key"),
                )
            }
        };
        // The media endpoints exist on the OpenAI protocol only; the config refuses media
        // roles on Anthropic, and `encode` refuses them again.
        let (images_url, speech_url, transcriptions_url) = (
            url("/images/generations")?,
            url("/audio/speech")?,
            url("/audio/transcriptions")?,
        );
        let base_url = url("")?;
        // The same check as validation, made again on the URL as reqwest parsed it, so that no
        // spelling of a remote host can pass for loopback.
        let host = base_url.host_str().unwrap_or("");
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host == "[::1]"
            || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
        if base_url.scheme() == "http" && !loopback && !config.allow_insecure_http {
            return Err(config_error(
                file,
                format!(
                    "provider `{}`: `base_url` {} sends the API key in clear text to the non-loopback host `{host}`",
                    config.id, config.base_url
                ),
                "use https://, or set `allow_insecure_http: true` on this provider if you must",
            ));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if config.api == Protocol::Anthropic {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static("2023-06-01"),
            );
        }
        for (name, value) in &config.headers {
            let bad = |what: &str| {
                config_error(
                    file,
                    format!(
                        "provider `{}`: header `{name}` has an invalid {what}",
                        config.id
                    ),
                    "header names are ASCII tokens; values are visible ASCII",
                )
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
            let value = HeaderValue::from_str(value).map_err(|_| bad("value"))?;
            headers.insert(name, value);
        }
        let timeout = settings
            .timeout
            .or(config.timeout_ms.map(Duration::from_millis))
            .unwrap_or(DEFAULT_TIMEOUT);
        let provider = Provider {
            id: config.id.as_str().into(),
            api: config.api,
            chat_url,
            embeddings_url,
            images_url,
            speech_url,
            transcriptions_url,
            base_url,
            headers,
            auth_header,
            env_key: config.env_key.clone(),
            auth: OnceLock::new(),
            timeout,
            connect_timeout: settings.connect_timeout,
            idle_timeout: settings.stream_idle_timeout.unwrap_or(timeout),
            retry: RetryPolicy {
                max_retries: settings
                    .max_retries
                    .or(config.max_retries)
                    .unwrap_or(DEFAULT_MAX_RETRIES),
                base_delay: settings.retry_base_delay,
                max_delay: settings.retry_max_delay,
            },
        };
        let key = key.cloned().or_else(|| provider.key_from_env());
        if let Some(key) = key {
            let value = provider.auth_value(&key)?;
            let _ = provider.auth.set(value);
        }
        Ok(provider)
    }

    fn key_from_env(&self) -> Option<SecretString> {
        let var = self.env_key.as_deref()?;
        std::env::var(var)
            .ok()
            .filter(|key| !key.is_empty())
            .map(SecretString::from)
    }

    /// The environment variable this provider needs and lacks, if any.
    pub fn missing_key(&self) -> Option<MissingEnvVar> {
        match (&self.env_key, self.auth.get()) {
            (Some(var), None) if self.key_from_env().is_none() => Some(MissingEnvVar {
                provider: self.id.to_string(),
                var: var.clone(),
            }),
            _ => None,
        }
    }

    fn auth_value(&self, key: &SecretString) -> Result<HeaderValue> {
        let text = match self.api {
            Protocol::OpenAi => format!("Bearer {}", key.expose()),
            Protocol::Anthropic => key.expose().to_owned(),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| Error::Auth {
            provider: self.id.to_string(),
            status: 0,
            message:
                "the API key contains characters that cannot be sent in an HTTP header (a newline?)"
                    .into(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The auth header value: the key given or found at build time, else read from the
    /// environment now. A provider without `env_key` and key sends no auth header (local
    /// servers). A missing key fails here, before any request.
    pub fn auth(&self) -> Result<Option<&HeaderValue>> {
        if let Some(value) = self.auth.get() {
            return Ok(Some(value));
        }
        let Some(var) = &self.env_key else {
            return Ok(None);
        };
        let Some(key) = self.key_from_env() else {
            return Err(Error::EnvVarMissing {
                missing: vec![MissingEnvVar {
                    provider: self.id.to_string(),
                    var: var.clone(),
                }],
            });
        };
        let value = self.auth_value(&key)?;
        Ok(Some(self.auth.get_or_init(|| value)))
    }

    /// The request body and the URL to send it to.
    pub fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Encoded<'_>, String> {
        let json =
            |url, body: std::result::Result<Bytes, String>| body.map(|b| Encoded::json(url, b));
        match (self.api, payload) {
            (Protocol::OpenAi, Payload::Chat { messages, stream }) => {
                {
                let chat = ChatInput {
                    model,
                    messages,
                    stream,
                    params,
                };
                json(&self.chat_url, openai::chat_body(chat))
            }
            }
            (Protocol::OpenAi, Payload::Embedding(input)) => {
                json(&self.embeddings_url, openai::embedding_body(model, input, params))
            }
            (Protocol::Anthropic, Payload::Chat { messages, stream }) => {
                {
                let chat = ChatInput {
                    model,
                    messages,
                    stream,
                    params,
                };
                json(&self.chat_url, anthropic::chat_body(chat))
            }
            }
            (Protocol::OpenAi, Payload::Image { prompt }) => {
                json(&self.images_url, openai::image_body(model, prompt, params))
            }
            (Protocol::OpenAi, Payload::Speech { text }) => {
                json(&self.speech_url, openai::speech_body(model, text, params))
            }
            (Protocol::OpenAi, Payload::Transcription { audio }) => {
                let (content_type, body) = openai::transcription_body(model, audio, params)?;
                Ok(Encoded {
                    url: Cow::Borrowed(&self.transcriptions_url),
                    body,
                    content_type: Some(content_type),
                })
            }
            (Protocol::OpenAi, Payload::Raw { path, body }) => {
                let url = self.raw_url(path)?;
                Ok(Encoded { body: openai::raw_body(model, body, params)?, url: Cow::Owned(url), content_type: None })
            }
            (Protocol::Anthropic, _) => Err(
                "the anthropic protocol serves only chat (and tool) roles; bind this role to an OpenAI-compatible provider".into(),
            ),
        }
    }

    /// `base_url` + `path`, refusing a path that would leave the provider's host (the key
    /// must only ever go there).
    fn raw_url(&self, path: &str) -> std::result::Result<Url, String> {
        let path = path.trim_start_matches('/');
        let joined = format!("{}/{path}", self.base_url.as_str().trim_end_matches('/'));
        match Url::parse(&joined) {
            Ok(url)
                if !path.contains("://")
                    && !path.split(['/', '?', '#']).any(|segment| segment == "..")
                    && url.origin() == self.base_url.origin() =>
            {
                Ok(url)
            }
            _ => Err(format!(
                "`{path}` is not a path under the provider's base URL; give a relative path such as `/moderations`"
            )),
        }
    }

    /// A POST of `body` to `url` with this provider's headers.
    pub fn request(&self, encoded: &Encoded<'_>, auth: Option<&HeaderValue>) -> reqwest::Request {
        let mut request = reqwest::Request::new(Method::POST, encoded.url.as_ref().clone());
        *request.headers_mut() = self.headers.clone();
        if let Some(content_type) = &encoded.content_type {
            request
                .headers_mut()
                .insert(CONTENT_TYPE, content_type.clone());
        }
        if let Some(auth) = auth {
            request
                .headers_mut()
                .insert(self.auth_header.clone(), auth.clone());
        }
        *request.body_mut() = Some(encoded.body.clone().into());
        request
    }

    /// Parses a chat reply.
    pub fn decode_chat(&self, body: Bytes) -> Result<ChatResponse> {
        let parsed = match self.api {
            Protocol::OpenAi => openai::parse_chat(body),
            Protocol::Anthropic => anthropic::parse_chat(body),
        };
        parsed.map_err(|err| self.decode_error(&err))
    }

    /// Parses an embedding reply.
    pub fn decode_embedding(&self, body: Bytes) -> Result<EmbeddingResponse> {
        openai::parse_embedding(body).map_err(|err| self.decode_error(&err))
    }

    /// Parses an image generation reply.
    pub fn decode_image(&self, body: Bytes) -> Result<ImageResponse> {
        openai::parse_image(body).map_err(|err| self.decode_error(&err))
    }

    /// Parses a transcription: JSON (`response_format` json or verbose_json), else the body
    /// is the text itself (text, srt, vtt).
    pub fn decode_transcription(&self, body: Bytes) -> Result<Transcription> {
        openai::parse_transcription(body).map_err(|err| self.decode_error(&err))
    }

    /// Synthesized speech: the body is the audio.
    pub fn decode_speech(&self, body: Bytes, content_type: Option<String>) -> Result<Speech> {
        Ok(Speech {
            bytes: body,
            content_type,
        })
    }

    /// A raw call's JSON reply.
    pub fn decode_raw(&self, body: Bytes) -> Result<Value> {
        serde_json::from_slice(&body).map_err(|err| self.decode_error(&err))
    }

    /// A fresh decoder for a streamed reply.
    pub fn stream_decoder(&self) -> StreamDecoder {
        match self.api {
            Protocol::OpenAi => StreamDecoder::OpenAi(openai::StreamState::default()),
            Protocol::Anthropic => StreamDecoder::Anthropic(anthropic::StreamState::default()),
        }
    }

    pub fn decode_error(&self, err: &serde_json::Error) -> Error {
        decode_error(&self.id, err)
    }

    /// The error for an unsuccessful status, with the provider's own message (with the key
    /// masked, should a server echo it).
    pub fn http_error(&self, status: u16, retry_after: Option<Duration>, body: &[u8]) -> Error {
        // Masked before the message is cut to length, so no prefix of a key survives the cut.
        let masked;
        let body = match self.secret_text() {
            Some(key) if !key.is_empty() && body.windows(key.len()).any(|w| w == key.as_bytes()) => {
                masked = String::from_utf8_lossy(body).replace(key, "***");
                masked.as_bytes()
            }
            _ => body,
        };
        status_error(&self.id, status, retry_after, error_message(body))
    }

    /// The key this provider sends, if known (to mask it should a server echo it back).
    pub fn secret_text(&self) -> Option<&str> {
        let value = self.auth.get()?.to_str().ok()?;
        Some(value.strip_prefix("Bearer ").unwrap_or(value))
    }

    /// The error for a failed send.
    pub fn transport_error(&self, err: &reqwest::Error) -> Error {
        if err.is_timeout() {
            let connect = err.is_connect();
            return Error::Timeout {
                provider: self.id.to_string(),
                what: if connect { "connect" } else { "request" },
                after: if connect {
                    self.connect_timeout
                } else {
                    self.timeout
                },
            };
        }
        let mut message = describe_reqwest(err);
        if err.is_connect() {
            message.push_str("; check the provider's `base_url` and that its server is reachable");
        }
        Error::Transport {
            provider: self.id.to_string(),
            message,
        }
    }

    pub fn timeout_error(&self, what: &'static str) -> Error {
        Error::Timeout {
            provider: self.id.to_string(),
            what,
            after: self.timeout,
        }
    }
}

/// A request struct as a JSON body.
pub(crate) fn to_body(request: &impl Serialize) -> std::result::Result<Bytes, String> {
    serde_json::to_vec(request)
        .map(Bytes::from)
        .map_err(|err| err.to_string())
}

pub(crate) fn decode_error(provider: &str, err: &serde_json::Error) -> Error {
    Error::Decode {
        provider: provider.to_owned(),
        message: format!("{err}; the provider may not speak the protocol set by `api`"),
    }
}

/// The error for an unsuccessful status (or an error event of that kind).
pub(crate) fn status_error(
    provider: &str,
    status: u16,
    retry_after: Option<Duration>,
    message: String,
) -> Error {
    let provider = provider.to_owned();
    match status {
        401 | 403 => Error::Auth {
            provider,
            status,
            message,
        },
        429 => Error::RateLimited {
            provider,
            retry_after,
            message,
        },
        _ => Error::Http {
            provider,
            status,
            body: message,
            retry_after,
        },
    }
}

/// The provider's error message from an error body: `error.message` (OpenAI and Anthropic),
/// `message`, `error` as a string, else the start of the body.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        error: Option<Detail>,
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Detail {
        Object {
            #[serde(default)]
            message: Option<String>,
            #[serde(default, rename = "type")]
            kind: Option<String>,
        },
        Text(String),
    }
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
        match envelope.error {
            Some(Detail::Object {
                message: Some(message),
                kind,
            }) => {
                return match kind {
                    Some(kind) => format!("{message} ({kind})"),
                    None => message,
                };
            }
            Some(Detail::Text(message)) => return message,
            _ => {}
        }
        if let Some(message) = envelope.message {
            return message;
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A reqwest error with its causes, on one line.
pub(crate) fn describe_reqwest(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// What happens to one param on the wire.
pub(crate) enum Wire {
    /// Sent as is.
    Keep,
    /// Not sent (the request sets it itself, or the protocol has no such field).
    Skip,
    /// Sent under another name.
    Rename(&'static str),
    /// Sent under a name with a translated value.
    Replace(&'static str, Value),
}

/// The role's params overlaid by the overrides, serialized as a map without building a merged
/// copy; `translate` maps each param to the protocol's field.
#[derive(Clone, Copy)]
pub(crate) struct MergedParams<'a> {
    base: &'a Params,
    overrides: Option<&'a Params>,
    translate: fn(&str, &Value) -> Wire,
}

impl<'a> MergedParams<'a> {
    pub fn new(base: &'a Params, overrides: Option<&'a Params>) -> MergedParams<'a> {
        MergedParams {
            base,
            overrides,
            translate: |_, _| Wire::Keep,
        }
    }

    pub fn translated(self, translate: fn(&str, &Value) -> Wire) -> MergedParams<'a> {
        MergedParams { translate, ..self }
    }

    /// The value of `key` (the override's if there is one).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.overrides
            .and_then(|o| o.get(key))
            .or_else(|| self.base.get(key))
    }

    /// Every param, the role's first (unless overridden), then the overrides.
    pub fn iter(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        let overrides = self.overrides;
        self.base
            .iter()
            .filter(move |(key, _)| overrides.is_none_or(|o| !o.contains_key(key.as_str())))
            .chain(overrides.into_iter().flatten())
    }

    /// A merged copy (for hooks).
    pub fn to_params(self) -> Params {
        crate::config::merge_params(self.base, self.overrides)
    }
}

impl MergedParams<'_> {
    /// The wire name `key` is sent under, when it is translated to another one.
    fn renamed(&self, key: &str, value: &Value) -> Option<&'static str> {
        match (self.translate)(key, value) {
            Wire::Rename(name) | Wire::Replace(name, _) => Some(name),
            Wire::Keep | Wire::Skip => None,
        }
    }

    fn in_overrides(&self, key: &str) -> bool {
        self.overrides.is_some_and(|o| o.contains_key(key))
    }

    /// Whether an override of another param is sent under `wire` (so that it wins over a
    /// role param written under that wire name directly).
    fn override_renamed_to(&self, wire: &str) -> bool {
        self.overrides.is_some_and(|o| {
            o.iter()
                .any(|(key, value)| key != wire && self.renamed(key, value) == Some(wire))
        })
    }
}

impl Serialize for MergedParams<'_> {
    /// Each wire key is sent once. When a portable param (`embedding_dim`) and its wire name
    /// (`dimensions`) are both given, the override layer wins over the role's params, and
    /// within one layer the wire name written directly wins.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.iter() {
            let from_override = self.in_overrides(key);
            match (self.translate)(key, value) {
                Wire::Keep => {
                    if from_override || !self.override_renamed_to(key) {
                        map.serialize_entry(key, value)?;
                    }
                }
                Wire::Skip => {}
                Wire::Rename(name) | Wire::Replace(name, _)
                    if name != key.as_str()
                        && (self.in_overrides(name)
                            || (!from_override && self.base.contains_key(name))) => {}
                Wire::Rename(name) => map.serialize_entry(name, value)?,
                Wire::Replace(name, value) => map.serialize_entry(name, &value)?,
            }
        }
        map.end()
    }
}

/// Turns SSE events into chunks, per protocol.
#[derive(Debug)]
pub(crate) enum StreamDecoder {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
}

impl StreamDecoder {
    pub fn on_event(&mut self, event: SseEvent, provider: &str) -> Result<Step> {
        match self {
            StreamDecoder::OpenAi(state) => state.on_event(event, provider),
            StreamDecoder::Anthropic(state) => state.on_event(event, provider),
        }
    }

    /// Whether the end of the body is a proper end; if not, what was missing.
    pub fn at_end(&self) -> std::result::Result<(), &'static str> {
        match self {
            StreamDecoder::OpenAi(state) => state.at_end(),
            StreamDecoder::Anthropic(state) => state.at_end(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Params {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn merged_params_override_and_translate() {
        let base = params(json!({"temperature": 0.7, "max_tokens": 10, "embedding_dim": 3}));
        let overrides = params(json!({"temperature": 0.1, "seed": 7}));
        let merged = MergedParams::new(&base, Some(&overrides)).translated(|key, _| match key {
            "max_tokens" => Wire::Skip,
            "embedding_dim" => Wire::Rename("dimensions"),
            "seed" => Wire::Replace("seed", json!(8)),
            _ => Wire::Keep,
        });
        assert_eq!(
            serde_json::to_value(merged).unwrap(),
            json!({"temperature": 0.1, "dimensions": 3, "seed": 8})
        );
        assert_eq!(merged.get("temperature"), Some(&json!(0.1)));
        assert_eq!(merged.to_params()["max_tokens"], 10);
    }

    #[test]
    fn a_wire_key_is_sent_once_and_the_override_wins() {
        let rename = |key: &str, _: &Value| match key {
            "embedding_dim" => Wire::Rename("dimensions"),
            _ => Wire::Keep,
        };
        let sent = |base: Value, overrides: Option<Value>| {
            let base = params(base);
            let overrides = overrides.map(params);
            let merged = MergedParams::new(&base, overrides.as_ref()).translated(rename);
            serde_json::to_string(&merged).unwrap()
        };
        // The override wins, whichever name each layer used.
        assert_eq!(sent(json!({"embedding_dim": 256}), Some(json!({"dimensions": 512}))), r#"{"dimensions":512}"#);
        assert_eq!(sent(json!({"dimensions": 512}), Some(json!({"embedding_dim": 256}))), r#"{"dimensions":256}"#);
        // Within one layer, the wire name written directly wins.
        assert_eq!(sent(json!({"embedding_dim": 256, "dimensions": 512}), None), r#"{"dimensions":512}"#);
        assert_eq!(sent(json!({"embedding_dim": 256}), None), r#"{"dimensions":256}"#);
    }

    #[test]
    fn provider_error_messages_are_extracted() {
        assert_eq!(
            error_message(br#"{"error":{"message":"bad model","type":"invalid_request_error"}}"#),
            "bad model (invalid_request_error)"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded (overloaded_error)"
        );
        assert_eq!(error_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message(b"upstream down"), "upstream down");
        assert_eq!(error_message(&[b'x'; 600]).chars().count(), 501);
    }
}
