//! The one error type of llmhub.

use std::time::Duration;

use crate::config::problem::ConfigError;
use crate::config::types::Mode;

/// A `Result` whose error is [`llmhub::Error`](Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in llmhub. Each message says what happened and what to do.
///
/// API keys never appear in any variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config file is unreadable or invalid. Holds every problem found, each with its
    /// file, line and column.
    #[error("{0}")]
    Config(ConfigError),

    /// A role that is not in the config, and the config has no `defaults:` to fall back on.
    #[error(
        "unknown role `{role}`: it is not under `roles:` and the config has no `defaults:`{}",
        suggestion.as_deref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    UnknownRole {
        /// The role asked for.
        role: String,
        /// The closest role name in the config, if one is close.
        suggestion: Option<String>,
    },

    /// A role (or `defaults:`) names a provider that is not under `providers:`.
    #[error(
        "role `{role}` uses provider `{provider}`, which is not defined under `providers:`; add it there or change the role's provider"
    )]
    UnknownProvider {
        /// The role asked for.
        role: String,
        /// The provider id it names.
        provider: String,
    },

    /// One or more API key environment variables are not set.
    #[error("{}", missing_env_message(.missing))]
    EnvVarMissing {
        /// Every missing variable, with the provider that needs it.
        missing: Vec<MissingEnvVar>,
    },

    /// A call that the role's mode does not allow (a chat call on an embedding role, …).
    #[error("role `{role}` has mode `{mode}`, which does not allow `{call}`; {hint}")]
    ModeMismatch {
        /// The role.
        role: String,
        /// Its mode.
        mode: Mode,
        /// The call that was attempted (`completion`, `embedding`, …).
        call: &'static str,
        /// What to call instead.
        hint: String,
    },

    /// A reload was refused; the previous config stays in force.
    #[error("reload of `{path}` refused, the previous config stays in force: {reason}")]
    Reload {
        /// The file that was reloaded.
        path: String,
        /// Why it was refused (a config error, or an incompatible change).
        reason: Box<Error>,
    },

    /// The provider answered with an error status.
    #[error("{provider} answered HTTP {status}: {}", display_body(.body))]
    Http {
        /// Provider id.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// The provider's error message (or the start of its body).
        body: String,
        /// The delay the provider asked for, if any.
        retry_after: Option<Duration>,
    },

    /// The provider is rate limiting us (HTTP 429), and the retries are used up (or it asked
    /// for a longer wait than the builder's `retry_after_ceiling`).
    #[error("{provider} is rate limiting requests (HTTP 429){}: {message}; slow down, or raise `max_retries` (and `retry_after_ceiling` for a longer wait)",
        retry_after.map(|d| format!(", retry after {:.1}s", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// Provider id.
        provider: String,
        /// The delay the provider asked for, if any.
        retry_after: Option<Duration>,
        /// The provider's error message.
        message: String,
    },

    /// The provider answered with a redirect (HTTP 3xx). llmhub does not follow redirects: the
    /// key and the headers would go to wherever the `Location` points.
    #[error(
        "{provider} answered HTTP {status} redirect to {}; llmhub does not follow redirects (the key would go to another host): set the provider's `base_url` to the final URL",
        location.as_deref().unwrap_or("(no Location)")
    )]
    Redirect {
        /// Provider id.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// Where the provider pointed, without user info, query or fragment.
        location: Option<String>,
    },

    /// A reply (or one event of a stream) is larger than the cap set for it.
    #[error(
        "{provider}: the {what} is larger than the cap of {limit} bytes; if the provider is right to send that much, raise the cap with `HubBuilder::{setter}`"
    )]
    TooLarge {
        /// Provider id.
        provider: String,
        /// What was too large (`reply body`, `stream event`).
        what: &'static str,
        /// The cap, in bytes.
        limit: usize,
        /// The builder setter that raises it.
        setter: &'static str,
    },

    /// A call waited longer than the request timeout for its provider's own limits
    /// (`max_concurrency`, `rpm`, `tpm`) and was not sent.
    #[error("{provider}: {message}")]
    Limited {
        /// Provider id.
        provider: String,
        /// Which limits held the call, and what to do.
        message: String,
    },

    /// The provider refused the credentials (HTTP 401 or 403).
    #[error(
        "{provider} refused the API key (HTTP {status}): {message}; check the key in the provider's `env_key` variable"
    )]
    Auth {
        /// Provider id.
        provider: String,
        /// HTTP status code.
        status: u16,
        /// The provider's error message.
        message: String,
    },

    /// A request (or the wait for the next stream chunk) took too long.
    #[error("{provider}: {what} timed out after {:.1}s; raise `timeout_ms` or check the provider", after.as_secs_f64())]
    Timeout {
        /// Provider id.
        provider: String,
        /// What timed out (`request`, `connect`, `stream idle`).
        what: &'static str,
        /// The limit that was hit.
        after: Duration,
    },

    /// The request could not be sent or the connection broke.
    #[error("{provider}: connection failed: {message}")]
    Transport {
        /// Provider id.
        provider: String,
        /// What went wrong.
        message: String,
    },

    /// The caller dropped the call (its future or its stream) before it finished, for example
    /// on a timeout around it; what the provider had sent so far was not read. Only hooks and
    /// tracing see this error, since no caller is left to get it.
    #[error(
        "{provider}: the call was cancelled: the caller dropped it before it finished, so its reply was not read; if that was not meant, keep awaiting the call (or the stream) to its end"
    )]
    Cancelled {
        /// Provider id.
        provider: String,
    },

    /// The provider's answer could not be understood.
    #[error("{provider}: could not decode the response: {message}")]
    Decode {
        /// Provider id.
        provider: String,
        /// What went wrong.
        message: String,
    },

    /// A file could not be read or watched.
    #[error("cannot use `{path}`: {message}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
    },

    /// llmhub could not be set up as asked: a hub builder without a config, `watch(true)`
    /// without a file, `reload()` on a hub with no file, an HTTP client or a runtime that
    /// cannot be built.
    #[error("{message}")]
    Setup {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// An input was refused before any request was sent (empty audio, bad file name, …).
    #[error("invalid input for role `{role}`: {message}")]
    InvalidInput {
        /// The role.
        role: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A structured reply (`completion_json`) that does not fit the requested type, after
    /// the repair rounds.
    #[error(
        "role `{role}`: the reply does not fit the requested type at `{path}`: {message}; the raw reply is in this error's `raw`; raise the role's `json_repair_retries` or loosen the type"
    )]
    Structured {
        /// The role.
        role: String,
        /// Where in the value it failed (`items[2].price`; `.` for the whole value).
        path: String,
        /// What serde said.
        message: String,
        /// The model's last reply, as received.
        raw: String,
    },

    /// A tool call whose arguments do not fit the tool's argument type.
    #[error(
        "the arguments of the call to tool `{tool}` do not fit its type at `{path}`: {message}"
    )]
    ToolArguments {
        /// The tool.
        tool: String,
        /// Where in the arguments it failed (`city`; `.` for the whole value).
        path: String,
        /// What serde said.
        message: String,
    },

    /// A tool loop (`run_tools`) whose model still called tools after `max_steps` calls.
    #[cfg(feature = "client")]
    #[error(
        "role `{role}`: the model still called tools after {max_steps} steps; raise `max_steps` or check the tools' results (the conversation is in this error's `transcript`)"
    )]
    ToolLoop {
        /// The role.
        role: String,
        /// The limit that was reached.
        max_steps: usize,
        /// The conversation so far: the messages sent, each tool call and each result.
        transcript: Vec<crate::client::message::Message>,
    },
}

fn display_body(body: &str) -> &str {
    if body.is_empty() {
        "(empty body)"
    } else {
        body
    }
}

fn missing_env_message(missing: &[MissingEnvVar]) -> String {
    let list: Vec<String> = missing
        .iter()
        .map(|m| format!("`{}` (provider `{}`)", m.var, m.provider))
        .collect();
    format!(
        "API key environment variable{} not set: {}; export {} or give the key to the builder",
        if missing.len() == 1 { " is" } else { "s are" },
        list.join(", "),
        if missing.len() == 1 { "it" } else { "them" },
    )
}

impl Error {
    /// A config error about the whole of `file` (unreadable, too large, a builder setting
    /// that does not fit it), with a hint.
    pub(crate) fn config_file(file: &str, message: impl Into<String>, hint: &str) -> Error {
        Error::Config(ConfigError::new(vec![
            crate::config::problem::ConfigProblem::whole_file(file, message, Some(hint)),
        ]))
    }

    /// Replaces `secret` (an API key a provider echoed back) with `***` in the provider's
    /// message of this error.
    #[cfg(feature = "client")]
    pub(crate) fn mask_secret(self, secret: &str) -> Error {
        if secret.is_empty() {
            return self;
        }
        let mask = |text: String| {
            if text.contains(secret) {
                text.replace(secret, "***")
            } else {
                text
            }
        };
        match self {
            Error::Http {
                provider,
                status,
                body,
                retry_after,
            } => Error::Http {
                provider,
                status,
                body: mask(body),
                retry_after,
            },
            Error::RateLimited {
                provider,
                retry_after,
                message,
            } => Error::RateLimited {
                provider,
                retry_after,
                message: mask(message),
            },
            Error::Auth {
                provider,
                status,
                message,
            } => Error::Auth {
                provider,
                status,
                message: mask(message),
            },
            Error::Transport { provider, message } => Error::Transport {
                provider,
                message: mask(message),
            },
            Error::Decode { provider, message } => Error::Decode {
                provider,
                message: mask(message),
            },
            Error::Redirect {
                provider,
                status,
                location,
            } => Error::Redirect {
                provider,
                status,
                location: location.map(mask),
            },
            other => other,
        }
    }

    /// Whether this is a config error.
    pub fn is_config(&self) -> bool {
        matches!(self, Error::Config(_))
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The config problems, if this is a config error (or a reload refused because of one).
    pub fn config_problems(&self) -> &[crate::ConfigProblem] {
        match self {
            Error::Config(err) => &err.problems,
            Error::Reload { reason, .. } => reason.config_problems(),
            _ => &[],
        }
    }
}

/// An environment variable that should hold an API key and is not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingEnvVar {
    /// Provider id.
    pub provider: String,
    /// Variable name.
    pub var: String,
}
