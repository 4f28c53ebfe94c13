//! What a hub holds: [`Shared`] (the client, hooks, keys, settings and reload machinery, fixed
//! for the hub's life) and [`HubState`] (everything derived from one config: providers and the
//! role tables), which a reload swaps whole with one atomic store.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::client::hooks::Hooks;
use crate::client::limits::ProviderLimits;
use crate::client::params::ParamsText;
use crate::client::provider::Provider;
use crate::client::reload::Reloader;
use crate::client::route::{Registry, Route};
use crate::client::settings::Settings;
use crate::config::suggest::closest;
use crate::config::{Binding, Config, Mode, Params, compiled_slots};
use crate::error::{Error, Result};
use crate::secret::SecretString;

/// What every clone of a hub shares.
pub(crate) struct Shared {
    pub client: reqwest::Client,
    pub state: ArcSwap<HubState>,
    pub hooks: Arc<Hooks>,
    pub keys: Vec<(String, SecretString)>,
    pub settings: Settings,
    /// The compiled role table typed handles use (kept to rebuild the slots on reload).
    pub compiled: Option<Arc<[(String, Mode)]>>,
    pub strict_env: bool,
    pub reload: Reloader,
    /// Deployment counters and provider limits, kept across reloads (and shared with the
    /// hubs made from this one for generated code).
    pub registry: Arc<Registry>,
    /// Whether requests carry their role in a header, for the test kit's mock.
    #[cfg(feature = "testing")]
    pub tag_roles: bool,
}

impl Shared {
    /// The state built from `config` with this hub's keys, settings and compiled roles.
    pub fn build_state(&self, config: Config) -> Result<HubState> {
        HubState::build(
            config,
            &self.keys,
            &self.settings,
            &self.registry,
            self.compiled.as_deref(),
            self.strict_env,
        )
    }
}

/// Everything derived from one config: swapped whole by a reload, never edited.
pub(crate) struct HubState {
    pub config: Arc<Config>,
    pub providers: Vec<Provider>,
    /// Provider index → its limits, if it sets any.
    pub limits: Vec<Option<Arc<ProviderLimits>>>,
    /// Role index → its route, for a role with deployments or fallbacks.
    routes: Vec<Option<Route>>,
    default_route: Option<Route>,
    /// Role index → provider index.
    role_providers: Vec<usize>,
    default_provider: Option<usize>,
    /// Compiled slot → role index; `None` when slots are role indices.
    slots: Option<Vec<usize>>,
    /// Role index → the text of its params in calls without overrides, once written.
    params_text: Vec<ParamsText>,
    default_params_text: ParamsText,
}

/// How a call names its role.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RoleRef<'a> {
    /// A typed handle's slot.
    Slot(usize),
    /// A name given to the dynamic API.
    Name(&'a str),
}

/// A role resolved against the state in force.
#[derive(Clone, Copy)]
pub(crate) struct Target<'s> {
    pub role: &'s str,
    pub provider_index: usize,
    pub model: &'s str,
    pub mode: Mode,
    pub params: &'s Params,
    /// Where the text of `params` in calls without overrides on this provider is kept.
    pub params_text: Option<&'s ParamsText>,
    /// The deployments and fallbacks, for a role that has them.
    pub route: Option<&'s Route>,
}

impl HubState {
    /// Builds the providers and role tables of `config`. `keys` are keys given to the builder;
    /// `compiled` the roles of generated code, in slot order.
    pub fn build<S: AsRef<str>>(
        config: Config,
        keys: &[(String, SecretString)],
        settings: &Settings,
        registry: &Registry,
        compiled: Option<&[(S, Mode)]>,
        strict_env: bool,
    ) -> Result<HubState> {
        if let Some((id, _)) = keys
            .iter()
            .find(|(id, _)| !config.providers.contains_key(id))
        {
            let hint = match closest(id, config.providers.keys()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "give keys only for providers listed under `providers:`".to_owned(),
            };
            return Err(Error::config_file(
                &config.source_name,
                format!(
                    "the builder was given an API key for provider `{id}`, which is not under `providers:`"
                ),
                &hint,
            ));
        }
        let providers = config
            .providers
            .values()
            .map(|p| {
                let key = keys.iter().find(|(id, _)| *id == p.id).map(|(_, k)| k);
                Provider::new(p, &config.source_name, key, settings)
            })
            .collect::<Result<Vec<_>>>()?;
        if strict_env {
            let missing: Vec<_> = providers.iter().filter_map(Provider::missing_key).collect();
            if !missing.is_empty() {
                return Err(Error::EnvVarMissing { missing });
            }
        }
        let provider_index = |binding: &crate::RoleConfig| {
            config
                .providers
                .get_index_of(&binding.provider)
                .ok_or_else(|| Error::UnknownProvider {
                    role: binding.name.clone(),
                    provider: binding.provider.clone(),
                })
        };
        let role_providers = config
            .roles
            .values()
            .map(provider_index)
            .collect::<Result<Vec<_>>>()?;
        let default_provider = config.defaults.as_ref().map(provider_index).transpose()?;
        #[cfg(feature = "redis")]
        registry.join_fleet(&config, settings.redis_url.as_ref());
        let index_of = |id: &str| config.providers.get_index_of(id);
        let route = |role| Route::build(&config, role, &index_of, registry);
        let routes = config.roles.values().map(route).collect();
        let default_route = config.defaults.as_ref().and_then(route);
        let limits = config
            .providers
            .values()
            .map(|p| registry.limits(p, settings.rate_window))
            .collect();
        let slots = compiled
            .map(|compiled| {
                compiled_slots(
                    &config,
                    compiled.iter().map(|(name, mode)| (name.as_ref(), *mode)),
                )
            })
            .transpose()?;
        let params_text = config
            .roles
            .values()
            .map(|_| ParamsText::default())
            .collect();
        Ok(HubState {
            config: Arc::new(config),
            providers,
            limits,
            routes,
            default_route,
            role_providers,
            default_provider,
            slots,
            params_text,
            default_params_text: ParamsText::default(),
        })
    }

    fn role_at(&self, index: usize) -> Option<Target<'_>> {
        let (_, role) = self.config.roles.get_index(index)?;
        let provider_index = self.role_providers[index];
        Some(Target {
            role: &role.name,
            provider_index,
            model: &role.model,
            mode: role.mode,
            params: &role.params,
            params_text: Some(&self.params_text[index]),
            route: self.routes[index].as_ref(),
        })
    }

    /// The role a call names: a typed handle's slot (no hashing), or a name (the role, else
    /// `defaults:`).
    pub fn target<'s>(&'s self, role: RoleRef<'s>) -> Result<Target<'s>> {
        match role {
            RoleRef::Slot(slot) => {
                let index = match &self.slots {
                    Some(slots) => slots.get(slot).copied(),
                    None => Some(slot),
                };
                index
                    .and_then(|index| self.role_at(index))
                    .ok_or_else(|| Error::UnknownRole {
                        role: format!("#{slot} (a role handle's slot)"),
                        suggestion: None,
                    })
            }
            RoleRef::Name(name) => match self.config.binding(name)? {
                (Binding::Role(index), _) => {
                    self.role_at(index).ok_or_else(|| Error::UnknownRole {
                        role: name.to_owned(),
                        suggestion: None,
                    })
                }
                (Binding::Defaults, defaults) => {
                    // A built state always has the defaults' provider (checked in `build`).
                    let provider_index =
                        self.default_provider
                            .ok_or_else(|| Error::UnknownProvider {
                                role: name.to_owned(),
                                provider: defaults.provider.clone(),
                            })?;
                    Ok(Target {
                        role: name,
                        provider_index,
                        model: &defaults.model,
                        mode: defaults.mode,
                        params: &defaults.params,
                        params_text: Some(&self.default_params_text),
                        route: self.default_route.as_ref(),
                    })
                }
            },
        }
    }

    /// The role's name a call names, for error messages.
    pub fn role_name(&self, role: RoleRef<'_>) -> String {
        match role {
            RoleRef::Name(name) => name.to_owned(),
            RoleRef::Slot(_) => self
                .target(role)
                .map_or_else(|_| format!("{role:?}"), |t| t.role.to_owned()),
        }
    }
}

/// Masks a provider's key in errors raised inside a stream, reaching the key through the state
/// the call started with (no copy of the key per stream).
pub(crate) struct KeyMasker {
    pub state: Arc<HubState>,
    pub provider: usize,
}

impl KeyMasker {
    /// `err` with the provider's key and header values replaced by `***` wherever a server
    /// echoed them.
    pub fn mask(&self, err: Error) -> Error {
        self.state.providers[self.provider].mask(err)
    }
}
