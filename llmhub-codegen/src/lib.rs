//! Turns an `llmhub.yaml` into typed Rust code. Shared by the `roles!` macro
//! (`llmhub-macros`) and by build scripts, in progenitor's manner: this crate is a plain
//! library; the macro is a thin wrapper over it.
//!
//! In a build script:
//!
//! ```no_run
//! // build.rs
//! llmhub_codegen::Builder::new("llmhub.yaml")
//!     .struct_name("Roles")
//!     .write_to_out_dir("llmhub_roles.rs")
//!     .unwrap_or_else(|e| {
//!         eprintln!("{e}");
//!         std::process::exit(1)
//!     });
//! ```
//!
//! and in the crate: `include!(concat!(env!("OUT_DIR"), "/llmhub_roles.rs"));`.
//!
//! The config is validated by `llmhub-core`, the same code that validates it at run time; every
//! problem is reported at once, located in the file.
#![deny(missing_docs)]

// Only to ask whether the code runs inside the compiler (`proc_macro::is_available`).
extern crate proc_macro;

mod builder;
mod error;
mod generate;

use std::path::{Path, PathBuf};

pub use builder::Builder;
pub use error::Error;
pub use generate::{Embed, format_source, generate_tokens};
pub use llmhub_core::Config;

/// Reads and validates the config at `path`, resolved against `base_dir` (the crate directory,
/// `CARGO_MANIFEST_DIR`, for the macro and build scripts).
///
/// Errors name the file as `path` is written (relative to the crate), so that messages stay
/// short and test snapshots portable. Returns the config and the resolved path.
pub fn load_config(base_dir: &Path, path: &str) -> Result<(Config, PathBuf), Error> {
    let resolved = base_dir.join(path);
    let read_error = |source| Error::Read {
        file: path.to_owned(),
        base_dir: base_dir.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(&resolved).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(read_error(std::io::Error::other("it is not a file")));
    }
    match Config::from_path_named(&resolved, path) {
        Ok(config) => Ok((config, resolved)),
        Err(llmhub_core::Error::Config(err)) => Err(Error::Config(err)),
        Err(other) => Err(Error::Config(llmhub_core::ConfigError::new(vec![
            llmhub_core::ConfigProblem::whole_file(path, other.to_string(), None),
        ]))),
    }
}
