//! Support for generated code (`llmhub::roles!` and build scripts): the [`GeneratedRoles`]
//! trait the generated struct implements, and [`RolesBuilder`], its builder.

use std::marker::PhantomData;
use std::time::Duration;

use crate::config::{Config, Mode};
use crate::error::Result;
use crate::hooks::{CallContext, CallResult};
use crate::hub::{Hub, HubBuilder};

/// Implemented by the struct that `roles!` (or a build script) generates.
pub trait GeneratedRoles: Sized {
    /// The config text compiled in.
    const YAML: &'static str;
    /// The config's file name, for error messages.
    const FILE: &'static str;
    /// The compiled roles, in slot order.
    const COMPILED: &'static [(&'static str, Mode)];

    /// Wraps a hub whose slot table was built from [`Self::COMPILED`](GeneratedRoles::COMPILED).
    fn from_hub_unchecked(hub: Hub) -> Self;

    /// Wraps any hub: checks that its config has every compiled role with the same mode, and
    /// rebuilds its slot table for them.
    fn checked_from_hub(hub: Hub) -> Result<Self> {
        Ok(Self::from_hub_unchecked(
            hub.with_compiled_roles(Self::COMPILED)?,
        ))
    }
}

/// The builder of a generated roles struct: the [`HubBuilder`] setters, with the compiled-in
/// config as the default config.
pub struct RolesBuilder<R> {
    hub: HubBuilder,
    config: Option<Config>,
    roles: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for RolesBuilder<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolesBuilder")
            .field("hub", &self.hub)
            .field("config", &self.config)
            .finish()
    }
}

impl<R: GeneratedRoles> Default for RolesBuilder<R> {
    fn default() -> Self {
        RolesBuilder::new()
    }
}

impl<R: GeneratedRoles> RolesBuilder<R> {
    /// A builder using the compiled-in config.
    pub fn new() -> Self {
        RolesBuilder {
            hub: Hub::builder(),
            config: None,
            roles: PhantomData,
        }
    }

    fn map(mut self, f: impl FnOnce(HubBuilder) -> HubBuilder) -> Self {
        self.hub = f(self.hub);
        self
    }

    /// Runs this config instead of the compiled-in one (it must still have every compiled
    /// role, with the same mode).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// See [`HubBuilder::strict_env`].
    pub fn strict_env(self, yes: bool) -> Self {
        self.map(|b| b.strict_env(yes))
    }

    /// See [`HubBuilder::api_key`].
    pub fn api_key(self, provider: impl Into<String>, key: impl Into<String>) -> Self {
        self.map(|b| b.api_key(provider, key))
    }

    /// See [`HubBuilder::http_client`].
    pub fn http_client(self, client: reqwest::Client) -> Self {
        self.map(|b| b.http_client(client))
    }

    /// See [`HubBuilder::on_before_call`].
    pub fn on_before_call(self, f: impl Fn(&CallContext<'_>) + Send + Sync + 'static) -> Self {
        self.map(|b| b.on_before_call(f))
    }

    /// See [`HubBuilder::on_after_call`].
    pub fn on_after_call(self, f: impl Fn(&CallResult<'_>) + Send + Sync + 'static) -> Self {
        self.map(|b| b.on_after_call(f))
    }

    /// See [`HubBuilder::timeout`].
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// See [`HubBuilder::max_retries`].
    pub fn max_retries(self, retries: u32) -> Self {
        self.map(|b| b.max_retries(retries))
    }

    /// See [`HubBuilder::reload_from`]: the compiled-in config is the start, and the file
    /// replaces it when valid and compatible with the compiled roles.
    pub fn reload_from(self, path: impl Into<std::path::PathBuf>) -> Self {
        self.map(|b| b.reload_from(path))
    }

    /// See [`HubBuilder::watch`].
    pub fn watch(self, yes: bool) -> Self {
        self.map(|b| b.watch(yes))
    }

    /// See [`HubBuilder::watch_debounce`].
    pub fn watch_debounce(self, debounce: Duration) -> Self {
        self.map(|b| b.watch_debounce(debounce))
    }

    /// See [`HubBuilder::on_reload`].
    pub fn on_reload(
        self,
        f: impl Fn(&Result<crate::ReloadOutcome>) + Send + Sync + 'static,
    ) -> Self {
        self.map(|b| b.on_reload(f))
    }

    /// See [`HubBuilder::connect_timeout`].
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.connect_timeout(timeout))
    }

    /// See [`HubBuilder::stream_idle_timeout`].
    pub fn stream_idle_timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.stream_idle_timeout(timeout))
    }

    /// See [`HubBuilder::retry_base_delay`].
    pub fn retry_base_delay(self, delay: Duration) -> Self {
        self.map(|b| b.retry_base_delay(delay))
    }

    /// See [`HubBuilder::retry_max_delay`].
    pub fn retry_max_delay(self, delay: Duration) -> Self {
        self.map(|b| b.retry_max_delay(delay))
    }

    /// Builds the hub for the compiled roles.
    pub fn build(self) -> Result<R> {
        let config = match self.config {
            Some(config) => config,
            None => Config::from_yaml_str_named(R::YAML, R::FILE)?,
        };
        let hub = self
            .hub
            .config(config)
            .compiled_roles(R::COMPILED)
            .build()?;
        Ok(R::from_hub_unchecked(hub))
    }
}
