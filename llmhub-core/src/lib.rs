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
//!
//! With the `client` feature, [`Hub`] runs the calls (chat, streaming, tools, embeddings) over
//! the OpenAI-compatible and Anthropic protocols, with retries, timeouts, hooks, `tracing` spans
//! and keys that never leave a redacting type; the typed handles ([`ChatRole`],
//! [`EmbeddingRole`], …) are what generated code returns. The `blocking` feature adds
//! `blocking::Hub`.
#![deny(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
#[cfg(feature = "client")]
mod client;
pub mod config;
mod error;
mod secret;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{
    Config, ConfigError, ConfigProblem, Deployment, Mode, Params, Protocol, ProviderConfig,
    ReloadOutcome, ResolvedCall, RoleConfig, Routing, SharedConfig, Span, merge_params,
};
pub use error::{Error, MissingEnvVar, Result};
pub use secret::SecretString;

/// The runtime (feature `client`).
#[cfg(feature = "client")]
pub use client::{
    builder::{BuildTarget, HubBuilder},
    generated::RolesBuilder,
    handle::{
        AudioRole, ChatRole, EmbeddingRole, ImageRole, OtherRole, RoleCall, RoleHandle,
        SupportsAudio, SupportsChat, SupportsEmbedding, SupportsImage, SupportsOther, ToolRole,
        mode,
    },
    hooks::{AfterCallHook, Attempt, BeforeCallHook, CallContext, CallResult},
    hub::Hub,
    kind::CallInput,
    media::{AudioFile, GeneratedImage, ImageResponse, Speech, Transcription},
    message::{
        Content, EmbeddingInput, FunctionCall, IntoEmbeddingInput, IntoMessages, Message, Part,
        ReasoningBlock, Role, ToolCall,
    },
    protocol::anthropic::DEFAULT_MAX_TOKENS,
    response::{
        ChatChunk, ChatResponse, Choice, ChunkChoice, Completion, Delta, Embedding,
        EmbeddingResponse, FinishReason, FunctionDelta, ResponseMessage, ToolCallDelta, Usage,
    },
    stream::ChatStream,
    tool::Tool,
    tools::{ToolError, ToolRun, Toolbox},
};
#[cfg(feature = "client")]
pub use client::{media, reload, watch};
/// The `schemars` crate, whose `JsonSchema` derive gives the types of
/// [`completion_json`](crate::RoleHandle::completion_json) and [`Tool`] their schema. Derive
/// through this path with `#[schemars(crate = "llmhub::schemars")]`, or depend on `schemars`
/// 1.x directly.
#[cfg(feature = "client")]
pub use schemars;

/// What only generated code (`llmhub::roles!`, build scripts) and llmhub's own crates use. Not
/// part of the documented API: it may change in any release.
#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "client")]
    pub use crate::client::generated::{
        GeneratedRoles, checked_from_hub, compiled_roles, handle, with_compiled_roles,
    };
    pub use crate::config::names::method_name;
    /// The keys the validator accepts at the top level, in a provider and in a role (for
    /// tools that describe the schema, such as the JSON Schema of `llmhub.yaml`).
    pub use crate::config::validate::{
        DEPLOYMENT_KEYS, MAX_DEPLOYMENTS, PROVIDER_KEYS, ROLE_KEYS, SHARED_KEYS, TOP_KEYS,
    };
}
