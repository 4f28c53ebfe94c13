//! Watching one config file for changes (used by reload's `watch(true)`).
//!
//! The watcher observes *directories*, not the file itself, so it keeps working when an editor
//! saves by writing a new file and renaming it over the old one, and when the file is deleted
//! and created again. It watches the file's directory and, when the path goes through symbolic
//! links, the directories of every link on the way and of the file the path resolves to: a
//! Kubernetes ConfigMap (`llmhub.yaml -> ..data/llmhub.yaml`, `..data -> ..2026_11_25_1`,
//! updated by renaming a new `..data` link over the old one) or a link to a file elsewhere is
//! followed. After each burst of events it resolves the path again, moves its watches to the
//! directories that now matter, and reports a change only when the file the path resolves to,
//! or its content, differs from what it saw last. Events are debounced: a burst of writes
//! gives one callback.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use crate::config::MAX_CONFIG_BYTES;
use crate::error::{Error, Result};

/// The default quiet time before a change is reported.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// The most symbolic links followed from the path (as the OS's own limit, 40 on Linux).
const MAX_LINKS: usize = 40;

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
    /// Also reached (weakly) by the event handler, which moves the watches.
    _state: Arc<Mutex<Watching>>,
}

/// What the watcher knows: the OS watcher, the directories it watches, and the file as last
/// seen.
struct Watching {
    debouncer: Option<Debouncer<RecommendedWatcher>>,
    dirs: Vec<PathBuf>,
    seen: Seen,
}

/// The file a path resolves to, and a hash of its content (`None`: missing or unreadable).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    target: Option<PathBuf>,
    content: Option<u64>,
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
    /// changes, `debounce` after the last one, when the file the path resolves to or its
    /// content changed. The file need not exist yet, but its directory must.
    pub fn new(
        path: impl AsRef<Path>,
        debounce: Duration,
        on_change: impl Fn() + Send + 'static,
    ) -> Result<FileWatcher> {
        let given = path.as_ref().to_path_buf();
        let watch_error = |message: String| Error::Io {
            path: given.display().to_string(),
            message,
        };
        if given.file_name().is_none() {
            return Err(watch_error("the path names no file".into()));
        }
        // Absolute, so that a later change of the current directory does not move the watch.
        let path = std::path::absolute(&given)
            .map_err(|err| watch_error(format!("cannot watch {}: {err}", given.display())))?;
        let dir = parent(&path);
        let dir = dir
            .canonicalize()
            .map_err(|err| watch_error(format!("cannot watch {}: {err}", dir.display())))?;

        let state = Arc::new(Mutex::new(Watching {
            debouncer: None,
            dirs: Vec::new(),
            seen: Seen {
                target: None,
                content: None,
            },
        }));
        // The handler holds the state weakly: dropping the `FileWatcher` drops the OS watcher.
        let handler = {
            let state = Arc::downgrade(&state);
            let path = path.clone();
            move |events: DebounceEventResult| {
                // Errors from the OS watcher are transient here: the next event retries.
                if events.is_err() {
                    return;
                }
                let Some(state) = state.upgrade() else {
                    return;
                };
                let changed = lock(&state).refresh(&path);
                // Released first: `on_change` may drop the last owner of this watcher.
                drop(state);
                if changed {
                    on_change();
                }
            }
        };
        let debouncer =
            new_debouncer(debounce, handler).map_err(|err| watch_error(err.to_string()))?;
        {
            let mut watching = lock(&state);
            // The file's own directory must be watchable; the others are followed as they come.
            watching
                .debouncer
                .insert(debouncer)
                .watcher()
                .watch(&dir, RecursiveMode::NonRecursive)
                .map_err(|err| watch_error(format!("cannot watch {}: {err}", dir.display())))?;
            watching.dirs.push(dir);
            watching.refresh(&path);
        }
        Ok(FileWatcher {
            path,
            _state: state,
        })
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Watching {
    /// Resolves `path` again, moves the watches to the directories that matter now, and tells
    /// whether the file it resolves to, or its content, changed since last seen.
    fn refresh(&mut self, path: &Path) -> bool {
        let dirs = dirs_to_watch(path);
        if let Some(debouncer) = &mut self.debouncer {
            let watcher = debouncer.watcher();
            for gone in self.dirs.iter().filter(|d| !dirs.contains(d)) {
                // A directory that was deleted is no longer watched anyway.
                let _ = watcher.unwatch(gone);
            }
            let mut watched = Vec::with_capacity(dirs.len());
            for dir in dirs {
                if self.dirs.contains(&dir)
                    || watcher.watch(&dir, RecursiveMode::NonRecursive).is_ok()
                {
                    watched.push(dir);
                }
            }
            self.dirs = watched;
        }
        // Seen after the watches moved: a change made after this read is an event.
        let seen = Seen::now(path);
        let changed = seen != self.seen;
        self.seen = seen;
        changed
    }
}

impl Seen {
    fn now(path: &Path) -> Seen {
        let target = path.canonicalize().ok();
        let content = target.as_deref().and_then(content_hash);
        Seen { target, content }
    }
}

/// A hash of a file's content (of its first bytes past the config size limit: a larger file is
/// refused by the load anyway).
fn content_hash(file: &Path) -> Option<u64> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .ok()?
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
}

/// The directories whose entries decide what `path` resolves to: the directory of the path
/// and of each symbolic link it goes through (as a link's target or as a directory on the
/// way), each resolved to the real directory.
fn dirs_to_watch(path: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut add = |dir: &Path| {
        if let Ok(dir) = dir.canonicalize()
            && !dirs.contains(&dir)
        {
            dirs.push(dir);
        }
    };
    let mut at = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let dir = parent(&at);
        add(&dir);
        // A link among the directories on the way (`..data` of a ConfigMap) is decided in the
        // directory that holds it.
        for on_the_way in dir.ancestors() {
            if std::fs::symlink_metadata(on_the_way).is_ok_and(|m| m.is_symlink()) {
                add(&parent(on_the_way));
            }
        }
        match std::fs::read_link(&at) {
            // A relative target is relative to the link's directory.
            Ok(target) => at = dir.join(target),
            Err(_) => break,
        }
    }
    dirs
}

/// The directory of `path` (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn lock(state: &Mutex<Watching>) -> MutexGuard<'_, Watching> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmhub.yaml");
        std::fs::write(&path, "v1").unwrap();
        let (_watcher, rx) = watch(&path);

        std::fs::write(&path, "v2 edited in place").unwrap();
        wait_for(&rx, |c| c == "v2 edited in place");

        let tmp = dir.path().join(".llmhub.yaml.swp");
        std::fs::write(&tmp, "v3 renamed over").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        wait_for(&rx, |c| c == "v3 renamed over");

        std::fs::remove_file(&path).unwrap();
        wait_for(&rx, str::is_empty);
        std::fs::write(&path, "v4 recreated").unwrap();
        wait_for(&rx, |c| c == "v4 recreated");
    }

    /// Replaces the file at `path` by renaming a new one over it, as editors and deployment
    /// tools do: the watcher never sees it half-written.
    fn replace(path: &Path, content: &str) {
        let new = path.with_extension("new");
        std::fs::write(&new, content).unwrap();
        std::fs::rename(&new, path).unwrap();
    }

    #[test]
    fn ignores_other_files_and_unchanged_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("llmhub.yaml");
        std::fs::write(&path, "v1").unwrap();
        let (_watcher, rx) = watch(&path);
        std::fs::write(dir.path().join("unrelated.txt"), "x").unwrap();
        // The same content written again is no change. (Replaced whole: a write in place
        // truncates first, and a busy machine can pause the writer long enough for the
        // watcher to see the empty file, a real change.)
        replace(&path, "v1");
        // Past the debounce, so that a report of the events above would come first.
        std::thread::sleep(Duration::from_millis(300));
        replace(&path, "v2");
        // The first report is the real change: nothing was reported before it.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            "v2",
            "only the change of content is reported"
        );
    }

    /// The layout of a Kubernetes ConfigMap volume: `llmhub.yaml -> ..data/llmhub.yaml` and
    /// `..data -> ..<timestamp>`; an update writes a new timestamped directory and renames a
    /// new `..data` link over the old one.
    #[cfg(unix)]
    #[test]
    fn follows_a_configmap_update_and_edits_of_a_link_target_elsewhere() {
        use std::os::unix::fs::symlink;
        let root = tempfile::tempdir().unwrap();
        let volume = root.path().join("volume");
        std::fs::create_dir(&volume).unwrap();
        let first = volume.join("..2026_11_25_1");
        std::fs::create_dir(&first).unwrap();
        std::fs::write(first.join("llmhub.yaml"), "v1").unwrap();
        symlink("..2026_11_25_1", volume.join("..data")).unwrap();
        symlink("..data/llmhub.yaml", volume.join("llmhub.yaml")).unwrap();
        let path = volume.join("llmhub.yaml");
        let (_watcher, rx) = watch(&path);

        let second = volume.join("..2026_11_25_2");
        std::fs::create_dir(&second).unwrap();
        std::fs::write(second.join("llmhub.yaml"), "v2").unwrap();
        symlink("..2026_11_25_2", volume.join("..data_tmp")).unwrap();
        std::fs::rename(volume.join("..data_tmp"), volume.join("..data")).unwrap();
        std::fs::remove_dir_all(&first).unwrap();
        wait_for(&rx, |c| c == "v2");

        // The watch moved to the new directory: an edit there is seen too.
        std::fs::write(second.join("llmhub.yaml"), "v3").unwrap();
        wait_for(&rx, |c| c == "v3");

        // A link to a file in another directory: edits of the target are seen.
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("real.yaml"), "v4").unwrap();
        let link = root.path().join("link.yaml");
        symlink(elsewhere.join("real.yaml"), &link).unwrap();
        let (_watcher, rx) = watch(&link);
        std::fs::write(elsewhere.join("real.yaml"), "v5").unwrap();
        wait_for(&rx, |c| c == "v5");
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let err = FileWatcher::new("/definitely/not/here/llmhub.yaml", DEFAULT_DEBOUNCE, || {})
            .unwrap_err();
        assert!(err.to_string().contains("cannot watch"), "{err}");
    }
}
