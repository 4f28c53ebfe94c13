//! Run-time reload: re-read the config file, check it against the compiled roles, and
//! swap it in with one atomic pointer store. Calls never block on a reload and never see a
//! half-applied config; a call in flight finishes with the config it started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::watch::FileWatcher;
use crate::config::ReloadOutcome;
use crate::error::{Error, Result};

/// The environment variable naming the file to reload from, when the builder is given none.
pub const CONFIG_ENV_VAR: &str = "LLMHUB_CONFIG";

/// A callback told of every reload attempt, accepted or refused.
pub type ReloadHook = Arc<dyn Fn(&Result<ReloadOutcome>) + Send + Sync>;

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
            return Err(Error::Setup {
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
        Error::Setup {
            message: format!(
                "this hub has no file to reload: build it with `reload_from(path)` or set {CONFIG_ENV_VAR}"
            ),
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
