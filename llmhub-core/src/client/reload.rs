//! Run-time reload: re-read the config file, check it against the compiled roles, and
//! swap it in with one atomic pointer store. Calls never block on a reload and never see a
//! half-applied config; a call in flight finishes with the config it started with.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::watch::{DEFAULT_DEBOUNCE, FileWatcher};
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
            // A panicking hook must not take the watcher's thread (or the caller of `reload`)
            // down with it; the other hooks still run.
            let run = std::panic::AssertUnwindSafe(|| hook(result));
            if std::panic::catch_unwind(run).is_err() {
                tracing::error!("an `on_reload` hook panicked; reloading goes on");
            }
        }
    }

    /// Starts the file watcher if these settings ask for one. It starts before the hub reads
    /// the file, so that no change made meanwhile is missed; [`EarlyWatch::attach`] then points
    /// it at the hub.
    pub fn start_watching(&self) -> Result<Option<EarlyWatch>> {
        let (true, Some(path)) = (self.watch, &self.path) else {
            return Ok(None);
        };
        let target = Arc::new(Mutex::new(WatchTarget::Waiting { changed: false }));
        let watcher = FileWatcher::new(path, self.debounce.unwrap_or(DEFAULT_DEBOUNCE), {
            let target = target.clone();
            move || {
                let reload = match &mut *lock(&target) {
                    WatchTarget::Waiting { changed } => {
                        *changed = true;
                        return;
                    }
                    WatchTarget::Ready(reload) => reload.clone(),
                };
                reload();
            }
        })?;
        Ok(Some(EarlyWatch { watcher, target }))
    }
}

/// A file watcher started before its hub was built.
pub(crate) struct EarlyWatch {
    watcher: FileWatcher,
    target: Arc<Mutex<WatchTarget>>,
}

/// What the watcher does on a change: nothing yet (remembering whether the file changed
/// meanwhile), or reload its hub (which the function holds weakly, so that dropping the last
/// `Hub` stops the watcher).
enum WatchTarget {
    Waiting { changed: bool },
    Ready(Arc<dyn Fn() + Send + Sync>),
}

impl EarlyWatch {
    /// Hands the watcher over: `slot` keeps it alive as long as its hub, `reload` reloads the
    /// hub; runs `reload` at once if the file changed since the watch began.
    pub fn attach(self, slot: &Mutex<Option<FileWatcher>>, reload: Arc<dyn Fn() + Send + Sync>) {
        let before =
            std::mem::replace(&mut *lock(&self.target), WatchTarget::Ready(reload.clone()));
        *lock(slot) = Some(self.watcher);
        if let WatchTarget::Waiting { changed: true } = before {
            reload();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::hub::Hub;
    use crate::client::state::Shared;
    use crate::config::Config;
    use std::time::Instant;

    fn config(model: &str) -> String {
        format!(
            "project: p\nenv: dev\nproviders: {{ openai: {{}} }}\nroles:\n  r: {{ provider: openai, model: {model}, mode: chat }}\n"
        )
    }

    #[test]
    fn a_change_between_the_start_of_the_watch_and_the_hub_is_applied_at_attach() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmhub.yaml");
        std::fs::write(&path, config("old")).unwrap();
        let reloads = Arc::new(Mutex::new(0));
        let settings = ReloadSettings {
            path: Some(path.clone()),
            watch: true,
            debounce: Some(Duration::from_millis(20)),
            hooks: vec![Arc::new({
                let reloads = reloads.clone();
                move |_| *reloads.lock().unwrap() += 1
            })],
        };
        let early = settings.start_watching().unwrap().unwrap();

        // The hub reads the file, then the file changes before the hub is built.
        let first_read = Config::from_path(&path).unwrap();
        let tmp = dir.path().join("next.yaml");
        std::fs::write(&tmp, config("new")).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(*lock(&early.target), WatchTarget::Waiting { changed: true }) {
            assert!(Instant::now() < deadline, "the change was not seen in 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let hub = Hub::builder().config(first_read).build().unwrap();
        let hub = Hub {
            shared: Arc::new(Shared {
                reload: Reloader::new(settings),
                ..Arc::into_inner(hub.shared).unwrap()
            }),
        };
        assert_eq!(hub.config().roles["r"].model, "old");
        hub.attach_watch(early);
        assert_eq!(hub.config().roles["r"].model, "new");
        assert_eq!(*reloads.lock().unwrap(), 1);
    }

    #[test]
    fn a_panicking_reload_hook_is_contained_and_the_others_run() {
        let ran = Arc::new(Mutex::new(0));
        let settings = ReloadSettings {
            hooks: vec![
                Arc::new(|_| panic!("a broken hook")),
                Arc::new({
                    let ran = ran.clone();
                    move |_| *ran.lock().unwrap() += 1
                }),
            ],
            ..ReloadSettings::default()
        };
        settings.report(&Err(Error::Setup {
            message: "no file".into(),
        }));
        assert_eq!(*ran.lock().unwrap(), 1);
    }
}
