//! What a new config changes compared with the one in force ([`ReloadOutcome`]), and whether
//! the roles compiled into generated code still stand in it ([`compiled_slots`]). A reload
//! applies both; `ReloadOutcome::check` runs them without a hub.

use std::path::{Path, PathBuf};

use crate::config::suggest::closest;
use crate::config::types::{Config, Deployment, Mode, Params, ProviderConfig, RoleConfig};
use crate::error::{Error, Result};

/// What an accepted reload changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReloadOutcome {
    /// The file that was read.
    pub path: PathBuf,
    /// Roles present before and after whose provider, model, mode, params, deployments,
    /// routing, fallbacks or cooldown changed.
    pub changed_roles: Vec<String>,
    /// Roles new in the file (reachable through the dynamic API).
    pub added_roles: Vec<String>,
    /// Roles no longer in the file (never a compiled role: that is refused).
    pub removed_roles: Vec<String>,
    /// Providers added, removed or changed (including their limits and cooldown).
    pub changed_providers: Vec<String>,
    /// Whether `defaults:` changed.
    pub defaults_changed: bool,
}

impl ReloadOutcome {
    /// Whether the new config binds everything as before.
    pub fn is_unchanged(&self) -> bool {
        self.changed_roles.is_empty()
            && self.added_roles.is_empty()
            && self.removed_roles.is_empty()
            && self.changed_providers.is_empty()
            && !self.defaults_changed
    }

    /// What reloading `new` (read from `path`) would do to a program whose roles were
    /// compiled from `compiled_against`: the same check as a reload, without a hub.
    ///
    /// Every role of `compiled_against` must still be in `new` with the same mode
    /// ([`Error::UnknownRole`] or [`Error::ModeMismatch`] otherwise); providers, models and
    /// params may change.
    ///
    /// ```
    /// use llmhub_core::{Config, ReloadOutcome};
    ///
    /// let old = Config::from_yaml_str("project: p\nenv: dev\nproviders: { openai: {} }\nroles:\n  r: { provider: openai, model: a, mode: chat }\n")?;
    /// let new = Config::from_yaml_str("project: p\nenv: dev\nproviders: { openai: {} }\nroles:\n  r: { provider: openai, model: b, mode: chat }\n")?;
    /// let outcome = ReloadOutcome::check("new.yaml".as_ref(), &old, &new)?;
    /// assert_eq!(outcome.changed_roles, ["r"]);
    /// # Ok::<(), llmhub_core::Error>(())
    /// ```
    pub fn check(path: &Path, compiled_against: &Config, new: &Config) -> Result<ReloadOutcome> {
        compiled_slots(
            new,
            compiled_against
                .roles
                .values()
                .map(|role| (role.name.as_str(), role.mode)),
        )?;
        Ok(ReloadOutcome::between(path, compiled_against, new))
    }

    /// Compares the config in force with the new one.
    pub(crate) fn between(path: &Path, old: &Config, new: &Config) -> ReloadOutcome {
        // Everything but the position: provider, model, mode, params, deployments, routing,
        // fallbacks and cooldown.
        let same_binding = |a: &RoleConfig, b: &RoleConfig| {
            fn strip(d: &[Deployment]) -> impl Iterator<Item = (&str, &str, &Params, u32)> {
                d.iter()
                    .map(|d| (d.provider.as_str(), d.model.as_str(), &d.params, d.weight))
            }
            RoleConfig {
                span: b.span,
                deployments: Vec::new(),
                ..a.clone()
            } == RoleConfig {
                deployments: Vec::new(),
                ..b.clone()
            } && strip(&a.deployments).eq(strip(&b.deployments))
        };
        let same_provider = |a: &ProviderConfig, b: &ProviderConfig| {
            ProviderConfig {
                span: b.span,
                ..a.clone()
            } == *b
        };
        let mut outcome = ReloadOutcome {
            path: path.to_path_buf(),
            ..ReloadOutcome::default()
        };
        for (name, role) in &new.roles {
            match old.roles.get(name) {
                None => outcome.added_roles.push(name.clone()),
                Some(before) if !same_binding(before, role) => {
                    outcome.changed_roles.push(name.clone())
                }
                Some(_) => {}
            }
        }
        outcome.removed_roles = old
            .roles
            .keys()
            .filter(|name| !new.roles.contains_key(*name))
            .cloned()
            .collect();
        for (id, provider) in &new.providers {
            if old
                .providers
                .get(id)
                .is_none_or(|before| !same_provider(before, provider))
            {
                outcome.changed_providers.push(id.clone());
            }
        }
        outcome.changed_providers.extend(
            old.providers
                .keys()
                .filter(|id| !new.providers.contains_key(*id))
                .cloned(),
        );
        outcome.defaults_changed = match (&old.defaults, &new.defaults) {
            (Some(a), Some(b)) => !same_binding(a, b),
            (a, b) => a.is_some() != b.is_some(),
        };
        outcome
    }
}

/// The index in `config.roles` of each compiled role, in compiled order. A compiled role that
/// is missing is [`Error::UnknownRole`]; one whose mode changed is [`Error::ModeMismatch`].
pub(crate) fn compiled_slots<'a>(
    config: &Config,
    compiled: impl IntoIterator<Item = (&'a str, Mode)>,
) -> Result<Vec<usize>> {
    compiled
        .into_iter()
        .map(|(name, mode)| match config.roles.get_full(name) {
            None => Err(Error::UnknownRole {
                role: name.to_owned(),
                suggestion: closest(name, config.roles.keys()),
            }),
            Some((_, _, role)) if role.mode != mode => Err(Error::ModeMismatch {
                role: name.to_owned(),
                mode: role.mode,
                call: "a compiled role",
                hint: format!(
                    "the code was generated for mode `{mode}`; rebuild after changing llmhub.yaml, or restore the mode"
                ),
            }),
            Some((index, _, _)) => Ok(index),
        })
        .collect()
}
