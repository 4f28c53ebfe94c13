//! [`Hub`]: the runtime that calls the providers, and its dynamic, string-keyed API. Its
//! constructors (`Hub::builder()`, `Hub::from_path`, …) are in `builder.rs`.
//!
//! Every call, dynamic (`hub.completion("llm.inference", ..)`) or typed
//! (`roles.llm_inference().completion(..)`), goes through the one path of the `call` module.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::client::call;
use crate::client::media::{AudioFile, ImageResponse, Speech, Transcription};
use crate::client::message::{IntoEmbeddingInput, IntoMessages};
use crate::client::reload::{CONFIG_ENV_VAR, EarlyWatch};
use crate::client::response::{ChatResponse, EmbeddingResponse};
use crate::client::state::{RoleRef, Shared};
use crate::client::stream::ChatStream;
use crate::client::tool::Tool;
use crate::client::tools::{self, ToolRun, Toolbox};
use crate::config::{Config, Params, ReloadOutcome};
use crate::error::{Error, Result};

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
    pub(crate) shared: Arc<Shared>,
}

impl Hub {
    /// The config in force now.
    pub fn config(&self) -> Arc<Config> {
        self.shared.state.load().config.clone()
    }

    /// Re-reads the config file given to [`reload_from`](crate::HubBuilder::reload_from) (or named by
    /// `LLMHUB_CONFIG`) and, if it is valid and keeps every compiled role with its mode, swaps
    /// it in with one atomic store. Providers, models and params may change; new roles are
    /// reachable through the dynamic API.
    ///
    /// On any problem the config in force stays, and the error says why
    /// ([`Error::Reload`](crate::Error::Reload) holding the config error with file, line and
    /// column, or the [`Error::UnknownRole`](crate::Error::UnknownRole) /
    /// [`Error::ModeMismatch`](crate::Error::ModeMismatch) of a compiled role). Calls in flight
    /// finish with the config they started with; calls never wait for a reload. Every attempt
    /// is also told to the `on_reload` hooks and to `tracing`.
    pub fn reload(&self) -> Result<ReloadOutcome> {
        let result = self.try_reload();
        self.shared.reload.settings.report(&result);
        result
    }

    /// Hands a file watcher started before this hub was built over to it; the watcher holds
    /// the hub weakly, so dropping the last `Hub` stops it.
    pub(crate) fn attach_watch(&self, early: EarlyWatch) {
        let weak = Arc::downgrade(&self.shared);
        early.attach(
            &self.shared.reload.watcher,
            Arc::new(move || {
                if let Some(shared) = weak.upgrade() {
                    // The outcome goes to the on_reload hooks and tracing; a refusal keeps
                    // the config in force.
                    let _ = Hub { shared }.reload();
                }
            }),
        );
    }

    fn try_reload(&self) -> Result<ReloadOutcome> {
        let shared = &self.shared;
        let Some(path) = &shared.reload.settings.path else {
            return Err(Error::Setup {
                message: format!(
                    "this hub has no file to reload: build it with `reload_from(path)` or set {CONFIG_ENV_VAR}"
                ),
            });
        };
        // One reload at a time, so the outcome compares with the config it replaces.
        let _one_at_a_time = shared.reload.lock.lock().unwrap_or_else(|e| e.into_inner());
        let refused = |err| Error::Reload {
            path: path.display().to_string(),
            reason: Box::new(err),
        };
        let config = Config::from_path(path).map_err(refused)?;
        let state = shared.build_state(config).map_err(refused)?;
        let outcome = ReloadOutcome::between(path, &shared.state.load().config, &state.config);
        shared.state.store(Arc::new(state));
        Ok(outcome)
    }

    /// Sends a chat completion for `role` (the role if the config has it, else `defaults:`).
    /// `overrides` are merged over the role's params; an override wins.
    ///
    /// Errors: [`Error::UnknownRole`](crate::Error::UnknownRole),
    /// [`Error::ModeMismatch`](crate::Error::ModeMismatch) for a role that is not `chat` or
    /// `tool`, [`Error::EnvVarMissing`](crate::Error::EnvVarMissing) before any request if the
    /// key is missing, and the provider errors (`Http`, `RateLimited`, `Auth`, `Timeout`,
    /// `Transport`, `Decode`).
    pub fn completion(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> impl Future<Output = Result<ChatResponse>> {
        // Converted now, so that the future holds the messages once (as an `async fn` would
        // keep `messages` too).
        let messages = call::messages_of(&self.shared, RoleRef::Name(role), messages);
        async move {
            call::completion(
                &self.shared,
                RoleRef::Name(role),
                messages?,
                overrides.as_ref(),
            )
            .await
        }
    }

    /// Like [`Hub::completion`], with the reply parsed into a `T` (the typed handle's
    /// [`completion_json`](crate::RoleHandle::completion_json), which says how).
    pub async fn completion_json<T>(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> Result<T>
    where
        T: JsonSchema + DeserializeOwned + 'static,
    {
        call::completion_json::<T>(
            &self.shared,
            RoleRef::Name(role),
            messages,
            overrides.as_ref(),
        )
        .await
    }

    /// Like [`Hub::completion`], with `tools` the model may call (the typed handle's
    /// [`completion_with_tools`](crate::RoleHandle::completion_with_tools)).
    pub async fn completion_with_tools(
        &self,
        role: &str,
        messages: impl IntoMessages,
        tools: &[Tool],
        overrides: Option<Params>,
    ) -> Result<ChatResponse> {
        call::completion_with_tools(
            &self.shared,
            RoleRef::Name(role),
            messages,
            tools,
            overrides.as_ref(),
        )
        .await
    }

    /// The bounded tool loop of the typed handle's
    /// [`run_tools`](crate::RoleHandle::run_tools), for `role`.
    pub async fn run_tools(
        &self,
        role: &str,
        messages: impl IntoMessages,
        toolbox: &Toolbox,
        max_steps: usize,
        overrides: Option<Params>,
    ) -> Result<ToolRun> {
        tools::run_tools(
            &self.shared,
            RoleRef::Name(role),
            messages,
            toolbox,
            max_steps,
            overrides.as_ref(),
        )
        .await
    }

    /// Like [`Hub::completion`], but streams the reply as [`ChatChunk`](crate::ChatChunk)s
    /// (the typed handle's `stream`). Retries happen only before the stream starts.
    pub fn stream_completion(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> impl Future<Output = Result<ChatStream>> {
        // Converted now, as in `completion`.
        let messages = call::messages_of(&self.shared, RoleRef::Name(role), messages);
        async move {
            call::stream(
                &self.shared,
                RoleRef::Name(role),
                messages?,
                overrides.as_ref(),
            )
            .await
        }
    }

    /// Embeds one text or a batch with `role`, which must have mode `embedding`.
    pub async fn embedding(
        &self,
        role: &str,
        input: impl IntoEmbeddingInput,
        overrides: Option<Params>,
    ) -> Result<EmbeddingResponse> {
        call::embedding(&self.shared, RoleRef::Name(role), input, overrides.as_ref()).await
    }

    /// Generates images from `prompt` with `role`, which must have mode `image`
    /// (`POST {base_url}/images/generations`; `size`, `quality`, `n`, `response_format` and any
    /// other params pass through). An empty prompt, or one longer than the role's
    /// `max_prompt_chars` param, is refused before any request.
    pub async fn generate(
        &self,
        role: &str,
        prompt: &str,
        overrides: Option<Params>,
    ) -> Result<ImageResponse> {
        call::generate(
            &self.shared,
            RoleRef::Name(role),
            prompt,
            overrides.as_ref(),
        )
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
        call::transcribe(
            &self.shared,
            RoleRef::Name(role),
            &audio,
            overrides.as_ref(),
        )
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
        call::speech(&self.shared, RoleRef::Name(role), text, overrides.as_ref()).await
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
        call::raw(
            &self.shared,
            RoleRef::Name(role),
            path,
            &body,
            overrides.as_ref(),
        )
        .await
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.load();
        f.debug_struct("Hub")
            .field("config", &state.config)
            .field("providers", &state.providers)
            .field("keys", &self.shared.keys)
            .field("hooks", &self.shared.hooks)
            .field("settings", &self.shared.settings)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::message::Message;

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
