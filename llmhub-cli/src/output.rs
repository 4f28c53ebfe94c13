//! Output without panics, and the ways a command fails.
//!
//! `println!` panics when stdout is closed (`llmhub roles | head -1`); the commands write
//! through [`stdout`] and `?` instead, and a closed pipe ends the command quietly.

use std::io::{self, Write};
use std::process::ExitCode;

/// Exit code of a success.
pub const EXIT_OK: u8 = 0;
/// Exit code of a problem in a config, a refused reload or a failed call.
pub const EXIT_PROBLEMS: u8 = 1;
/// Exit code of a command line that cannot be carried out as written.
pub const EXIT_USAGE: u8 = 2;

/// Why a command stopped.
#[derive(Debug)]
pub enum Failure {
    /// The command line asks for something that cannot be done; exit 2.
    Usage(String),
    /// The work failed (a call, a write); exit 1 after printing `error: {message}`.
    Failed(String),
    /// The command has already printed what went wrong; exit 1.
    Reported,
    /// Writing to stdout failed.
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(err: io::Error) -> Failure {
        Failure::Io(err)
    }
}

impl Failure {
    /// Prints the failure on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Failure::Usage(message) => {
                eprint_text(&format!("error: {message}\n"));
                ExitCode::from(EXIT_USAGE)
            }
            Failure::Failed(message) => {
                eprint_text(&format!("error: {message}\n"));
                ExitCode::from(EXIT_PROBLEMS)
            }
            Failure::Reported => ExitCode::from(EXIT_PROBLEMS),
            // The reader went away (`| head`): nothing more to say to anyone.
            Failure::Io(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_OK),
            Failure::Io(err) => {
                eprint_text(&format!("error: cannot write the output: {err}\n"));
                ExitCode::from(EXIT_PROBLEMS)
            }
        }
    }
}

/// The result of a command: its exit code, or why it stopped.
pub type CommandResult = Result<ExitCode, Failure>;

/// Standard output, locked, for `write!`.
pub fn stdout() -> io::StdoutLock<'static> {
    io::stdout().lock()
}

/// Writes `text` to stderr; a failure to do so is ignored (there is nowhere left to report it).
pub fn eprint_text(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}
