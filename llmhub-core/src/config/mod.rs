//! The `llmhub.yaml` schema (SPEC §3): types, loading and validation.
//!
//! [`Config::from_yaml_str`] and [`Config::from_path`] parse and validate a file in one step and
//! report every problem they find together, each with its line and column, in an
//! [`Error::Config`].

mod builtin;
mod validate;
mod yaml;

use std::fmt;
use std::path::Path;

use indexmap::IndexMap;

use crate::error::{ConfigError, ConfigProblem, Error, Result};

pub use builtin::{BUILTIN_PROVIDERS, BuiltinProvider, builtin_provider};
#[cfg(feature = "client")]
pub(crate) use validate::check_base_url;
pub(crate) use validate::closest;

/// Parameters of a call: role params, per-call overrides, `with_params`. Any JSON-like values.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// The largest config file accepted, in bytes (1 MiB).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// A position in the config file: 1-based line and column, and the length of the value in
/// characters (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Length of the spanned text in characters, for underlining (at least 1).
    pub len: usize,
}

/// What kind of calls a role serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Chat completions.
    Chat,
    /// Embeddings.
    Embedding,
    /// Image generation.
    Image,
    /// Speech-to-text and text-to-speech.
    Audio,
    /// Chat completions with tool calling.
    Tool,
    /// Any other endpoint, reached with a raw JSON call.
    Other,
}

impl Mode {
    /// Every mode, in the order the docs list them.
    pub const ALL: [Mode; 6] = [
        Mode::Chat,
        Mode::Embedding,
        Mode::Image,
        Mode::Audio,
        Mode::Tool,
        Mode::Other,
    ];

    /// The name used in `llmhub.yaml` (`"chat"`, `"embedding"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::Embedding => "embedding",
            Mode::Image => "image",
            Mode::Audio => "audio",
            Mode::Tool => "tool",
            Mode::Other => "other",
        }
    }

    /// Parses a mode name as written in `llmhub.yaml`.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.as_str() == name)
    }

    /// Whether chat calls (`completion`, `stream`) are allowed on a role of this mode.
    pub const fn is_chat(self) -> bool {
        matches!(self, Mode::Chat | Mode::Tool)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The OpenAI-compatible API (`/chat/completions`, `/embeddings`, …).
    OpenAi,
    /// The Anthropic Messages API (`/v1/messages`).
    Anthropic,
}

impl Protocol {
    /// The name used in `llmhub.yaml`'s `api` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai",
            Protocol::Anthropic => "anthropic",
        }
    }

    /// Parses an `api` value.
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "openai" => Some(Protocol::OpenAi),
            "anthropic" => Some(Protocol::Anthropic),
            _ => None,
        }
    }

    /// Whether this protocol can serve roles of `mode`. The Anthropic protocol serves only
    /// `chat` and `tool`.
    pub const fn serves(self, mode: Mode) -> bool {
        match self {
            Protocol::OpenAi => true,
            Protocol::Anthropic => mode.is_chat(),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `providers:`, with `api` and `base_url` already filled in from the built-in
/// table where the file leaves them out.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// The provider id (the key under `providers:`).
    pub id: String,
    /// Name of the environment variable that holds the API key (the key itself is never here).
    pub env_key: Option<String>,
    /// Base URL, without a trailing `/` (from the file, or the built-in default).
    pub base_url: String,
    /// Wire protocol (from the file, or the built-in default).
    pub api: Protocol,
    /// Extra headers sent with every request.
    pub headers: IndexMap<String, String>,
    /// Whole-request timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// How many times a failed request is retried.
    pub max_retries: Option<u32>,
    /// Whether a non-loopback `http://` base URL is allowed.
    pub allow_insecure_http: bool,
    /// Where the provider is defined in the file.
    pub span: Span,
}

/// One entry of `roles:`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// The role name (the key under `roles:`).
    pub name: String,
    /// The provider id; always a key of [`Config::providers`] in a validated config.
    pub provider: String,
    /// The model name, passed to the provider as is.
    pub model: String,
    /// What calls the role serves.
    pub mode: Mode,
    /// Default parameters of every call.
    pub params: Params,
    /// Where the role's key is in the file.
    pub span: Span,
}

/// The optional `defaults:` binding, used by the dynamic API for roles not in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDefaults {
    /// The provider id.
    pub provider: String,
    /// The model name.
    pub model: String,
    /// What calls the binding serves.
    pub mode: Mode,
    /// Default parameters.
    pub params: Params,
    /// Where `defaults:` is in the file.
    pub span: Span,
}

/// A validated `llmhub.yaml`.
///
/// Roles and providers keep the order of the file; a role's position in [`Config::roles`] is its
/// index, which typed calls use instead of its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Logical project name.
    pub project: String,
    /// Environment (`dev`, `staging`, `prod`, …).
    pub env: String,
    /// Providers by id.
    pub providers: IndexMap<String, ProviderConfig>,
    /// Roles by name.
    pub roles: IndexMap<String, RoleConfig>,
    /// Fallback binding for unknown roles.
    pub defaults: Option<RoleDefaults>,
    /// The file name the config was read from, as given (for error messages).
    pub source_name: String,
}

impl Config {
    /// Reads and validates a config file (the original `load_runtime_config`).
    ///
    /// Every problem is reported at once in [`Error::Config`], each naming `path` as given.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        Config::from_path_named(path, &path.display().to_string())
    }

    /// Reads and validates a config file, naming it `source_name` in errors (code generation
    /// reads an absolute path and names the file relative to the crate, so messages stay short
    /// and portable).
    pub fn from_path_named(path: impl AsRef<Path>, source_name: &str) -> Result<Config> {
        let text = read_config_file(path.as_ref(), source_name)?;
        Config::from_yaml_str_named(&text, source_name)
    }

    /// Parses and validates a config held in memory (the original `parse_runtime_config`).
    /// Errors name the file `<string>`; see [`Config::from_yaml_str_named`].
    pub fn from_yaml_str(text: &str) -> Result<Config> {
        Config::from_yaml_str_named(text, "<string>")
    }

    /// Parses and validates a config held in memory, naming it `source_name` in errors.
    pub fn from_yaml_str_named(text: &str, source_name: &str) -> Result<Config> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::Config(ConfigError::new(vec![
                ConfigProblem::whole_file(
                    source_name,
                    format!(
                        "the config is {} bytes; the limit is {} bytes (1 MiB)",
                        text.len(),
                        MAX_CONFIG_BYTES
                    ),
                    Some("a generated llmhub.yaml is a few KiB; check that this is the right file"),
                ),
            ])));
        }
        validate::parse_and_validate(text, source_name)
    }

    /// The role named `name`, if the file has it.
    pub fn role(&self, name: &str) -> Option<&RoleConfig> {
        self.roles.get(name)
    }

    /// The provider `id`, if the file defines it.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.get(id)
    }
}

/// Reads a config file, refusing files over [`MAX_CONFIG_BYTES`] before reading them whole.
fn read_config_file(path: &Path, name: &str) -> Result<String> {
    use std::io::Read;
    let unreadable = |err: std::io::Error| {
        Error::Config(ConfigError::new(vec![ConfigProblem::whole_file(
            name,
            format!("cannot read the config file: {err}"),
            Some("check the path; a relative path is relative to the current directory"),
        )]))
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(Error::Config(ConfigError::new(vec![
            ConfigProblem::whole_file(
                name,
                format!("the config file is larger than {MAX_CONFIG_BYTES} bytes (1 MiB)"),
                Some("a generated llmhub.yaml is a few KiB; check that this is the right file"),
            ),
        ])));
    }
    String::from_utf8(bytes).map_err(|err| {
        Error::Config(ConfigError::new(vec![ConfigProblem::whole_file(
            name,
            format!(
                "the config file is not valid UTF-8 (byte {})",
                err.utf8_error().valid_up_to()
            ),
            Some("save the file as UTF-8"),
        )]))
    })
}
