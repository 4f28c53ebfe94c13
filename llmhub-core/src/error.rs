//! The one error type of llmhub.

use std::fmt;
use std::time::Duration;

use crate::config::{Mode, Span};

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

    /// The provider is rate limiting us (HTTP 429), and the retries are used up.
    #[error("{provider} is rate limiting requests (HTTP 429){}: {message}; slow down or raise `max_retries`",
        retry_after.map(|d| format!(", retry after {:.1}s", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// Provider id.
        provider: String,
        /// The delay the provider asked for, if any.
        retry_after: Option<Duration>,
        /// The provider's error message.
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

    /// An input was refused before any request was sent (empty audio, bad file name, …).
    #[error("invalid input for role `{role}`: {message}")]
    InvalidInput {
        /// The role.
        role: String,
        /// What is wrong and how to fix it.
        message: String,
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
    pub fn config_problems(&self) -> &[ConfigProblem] {
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

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The problems, in file order.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// Wraps a list of problems.
    pub fn new(problems: Vec<ConfigProblem>) -> ConfigError {
        ConfigError { problems }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        if count > 1 {
            writeln!(f, "{count} problems in the llmhub config:")?;
        }
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// One problem in a config file, located by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file name, as given (or `<string>` for text parsed from memory).
    pub file: String,
    /// 1-based line, or 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, or 0 when the problem concerns the whole file.
    pub column: usize,
    /// Length of the offending text, in characters (for underlining).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// The offending line of the file, if there is one.
    pub source_line: Option<String>,
    /// How to fix it, where a hint helps.
    pub hint: Option<String>,
}

impl ConfigProblem {
    /// A problem that concerns the whole file (unreadable, too large, …).
    pub fn whole_file(file: &str, message: impl Into<String>, hint: Option<&str>) -> ConfigProblem {
        ConfigProblem {
            file: file.to_owned(),
            line: 0,
            column: 0,
            len: 0,
            message: message.into(),
            source_line: None,
            hint: hint.map(str::to_owned),
        }
    }

    /// A problem at `span` of the config `text`.
    pub fn at(
        file: &str,
        text: &str,
        span: Span,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigProblem {
        ConfigProblem {
            file: file.to_owned(),
            line: span.line,
            column: span.column,
            len: span.len.max(1),
            message: message.into(),
            source_line: text
                .lines()
                .nth(span.line.saturating_sub(1))
                .map(|line| line.trim_end().to_owned()),
            hint,
        }
    }
}

impl fmt::Display for ConfigProblem {
    /// Renders the problem like a compiler diagnostic:
    ///
    /// ```text
    /// error: role `llm.inference` uses provider `opneai`, which is not defined under `providers:`
    ///   --> llmhub.yaml:12:15
    ///    |
    /// 12 |     provider: opneai
    ///    |               ^^^^^^
    ///    = help: did you mean `openai`?
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", LocatedMessage(self))
    }
}

impl ConfigProblem {
    /// The problem as [`Display`](fmt::Display) renders it, without the leading `error: `: for
    /// a compiler that adds its own (the `roles!` macro's compile errors).
    pub fn located_message(&self) -> String {
        LocatedMessage(self).to_string()
    }
}

/// The message, then the `--> file:line:col` block, the offending line and the hint.
struct LocatedMessage<'a>(&'a ConfigProblem);

impl fmt::Display for LocatedMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let LocatedMessage(this) = self;
        writeln!(f, "{}", this.message)?;
        if this.line == 0 {
            write!(f, "  --> {}", this.file)?;
        } else {
            let gutter = " ".repeat(this.line.to_string().len());
            write!(f, "{gutter}--> {}:{}:{}", this.file, this.line, this.column)?;
            if let Some(source) = &this.source_line {
                let indent: String = source
                    .chars()
                    .take(this.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(
                    f,
                    "\n{gutter} |\n{} | {source}\n{gutter} | {indent}{}",
                    this.line,
                    "^".repeat(this.len.max(1))
                )?;
            }
        }
        if let Some(hint) = &this.hint {
            let gutter = " ".repeat(this.line.max(1).to_string().len());
            write!(f, "\n{gutter} = help: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn located_message_is_the_display_without_its_error_prefix() {
        let text = "roles:\n  llm.inference:\n    provider: opneai\n";
        let span = Span {
            line: 3,
            column: 15,
            len: 6,
        };
        let problem = ConfigProblem::at(
            "llmhub.yaml",
            text,
            span,
            "unknown provider",
            Some("did you mean `openai`?".into()),
        );
        let located = problem.located_message();
        assert_eq!(problem.to_string(), format!("error: {located}"));
        assert_eq!(
            located,
            "unknown provider\n --> llmhub.yaml:3:15\n  |\n3 |     provider: opneai\n  |               ^^^^^^\n  = help: did you mean `openai`?"
        );
    }
}
