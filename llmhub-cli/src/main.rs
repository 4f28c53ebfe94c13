//! `llmhub`: the command line of llmhub. It checks `llmhub.yaml` files with the same validator
//! as the `roles!` macro, lists their roles, generates the build-script code, tells whether a
//! reload would be accepted, makes one call from the shell, and prints the file's JSON Schema.
//!
//! | file | job |
//! |---|---|
//! | `main.rs` | the arguments (clap), dispatch, exit codes |
//! | `output.rs` | writing to stdout and stderr without panicking, the command's failures |
//! | `load.rs` | reading a config from a file or stdin; its problems as text or JSON |
//! | `check.rs`, `roles.rs`, `generate.rs`, `diff.rs`, `call.rs` | one subcommand each |
//! | `schema.rs` | the JSON Schema of `llmhub.yaml`, built from the validator's own lists |
//! | `spinner.rs` | the wait indicator of `call` |

mod call;
mod check;
mod diff;
mod generate;
mod load;
mod output;
mod roles;
mod schema;
mod spinner;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

const MAIN_EXAMPLES: &str = "\
Examples:
  llmhub check                         validate ./llmhub.yaml
  llmhub roles                         list its roles and their bindings
  llmhub call llm.inference \"Hello\"    one chat call, keys from the environment
  llmhub schema > llmhub.schema.json   the JSON Schema, for editors

Exit codes: 0 success, 1 a problem in a config or a failed call, 2 a usage error.";

const CHECK_EXAMPLES: &str = "\
Examples:
  llmhub check
  llmhub check fixtures/llmhub.yaml other.yaml
  cat llmhub.yaml | llmhub check -
  llmhub check --format json llmhub.yaml

Exit codes: 0 every file is valid, 1 a file has problems, 2 a usage error.";

const ROLES_EXAMPLES: &str = "\
Examples:
  llmhub roles
  llmhub roles --format json fixtures/llmhub.yaml

Exit codes: 0 listed, 1 the config has problems, 2 a usage error.";

const GEN_EXAMPLES: &str = "\
Examples:
  llmhub gen llmhub.yaml                              print the code
  llmhub gen llmhub.yaml --struct-name MyRoles --out src/roles.rs

The code embeds the config with include_str! relative to CARGO_MANIFEST_DIR: run the command in
the directory of the crate that includes the code, or give an absolute path.

Exit codes: 0 generated, 1 the config has problems or the file cannot be written, 2 a usage error.";

const DIFF_EXAMPLES: &str = "\
Examples:
  llmhub diff llmhub.yaml llmhub.new.yaml

A program compiled against OLD accepts NEW on reload when every role of OLD is still in NEW
with the same mode; providers, models and params may change.

Exit codes: 0 the reload would be accepted, 1 refused (or a file has problems), 2 a usage error.";

const CALL_EXAMPLES: &str = "\
Examples:
  llmhub call llm.inference \"Say hello\"
  echo \"Summarize this\" | llmhub call llm.preprocess --stream
  llmhub call llm.inference \"Hi\" --param temperature=0 --param stop='[\"\\n\"]' --json
  llmhub call llm.embedding \"Hello world\" --config fixtures/llmhub.yaml

API keys come from the environment variables named by each provider's `env_key`.

Exit codes: 0 answered, 1 the config has problems or the call failed, 2 a usage error.";

const SCHEMA_EXAMPLES: &str = "\
Examples:
  llmhub schema > llmhub.schema.json

Then put `# yaml-language-server: $schema=./llmhub.schema.json` on the first line of llmhub.yaml.";

/// The llmhub command line: check, list, generate, diff and call the roles of an llmhub.yaml.
#[derive(Debug, Parser)]
#[command(name = "llmhub", version, after_help = MAIN_EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate config files with the same checks as the `roles!` macro, reporting every problem
    /// with its file, line and column.
    #[command(after_help = CHECK_EXAMPLES)]
    Check {
        /// The files to check; `-` reads standard input.
        #[arg(default_value = "llmhub.yaml")]
        files: Vec<PathBuf>,
        /// How to print the problems.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// List the roles of a config: method name, mode, provider, model and params.
    #[command(after_help = ROLES_EXAMPLES)]
    Roles {
        /// The config file; `-` reads standard input.
        #[arg(default_value = "llmhub.yaml")]
        file: PathBuf,
        /// How to print the roles.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print (or write) the Rust code a build script generates for a config.
    #[command(after_help = GEN_EXAMPLES)]
    Gen {
        /// The config file, relative to the crate directory (or absolute).
        file: String,
        /// The name of the generated struct.
        #[arg(long, default_value = "Roles")]
        struct_name: String,
        /// Write the code to this file (left untouched when unchanged) instead of printing it.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Tell what a reload from OLD to NEW would do in a program compiled against OLD.
    #[command(after_help = DIFF_EXAMPLES)]
    Diff {
        /// The config the program was compiled against.
        old: PathBuf,
        /// The config to reload.
        new: PathBuf,
    },
    /// Make one call to a role: a chat completion (or a stream), or an embedding.
    #[command(after_help = CALL_EXAMPLES)]
    Call {
        /// The role to call (a role of the config, or any name when it has `defaults:`).
        role: String,
        /// The prompt; read from standard input when left out.
        prompt: Option<String>,
        /// The config file.
        #[arg(long, short, default_value = "llmhub.yaml")]
        config: PathBuf,
        /// A param over the role's own, as `key=value`; the value is JSON when it parses as
        /// JSON, else a string. Repeat for several.
        #[arg(long = "param", short = 'p', value_name = "KEY=VALUE", value_parser = call::parse_param)]
        params: Vec<(String, serde_json::Value)>,
        /// Print the reply as it arrives (chat roles).
        #[arg(long)]
        stream: bool,
        /// Print the provider's JSON instead of the text (one JSON object a line when streaming).
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of llmhub.yaml (for editors and other tools).
    #[command(after_help = SCHEMA_EXAMPLES)]
    Schema,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { files, format } => check::run(&files, format),
        Command::Roles { file, format } => roles::run(&file, format),
        Command::Gen {
            file,
            struct_name,
            out,
        } => generate::run(&file, &struct_name, out.as_deref()),
        Command::Diff { old, new } => diff::run(&old, &new),
        Command::Call {
            role,
            prompt,
            config,
            params,
            stream,
            json,
        } => call::run(call::CallArgs {
            role,
            prompt,
            config,
            params,
            stream,
            json,
        }),
        Command::Schema => schema::run(),
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}
