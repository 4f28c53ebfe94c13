//! Reading a config (a file, or standard input for `-`) through the library's validator, and
//! its problems rendered as text or as JSON objects.

use std::io::Read;
use std::path::Path;

use llmhub_core::config::MAX_CONFIG_BYTES;
use llmhub_core::{Config, ConfigProblem};
use serde_json::{Value, json};

/// The name problems give to standard input.
pub const STDIN_NAME: &str = "<stdin>";

/// The name of `path` in problems: as given, or `<stdin>` for `-`.
pub fn display_name(path: &Path) -> String {
    if is_stdin(path) {
        STDIN_NAME.to_owned()
    } else {
        path.display().to_string()
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads and validates the config at `path` (`-`: standard input). Every problem comes back,
/// each naming the file as given.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigProblem>> {
    let name = display_name(path);
    let result = if is_stdin(path) {
        read_stdin(&name).and_then(|text| Config::from_yaml_str_named(&text, &name))
    } else {
        Config::from_path_named(path, &name)
    };
    result.map_err(|err| problems_of(&err, &name))
}

/// The problems of an error: its config problems, or the error itself as a problem about the
/// whole file.
pub fn problems_of(err: &llmhub_core::Error, name: &str) -> Vec<ConfigProblem> {
    let problems = err.config_problems();
    if problems.is_empty() {
        vec![ConfigProblem::whole_file(name, err.to_string(), None)]
    } else {
        problems.to_vec()
    }
}

/// Standard input as text, refusing more than the library accepts before reading it all.
fn read_stdin(name: &str) -> llmhub_core::Result<String> {
    let mut bytes = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes);
    let problem = |message: String| {
        llmhub_core::Error::Config(llmhub_core::ConfigError::new(vec![
            ConfigProblem::whole_file(name, message, None),
        ]))
    };
    if let Err(err) = read {
        return Err(problem(format!("cannot read standard input: {err}")));
    }
    // Text over the limit is passed on, so that the library words the refusal.
    String::from_utf8(bytes).map_err(|err| {
        problem(format!(
            "standard input is not valid UTF-8 (byte {})",
            err.utf8_error().valid_up_to()
        ))
    })
}

/// The problems rendered as the library renders them, one blank line apart, ending with a
/// newline.
pub fn render_problems(problems: &[ConfigProblem]) -> String {
    let mut text = String::new();
    for problem in problems {
        text.push_str(&problem.to_string());
        text.push_str("\n\n");
    }
    text
}

/// One problem as a JSON object: `file, line, column, end_line, end_column, severity, message,
/// hint`. The end is exclusive (`column + len`); a whole-file problem is at line and column 0.
pub fn problem_json(problem: &ConfigProblem) -> Value {
    let end_column = if problem.line == 0 {
        0
    } else {
        problem.column + problem.len
    };
    json!({
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "end_line": problem.line,
        "end_column": end_column,
        "severity": "error",
        "message": problem.message,
        "hint": problem.hint,
    })
}

/// `1 problem`, `3 problems`.
pub fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
