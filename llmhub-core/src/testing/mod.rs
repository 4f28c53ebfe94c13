//! A test kit for applications that call roles (feature `testing`): build your generated
//! `Roles` (or a [`Hub`](crate::Hub)) on a [`Mock`] instead of the network, script what each role's model
//! answers, and assert on what the role was asked.
//!
//! The mock is a real HTTP server on loopback, started in-process, that answers in the wire
//! format of each role's protocol (OpenAI-compatible or Anthropic). Every call goes through
//! llmhub's real request and response path: the role's params, the protocol translation, the
//! auth header, retries, hooks, decoding. What passes here passes against the provider.
//!
//! ```no_run
//! # // `Roles` comes from `llmhub::roles!("llmhub.yaml")` in a real application.
//! # use llmhub_core::{Hub as Roles, Message};
//! use llmhub_core::testing::Mock;
//!
//! # async fn demo() -> llmhub_core::Result<()> {
//! let mock = Mock::from_path("llmhub.yaml")?;
//! mock.script("llm.inference").text("Paris.");
//! mock.script("llm.embedding").embedding(vec![0.1, 0.2, 0.3]);
//! mock.script("llm.memwrite").error(429, "slow down");
//!
//! let roles: Roles = mock.build()?;
//! // … run the application code that calls the roles …
//!
//! let asked = mock.requests("llm.inference");
//! assert_eq!(asked[0].body["messages"][0]["content"], "What is the capital of France?");
//! # Ok(()) }
//! ```
//!
//! Replies are used in the order they were scripted, one per request; a request with nothing
//! left to answer gets HTTP 500 with a message naming the role. Hubs built by the mock do not
//! retry ([`HubBuilder::max_retries`]`(0)`) unless [`Mock::builder`] is given other settings.

mod render;
mod server;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;

use crate::client::builder::{BuildTarget, HubBuilder};
use crate::config::{Config, Protocol};
use crate::error::{Error, Result};

pub use render::Reply;

/// The header by which the mock tells which role a request is for.
pub(crate) use crate::client::provider::ROLE_HEADER;

/// The API key the mock gives every provider (so that auth headers are sent and checked).
pub const TEST_KEY: &str = "llmhub-test-key";

/// A stand-in for every provider of a config: a loopback server answering scripted replies per
/// role, in each role's protocol, and recording what it was asked.
#[derive(Debug)]
pub struct Mock {
    config: Config,
    state: Arc<MockState>,
    server: server::Running,
}

/// What the server shares with the [`Mock`].
#[derive(Debug, Default)]
pub(crate) struct MockState {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    requests: Mutex<Vec<Request>>,
    /// Role name → the protocol of its provider.
    protocols: HashMap<String, Protocol>,
}

impl MockState {
    fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next scripted reply of `role`, if any.
    pub(crate) fn next_reply(&self, role: &str) -> Option<Reply> {
        Self::lock(&self.scripts).get_mut(role)?.pop_front()
    }

    /// The protocol `role` speaks.
    pub(crate) fn protocol(&self, role: &str) -> Option<Protocol> {
        self.protocols.get(role).copied()
    }

    pub(crate) fn record(&self, request: Request) {
        Self::lock(&self.requests).push(request);
    }
}

/// One request the mock received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The role it was sent for.
    pub role: String,
    /// The HTTP method.
    pub method: String,
    /// The path, such as `/p0/v1/chat/completions` (the mock's own prefix, then the
    /// protocol's path).
    pub path: String,
    /// The headers, names in lower case; the value of the auth header (`authorization`,
    /// `x-api-key`, `api-key`) is replaced by `***` unless it is the mock's [`TEST_KEY`].
    pub headers: Vec<(String, String)>,
    /// The JSON body (`Value::Null` for a body that is not JSON, such as a transcription).
    pub body: Value,
}

impl Request {
    /// The value of header `name` (lower case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The messages sent (the `messages` of a chat request), or `Null`.
    pub fn messages(&self) -> &Value {
        &self.body["messages"]
    }

    /// A top-level field of the body (a param as sent on the wire, the model, …), if present.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.body.get(name)
    }
}

impl Mock {
    /// A mock for the config file at `path`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Mock> {
        Mock::from_config(Config::from_path(path)?)
    }

    /// A mock for a config held in memory (for generated roles, the same text as the
    /// `llmhub.yaml` they were compiled from: `include_str!("../llmhub.yaml")`).
    pub fn from_yaml_str(text: &str) -> Result<Mock> {
        Mock::from_config(Config::from_yaml_str(text)?)
    }

    /// A mock for a config already loaded. Starts the server (on its own thread, so the mock
    /// works in sync and async tests alike) and points every provider of the config at it.
    pub fn from_config(mut config: Config) -> Result<Mock> {
        let mut protocols: HashMap<String, Protocol> = config
            .roles
            .values()
            .filter_map(|role| {
                let provider = config.providers.get(&role.provider)?;
                Some((role.name.clone(), provider.api))
            })
            .collect();
        // Roles only known at run time fall back on `defaults:`.
        if let Some(defaults) = &config.defaults
            && let Some(provider) = config.providers.get(&defaults.provider)
        {
            protocols.insert(String::new(), provider.api);
        }
        let state = Arc::new(MockState {
            protocols,
            ..MockState::default()
        });
        let server = server::Running::start(state.clone()).map_err(|err| Error::Setup {
            message: format!("the test kit cannot start its loopback server: {err}"),
        })?;
        for (index, provider) in config.providers.values_mut().enumerate() {
            provider.base_url = format!("http://{}/p{index}", server.addr);
            if provider.api == Protocol::OpenAi {
                provider.base_url.push_str("/v1");
            }
            provider.allow_insecure_http = false;
        }
        Ok(Mock {
            config,
            state,
            server,
        })
    }

    /// The config the mock serves: the given one, with every provider's `base_url` pointing
    /// at the mock.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The address of the mock's server.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr
    }

    /// A builder of `R` (a generated `Roles`, or a [`Hub`](crate::Hub)) on the mock: the mock's config,
    /// the [`TEST_KEY`] for every provider, no retries. Add settings (hooks, timeouts, retries)
    /// before `.build()`.
    pub fn builder<R>(&self) -> HubBuilder<R> {
        let mut builder = HubBuilder::<R>::default()
            .config(self.config.clone())
            .max_retries(0)
            .retry_base_delay(Duration::from_millis(1))
            .tag_roles();
        for id in self.config.providers.keys() {
            builder = builder.api_key(id.clone(), TEST_KEY);
        }
        builder
    }

    /// `R` (a generated `Roles`, or a [`Hub`](crate::Hub)) built on the mock with [`Mock::builder`]'s
    /// settings.
    pub fn build<R: BuildTarget>(&self) -> Result<R> {
        self.builder::<R>().build()
    }

    /// The script of `role`: what its model answers, one reply per request, in order.
    /// Scripting a role the config does not have is allowed (the dynamic API may call it
    /// through `defaults:`).
    pub fn script(&self, role: &str) -> Script<'_> {
        Script {
            mock: self,
            role: role.to_owned(),
            delay: None,
        }
    }

    /// Every request sent for `role`, in order.
    pub fn requests(&self, role: &str) -> Vec<Request> {
        MockState::lock(&self.state.requests)
            .iter()
            .filter(|r| r.role == role)
            .cloned()
            .collect()
    }

    /// Every request the mock received, in order.
    pub fn all_requests(&self) -> Vec<Request> {
        MockState::lock(&self.state.requests).clone()
    }

    /// How many scripted replies of `role` are still unused.
    pub fn pending(&self, role: &str) -> usize {
        MockState::lock(&self.state.scripts)
            .get(role)
            .map_or(0, VecDeque::len)
    }

    fn push(&self, role: &str, reply: Reply) {
        MockState::lock(&self.state.scripts)
            .entry(role.to_owned())
            .or_default()
            .push_back(reply);
    }
}

/// The replies scripted for one role; each method adds one reply and returns the script, so
/// that replies can be chained in order.
#[derive(Debug)]
pub struct Script<'m> {
    mock: &'m Mock,
    role: String,
    delay: Option<Duration>,
}

impl Script<'_> {
    /// Adds any [`Reply`].
    pub fn reply(mut self, reply: Reply) -> Self {
        let reply = match self.delay.take() {
            Some(delay) => Reply::Delayed(delay, Box::new(reply)),
            None => reply,
        };
        self.mock.push(&self.role, reply);
        self
    }

    /// A chat reply with `text`.
    pub fn text(self, text: impl Into<String>) -> Self {
        self.reply(Reply::Text(text.into()))
    }

    /// A structured reply: `value` serialized as the model's JSON answer (on Anthropic, as the
    /// input of the forced tool when the request forces one).
    pub fn json(self, value: &impl serde::Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.reply(Reply::Json(value))
    }

    /// A chat reply that calls tool `name` with `arguments`.
    pub fn tool_call(self, name: impl Into<String>, arguments: Value) -> Self {
        self.reply(Reply::ToolCalls(vec![(name.into(), arguments)]))
    }

    /// A streamed chat reply, one chunk per piece of text (also answers a plain completion,
    /// with the pieces joined).
    pub fn stream<S: Into<String>>(self, pieces: impl IntoIterator<Item = S>) -> Self {
        self.reply(Reply::Stream(pieces.into_iter().map(Into::into).collect()))
    }

    /// An embedding reply with one vector.
    pub fn embedding(self, vector: Vec<f32>) -> Self {
        self.reply(Reply::Embeddings(vec![vector]))
    }

    /// An error status with the provider's error body carrying `message` (429 makes
    /// `Error::RateLimited`, 401/403 `Error::Auth`, others `Error::Http`).
    pub fn error(self, status: u16, message: impl Into<String>) -> Self {
        self.reply(Reply::Error {
            status,
            message: message.into(),
            retry_after: None,
        })
    }

    /// HTTP 429 with `Retry-After: seconds`.
    pub fn rate_limited(self, retry_after_seconds: u64) -> Self {
        self.reply(Reply::Error {
            status: 429,
            message: "rate limit reached (scripted)".into(),
            retry_after: Some(retry_after_seconds),
        })
    }

    /// The next reply added is sent only after `delay` (to exercise timeouts: give the hub a
    /// shorter [`HubBuilder::timeout`]). The hub's timeouts run on the real clock, not on
    /// tokio's: do not pause tokio's clock in such a test, or the delay is skipped while the
    /// timeout still waits in real time.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

impl<R> HubBuilder<R> {
    /// Tags each request with its role, for the mock.
    fn tag_roles(mut self) -> Self {
        self.set_tag_roles();
        self
    }
}
