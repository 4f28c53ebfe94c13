//! Watching one config file for changes (used by reload's `watch(true)`).
//!
//! The watcher observes the file's *directory*, not the file itself, so it keeps working when an
//! editor saves by writing a new file and renaming it over the old one, and when the file is
//! deleted and created again. Events are debounced: a burst of writes gives one callback.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use crate::error::{Error, Result};

/// The default quiet time before a change is reported.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// Calls a function whenever one file changes, until dropped.
///
/// ```no_run
/// use std::time::Duration;
/// use llmhub_core::watch::FileWatcher;
///
/// let watcher = FileWatcher::new("llmhub.yaml", Duration::from_millis(100), || {
///     println!("llmhub.yaml changed");
/// })?;
/// // ... the callback runs on the watcher's thread while `watcher` is alive.
/// drop(watcher);
/// # Ok::<(), llmhub_core::Error>(())
/// ```
pub struct FileWatcher {
    path: PathBuf,
    _debouncer: Debouncer<RecommendedWatcher>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher")
            .field("path", &self.path)
            .finish()
    }
}

impl FileWatcher {
    /// Starts watching `path`; `on_change` runs (on the watcher's own thread) once per burst of
    /// changes, `debounce` after the last one. The file need not exist yet, but its directory must.
    pub fn new(
        path: impl AsRef<Path>,
        debounce: Duration,
        on_change: impl Fn() + Send + 'static,
    ) -> Result<FileWatcher> {
        let path = path.as_ref().to_path_buf();
        let watch_error = |message: String| Error::Io {
            path: path.display().to_string(),
            message,
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = dir
            .canonicalize()
            .map_err(|err| watch_error(format!("cannot watch {}: {err}", dir.display())))?;
        let Some(file_name) = path.file_name().map(|n| n.to_os_string()) else {
            return Err(watch_error("the path names no file".into()));
        };
        let mut debouncer = new_debouncer(debounce, move |events: DebounceEventResult| {
            // Errors from the OS watcher are transient here: the next event retries.
            if let Ok(events) = events
                && events
                    .iter()
                    .any(|e| e.path.file_name() == Some(file_name.as_os_str()))
            {
                on_change();
            }
        })
        .map_err(|err| watch_error(err.to_string()))?;
        debouncer
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|err| watch_error(err.to_string()))?;
        Ok(FileWatcher {
            path,
            _debouncer: debouncer,
        })
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("llmhub-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Waits (with a deadline, not a fixed sleep) until the watcher reports a change whose file
    /// content satisfies `check`.
    fn wait_for(rx: &mpsc::Receiver<String>, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(content) if check(&content) => return,
                Ok(_) => continue,
                Err(_) => panic!("no matching change reported within 10 s"),
            }
        }
    }

    fn watch(path: &Path) -> (FileWatcher, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        let file = path.to_path_buf();
        let watcher = FileWatcher::new(path, Duration::from_millis(50), move || {
            let _ = tx.send(std::fs::read_to_string(&file).unwrap_or_default());
        })
        .unwrap();
        (watcher, rx)
    }

    #[test]
    fn reports_edits_rename_replace_and_recreate() {
        let dir = temp_dir("all");
        let path = dir.join("llmhub.yaml");
        std::fs::write(&path, "v1").unwrap();
        let (_watcher, rx) = watch(&path);

        std::fs::write(&path, "v2 edited in place").unwrap();
        wait_for(&rx, |c| c == "v2 edited in place");

        let tmp = dir.join(".llmhub.yaml.swp");
        std::fs::write(&tmp, "v3 renamed over").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        wait_for(&rx, |c| c == "v3 renamed over");

        std::fs::remove_file(&path).unwrap();
        wait_for(&rx, str::is_empty);
        std::fs::write(&path, "v4 recreated").unwrap();
        wait_for(&rx, |c| c == "v4 recreated");

        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ignores_other_files_in_the_directory() {
        let dir = temp_dir("other");
        let path = dir.join("llmhub.yaml");
        std::fs::write(&path, "v1").unwrap();
        let (_watcher, rx) = watch(&path);
        std::fs::write(dir.join("unrelated.txt"), "x").unwrap();
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "no change reported"
        );
        std::fs::write(&path, "v2").unwrap();
        wait_for(&rx, |c| c == "v2");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let err = FileWatcher::new("/definitely/not/here/llmhub.yaml", DEFAULT_DEBOUNCE, || {})
            .unwrap_err();
        assert!(err.to_string().contains("cannot watch"), "{err}");
    }
}
