//! The errors of code generation.

use std::fmt;
use std::path::PathBuf;

use llmhub_core::ConfigError;

/// Why code could not be generated.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The config file cannot be read (missing, a directory, no permission).
    Read {
        /// The file, as given (relative to the crate).
        file: String,
        /// The directory it was resolved against (`CARGO_MANIFEST_DIR`).
        base_dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config is invalid; holds every problem, each with its file, line and column.
    Config(ConfigError),
    /// The struct name is not a Rust identifier.
    StructName(String),
    /// A variable that cargo sets for build scripts (`OUT_DIR`, `CARGO_MANIFEST_DIR`) is not set.
    Env(&'static str),
    /// The generated file could not be written.
    Write {
        /// Where it was being written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The generated code does not parse as Rust. A bug in llmhub-codegen; please report it.
    Internal(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read {
                file,
                base_dir,
                source,
            } => write!(
                f,
                "cannot read the llmhub config `{file}`: {source}\n  = note: the path is relative \
                 to the crate directory (CARGO_MANIFEST_DIR), here `{}`",
                base_dir.display()
            ),
            Error::Config(err) => write!(f, "{err}"),
            Error::StructName(name) => write!(
                f,
                "`{name}` is not a valid struct name; use a Rust identifier such as `Roles`"
            ),
            Error::Env(var) => write!(
                f,
                "the environment variable `{var}` is not set; llmhub_codegen::Builder runs in a \
                 build script (build.rs), where cargo sets it"
            ),
            Error::Write { path, source } => {
                write!(f, "cannot write `{}`: {source}", path.display())
            }
            Error::Internal(message) => write!(
                f,
                "llmhub-codegen generated code that does not parse ({message}); this is a bug, \
                 please report it with the config"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } | Error::Write { source, .. } => Some(source),
            Error::Config(err) => Some(err),
            _ => None,
        }
    }
}
