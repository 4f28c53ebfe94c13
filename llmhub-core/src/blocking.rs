//! The same calls without async (feature `blocking`), in the manner of `reqwest::blocking`.
//!
//! A [`blocking::Hub`](Hub) wraps an async [`crate::Hub`] and a private one-worker tokio
//! runtime; each call blocks the calling thread until the reply is in. Do not use it inside an
//! async runtime (blocking there panics, as `reqwest::blocking` does): use [`crate::Hub`].
//!
//! ```no_run
//! use llmhub_core::{Message, blocking::Hub};
//!
//! let hub = Hub::from_path("llmhub.yaml")?;
//! let reply = hub.completion("llm.inference", [Message::user("Hello")], None)?;
//! println!("{}", reply.text().unwrap_or_default());
//! for chunk in hub.stream_completion("llm.inference", [Message::user("Count to 3")], None)? {
//!     print!("{}", chunk?.text().unwrap_or_default());
//! }
//! # Ok::<(), llmhub_core::Error>(())
//! ```

use std::sync::Arc;

use futures_util::StreamExt;

use crate::client::message::{IntoEmbeddingInput, IntoMessages};
use crate::client::response::{ChatChunk, ChatResponse, EmbeddingResponse};
use crate::config::{Config, Params};
use crate::error::{Error, Result};

/// A blocking hub: [`crate::Hub`]'s calls, each blocking until its reply is in. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    hub: crate::Hub,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Hub {
    /// Wraps an async hub (built with [`crate::Hub::builder`] for hooks, keys, timeouts, …).
    pub fn new(hub: crate::Hub) -> Result<Hub> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("llmhub-blocking")
            .enable_all()
            .build()
            .map_err(|err| Error::Setup {
                message: format!("cannot start the blocking runtime: {err}"),
            })?;
        Ok(Hub {
            hub,
            runtime: Arc::new(runtime),
        })
    }

    /// A blocking hub for the config file at `path`.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Hub> {
        Hub::new(crate::Hub::from_path(path)?)
    }

    /// A blocking hub for a config held in memory.
    pub fn from_yaml_str(text: &str) -> Result<Hub> {
        Hub::new(crate::Hub::from_yaml_str(text)?)
    }

    /// A blocking hub for a config already loaded.
    pub fn from_config(config: Config) -> Result<Hub> {
        Hub::new(crate::Hub::from_config(config)?)
    }

    /// The async hub inside.
    pub fn hub(&self) -> &crate::Hub {
        &self.hub
    }

    /// See [`crate::Hub::completion`].
    pub fn completion(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> Result<ChatResponse> {
        self.runtime
            .block_on(self.hub.completion(role, messages, overrides))
    }

    /// See [`crate::Hub::completion_json`].
    pub fn completion_json<T>(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> Result<T>
    where
        T: schemars::JsonSchema + serde::de::DeserializeOwned + 'static,
    {
        self.runtime
            .block_on(self.hub.completion_json(role, messages, overrides))
    }

    /// See [`crate::Hub::completion_with_tools`].
    pub fn completion_with_tools(
        &self,
        role: &str,
        messages: impl IntoMessages,
        tools: &[crate::Tool],
        overrides: Option<Params>,
    ) -> Result<ChatResponse> {
        self.runtime.block_on(
            self.hub
                .completion_with_tools(role, messages, tools, overrides),
        )
    }

    /// See [`crate::Hub::run_tools`]; the tools' futures run on the blocking hub's runtime.
    pub fn run_tools(
        &self,
        role: &str,
        messages: impl IntoMessages,
        toolbox: &crate::Toolbox,
        max_steps: usize,
        overrides: Option<Params>,
    ) -> Result<crate::ToolRun> {
        self.runtime.block_on(
            self.hub
                .run_tools(role, messages, toolbox, max_steps, overrides),
        )
    }

    /// See [`crate::Hub::stream_completion`]; the stream is an iterator of chunks.
    pub fn stream_completion(
        &self,
        role: &str,
        messages: impl IntoMessages,
        overrides: Option<Params>,
    ) -> Result<ChatStream> {
        let stream = self
            .runtime
            .block_on(self.hub.stream_completion(role, messages, overrides))?;
        Ok(ChatStream {
            stream,
            runtime: self.runtime.clone(),
        })
    }

    /// See [`crate::Hub::embedding`].
    pub fn embedding(
        &self,
        role: &str,
        input: impl IntoEmbeddingInput,
        overrides: Option<Params>,
    ) -> Result<EmbeddingResponse> {
        self.runtime
            .block_on(self.hub.embedding(role, input, overrides))
    }

    /// See [`crate::Hub::generate`].
    pub fn generate(
        &self,
        role: &str,
        prompt: &str,
        overrides: Option<Params>,
    ) -> Result<crate::ImageResponse> {
        self.runtime
            .block_on(self.hub.generate(role, prompt, overrides))
    }

    /// See [`crate::Hub::transcribe`].
    pub fn transcribe(
        &self,
        role: &str,
        audio: crate::AudioFile,
        overrides: Option<Params>,
    ) -> Result<crate::Transcription> {
        self.runtime
            .block_on(self.hub.transcribe(role, audio, overrides))
    }

    /// See [`crate::Hub::speech`].
    pub fn speech(
        &self,
        role: &str,
        text: &str,
        overrides: Option<Params>,
    ) -> Result<crate::Speech> {
        self.runtime
            .block_on(self.hub.speech(role, text, overrides))
    }

    /// See [`crate::Hub::raw`].
    pub fn raw(
        &self,
        role: &str,
        path: &str,
        body: serde_json::Value,
        overrides: Option<Params>,
    ) -> Result<serde_json::Value> {
        self.runtime
            .block_on(self.hub.raw(role, path, body, overrides))
    }

    /// See [`crate::Hub::reload`].
    pub fn reload(&self) -> Result<crate::ReloadOutcome> {
        self.hub.reload()
    }
}

/// A streamed reply, as a blocking iterator of [`ChatChunk`]s.
#[derive(Debug)]
pub struct ChatStream {
    stream: crate::ChatStream,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl Iterator for ChatStream {
    type Item = Result<ChatChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        self.runtime.block_on(self.stream.next())
    }
}
