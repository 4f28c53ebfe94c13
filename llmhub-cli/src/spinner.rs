//! A wait indicator on stderr for `llmhub call`: after a second without an answer, a turning
//! bar and the time waited, redrawn in place; erased when the answer (or its first chunk)
//! comes. Only when stderr is a terminal, so pipes and logs never see it.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a call may wait before the indicator shows.
const DELAY: Duration = Duration::from_secs(1);
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];

/// A running indicator; [`Spinner::stop`] (or dropping it) erases it.
pub struct Spinner {
    task: Option<tokio::task::JoinHandle<()>>,
    drawn: Arc<AtomicBool>,
}

impl Spinner {
    /// Starts the indicator with `label` (`waiting for llm.inference`). Must be called inside
    /// a tokio runtime; does nothing when stderr is not a terminal.
    pub fn start(label: String) -> Spinner {
        let drawn = Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Spinner { task: None, drawn };
        }
        let flag = Arc::clone(&drawn);
        let task = tokio::spawn(async move {
            let started = Instant::now();
            tokio::time::sleep(DELAY).await;
            for frame in FRAMES.iter().cycle() {
                flag.store(true, Ordering::Relaxed);
                {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r{frame} {label} ({}s)", started.elapsed().as_secs());
                    let _ = err.flush();
                }
                tokio::time::sleep(Duration::from_millis(120)).await;
            }
        });
        Spinner {
            task: Some(task),
            drawn,
        }
    }

    /// Stops the indicator and erases its line, if it was drawn. Idempotent.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            if self.drawn.load(Ordering::Relaxed) {
                let mut err = std::io::stderr().lock();
                // Carriage return, then erase the line (ANSI "erase in line").
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            }
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}
