//! `llmhub diff`: whether a program compiled against one config would accept another on
//! reload, and what the reload would change.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use llmhub_core::{Config, ReloadOutcome};

use crate::load::{display_name, load, render_problems};
use crate::output::{CommandResult, EXIT_OK, EXIT_PROBLEMS, Failure, eprint_text, stdout};

pub fn run(old_path: &Path, new_path: &Path) -> CommandResult {
    if old_path.as_os_str() == "-" && new_path.as_os_str() == "-" {
        return Err(Failure::Usage(
            "`-` (standard input) can stand for only one of the two files".into(),
        ));
    }
    let old = load_or_report(old_path);
    let new = load_or_report(new_path);
    let (Some(old), Some(new)) = (old, new) else {
        return Err(Failure::Reported);
    };
    let mut out = stdout();
    let (old_name, new_name) = (display_name(old_path), display_name(new_path));
    let code = match ReloadOutcome::check(new_path, &old, &new) {
        Ok(outcome) => {
            writeln!(
                out,
                "accepted: a program compiled against {old_name} would reload {new_name}"
            )?;
            write!(out, "{}", describe(&outcome))?;
            EXIT_OK
        }
        Err(reason) => {
            writeln!(
                out,
                "refused: a program compiled against {old_name} would keep its config instead of reloading {new_name}"
            )?;
            writeln!(out, "  reason: {}", refusal(&reason, &old))?;
            EXIT_PROBLEMS
        }
    };
    out.flush()?;
    Ok(ExitCode::from(code))
}

/// Why the reload is refused, in terms of the two files.
fn refusal(reason: &llmhub_core::Error, old: &Config) -> String {
    use llmhub_core::Error;
    match reason {
        Error::UnknownRole { role, suggestion } => format!(
            "role `{role}` is compiled into the program but missing from the new file{}",
            suggestion
                .as_deref()
                .map(|s| format!(" (renamed to `{s}`?)"))
                .unwrap_or_default()
        ),
        Error::ModeMismatch { role, mode, .. } => match old.role(role) {
            Some(compiled) => format!(
                "role `{role}` has mode `{mode}` in the new file; the program was compiled for mode `{}`",
                compiled.mode
            ),
            None => reason.to_string(),
        },
        other => other.to_string(),
    }
}

fn load_or_report(path: &Path) -> Option<Config> {
    load(path)
        .map_err(|problems| eprint_text(&render_problems(&problems)))
        .ok()
}

/// One line for each kind of change, or `no changes`.
fn describe(outcome: &ReloadOutcome) -> String {
    if outcome.is_unchanged() {
        return "  no changes\n".into();
    }
    let mut text = String::new();
    let lists = [
        ("changed roles", &outcome.changed_roles),
        ("added roles", &outcome.added_roles),
        ("removed roles", &outcome.removed_roles),
        ("changed providers", &outcome.changed_providers),
    ];
    for (label, names) in lists {
        if !names.is_empty() {
            text.push_str(&format!("  {label}: {}\n", names.join(", ")));
        }
    }
    if outcome.defaults_changed {
        text.push_str("  defaults changed\n");
    }
    text
}
