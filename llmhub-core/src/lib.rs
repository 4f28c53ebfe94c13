//! Core of [llmhub](https://docs.rs/llmhub): the `llmhub.yaml` schema, its loading and
//! validation (with file, line and column for every problem), role resolution and, with the
//! default `client` feature, the runtime that calls the providers.
//!
//! Most users depend on the `llmhub` facade crate instead, which re-exports everything here.
//!
//! ```
//! use llmhub_core::{Config, Mode};
//!
//! let config = Config::from_yaml_str(r#"
//! project: demo
//! env: dev
//! providers:
//!   openai: { env_key: OPENAI_API_KEY }
//! roles:
//!   llm.inference: { provider: openai, model: gpt-4.1, mode: chat }
//! "#)?;
//! let call = config.resolve("llm.inference", None)?;
//! assert_eq!(call.model, "gpt-4.1");
//! assert_eq!(call.mode, Mode::Chat);
//! # Ok::<(), llmhub_core::Error>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "client")]
mod compiled;
pub mod config;
mod error;
#[cfg(feature = "client")]
mod handle;
#[cfg(feature = "client")]
mod hooks;
#[cfg(feature = "client")]
mod hub;
#[cfg(feature = "client")]
pub mod media;
#[cfg(feature = "client")]
mod message;
pub mod names;
#[cfg(feature = "client")]
mod providers;
#[cfg(feature = "client")]
pub mod reload;
mod resolve;
#[cfg(feature = "client")]
mod response;
#[cfg(feature = "client")]
mod retry;
#[cfg(feature = "client")]
mod secret;
#[cfg(feature = "client")]
mod stream;
#[cfg(feature = "client")]
pub mod watch;

pub use config::{Config, Mode, Params, Protocol, ProviderConfig, RoleConfig, RoleDefaults, Span};
pub use error::{ConfigError, ConfigProblem, Error, MissingEnvVar, Result};
pub use resolve::{ResolvedCall, merge_params};

#[cfg(feature = "client")]
pub use compiled::{GeneratedRoles, RolesBuilder};
#[cfg(feature = "client")]
pub use handle::{
    AudioRole, ChatRole, EmbeddingRole, ImageRole, OtherRole, RoleCall, RoleHandle, SupportsAudio,
    SupportsChat, SupportsEmbedding, SupportsImage, SupportsOther, ToolRole, mode,
};
#[cfg(feature = "client")]
pub use hooks::{AfterCallHook, BeforeCallHook, CallContext, CallInput, CallResult};
#[cfg(feature = "client")]
pub use hub::{Hub, HubBuilder};
#[cfg(feature = "client")]
pub use media::{AudioFile, GeneratedImage, ImageResponse, Speech, Transcription};
#[cfg(feature = "client")]
pub use message::{
    Content, EmbeddingInput, FunctionCall, IntoEmbeddingInput, IntoMessages, Message, Role,
    ToolCall,
};
#[cfg(feature = "client")]
pub use providers::anthropic::DEFAULT_MAX_TOKENS;
#[cfg(feature = "client")]
pub use reload::ReloadOutcome;
#[cfg(feature = "client")]
pub use response::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Completion, Delta, Embedding, EmbeddingResponse,
    FinishReason, FunctionDelta, ResponseMessage, ToolCallDelta, Usage,
};
#[cfg(feature = "client")]
pub use secret::SecretString;
#[cfg(feature = "client")]
pub use stream::ChatStream;
