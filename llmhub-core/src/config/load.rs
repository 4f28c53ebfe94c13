//! Loading a config: from a file (bounded in size, UTF-8) or from text, then validated.

use std::path::Path;

use crate::config::types::{Config, ProviderConfig, RoleConfig};
use crate::config::validate::parse_and_validate;
use crate::error::{Error, Result};

/// The largest config file accepted, in bytes (1 MiB).
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

const TOO_LARGE_HINT: &str =
    "a generated llmhub.yaml is a few KiB; check that this is the right file";

impl Config {
    /// Reads and validates a config file (the original `load_runtime_config`).
    ///
    /// Every problem is reported at once in [`Error::Config`], each naming `path` as given.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        Config::from_path_named(path, &path.display().to_string())
    }

    /// Reads and validates a config file, naming it `source_name` in errors (code generation
    /// reads an absolute path and names the file relative to the crate, so messages stay short
    /// and portable).
    pub fn from_path_named(path: impl AsRef<Path>, source_name: &str) -> Result<Config> {
        let text = read_config_file(path.as_ref(), source_name)?;
        Config::from_yaml_str_named(&text, source_name)
    }

    /// Parses and validates a config held in memory (the original `parse_runtime_config`).
    /// Errors name the file `<string>`; see [`Config::from_yaml_str_named`].
    pub fn from_yaml_str(text: &str) -> Result<Config> {
        Config::from_yaml_str_named(text, "<string>")
    }

    /// Parses and validates a config held in memory, naming it `source_name` in errors.
    pub fn from_yaml_str_named(text: &str, source_name: &str) -> Result<Config> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::config_file(
                source_name,
                format!(
                    "the config is {} bytes; the limit is {MAX_CONFIG_BYTES} bytes (1 MiB)",
                    text.len()
                ),
                TOO_LARGE_HINT,
            ));
        }
        parse_and_validate(text, source_name)
    }

    /// The role named `name`, if the file has it.
    pub fn role(&self, name: &str) -> Option<&RoleConfig> {
        self.roles.get(name)
    }

    /// The provider `id`, if the file defines it.
    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.get(id)
    }
}

/// Reads a config file, refusing files over [`MAX_CONFIG_BYTES`] before reading them whole.
fn read_config_file(path: &Path, name: &str) -> Result<String> {
    use std::io::Read;
    let unreadable = |err: std::io::Error| {
        Error::config_file(
            name,
            format!("cannot read the config file: {err}"),
            "check the path; a relative path is relative to the current directory",
        )
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(Error::config_file(
            name,
            format!("the config file is larger than {MAX_CONFIG_BYTES} bytes (1 MiB)"),
            TOO_LARGE_HINT,
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        Error::config_file(
            name,
            format!(
                "the config file is not valid UTF-8 (byte {})",
                err.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        )
    })
}
