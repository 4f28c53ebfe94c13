//! The types of a validated `llmhub.yaml`: [`Config`] and its providers, roles, modes and
//! protocols.

use std::fmt;

use indexmap::IndexMap;

use crate::config::base_url::without_userinfo;
use crate::secret::SecretString;

/// Parameters of a call: role params, per-call overrides, `with_params`. Any JSON-like values.
pub type Params = serde_json::Map<String, serde_json::Value>;

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

    /// The methods a role of this mode has, on its typed handle and in the dynamic API (where
    /// `stream` is `stream_completion`).
    ///
    /// ```
    /// use llmhub_core::Mode;
    /// assert_eq!(Mode::Audio.methods(), ["transcribe", "speech"]);
    /// ```
    pub const fn methods(self) -> &'static [&'static str] {
        match self {
            Mode::Chat | Mode::Tool => &["completion", "completion_json", "stream"],
            Mode::Embedding => &["embedding"],
            Mode::Image => &["generate"],
            Mode::Audio => &["transcribe", "speech"],
            Mode::Other => &["raw"],
        }
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

/// The Azure OpenAI `api-version` sent when a provider sets no `api_version`: a current GA
/// version.
pub const AZURE_API_VERSION: &str = "2024-10-21";

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The OpenAI-compatible API (`/chat/completions`, `/embeddings`, …).
    OpenAi,
    /// The Anthropic Messages API (`/v1/messages`).
    Anthropic,
    /// Azure OpenAI: the OpenAI API under per-deployment URLs with an `api-version` query and
    /// the `api-key` header (or, with a base URL ending in `/openai/v1`, Azure's
    /// OpenAI-compatible v1 API).
    Azure,
}

impl Protocol {
    /// The name used in `llmhub.yaml`'s `api` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenAi => "openai",
            Protocol::Anthropic => "anthropic",
            Protocol::Azure => "azure",
        }
    }

    /// Parses an `api` value.
    pub fn parse(name: &str) -> Option<Protocol> {
        match name {
            "openai" => Some(Protocol::OpenAi),
            "anthropic" => Some(Protocol::Anthropic),
            "azure" => Some(Protocol::Azure),
            _ => None,
        }
    }

    /// Whether this protocol can serve roles of `mode`. The Anthropic protocol serves only
    /// `chat` and `tool`.
    pub const fn serves(self, mode: Mode) -> bool {
        match self {
            Protocol::OpenAi | Protocol::Azure => true,
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
///
/// Its `Debug` shows no header value and no user info of `base_url`.
#[derive(Clone, PartialEq)]
pub struct ProviderConfig {
    /// The provider id (the key under `providers:`).
    pub id: String,
    /// Name of the environment variable that holds the API key (the key itself is never here).
    pub env_key: Option<String>,
    /// Base URL, without a trailing `/` (from the file, or the built-in default).
    pub base_url: String,
    /// Wire protocol (from the file, or the built-in default).
    pub api: Protocol,
    /// Extra headers sent with every request. Their values are held as secrets (they often
    /// carry a key): `Debug` hides them, and errors mask them should a server echo one.
    pub headers: IndexMap<String, SecretString>,
    /// Whole-request timeout in milliseconds.
    pub timeout_ms: Option<u64>,
    /// How many times a failed request is retried.
    pub max_retries: Option<u32>,
    /// Whether a non-loopback `http://` base URL is allowed.
    pub allow_insecure_http: bool,
    /// The Azure OpenAI `api-version` (`api: azure` only; `None` means
    /// [`AZURE_API_VERSION`](crate::config::AZURE_API_VERSION)).
    pub api_version: Option<String>,
    /// How long a failing deployment on this provider is skipped, in milliseconds (default
    /// 30 s; a role's `cooldown_ms` wins).
    pub cooldown_ms: Option<u64>,
    /// Most requests in flight to this provider; further calls wait their turn.
    pub max_concurrency: Option<u32>,
    /// Most requests per minute to this provider.
    pub rpm: Option<u32>,
    /// Most tokens per minute to this provider (estimated before a call, corrected with the
    /// reply's usage).
    pub tpm: Option<u32>,
    /// Where the provider is defined in the file.
    pub span: Span,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("env_key", &self.env_key)
            .field("base_url", &without_userinfo(&self.base_url))
            .field("api", &self.api)
            .field("headers", &self.headers)
            .field("timeout_ms", &self.timeout_ms)
            .field("max_retries", &self.max_retries)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("span", &self.span)
            .finish()
    }
}

/// How a role with several deployments picks the one to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Routing {
    /// At random, in proportion to each deployment's `weight` (`weighted`, the default).
    #[default]
    Weighted,
    /// The deployment with the fewest calls in flight (`least-busy`).
    LeastBusy,
    /// The deployment with the lowest recent latency (`latency`).
    Latency,
}

impl Routing {
    /// Every strategy, in the order the docs list them.
    pub const ALL: [Routing; 3] = [Routing::Weighted, Routing::LeastBusy, Routing::Latency];

    /// The name used in `llmhub.yaml`'s `routing` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            Routing::Weighted => "weighted",
            Routing::LeastBusy => "least-busy",
            Routing::Latency => "latency",
        }
    }

    /// Parses a `routing` value.
    pub fn parse(name: &str) -> Option<Routing> {
        Routing::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Routing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a role's `deployments:`: a provider and model that serve the role.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// The provider id; always a key of [`Config::providers`] in a validated config.
    pub provider: String,
    /// The model name.
    pub model: String,
    /// The role's params overlaid by this deployment's own.
    pub params: Params,
    /// Its share of the calls under `routing: weighted` (default 1).
    pub weight: u32,
    /// Where the deployment is in the file.
    pub span: Span,
}

/// One entry of `roles:`, or the `defaults:` binding (then named `defaults`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleConfig {
    /// The role name (the key under `roles:`), or `defaults`.
    pub name: String,
    /// The provider id; always a key of [`Config::providers`] in a validated config. For a
    /// role with `deployments:`, the first deployment's.
    pub provider: String,
    /// The model name, passed to the provider as is. For a role with `deployments:`, the
    /// first deployment's.
    pub model: String,
    /// What calls the role serves.
    pub mode: Mode,
    /// Default parameters of every call. For a role with `deployments:`, the role's own
    /// (each deployment's params already include them).
    pub params: Params,
    /// The deployments calls are spread over; empty for a role bound to one `provider`.
    pub deployments: Vec<Deployment>,
    /// How a deployment is picked.
    pub routing: Routing,
    /// Roles tried in order when this one fails on a transient error (429, 5xx, a timeout, a
    /// failed connection).
    pub fallbacks: Vec<String>,
    /// How long a failing deployment is skipped, in milliseconds (wins over the provider's).
    pub cooldown_ms: Option<u64>,
    /// Where the role's key (or `defaults:`) is in the file.
    pub span: Span,
}

/// `shared:`: where the replicas of a service keep the limits and cooldowns they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedConfig {
    /// The environment variable that holds the Redis URL (`redis://host:6379/0`).
    pub redis_url_env: String,
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
    /// Fallback binding for roles not in the file (dynamic API only), named `defaults`.
    pub defaults: Option<RoleConfig>,
    /// Where limits and cooldowns are shared across replicas (used with the `redis`
    /// feature).
    pub shared: Option<SharedConfig>,
    /// The file name the config was read from, as given (for error messages).
    pub source_name: String,
}
