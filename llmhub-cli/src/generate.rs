//! `llmhub gen`: the code a build script generates (`llmhub_codegen::Builder`), printed or
//! written to a file.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use llmhub_codegen::{Builder, Error};

use crate::load::render_problems;
use crate::output::{CommandResult, EXIT_OK, Failure, eprint_text, stdout};

pub fn run(file: &str, struct_name: &str, out_path: Option<&Path>) -> CommandResult {
    let base_dir = std::env::current_dir()
        .map_err(|e| Failure::Failed(format!("cannot read the current directory: {e}")))?;
    let source = match Builder::new(file)
        .struct_name(struct_name)
        .base_dir(base_dir)
        .generate()
    {
        Ok(source) => source,
        Err(Error::Config(err)) => {
            eprint_text(&render_problems(&err.problems));
            return Err(Failure::Reported);
        }
        Err(err @ Error::StructName(_)) => return Err(Failure::Usage(err.to_string())),
        Err(err) => return Err(Failure::Failed(err.to_string())),
    };
    match out_path {
        None => {
            let mut out = stdout();
            out.write_all(source.as_bytes())?;
            out.flush()?;
        }
        Some(path) => {
            // An unchanged file keeps its mtime, so cargo does not rebuild for nothing.
            if std::fs::read_to_string(path).ok().as_deref() != Some(source.as_str()) {
                std::fs::write(path, &source).map_err(|e| {
                    Failure::Failed(format!("cannot write `{}`: {e}", path.display()))
                })?;
                eprint_text(&format!("wrote {}\n", path.display()));
            } else {
                eprint_text(&format!("{} is up to date\n", path.display()));
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
