//! The build-script route : the same checks and the same generated API as the macro,
//! written to a file.

use std::path::{Path, PathBuf};

use syn::Ident;

use crate::{Embed, Error, format_source, generate_tokens, load_config};

/// Generates the roles of one config into a Rust file, from a build script (or any program, to
/// commit the generated code).
///
/// ```no_run
/// // build.rs, in `fn main()`
/// llmhub_codegen::Builder::new("llmhub.yaml")
///     .struct_name("Roles")
///     .write_to_out_dir("llmhub_roles.rs")
///     .unwrap_or_else(|e| {
///         eprintln!("{e}");
///         std::process::exit(1)
///     });
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    path: String,
    struct_name: String,
    base_dir: Option<PathBuf>,
}

impl Builder {
    /// A builder for the config at `path`, relative to the crate directory
    /// (`CARGO_MANIFEST_DIR`) like the macro's path.
    pub fn new(path: impl Into<String>) -> Builder {
        Builder {
            path: path.into(),
            struct_name: "Roles".to_owned(),
            base_dir: None,
        }
    }

    /// The name of the generated struct (default `Roles`).
    pub fn struct_name(mut self, name: impl Into<String>) -> Builder {
        self.struct_name = name.into();
        self
    }

    /// Resolves the config path against `dir` instead of `CARGO_MANIFEST_DIR` (outside a build
    /// script). The generated code still embeds the file relative to `CARGO_MANIFEST_DIR` of the
    /// crate that compiles it, so `dir` should be that crate's directory.
    pub fn base_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.base_dir = Some(dir.into());
        self
    }

    /// The generated source: validated config, prettyplease-formatted, with an `@generated`
    /// header.
    ///
    /// # Errors
    /// [`Error::Read`] or [`Error::Config`] (with every problem) for a bad config,
    /// [`Error::StructName`] for a struct name that is not an identifier.
    pub fn generate(&self) -> Result<String, Error> {
        let name: Ident = syn::parse_str(&self.struct_name)
            .map_err(|_| Error::StructName(self.struct_name.clone()))?;
        let (config, _) = load_config(&self.resolved_base_dir()?, &self.path)?;
        let embed = if Path::new(&self.path).is_absolute() {
            Embed::Absolute(PathBuf::from(&self.path))
        } else {
            Embed::ManifestRelative(self.path.clone())
        };
        format_source(generate_tokens(&config, &name, &embed)?, &self.path)
    }

    /// Writes the generated source to `path` (to commit it, say), and prints
    /// `cargo:rerun-if-changed` for the config. Returns `path`.
    ///
    /// # Errors
    /// As [`Builder::generate`], and [`Error::Write`].
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        // Printed before generating, so that a fix of a broken config reruns the build script.
        let config_path = self.resolved_base_dir()?.join(&self.path);
        println!("cargo:rerun-if-changed={}", config_path.display());
        let source = self.generate()?;
        // An unchanged file keeps its mtime, so cargo does not recompile the crate for nothing.
        if std::fs::read_to_string(path).ok().as_deref() != Some(source.as_str()) {
            std::fs::write(path, source).map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(path.to_path_buf())
    }

    fn resolved_base_dir(&self) -> Result<PathBuf, Error> {
        match &self.base_dir {
            Some(dir) => Ok(dir.clone()),
            None => std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .ok_or(Error::Env("CARGO_MANIFEST_DIR")),
        }
    }

    /// Writes the generated source to `$OUT_DIR/<file_name>`, for
    /// `include!(concat!(env!("OUT_DIR"), "/<file_name>"))`. Returns the path written.
    ///
    /// # Errors
    /// As [`Builder::write_to`], and [`Error::Env`] outside a build script.
    pub fn write_to_out_dir(&self, file_name: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let out_dir = std::env::var_os("OUT_DIR").ok_or(Error::Env("OUT_DIR"))?;
        self.write_to(Path::new(&out_dir).join(file_name))
    }
}
