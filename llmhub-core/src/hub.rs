//! [`Hub`]: the runtime that calls the providers, and its [`HubBuilder`].
//!
//! Every call — dynamic (`hub.completion("llm.inference", ..)`) or typed
//! (`roles.llm_inference().completion(..)`) — goes through one path: find the role (by name, or
//! by slot without hashing), check the mode and the key, encode the body, send it with retries,
//! then decode a reply, a stream or embeddings.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use tracing::Instrument;

use crate::config::{Config, Mode, Params};
use crate::config::{ConfigError, ConfigProblem};
use crate::error::{Error, Result};
use crate::hooks::{CallContext, CallInput, CallRecord, CallResult, Hooks};
use crate::media::{self, AudioFile, AudioTask, ImageResponse, Speech, Transcription};
use crate::message::{IntoEmbeddingInput, IntoMessages, Message};
use crate::providers::{MergedParams, Payload, Provider, Settings};
use crate::config::ReloadOutcome;
use crate::reload::{ReloadSettings, Reloader};
use crate::response::{ChatResponse, EmbeddingResponse};
use crate::secret::SecretString;
use crate::stream::ChatStream;

/// The llmhub runtime: the config in force, one provider client per provider, one shared
/// connection pool, and the hooks.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`: build one at start-up and share it.
///
/// ```no_run
/// use llmhub_core::{Hub, Message};
///
/// # async fn demo() -> llmhub_core::Result<()> {
/// let hub = Hub::from_path("llmhub.yaml")?;
/// let reply = hub.completion("llm.inference", [Message::user("Hello")], None).await?;
/// println!("{}", reply.text().unwrap_or_default());
/// let vectors = hub.embedding("llm.embedding", "Hello world", None).await?;
/// println!("{} dimensions", vectors.first().map_or(0, |v| v.len()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    client: reqwest::Client,
    state: ArcSwap<HubState>,
    hooks: Arc<Hooks>,
    keys: Vec<(String, SecretString)>,
    settings: Settings,
    /// The compiled role table typed handles use (kept to rebuild the slots on reload).
    compiled: Option<Arc<[(String, Mode)]>>,
    strict_env: bool,
    reload: Reloader,
}

impl HubInner {
    /// Starts the file watcher if the settings ask for one. It holds only a weak reference,
    /// so dropping the last `Hub` stops it.
    fn start_watching(self: &Arc<Self>) -> Result<()> {
        let settings = &self.reload.settings;
        let (true, Some(path)) = (settings.watch, &settings.path) else {
            return Ok(());
        };
        let weak = Arc::downgrade(self);
        let debounce = settings.debounce.unwrap_or(crate::watch::DEFAULT_DEBOUNCE);
        let watcher = crate::watch::FileWatcher::new(path, debounce, move || {
            if let Some(inner) = weak.upgrade() {
                // The outcome goes to the on_reload hooks and tracing; a refusal keeps the
                // config in force.
                let _ = Hub { inner }.reload();
            }
        })?;
        *self
            .reload
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(watcher);
        Ok(())
    }
}

/// Everything derived from one config: swapped whole (by a future reload), never edited.
pub(crate) struct HubState {
    config: Arc<Config>,
    providers: Vec<Provider>,
    /// Role index → provider index.
    role_providers: Vec<usize>,
    default_provider: Option<usize>,
    /// Compiled slot → role index; `None` when slots are role indices.
    slots: Option<Vec<usize>>,
}

/// How a call names its role.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RoleRef<'a> {
    /// A typed handle's slot.
    Slot(usize),
    /// A name given to the dynamic API.
    Name(&'a str),
}

/// A role resolved against the state in force.
struct Target<'s> {
    role: &'s str,
    provider: &'s Provider,
    provider_index: usize,
    model: &'s str,
    mode: Mode,
    params: &'s Params,
}

impl HubState {
    fn build<S: AsRef<str>>(
        config: Config,
        keys: &[(String, SecretString)],
        settings: &Settings,
        compiled: Option<&[(S, Mode)]>,
        strict_env: bool,
    ) -> Result<HubState> {
        if let Some((id, _)) = keys
            .iter()
            .find(|(id, _)| !config.providers.contains_key(id))
        {
            let hint = match crate::config::suggest::closest(id, config.providers.keys()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "give keys only for providers listed under `providers:`".to_owned(),
            };
            return Err(Error::Config(ConfigError::new(vec![
                ConfigProblem::whole_file(
                    &config.source_name,
                    format!(
                        "the builder was given an API key for provider `{id}`, which is not under `providers:`"
                    ),
                    Some(&hint),
                ),
            ])));
        }
        let providers = config
            .providers
            .values()
            .map(|p| {
                let key = keys.iter().find(|(id, _)| *id == p.id).map(|(_, k)| k);
                Provider::new(p, &config.source_name, key, settings)
            })
            .collect::<Result<Vec<_>>>()?;
        if strict_env {
            let missing: Vec<_> = providers.iter().filter_map(Provider::missing_key).collect();
            if !missing.is_empty() {
                return Err(Error::EnvVarMissing { missing });
            }
        }
        let provider_index = |role: &str, provider: &str| {
            config
                .providers
                .get_index_of(provider)
                .ok_or_else(|| Error::UnknownProvider {
                    role: role.to_owned(),
                    provider: provider.to_owned(),
                })
        };
        let role_providers = config
            .roles
            .values()
            .map(|r| provider_index(&r.name, &r.provider))
            .collect::<Result<Vec<_>>>()?;
        let default_provider = match &config.defaults {
            Some(d) => Some(provider_index("defaults", &d.provider)?),
            None => None,
        };
        let slots = match compiled {
            None => None,
            Some(compiled) => Some(crate::config::compiled_slots(
                &config,
                compiled.iter().map(|(name, mode)| (name.as_ref(), *mode)),
            )?),
        };
        Ok(HubState {
            config: Arc::new(config),
            providers,
            role_providers,
            default_provider,
            slots,
        })
    }

    fn role_at(&self, index: usize) -> Option<Target<'_>> {
        let (_, role) = self.config.roles.get_index(index)?;
        let provider_index = self.role_providers[index];
        Some(Target {
            role: &role.name,
            provider: &self.providers[provider_index],
            provider_index,
            model: &role.model,
            mode: role.mode,
            params: &role.params,
        })
    }

    fn target<'s>(&'s self, role: RoleRef<'s>) -> Result<Target<'s>> {
        match role {
            RoleRef::Slot(slot) => {
                let index = match &self.slots {
                    Some(slots) => slots.get(slot).copied(),
                    None => Some(slot),
                };
                index
                    .and_then(|index| self.role_at(index))
                    .ok_or_else(|| Error::UnknownRole {
                        role: format!("#{slot} (a role handle's slot)"),
                        suggestion: None,
                    })
            }
            RoleRef::Name(name) => match self.config.binding(name)? {
                (crate::config::Binding::Role(index), _) => self
                    .role_at(index)
                    .ok_or_else(|| Error::UnknownRole {
                        role: name.to_owned(),
                        suggestion: None,
                    }),
                (crate::config::Binding::Defaults, defaults) => {
                    let provider_index = self.default_provider.ok_or_else(|| {
                        Error::UnknownProvider {
                            role: name.to_owned(),
                            provider: defaults.provider.clone(),
                        }
                    })?;
                    Ok(Target {
                        role: name,
                        provider: &self.providers[provider_index],
                        provider_index,
                        model: &defaults.model,
                        mode: defaults.mode,
                        params: &defaults.params,
                    })
                }
            },
        }
    }
}

/// A request that got a successful status; the caller reads it as a reply, a stream or
/// embeddings.
struct Sent {
    response: reqwest::Response,
    state: Arc<HubState>,
    provider: usize,
    record: CallRecord,
}

impl Sent {
    fn provider(&self) -> &Provider {
        &self.state.providers[self.provider]
    }

    /// Reads the whole body, then decodes it with `decode`.
    async fn read<T>(
        self,
        decode: impl FnOnce(&Provider, Bytes) -> Result<T>,
        usage: fn(&T) -> Option<crate::Usage>,
    ) -> Result<T> {
        let Sent {
            response,
            state,
            provider,
            record,
        } = self;
        let provider = &state.providers[provider];
        let result = async {
            // The request's own timeout (set in `retry::send`) covers this read too.
            let body = response
                .bytes()
                .await
                .map_err(|err| provider.transport_error(&err))?;
            decode(provider, body)
        }
        .instrument(record.span().clone())
        .await;
        record.finish(result.as_ref().map(usage));
        result
    }

    fn stream(self) -> ChatStream {
        let provider = self.provider();
        let decoder = provider.stream_decoder();
        let id = provider.id.clone();
        let idle = provider.idle_timeout;
        let masker = KeyMasker { state: self.state.clone(), provider: self.provider };
        ChatStream::new(self.response, decoder, id, idle, self.record, masker)
    }
}

/// Masks a provider's key in errors raised inside a stream, reaching the key through the state
/// the call started with (no copy of the key per stream).
pub(crate) struct KeyMasker {
    state: Arc<HubState>,
    provider: usize,
}

impl KeyMasker {
    pub(crate) fn mask(&self, err: Error) -> Error {
        match self.state.providers[self.provider].secret_text() {
            Some(secret) => err.mask_secret(secret),
            None => err,
        }
    }
}

fn mode_mismatch(role: &str, mode: Mode, call: &'static str) -> Error {
    let hint = match mode {
        Mode::Embedding => "call `embedding` on it instead".to_owned(),
        Mode::Chat | Mode::Tool => "call `completion` or `stream` on it instead".to_owned(),
        Mode::Image => "call `generate` on it instead".to_owned(),
        Mode::Audio => "call `transcribe` or `speech` on it instead".to_owned(),
        Mode::Other => "call `raw` on it instead".to_owned(),
    };
    Error::ModeMismatch {
        role: role.to_owned(),
        mode,
        call,
        hint,
    }
}

impl Hub {
    /// A builder, for strict env checks, hooks, keys, an HTTP client, timeouts and retries.
    pub fn builder() -> HubBuilder {
        HubBuilder::default()
    }

    /// A hub for the config file at `path`, keys from the environment.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Hub> {
        Hub::from_config(Config::from_path(path)?)
    }

    /// A hub for a config held in memory.
    pub fn from_yaml_str(text: &str) -> Result<Hub> {
        Hub::from_config(Config::from_yaml_str(text)?)
    }

    /// A hub for a config already loaded.
    pub fn from_config(config: Config) -> Result<Hub> {
        Hub::builder().config(config).build()
    }

    /// The config in force now.
    pub fn config(&self) -> Arc<Config> {
        self.inner.state.load().config.clone()
    }

    /// A hub on the same client, hooks, keys and reload settings whose typed handles use the
    /// slots of `roles` (generated code's compiled role table). It has its own config state:
    /// reload the returned hub (for generated code, `roles.hub().reload()`), not `self`.
    /// Fails like [`HubBuilder::compiled_roles`].
    pub fn with_compiled_roles(&self, roles: &[(&str, Mode)]) -> Result<Hub> {
        let inner = &self.inner;
        let config = Config::clone(&self.config());
        let state = HubState::build(config, &inner.keys, &inner.settings, Some(roles), false)?;
        let inner = Arc::new(HubInner {
            client: inner.client.clone(),
            state: ArcSwap::from_pointee(state),
            hooks: inner.hooks.clone(),
            keys: inner.keys.clone(),
            settings: inner.settings.clone(),
            compiled: Some(
                roles
                    .iter()
                    .map(|(name, mode)| ((*name).to_owned(), *mode))
                    .collect(),
            ),
            strict_env: inner.strict_env,
            reload: Reloader::new(inner.reload.settings.clone()),
        });
        inner.start_watching()?;
        Ok(Hub { inner })
    }

    /// Re-reads the config file given to [`HubBuilder::reload_from`] (or named by
    /// `LLMHUB_CONFIG`) and, if it is valid and keeps every compiled role with its mode, swaps
    /// it in with one atomic store. Providers, models and params may change; new roles are
    /// reachable through the dynamic API.
    ///
    /// On any problem the config in force stays, and the error says why
    /// ([`Error::Reload`] holding the config error with file, line and column, or the
    /// [`Error::UnknownRole`] / [`Error::ModeMismatch`] of a compiled role). Calls in flight
    /// finish with the config they started with; calls never wait for a reload. Every attempt
    /// is also told to the `on_reload` hooks and to `tracing`.
    pub fn reload(&self) -> Result<ReloadOutcome> {
        let result = self.try_reload();
        self.inner.reload.settings.report(&result);
        result
    }

    fn try_reload(&self) -> Result<ReloadOutcome> {
        let inner = &self.inner;
        let Some(path) = &inner.reload.settings.path else {
            return Err(Reloader::no_path());
        };
        // One reload at a time, so the outcome compares with the config it replaces.
        let _one_at_a_time = inner.reload.lock.lock().unwrap_or_else(|e| e.into_inner());
        let refused = |err| Reloader::refused(path, err);
        let config = Config::from_path(path).map_err(refused)?;
        let state = HubState::build(
            config,
            &inner.keys,
            &inner.settings,
            inner.compiled.as_deref(),
            inner.strict_env,
        )
        .map_err(refused)?;
        let outcome = ReloadOutcome::between(path, &inner.state.load().config, &state.config);
        inner.state.store(Arc::new(state));
        Ok(outcome)
    }

    /// Sends a chat completion for `role` (the role if the config has it, else `defaults:`).
    /// `overrides` are merged over the role's params; an override wins.
    ///
    /// Errors: [`Error::UnknownRole`], [`Error::ModeMismatch`] for a role that is not `chat`
    /// or `tool`, [`Error::EnvVarMissing`] before any request if the key is missing, and the
    /// provider errors ([`Error::Http`], [`Error::RateLimited`], [`Error::Auth`],
    /// [`Error::Timeout`], [`Error::Transport`], [`Error::Decode`]).
    pub async fn completion(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> Result<ChatResponse> {
        self.chat(RoleRef::Name(role), messages, overrides.as_ref())
            .await
    }

    /// Like [`Hub::completion`], but streams the reply as [`ChatChunk`](crate::ChatChunk)s.
    /// Retries happen only before the stream starts.
    pub async fn stream_completion(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> Result<ChatStream> {
        self.chat_stream(RoleRef::Name(role), messages, overrides.as_ref())
            .await
    }

    /// Embeds one text or a batch with `role`, which must have mode `embedding`.
    pub async fn embedding(
        &self,
        role: &str,
        input: impl IntoEmbeddingInput,
        overrides: Option<Params>,
    ) -> Result<EmbeddingResponse> {
        self.embed(RoleRef::Name(role), input, overrides.as_ref())
            .await
    }

    /// Generates images from `prompt` with `role`, which must have mode `image`
    /// (`POST {base_url}/images/generations`; `size`, `quality`, `n`, `response_format` and any
    /// other params pass through). An empty prompt, or one longer than the role's
    /// `max_prompt_chars` param, is refused before any request.
    pub async fn generate_image(
        &self,
        role: &str,
        prompt: &str,
        overrides: Option<Params>,
    ) -> Result<ImageResponse> {
        self.image(RoleRef::Name(role), prompt, overrides.as_ref())
            .await
    }

    /// Transcribes `audio` with `role`, which must have mode `audio` and a transcription model
    /// (`POST {base_url}/audio/transcriptions`, multipart). An empty file or a name that is not
    /// an audio file name is refused before any request.
    pub async fn transcribe(
        &self,
        role: &str,
        audio: AudioFile,
        overrides: Option<Params>,
    ) -> Result<Transcription> {
        self.transcription(RoleRef::Name(role), &audio, overrides.as_ref())
            .await
    }

    /// Speaks `text` with `role`, which must have mode `audio` and a speech model
    /// (`POST {base_url}/audio/speech`; `voice`, `response_format` and `speed` are params).
    pub async fn speech(
        &self,
        role: &str,
        text: &str,
        overrides: Option<Params>,
    ) -> Result<Speech> {
        self.speak(RoleRef::Name(role), text, overrides.as_ref())
            .await
    }

    /// POSTs `body` (a JSON object) to the provider's base URL + `path` with `role`, which
    /// must have mode `other`; the role's model and params are merged into the body (the
    /// body's own keys win). Reaches any endpoint llmhub does not model, with the role's
    /// provider, key, retries, hooks and tracing.
    pub async fn raw(
        &self,
        role: &str,
        path: &str,
        body: serde_json::Value,
        overrides: Option<Params>,
    ) -> Result<serde_json::Value> {
        self.raw_call(RoleRef::Name(role), path, &body, overrides.as_ref())
            .await
    }

    pub(crate) async fn image(
        &self,
        role: RoleRef<'_>,
        prompt: &str,
        overrides: Option<&Params>,
    ) -> Result<ImageResponse> {
        let sent = self
            .send(role, Payload::Image { prompt }, overrides)
            .await?;
        sent.read(Provider::decode_image, |_| None).await
    }

    pub(crate) async fn transcription(
        &self,
        role: RoleRef<'_>,
        audio: &AudioFile,
        overrides: Option<&Params>,
    ) -> Result<Transcription> {
        let payload = Payload::Transcription { audio };
        let sent = self.send(role, payload, overrides).await?;
        sent.read(Provider::decode_transcription, |_| None).await
    }

    pub(crate) async fn speak(
        &self,
        role: RoleRef<'_>,
        text: &str,
        overrides: Option<&Params>,
    ) -> Result<Speech> {
        let sent = self.send(role, Payload::Speech { text }, overrides).await?;
        // Only speech needs the response's Content-Type; other calls do not copy it.
        let content_type = sent
            .response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        sent.read(|p, body| p.decode_speech(body, content_type), |_| None)
            .await
    }

    pub(crate) async fn raw_call(
        &self,
        role: RoleRef<'_>,
        path: &str,
        body: &serde_json::Value,
        overrides: Option<&Params>,
    ) -> Result<serde_json::Value> {
        let sent = self
            .send(role, Payload::Raw { path, body }, overrides)
            .await?;
        sent.read(Provider::decode_raw, |_| None).await
    }

    pub(crate) async fn chat(
        &self,
        role: RoleRef<'_>,
        messages: impl IntoMessages,
        overrides: Option<&Params>,
    ) -> Result<ChatResponse> {
        let messages = self.messages(role, messages)?;
        let payload = Payload::Chat {
            messages: &messages,
            stream: false,
        };
        let sent = self.send(role, payload, overrides).await?;
        sent.read(Provider::decode_chat, |r| r.usage).await
    }

    pub(crate) async fn chat_stream(
        &self,
        role: RoleRef<'_>,
        messages: impl IntoMessages,
        overrides: Option<&Params>,
    ) -> Result<ChatStream> {
        let messages = self.messages(role, messages)?;
        let payload = Payload::Chat {
            messages: &messages,
            stream: true,
        };
        Ok(self.send(role, payload, overrides).await?.stream())
    }

    pub(crate) async fn embed(
        &self,
        role: RoleRef<'_>,
        input: impl IntoEmbeddingInput,
        overrides: Option<&Params>,
    ) -> Result<EmbeddingResponse> {
        let input = input.into_embedding_input();
        let sent = self
            .send(role, Payload::Embedding(&input), overrides)
            .await?;
        sent.read(Provider::decode_embedding, |r| r.usage).await
    }

    fn messages(&self, role: RoleRef<'_>, messages: impl IntoMessages) -> Result<Vec<Message>> {
        messages
            .into_messages()
            .map_err(|message| Error::InvalidInput {
                role: self.role_name(role),
                message,
            })
    }

    /// The role's name, for error messages.
    fn role_name(&self, role: RoleRef<'_>) -> String {
        match role {
            RoleRef::Name(name) => name.to_owned(),
            RoleRef::Slot(_) => {
                let state = self.inner.state.load();
                state
                    .target(role)
                    .map_or_else(|_| format!("{role:?}"), |t| t.role.to_owned())
            }
        }
    }

    /// The one path of every call, up to a successful status.
    async fn send(
        &self,
        role: RoleRef<'_>,
        payload: Payload<'_>,
        overrides: Option<&Params>,
    ) -> Result<Sent> {
        let state = self.inner.state.load_full();
        let target = state.target(role)?;
        let (allowed, call, operation, input) = match payload {
            Payload::Chat { messages, stream } => (
                target.mode.is_chat(),
                if stream { "stream" } else { "completion" },
                "chat",
                CallInput::Messages(messages),
            ),
            Payload::Embedding(input) => (
                target.mode == Mode::Embedding,
                "embedding",
                "embeddings",
                CallInput::Embedding(input),
            ),
            Payload::Image { prompt } => (
                target.mode == Mode::Image,
                "generate",
                "generate_image",
                CallInput::Text(prompt),
            ),
            Payload::Speech { text } => (
                target.mode == Mode::Audio,
                "speech",
                "speech",
                CallInput::Text(text),
            ),
            Payload::Transcription { audio } => (
                target.mode == Mode::Audio,
                "transcribe",
                "transcription",
                CallInput::Audio(audio),
            ),
            Payload::Raw { path, body } => (
                target.mode == Mode::Other,
                "raw",
                "raw",
                CallInput::Raw { path, body },
            ),
        };
        if !allowed {
            return Err(mode_mismatch(target.role, target.mode, call));
        }
        let params = MergedParams::new(target.params, overrides);
        check_input(&target, payload, &params)?;
        let provider = target.provider;
        let auth = provider.auth()?;
        let encoded = provider
            .encode(target.model, payload, params)
            .map_err(|message| Error::InvalidInput {
                role: target.role.to_owned(),
                message,
            })?;

        let span = tracing::info_span!(
            "gen_ai.client.call",
            gen_ai.operation.name = operation,
            gen_ai.system = &*provider.id,
            gen_ai.request.model = target.model,
            llmhub.role = target.role,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        let hooks = &self.inner.hooks;
        let merged;
        let ctx = CallContext {
            role: target.role,
            provider: &provider.id,
            model: target.model,
            mode: target.mode,
            params: if hooks.before.is_empty() {
                target.params
            } else {
                merged = params.to_params();
                &merged
            },
            input,
            stream: matches!(payload, Payload::Chat { stream: true, .. }),
        };
        for hook in &hooks.before {
            hook(&ctx);
        }
        let record = CallRecord::new(span, hooks, &ctx, &provider.id);
        let client = &self.inner.client;
        let whole = !matches!(payload, Payload::Chat { stream: true, .. });
        let response = crate::retry::send(client, provider, &encoded, auth, whole)
            .instrument(record.span().clone())
            .await;
        match response {
            Ok(response) => Ok(Sent {
                response,
                provider: target.provider_index,
                state: state.clone(),
                record,
            }),
            Err(err) => {
                record.finish(Err(&err));
                Err(err)
            }
        }
    }
}

/// The checks of a media call's input that can be made before any request.
fn check_input(target: &Target<'_>, payload: Payload<'_>, params: &MergedParams<'_>) -> Result<()> {
    let has_voice = || params.get("voice").is_some();
    match payload {
        Payload::Image { prompt } => {
            media::check_prompt(target.role, prompt, params.get(media::PROMPT_LIMIT_PARAM))
        }
        Payload::Speech { text } => {
            AudioTask::check(target.role, target.model, has_voice(), AudioTask::Speech)?;
            media::check_prompt(target.role, text, params.get(media::PROMPT_LIMIT_PARAM))
        }
        Payload::Transcription { audio } => {
            AudioTask::check(
                target.role,
                target.model,
                has_voice(),
                AudioTask::Transcribe,
            )?;
            audio.check(target.role).map(|_| ())
        }
        Payload::Chat { .. } | Payload::Embedding(_) | Payload::Raw { .. } => Ok(()),
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.state.load();
        f.debug_struct("Hub")
            .field("config", &state.config)
            .field("providers", &state.providers)
            .field("keys", &self.inner.keys)
            .field("hooks", &self.inner.hooks)
            .field("settings", &self.inner.settings)
            .finish()
    }
}

/// Builds a [`Hub`]: the config, and optionally strict env checks, hooks, API keys, an HTTP
/// client, timeouts and retries.
///
/// ```no_run
/// use std::time::Duration;
/// use llmhub_core::{Config, Hub};
///
/// # fn demo() -> llmhub_core::Result<()> {
/// let hub = Hub::builder()
///     .config(Config::from_path("llmhub.yaml")?)
///     .strict_env(true)                       // every env_key must be set now
///     .api_key("anthropic", "sk-ant-…")       // or give a key directly
///     .timeout(Duration::from_secs(30))
///     .max_retries(3)
///     .on_after_call(|r| eprintln!("{} took {:?}", r.role, r.duration))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct HubBuilder {
    config: Option<Config>,
    compiled: Option<&'static [(&'static str, Mode)]>,
    strict_env: bool,
    keys: Vec<(String, SecretString)>,
    client: Option<reqwest::Client>,
    hooks: Hooks,
    settings: Settings,
    reload: ReloadSettings,
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubBuilder")
            .field("config", &self.config)
            .field("compiled", &self.compiled)
            .field("strict_env", &self.strict_env)
            .field("keys", &self.keys)
            .field("client", &self.client)
            .field("hooks", &self.hooks)
            .field("settings", &self.settings)
            .field("reload", &self.reload)
            .finish()
    }
}

impl HubBuilder {
    /// The file that [`Hub::reload`] re-reads. Without [`config`](Self::config) the hub also
    /// starts from it; with one (or in generated code, with the compiled-in config) `build()`
    /// tries the file once and keeps the given config if the file is refused. Without this
    /// call, the `LLMHUB_CONFIG` environment variable names the file, if set.
    pub fn reload_from(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.reload.path = Some(path.into());
        self
    }

    /// With `true`, the hub reloads whenever the file changes (debounced; editors that save by
    /// renaming and files deleted and created again are handled). Needs
    /// [`reload_from`](Self::reload_from) or `LLMHUB_CONFIG`.
    pub fn watch(mut self, yes: bool) -> Self {
        self.reload.watch = yes;
        self
    }

    /// The quiet time after a change before a watched file is reloaded. Default 100 ms.
    pub fn watch_debounce(mut self, debounce: Duration) -> Self {
        self.reload.debounce = Some(debounce);
        self
    }

    /// Runs `f` after every reload attempt with what changed, or why it was refused.
    pub fn on_reload(mut self, f: impl Fn(&Result<ReloadOutcome>) + Send + Sync + 'static) -> Self {
        self.reload.hooks.push(Arc::new(f));
        self
    }

    /// The config to run (required).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// The roles compiled into generated code, in generated-slot order. `build()` checks each
    /// is in the config with the same mode (missing: [`Error::UnknownRole`]; other mode:
    /// [`Error::ModeMismatch`]) and builds the slot → role table that typed calls use.
    pub fn compiled_roles(mut self, roles: &'static [(&'static str, Mode)]) -> Self {
        self.compiled = Some(roles);
        self
    }

    /// With `true`, `build()` checks every provider's `env_key` and reports all the missing
    /// variables together in [`Error::EnvVarMissing`]. Without it a missing key fails the first
    /// call that needs it, before any request.
    pub fn strict_env(mut self, yes: bool) -> Self {
        self.strict_env = yes;
        self
    }

    /// The API key of `provider`, used instead of its `env_key` variable. Held in a
    /// [`SecretString`]: it never shows in `Debug` output, errors, logs or hooks.
    pub fn api_key(mut self, provider: impl Into<String>, key: impl Into<String>) -> Self {
        let provider = provider.into();
        self.keys.retain(|(id, _)| *id != provider);
        self.keys.push((provider, SecretString::new(key)));
        self
    }

    /// The HTTP client to use (for proxies, custom roots, …). Its own settings then apply:
    /// [`connect_timeout`](Self::connect_timeout) is not applied to it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Runs `f` before each call.
    pub fn on_before_call(mut self, f: impl Fn(&CallContext<'_>) + Send + Sync + 'static) -> Self {
        self.hooks.before.push(Arc::new(f));
        self
    }

    /// Runs `f` after each call (for a stream: when it ends, fails or is dropped).
    pub fn on_after_call(mut self, f: impl Fn(&CallResult<'_>) + Send + Sync + 'static) -> Self {
        self.hooks.after.push(Arc::new(f));
        self
    }

    /// The limit of one attempt (until the whole reply, or a stream's first byte), for every
    /// provider; overrides the providers' `timeout_ms`. Default: `timeout_ms`, else 10 minutes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// The limit for opening a connection. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The longest pause between two chunks of a stream. Default: the request timeout.
    pub fn stream_idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.stream_idle_timeout = Some(timeout);
        self
    }

    /// Retries after a failed attempt, for every provider; overrides the providers'
    /// `max_retries`. Default: `max_retries`, else 2.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.settings.max_retries = Some(retries);
        self
    }

    /// The wait before the first retry, doubled for each further one (with jitter), up to
    /// [`retry_max_delay`](Self::retry_max_delay). Default 500 ms.
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        self.settings.retry_base_delay = delay;
        self
    }

    /// The longest wait between two attempts, also the cap on a provider's `Retry-After`.
    /// Default 30 s.
    pub fn retry_max_delay(mut self, delay: Duration) -> Self {
        self.settings.retry_max_delay = delay;
        self
    }

    /// Builds the hub: checks base URLs, headers, the compiled roles and (with
    /// [`strict_env`](Self::strict_env)) the keys.
    pub fn build(self) -> Result<Hub> {
        let reload = self.reload.resolve()?;
        let (config, try_reload) = match (self.config, &reload.path) {
            (Some(config), path) => (config, path.is_some()),
            (None, Some(path)) => (Config::from_path(path)?, false),
            (None, None) => {
                return Err(Error::Config(ConfigError::new(vec![
                    ConfigProblem::whole_file(
                        "<builder>",
                        "the hub builder was given no config",
                        Some(
                            "call `.config(Config::from_path(\"llmhub.yaml\")?)` or `.reload_from(path)` before `.build()`",
                        ),
                    ),
                ])));
            }
        };
        let state = HubState::build(
            config,
            &self.keys,
            &self.settings,
            self.compiled,
            self.strict_env,
        )?;
        let client = match self.client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .connect_timeout(self.settings.connect_timeout)
                .tcp_nodelay(true)
                .build()
                .map_err(|err| Error::Transport {
                    provider: "llmhub".into(),
                    message: format!(
                        "cannot build the HTTP client: {}",
                        crate::providers::describe_reqwest(&err)
                    ),
                })?,
        };
        let inner = Arc::new(HubInner {
            client,
            state: ArcSwap::from_pointee(state),
            hooks: Arc::new(self.hooks),
            keys: self.keys,
            settings: self.settings,
            compiled: self.compiled.map(|roles| {
                roles
                    .iter()
                    .map(|(name, mode)| ((*name).to_owned(), *mode))
                    .collect()
            }),
            strict_env: self.strict_env,
            reload: Reloader::new(reload),
        });
        let hub = Hub { inner };
        if try_reload {
            // The file wins over the given config when it is valid and compatible; a refusal
            // is reported to the hooks and tracing, and the given config stays.
            let _ = hub.reload();
        }
        hub.inner.start_watching()?;
        Ok(hub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn hub_is_send_sync_clone() {
        assert_send_sync::<Hub>();
    }

    #[test]
    fn futures_are_send() {
        fn is_send<T: Send>(_: T) {}
        let hub = Hub::from_yaml_str(
            "project: p\nenv: dev\nproviders: { openai: {} }\nroles:\n  r: { provider: openai, model: m, mode: chat }\n",
        )
        .unwrap();
        is_send(hub.completion("r", [Message::user("x")], None));
        is_send(hub.stream_completion("r", [Message::user("x")], None));
        is_send(hub.embedding("r", "x", None));
    }
}
