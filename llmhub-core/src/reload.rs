//! Run-time reload (SPEC §6): re-read the config file, check it against the compiled roles, and
//! swap it in with one atomic pointer store. Calls never block on a reload and never see a
//! half-applied config; a call in flight finishes with the config it started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::watch::FileWatcher;

/// The environment variable naming the file to reload from, when the builder is given none.
pub const CONFIG_ENV_VAR: &str = "LLMHUB_CONFIG";

/// A callback told of every reload attempt, accepted or refused.
pub type ReloadHook = Arc<dyn Fn(&Result<ReloadOutcome>) + Send + Sync>;

/// What an accepted reload changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReloadOutcome {
    /// The file that was read.
    pub path: PathBuf,
    /// Roles present before and after whose provider, model, mode or params changed.
    pub changed_roles: Vec<String>,
    /// Roles new in the file (reachable through the dynamic API).
    pub added_roles: Vec<String>,
    /// Roles no longer in the file (never a compiled role: that is refused).
    pub removed_roles: Vec<String>,
    /// Providers added, removed or changed.
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

    /// Compares the config in force with the new one.
    pub(crate) fn between(path: &Path, old: &Config, new: &Config) -> ReloadOutcome {
        let same_role = |a: &crate::RoleConfig, b: &crate::RoleConfig| {
            (&a.provider, &a.model, a.mode, &a.params) == (&b.provider, &b.model, b.mode, &b.params)
        };
        let same_provider = |a: &crate::ProviderConfig, b: &crate::ProviderConfig| {
            crate::ProviderConfig {
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
                Some(before) if !same_role(before, role) => {
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
        let binding = |d: &Option<crate::RoleDefaults>| {
            d.as_ref().map(|d| {
                (
                    d.provider.clone(),
                    d.model.clone(),
                    d.mode,
                    d.params.clone(),
                )
            })
        };
        outcome.defaults_changed = binding(&old.defaults) != binding(&new.defaults);
        outcome
    }
}

/// How a hub reloads: from where, whether it watches, and whom it tells.
#[derive(Clone, Default)]
pub(crate) struct ReloadSettings {
    pub path: Option<PathBuf>,
    pub watch: bool,
    pub debounce: Option<Duration>,
    pub hooks: Vec<ReloadHook>,
}

impl std::fmt::Debug for ReloadSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadSettings")
            .field("path", &self.path)
            .field("watch", &self.watch)
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl ReloadSettings {
    /// Fills the path from `LLMHUB_CONFIG` when none was given, and checks `watch`.
    pub fn resolve(mut self) -> Result<ReloadSettings> {
        if self.path.is_none()
            && let Some(path) = std::env::var_os(CONFIG_ENV_VAR).filter(|p| !p.is_empty())
        {
            self.path = Some(PathBuf::from(path));
        }
        if self.watch && self.path.is_none() {
            return Err(Error::InvalidInput {
                role: "(hub builder)".into(),
                message: format!(
                    "`watch(true)` needs a file to watch: call `reload_from(path)` or set {CONFIG_ENV_VAR}"
                ),
            });
        }
        Ok(self)
    }

    /// Tells the hooks and `tracing` of a reload attempt.
    pub fn report(&self, result: &Result<ReloadOutcome>) {
        match result {
            Ok(outcome) => tracing::info!(
                path = %outcome.path.display(),
                changed_roles = ?outcome.changed_roles,
                added_roles = ?outcome.added_roles,
                removed_roles = ?outcome.removed_roles,
                "llmhub config reloaded"
            ),
            Err(err) => tracing::warn!(error = %err, "llmhub config reload refused"),
        }
        for hook in &self.hooks {
            hook(result);
        }
    }
}

/// Per-hub reload state: the settings, a lock so reloads apply one at a time, and the watcher.
#[derive(Debug, Default)]
pub(crate) struct Reloader {
    pub settings: ReloadSettings,
    pub lock: Mutex<()>,
    pub watcher: Mutex<Option<FileWatcher>>,
}

impl Reloader {
    pub fn new(settings: ReloadSettings) -> Reloader {
        Reloader {
            settings,
            ..Reloader::default()
        }
    }

    /// The error of `reload()` on a hub built without a reload path.
    pub fn no_path() -> Error {
        Error::Reload {
            path: String::new(),
            reason: Box::new(Error::InvalidInput {
                role: "(hub)".into(),
                message: format!(
                    "this hub has no file to reload: build it with `reload_from(path)` or set {CONFIG_ENV_VAR}"
                ),
            }),
        }
    }

    /// Wraps why a reload of `path` was refused.
    pub fn refused(path: &Path, reason: Error) -> Error {
        Error::Reload {
            path: path.display().to_string(),
            reason: Box::new(reason),
        }
    }
}
