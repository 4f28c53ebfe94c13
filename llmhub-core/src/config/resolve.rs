//! Role resolution (the original `resolve_role`): role name → provider, model, mode, params.
//! [`Config::binding`] is the one lookup, used by [`Config::resolve`] and by every call of the
//! runtime.

use crate::config::suggest::closest;
use crate::config::types::{Config, Mode, Params, RoleConfig};
use crate::error::{Error, Result};

/// Which entry of the config serves a role name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// The role itself, at this index of [`Config::roles`].
    Role(usize),
    /// The `defaults:` binding (the name is not under `roles:`).
    Defaults,
}

/// A role resolved to everything a call needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedCall {
    /// The role asked for (also when it fell back to `defaults`).
    pub role: String,
    /// Provider id.
    pub provider: String,
    /// Model name.
    pub model: String,
    /// Mode.
    pub mode: Mode,
    /// The role's params overlaid by the overrides.
    pub params: Params,
}

/// Overlays `overrides` on `base`: keys in `overrides` win (a nested value is replaced whole,
/// not merged), every other key of `base` is kept.
pub fn merge_params(base: &Params, overrides: Option<&Params>) -> Params {
    let mut params = base.clone();
    if let Some(overrides) = overrides {
        for (key, value) in overrides {
            params.insert(key.clone(), value.clone());
        }
    }
    params
}

/// The roles up to which [`Config::binding`] looks a name up by comparing, not hashing.
const SCANNED_ROLES: usize = 8;

impl Config {
    /// The entry that serves `role`: the role if the file has it, else `defaults:`, else
    /// [`Error::UnknownRole`] with the closest role name.
    pub(crate) fn binding(&self, role: &str) -> Result<(Binding, &RoleConfig)> {
        // A handful of roles are compared in order: hashing the name costs more.
        let found = if self.roles.len() <= SCANNED_ROLES {
            self.roles
                .iter()
                .enumerate()
                .find(|(_, (name, _))| *name == role)
                .map(|(index, (_, config))| (index, config))
        } else {
            self.roles
                .get_full(role)
                .map(|(index, _, config)| (index, config))
        };
        if let Some((index, config)) = found {
            return Ok((Binding::Role(index), config));
        }
        match &self.defaults {
            Some(defaults) => Ok((Binding::Defaults, defaults)),
            None => Err(Error::UnknownRole {
                role: role.to_owned(),
                suggestion: closest(role, self.roles.keys()),
            }),
        }
    }

    /// Resolves `role` with the original design's rules: the role if present, else
    /// `defaults:`, else [`Error::UnknownRole`]; its provider must be defined, else
    /// [`Error::UnknownProvider`]; params are the role's params overlaid by `overrides`.
    ///
    /// ```
    /// # use llmhub_core::{Config, Params};
    /// let config = Config::from_yaml_str(r#"
    /// project: p
    /// env: dev
    /// providers: { openai: {} }
    /// roles:
    ///   llm.inference: { provider: openai, model: gpt-4.1, mode: chat, params: { temperature: 0.7, max_tokens: 100 } }
    /// "#)?;
    /// let mut overrides = Params::new();
    /// overrides.insert("temperature".into(), 0.1.into());
    /// let call = config.resolve("llm.inference", Some(overrides))?;
    /// assert_eq!(call.params["temperature"], 0.1);
    /// assert_eq!(call.params["max_tokens"], 100);
    /// # Ok::<(), llmhub_core::Error>(())
    /// ```
    pub fn resolve(&self, role: &str, overrides: Option<Params>) -> Result<ResolvedCall> {
        let (_, binding) = self.binding(role)?;
        if !self.providers.contains_key(binding.provider.as_str()) {
            return Err(Error::UnknownProvider {
                role: role.to_owned(),
                provider: binding.provider.clone(),
            });
        }
        Ok(ResolvedCall {
            role: role.to_owned(),
            provider: binding.provider.clone(),
            model: binding.model.clone(),
            mode: binding.mode,
            params: merge_params(&binding.params, overrides.as_ref()),
        })
    }
}
