//! `llmhub call`: one call to a role from the shell, through `Hub::from_path`: a chat
//! completion, a streamed one, or an embedding.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use futures_util::StreamExt;
use llmhub_core::{Hub, Message, Mode, Params};
use serde_json::Value;

use crate::load::{problems_of, render_problems};
use crate::output::{CommandResult, EXIT_OK, Failure, eprint_text, stdout};
use crate::spinner::Spinner;

/// How many values of an embedding the text output shows.
const SHOWN_VALUES: usize = 5;

/// The arguments of `llmhub call`.
#[derive(Debug)]
pub struct CallArgs {
    pub role: String,
    pub prompt: Option<String>,
    pub config: PathBuf,
    pub params: Vec<(String, Value)>,
    pub stream: bool,
    pub json: bool,
}

/// Parses `key=value`: the value as JSON when it is JSON (`0.2`, `true`, `["a"]`), else as a
/// string (`low`, `hello world`).
pub fn parse_param(arg: &str) -> Result<(String, Value), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}` is not KEY=VALUE (for example temperature=0.2)"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`{arg}` has no key before `=`"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((key.to_owned(), value))
}

pub fn run(args: CallArgs) -> CommandResult {
    let prompt = match &args.prompt {
        Some(prompt) => prompt.clone(),
        None => read_prompt()?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(call(args, prompt))
}

/// The prompt from standard input, without its final line break.
fn read_prompt() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint_text("reading the prompt from standard input; end it with Ctrl-D\n");
    }
    let mut prompt = String::new();
    stdin
        .lock()
        .read_to_string(&mut prompt)
        .map_err(|e| Failure::Usage(format!("cannot read the prompt from standard input: {e}")))?;
    let prompt = prompt.trim_end_matches(['\n', '\r']).to_owned();
    if prompt.trim().is_empty() {
        return Err(Failure::Usage(
            "the prompt is empty: give it after the role, or on standard input".into(),
        ));
    }
    Ok(prompt)
}

async fn call(args: CallArgs, prompt: String) -> CommandResult {
    let hub = match Hub::from_path(&args.config) {
        Ok(hub) => hub,
        Err(err) => {
            let problems = problems_of(&err, &args.config.display().to_string());
            eprint_text(&render_problems(&problems));
            return Err(Failure::Reported);
        }
    };
    let mode = hub
        .config()
        .resolve(&args.role, None)
        .map_err(|e| Failure::Failed(e.to_string()))?
        .mode;
    let params: Params = args.params.iter().cloned().collect();
    let overrides = (!params.is_empty()).then_some(params);
    let role = args.role.as_str();
    match mode {
        mode if mode.is_chat() && args.stream => {
            stream(&hub, role, prompt, overrides, args.json).await
        }
        mode if mode.is_chat() => complete(&hub, role, prompt, overrides, args.json).await,
        Mode::Embedding if args.stream => Err(Failure::Usage(format!(
            "role `{role}` is an embedding role; `--stream` is for chat roles"
        ))),
        Mode::Embedding => embed(&hub, role, prompt, overrides, args.json).await,
        other => Err(Failure::Usage(format!(
            "role `{role}` has mode `{other}`; `llmhub call` makes chat, tool and embedding calls"
        ))),
    }?;
    Ok(ExitCode::from(EXIT_OK))
}

fn failed(err: llmhub_core::Error) -> Failure {
    Failure::Failed(err.to_string())
}

/// The provider's JSON, or (when its body is not JSON) what llmhub decoded from it.
fn json_text(raw: serde_json::Result<Value>, decoded: impl FnOnce() -> Value) -> String {
    let value = raw.unwrap_or_else(|_| decoded());
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
}

async fn complete(
    hub: &Hub,
    role: &str,
    prompt: String,
    overrides: Option<Params>,
    json: bool,
) -> Result<(), Failure> {
    let mut spinner = Spinner::start(format!("waiting for {role}"));
    let reply = hub
        .completion(role, [Message::user(prompt)], overrides)
        .await;
    spinner.stop();
    let reply = reply.map_err(failed)?;
    let mut out = stdout();
    if json {
        let text = json_text(reply.raw_json(), || {
            serde_json::to_value(&reply).unwrap_or(Value::Null)
        });
        writeln!(out, "{text}")?;
    } else {
        match reply.text() {
            Some(text) => writeln!(out, "{text}")?,
            None => eprint_text(&format!(
                "(the reply has no text{}; --json shows all of it)\n",
                match reply.tool_calls().len() {
                    0 => String::new(),
                    n => format!(", and {n} tool call(s)"),
                }
            )),
        }
    }
    out.flush()?;
    Ok(())
}

async fn stream(
    hub: &Hub,
    role: &str,
    prompt: String,
    overrides: Option<Params>,
    json: bool,
) -> Result<(), Failure> {
    let mut spinner = Spinner::start(format!("waiting for {role}"));
    let started = hub
        .stream_completion(role, [Message::user(prompt)], overrides)
        .await;
    let mut chunks = match started {
        Ok(chunks) => chunks,
        Err(err) => return Err(failed(err)),
    };
    let mut line_open = false;
    while let Some(chunk) = chunks.next().await {
        spinner.stop();
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                if line_open {
                    writeln!(stdout())?;
                }
                return Err(failed(err));
            }
        };
        let mut out = stdout();
        if json {
            let value = chunk
                .raw_json()
                .unwrap_or_else(|_| serde_json::to_value(&chunk).unwrap_or(Value::Null));
            writeln!(out, "{value}")?;
        } else if let Some(text) = chunk.text() {
            write!(out, "{text}")?;
            line_open = !text.ends_with('\n');
        }
        out.flush()?;
    }
    spinner.stop();
    if line_open {
        writeln!(stdout())?;
    }
    Ok(())
}

async fn embed(
    hub: &Hub,
    role: &str,
    prompt: String,
    overrides: Option<Params>,
    json: bool,
) -> Result<(), Failure> {
    let mut spinner = Spinner::start(format!("waiting for {role}"));
    let reply = hub.embedding(role, prompt, overrides).await;
    spinner.stop();
    let reply = reply.map_err(failed)?;
    let mut out = stdout();
    if json {
        let text = json_text(reply.raw_json(), || {
            serde_json::to_value(&reply).unwrap_or(Value::Null)
        });
        writeln!(out, "{text}")?;
    } else {
        let vector = reply
            .first()
            .ok_or_else(|| Failure::Failed(format!("role `{role}`: the reply holds no vector")))?;
        let shown: Vec<String> = vector
            .iter()
            .take(SHOWN_VALUES)
            .map(|x| x.to_string())
            .collect();
        let more = if vector.len() > SHOWN_VALUES {
            ", …"
        } else {
            ""
        };
        writeln!(
            out,
            "{} dimensions: [{}{more}]",
            vector.len(),
            shown.join(", ")
        )?;
    }
    out.flush()?;
    Ok(())
}
