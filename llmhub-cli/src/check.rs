//! `llmhub check`: validates each file and prints every problem, rustc-style or as one JSON
//! array.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::Format;
use crate::load::{count, display_name, load, problem_json, render_problems};
use crate::output::{CommandResult, EXIT_OK, EXIT_PROBLEMS, Failure, stdout};

pub fn run(files: &[PathBuf], format: Format) -> CommandResult {
    let stdin_uses = files.iter().filter(|f| f.as_os_str() == "-").count();
    if stdin_uses > 1 {
        return Err(Failure::Usage(
            "`-` (standard input) can be given only once".into(),
        ));
    }
    let mut out = stdout();
    let mut all_problems = Vec::new();
    let mut failed = 0;
    for file in files {
        let name = display_name(file);
        match load(file) {
            Ok(config) => {
                if format == Format::Text {
                    writeln!(
                        out,
                        "{name}: OK, {} and {} (project `{}`, env `{}`)",
                        count(config.roles.len(), "role"),
                        count(config.providers.len(), "provider"),
                        config.project,
                        config.env,
                    )?;
                }
            }
            Err(problems) => {
                failed += 1;
                if format == Format::Text {
                    write!(out, "{}", render_problems(&problems))?;
                    writeln!(out, "{name}: {}", count(problems.len(), "problem"))?;
                }
                all_problems.extend(problems);
            }
        }
    }
    if format == Format::Json {
        let array: Vec<_> = all_problems.iter().map(problem_json).collect();
        let text =
            serde_json::to_string_pretty(&array).map_err(|e| Failure::Failed(e.to_string()))?;
        writeln!(out, "{text}")?;
    } else if files.len() > 1 && failed > 0 {
        writeln!(
            out,
            "{} of {} have problems",
            failed,
            count(files.len(), "file")
        )?;
    }
    out.flush()?;
    Ok(ExitCode::from(if failed == 0 {
        EXIT_OK
    } else {
        EXIT_PROBLEMS
    }))
}
