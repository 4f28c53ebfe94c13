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

pub mod config;
mod error;
#[cfg(feature = "client")]
pub mod media;
pub mod names;
mod resolve;
#[cfg(feature = "client")]
pub mod watch;

pub use config::{Config, Mode, Params, Protocol, ProviderConfig, RoleConfig, RoleDefaults, Span};
pub use error::{ConfigError, ConfigProblem, Error, Result};
pub use resolve::ResolvedCall;
