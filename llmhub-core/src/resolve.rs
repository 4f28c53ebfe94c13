//! Role resolution (the original `resolve_role`): role name → provider, model, mode, params.

use crate::config::{Config, Mode, Params};
use crate::error::{Error, Result};

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

impl Config {
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
        let (provider, model, mode, params) = match (self.roles.get(role), &self.defaults) {
            (Some(r), _) => (&r.provider, &r.model, r.mode, &r.params),
            (None, Some(d)) => (&d.provider, &d.model, d.mode, &d.params),
            (None, None) => {
                return Err(Error::UnknownRole {
                    role: role.to_owned(),
                    suggestion: crate::config::closest(role, self.roles.keys()),
                });
            }
        };
        if !self.providers.contains_key(provider.as_str()) {
            return Err(Error::UnknownProvider {
                role: role.to_owned(),
                provider: provider.clone(),
            });
        }
        Ok(ResolvedCall {
            role: role.to_owned(),
            provider: provider.clone(),
            model: model.clone(),
            mode,
            params: merge_params(params, overrides.as_ref()),
        })
    }
}
