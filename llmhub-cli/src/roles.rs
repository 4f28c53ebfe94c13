//! `llmhub roles`: the roles of a config, as a table or as JSON.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use llmhub_core::__private::method_name;
use llmhub_core::{Config, RoleConfig};
use serde_json::{Value, json};

use crate::Format;
use crate::load::{load, render_problems};
use crate::output::{CommandResult, EXIT_OK, Failure, eprint_text, stdout};

pub fn run(file: &Path, format: Format) -> CommandResult {
    let config = match load(file) {
        Ok(config) => config,
        Err(problems) => {
            eprint_text(&render_problems(&problems));
            return Err(Failure::Reported);
        }
    };
    let mut out = stdout();
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&roles_json(&config))
                .map_err(|e| Failure::Failed(e.to_string()))?;
            writeln!(out, "{text}")?;
        }
        Format::Text => write!(out, "{}", table(&config))?,
    }
    out.flush()?;
    Ok(ExitCode::from(EXIT_OK))
}

fn params_text(role: &RoleConfig) -> String {
    Value::Object(role.params.clone()).to_string()
}

fn role_json(role: &RoleConfig) -> Value {
    json!({
        "role": role.name,
        "method": method_name(&role.name),
        "mode": role.mode.as_str(),
        "provider": role.provider,
        "model": role.model,
        "params": role.params,
    })
}

/// `{project, env, roles: [...], defaults}`; `defaults` has no method and is `null` when the
/// file has none.
fn roles_json(config: &Config) -> Value {
    let defaults = config.defaults.as_ref().map(|d| {
        json!({
            "mode": d.mode.as_str(),
            "provider": d.provider,
            "model": d.model,
            "params": d.params,
        })
    });
    json!({
        "project": config.project,
        "env": config.env,
        "roles": config.roles.values().map(role_json).collect::<Vec<_>>(),
        "defaults": defaults,
    })
}

/// Columns padded to their widest cell (counted in characters); the last column is not padded.
fn table(config: &Config) -> String {
    let header = ["ROLE", "METHOD", "MODE", "PROVIDER", "MODEL", "PARAMS"].map(str::to_owned);
    let mut rows = vec![header];
    for role in config.roles.values() {
        rows.push([
            role.name.clone(),
            format!("{}()", method_name(&role.name)),
            role.mode.as_str().to_owned(),
            role.provider.clone(),
            role.model.clone(),
            params_text(role),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if config.roles.is_empty() {
        text.push_str("(no roles)\n");
    }
    if let Some(d) = &config.defaults {
        text.push_str(&format!(
            "\ndefaults (any other role, through the dynamic API): {} {} on {}, params {}\n",
            d.mode,
            d.model,
            d.provider,
            params_text(d)
        ));
    }
    text
}
