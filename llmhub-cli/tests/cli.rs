//! The `llmhub` binary, run as a user runs it: on the canonical fixture, on every bad config of
//! `fixtures/invalid/`, and against a provider served on loopback.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmhub_core::{Config, ConfigProblem};
use serde_json::{Value, json};

const CANONICAL: &str = "fixtures/llmhub.yaml";

/// The workspace root: fixture paths in the tests are relative to it, as in the README.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llmhub"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("LLMHUB_CONFIG")
        .stdin(Stdio::null());
    command
}

fn llmhub(args: &[&str]) -> Output {
    command(args).output().expect("the llmhub binary runs")
}

fn llmhub_with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the llmhub binary runs");
    child
        .stdin
        .take()
        .expect("a stdin pipe")
        .write_all(input.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("the llmhub binary ends")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Every file of `fixtures/invalid/`, as a path relative to the workspace root, sorted.
fn invalid_fixtures() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("fixtures/invalid"))
        .expect("fixtures/invalid")
        .map(|entry| {
            let name = entry.expect("a directory entry").file_name();
            format!("fixtures/invalid/{}", name.to_string_lossy())
        })
        .filter(|path| path.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the invalid fixtures are there");
    files
}

/// The problems the library reports for `file` (relative to the root, named as given).
fn library_problems(file: &str) -> Vec<ConfigProblem> {
    let err = Config::from_path_named(root().join(file), file).expect_err("an invalid fixture");
    let problems = err.config_problems().to_vec();
    assert!(!problems.is_empty(), "{file}: {err}");
    problems
}

fn temp_config(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("a temp file");
    file.write_all(text.as_bytes()).expect("written");
    file
}

fn path_str(file: &tempfile::NamedTempFile) -> &str {
    file.path().to_str().expect("a UTF-8 temp path")
}

// ---------------------------------------------------------------------------------------------
// check

#[test]
fn check_accepts_the_canonical_fixture() {
    let output = llmhub(&["check", CANONICAL]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "fixtures/llmhub.yaml: OK, 5 roles and 4 providers (project `memory`, env `dev`)\n"
    );
}

#[test]
fn check_reads_llmhub_yaml_of_the_current_directory_by_default() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::copy(root().join(CANONICAL), dir.path().join("llmhub.yaml")).expect("copied");
    let output = command(&["check"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert_exit(&output, 0);
    assert!(stdout(&output).starts_with("llmhub.yaml: OK"));
}

#[test]
fn check_prints_every_problem_of_each_invalid_fixture_as_the_library_renders_it() {
    for file in invalid_fixtures() {
        let output = llmhub(&["check", &file]);
        assert_exit(&output, 1);
        let text = stdout(&output);
        for problem in library_problems(&file) {
            let location = format!("{file}:{}:{}", problem.line, problem.column);
            assert!(text.contains(&location), "{file}: no {location} in\n{text}");
            assert!(
                text.contains(&problem.to_string()),
                "{file}: the problem is not rendered as its Display:\n{text}"
            );
        }
    }
}

#[test]
fn check_exits_1_when_any_of_several_files_is_invalid() {
    let output = llmhub(&["check", CANONICAL, "fixtures/invalid/bad_mode.yaml"]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.contains("fixtures/llmhub.yaml: OK"), "{text}");
    assert!(
        text.contains("fixtures/invalid/bad_mode.yaml:9:11"),
        "{text}"
    );
    assert!(text.ends_with("1 of 2 files have problems\n"), "{text}");
}

#[test]
fn check_json_positions_are_the_library_problems() {
    for file in invalid_fixtures() {
        let output = llmhub(&["check", "--format", "json", &file]);
        assert_exit(&output, 1);
        let reported: Value = serde_json::from_slice(&output.stdout).expect("one JSON array");
        let expected: Vec<Value> = library_problems(&file)
            .iter()
            .map(|p| {
                json!({
                    "file": file,
                    "line": p.line,
                    "column": p.column,
                    "end_line": p.line,
                    "end_column": if p.line == 0 { 0 } else { p.column + p.len },
                    "severity": "error",
                    "message": p.message,
                    "hint": p.hint,
                })
            })
            .collect();
        assert_eq!(reported, Value::Array(expected), "{file}");
    }
}

#[test]
fn check_json_of_valid_files_is_an_empty_array() {
    let output = llmhub(&["check", "--format", "json", CANONICAL, CANONICAL]);
    assert_exit(&output, 0);
    let reported: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(reported, json!([]));
}

#[test]
fn check_json_puts_whole_file_problems_at_line_0() {
    let output = llmhub(&["check", "--format", "json", "no/such/file.yaml"]);
    assert_exit(&output, 1);
    let reported: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let problem = &reported[0];
    assert_eq!(problem["file"], "no/such/file.yaml");
    assert_eq!(
        (&problem["line"], &problem["column"], &problem["end_column"]),
        (&json!(0), &json!(0), &json!(0))
    );
    assert!(
        problem["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot read"))
    );
}

#[test]
fn check_reads_standard_input_for_a_dash() {
    let canonical = std::fs::read_to_string(root().join(CANONICAL)).expect("the fixture");
    let output = llmhub_with_stdin(&["check", "-"], &canonical);
    assert_exit(&output, 0);
    assert!(stdout(&output).starts_with("<stdin>: OK, 5 roles"));

    let bad = std::fs::read_to_string(root().join("fixtures/invalid/bad_mode.yaml")).unwrap();
    let output = llmhub_with_stdin(&["check", "-"], &bad);
    assert_exit(&output, 1);
    assert!(
        stdout(&output).contains("--> <stdin>:9:11"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_survives_files_that_are_not_configs() {
    let binary = temp_config("");
    std::fs::write(binary.path(), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    for path in [path_str(&binary), "fixtures", "Cargo.toml", "README.md"] {
        let output = llmhub(&["check", path]);
        assert_exit(&output, 1);
        assert!(stdout(&output).contains("error: "), "{path}");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_exit(&llmhub(&[]), 2);
    assert_exit(&llmhub(&["check", "--format", "xml"]), 2);
    assert_exit(&llmhub(&["check", "-", "-"]), 2);
    assert_exit(&llmhub(&["frobnicate"]), 2);
    assert_exit(&llmhub(&["gen"]), 2);
    assert_exit(&llmhub(&["diff", CANONICAL]), 2);
}

#[test]
fn help_works_for_every_subcommand() {
    let output = llmhub(&["--help"]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("Examples:"));
    for sub in ["check", "roles", "gen", "diff", "call", "schema"] {
        let output = llmhub(&[sub, "--help"]);
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("Examples:"), "{sub}");
    }
    assert_exit(&llmhub(&["--version"]), 0);
}

// ---------------------------------------------------------------------------------------------
// roles

#[test]
fn roles_prints_a_table_of_the_canonical_fixture() {
    let output = llmhub(&["roles", CANONICAL]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let words = |line: &str| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        words(lines[0]),
        ["ROLE", "METHOD", "MODE", "PROVIDER", "MODEL", "PARAMS"]
    );
    assert_eq!(
        words(lines[4]),
        [
            "llm.inference",
            "llm_inference()",
            "chat",
            "openai",
            "gpt-4.1",
            r#"{"temperature":0.7,"max_tokens":2048}"#
        ]
    );
    assert_eq!(
        words(lines[5]),
        [
            "llm.embedding",
            "llm_embedding()",
            "embedding",
            "openai",
            "text-embedding-3-small",
            r#"{"embedding_dim":1536}"#
        ]
    );
    assert!(text.contains("defaults"), "{text}");
}

#[test]
fn roles_json_lists_each_role_with_its_method() {
    let output = llmhub(&["roles", "--format", "json", CANONICAL]);
    assert_exit(&output, 0);
    let value: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let roles = value["roles"].as_array().expect("roles");
    assert_eq!(roles.len(), 5);
    assert_eq!(
        roles[3],
        json!({
            "role": "llm.inference",
            "method": "llm_inference",
            "mode": "chat",
            "provider": "openai",
            "model": "gpt-4.1",
            "params": { "temperature": 0.7, "max_tokens": 2048 },
        })
    );
    assert_eq!(value["defaults"]["model"], "gpt-4o-mini");
    assert_eq!(value["project"], "memory");
}

#[test]
fn roles_of_an_invalid_file_prints_its_problems_and_exits_1() {
    let output = llmhub(&["roles", "fixtures/invalid/unknown_key.yaml"]);
    assert_exit(&output, 1);
    assert!(stdout(&output).is_empty());
    assert!(
        stderr(&output).contains("fixtures/invalid/unknown_key.yaml:8:5"),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------
// gen

#[test]
fn gen_prints_the_build_script_code() {
    let output = llmhub(&["gen", CANONICAL]);
    assert_exit(&output, 0);
    let code = stdout(&output);
    assert!(code.starts_with("// @generated"), "{code}");
    assert!(code.contains("pub struct Roles"));
    assert!(code.contains("pub fn llm_inference(&self)"));
}

#[test]
fn gen_writes_the_named_struct_to_a_file() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = dir.path().join("roles.rs");
    let out_str = out.to_str().expect("UTF-8");
    let output = llmhub(&[
        "gen",
        CANONICAL,
        "--struct-name",
        "MyRoles",
        "--out",
        out_str,
    ]);
    assert_exit(&output, 0);
    assert!(stdout(&output).is_empty());
    let code = std::fs::read_to_string(&out).expect("written");
    assert!(code.contains("pub struct MyRoles"));
    // The same code as printed.
    let printed = llmhub(&["gen", CANONICAL, "--struct-name", "MyRoles"]);
    assert_eq!(stdout(&printed), code);
}

#[test]
fn gen_refuses_bad_configs_and_bad_struct_names() {
    let output = llmhub(&["gen", "fixtures/invalid/several_errors.yaml"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("fixtures/invalid/several_errors.yaml:7:15"));
    assert_exit(
        &llmhub(&["gen", CANONICAL, "--struct-name", "not a name"]),
        2,
    );
    assert_exit(&llmhub(&["gen", "no/such/file.yaml"]), 1);
}

// ---------------------------------------------------------------------------------------------
// diff

fn canonical_with(from: &str, to: &str) -> tempfile::NamedTempFile {
    let text = std::fs::read_to_string(root().join(CANONICAL)).expect("the fixture");
    assert!(text.contains(from), "{from}");
    temp_config(&text.replacen(from, to, 1))
}

#[test]
fn diff_accepts_a_model_change() {
    let new = canonical_with("model: gpt-4.1", "model: gpt-4.1-mini");
    let output = llmhub(&["diff", CANONICAL, path_str(&new)]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.starts_with("accepted"), "{text}");
    assert!(text.contains("changed roles: llm.inference\n"), "{text}");
}

#[test]
fn diff_of_a_file_with_itself_changes_nothing() {
    let output = llmhub(&["diff", CANONICAL, CANONICAL]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("no changes"));
}

#[test]
fn diff_refuses_a_removed_role_and_a_changed_mode() {
    let removed = canonical_with("  llm.memread:", "  llm.memread.v2:");
    let output = llmhub(&["diff", CANONICAL, path_str(&removed)]);
    assert_exit(&output, 1);
    let text = stdout(&output);
    assert!(text.starts_with("refused"), "{text}");
    assert!(
        text.contains(
            "role `llm.memread` is compiled into the program but missing from the new file"
        ),
        "{text}"
    );

    let mode = canonical_with(
        "model: text-embedding-3-small\n    mode: embedding",
        "model: text-embedding-3-small\n    mode: other",
    );
    let output = llmhub(&["diff", CANONICAL, path_str(&mode)]);
    assert_exit(&output, 1);
    assert!(
        stdout(&output).contains(
            "role `llm.embedding` has mode `other` in the new file; the program was compiled for mode `embedding`"
        ),
        "{}",
        stdout(&output)
    );
}

#[test]
fn diff_reports_the_added_role_of_a_widened_file() {
    // Roles may be added: the program reaches them through the dynamic API.
    let added = canonical_with(
        "defaults:",
        "  llm.extra:\n    provider: openai\n    model: gpt-4.1\n    mode: chat\n\ndefaults:",
    );
    let output = llmhub(&["diff", CANONICAL, path_str(&added)]);
    assert_exit(&output, 0);
    assert!(stdout(&output).contains("added roles: llm.extra"));
}

#[test]
fn diff_exits_1_on_an_invalid_file() {
    let output = llmhub(&["diff", CANONICAL, "fixtures/invalid/bad_mode.yaml"]);
    assert_exit(&output, 1);
    assert!(stderr(&output).contains("fixtures/invalid/bad_mode.yaml:9:11"));
}

// ---------------------------------------------------------------------------------------------
// call, against a provider served on loopback

/// A request the loopback provider received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    body: Value,
}

/// An OpenAI-compatible provider on 127.0.0.1: `/chat/completions` (JSON, or SSE when the body
/// asks to stream) and `/embeddings`. Serves at most `max` connections, then its thread ends.
struct Provider {
    base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

const CHAT_REPLY: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-test","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from loopback"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}"#;
const EMBEDDING_REPLY: &str = r#"{"object":"list","model":"emb-test","data":[{"object":"embedding","index":0,"embedding":[0.5,-0.25,0.125,1.0,2.0,3.0]}],"usage":{"prompt_tokens":2,"total_tokens":2}}"#;

fn sse_reply() -> String {
    let chunk = |delta: Value, finish: Value| {
        let event = json!({
            "id": "chatcmpl-2",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-test",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        });
        format!("data: {event}\n\n")
    };
    let mut body = String::new();
    body.push_str(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    for piece in ["Hello", " from", " a stream"] {
        body.push_str(&chunk(json!({ "content": piece }), Value::Null));
    }
    body.push_str(&chunk(json!({}), json!("stop")));
    body.push_str("data: [DONE]\n\n");
    body
}

impl Provider {
    fn start(max: usize) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("an address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&received);
        std::thread::spawn(move || {
            for conn in listener.incoming().take(max) {
                let Ok(mut conn) = conn else { continue };
                if let Some(request) = read_request(&mut conn) {
                    let reply = answer(&request);
                    record.lock().expect("not poisoned").push(request);
                    let _ = conn.write_all(reply.as_bytes());
                }
            }
        });
        Provider {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            received,
        }
    }

    /// A config with a chat role and an embedding role on this provider (no key needed).
    fn config(&self) -> tempfile::NamedTempFile {
        temp_config(&format!(
            "project: cli-test
env: test
providers:
  local:
    base_url: {}
    api: openai
roles:
  chat.main:
    provider: local
    model: gpt-test
    mode: chat
    params: {{ temperature: 0.5, max_tokens: 64 }}
  emb.main:
    provider: local
    model: emb-test
    mode: embedding
  img.main:
    provider: local
    model: img-test
    mode: image
",
            self.base_url
        ))
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Received> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let header_end = loop {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..header_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < header_end + length {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let mut request_line = head.lines().next()?.split_whitespace();
    Some(Received {
        method: request_line.next()?.to_owned(),
        path: request_line.next()?.to_owned(),
        body: serde_json::from_slice(&data[header_end..header_end + length]).unwrap_or(Value::Null),
    })
}

fn answer(request: &Received) -> String {
    let json = |body: &str| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    match request.path.as_str() {
        "/v1/chat/completions" if request.body["stream"] == json!(true) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n{}",
            sse_reply()
        ),
        "/v1/chat/completions" => json(CHAT_REPLY),
        "/v1/embeddings" => json(EMBEDDING_REPLY),
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
    }
}

#[test]
fn call_sends_the_prompt_and_prints_the_reply() {
    let provider = Provider::start(1);
    let config = provider.config();
    let output = llmhub(&[
        "call",
        "chat.main",
        "Say hello",
        "--config",
        path_str(&config),
        "--param",
        "temperature=0",
        "--param",
        "stop=[\"END\"]",
        "-p",
        "user=cli test",
    ]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "Hello from loopback\n");
    let received = provider.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(request.body["model"], "gpt-test");
    assert_eq!(
        request.body["messages"],
        json!([{ "role": "user", "content": "Say hello" }])
    );
    // --param values are JSON when they parse, else strings, over the role's params.
    assert_eq!(request.body["temperature"], json!(0));
    assert_eq!(request.body["stop"], json!(["END"]));
    assert_eq!(request.body["user"], "cli test");
    assert_eq!(request.body["max_tokens"], 64);
}

#[test]
fn call_streams_the_reply() {
    let provider = Provider::start(1);
    let config = provider.config();
    let output = llmhub(&[
        "call",
        "chat.main",
        "Hi",
        "--stream",
        "-c",
        path_str(&config),
    ]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "Hello from a stream\n");
    let request = &provider.received()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["model"], "gpt-test");
    assert_eq!(
        request.body["messages"],
        json!([{ "role": "user", "content": "Hi" }])
    );
}

#[test]
fn call_json_prints_the_providers_reply() {
    let provider = Provider::start(2);
    let config = provider.config();
    let output = llmhub(&["call", "chat.main", "Hi", "--json", "-c", path_str(&config)]);
    assert_exit(&output, 0);
    let reply: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(reply, serde_json::from_str::<Value>(CHAT_REPLY).unwrap());

    let output = llmhub(&[
        "call",
        "chat.main",
        "Hi",
        "--json",
        "--stream",
        "-c",
        path_str(&config),
    ]);
    assert_exit(&output, 0);
    let chunks: Vec<Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON chunk a line"))
        .collect();
    assert_eq!(chunks.len(), 5);
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hello");
}

#[test]
fn call_reads_the_prompt_from_standard_input() {
    let provider = Provider::start(1);
    let config = provider.config();
    let output = llmhub_with_stdin(
        &["call", "chat.main", "--config", path_str(&config)],
        "A prompt\non two lines\n",
    );
    assert_exit(&output, 0);
    assert_eq!(
        provider.received()[0].body["messages"][0]["content"],
        "A prompt\non two lines"
    );
}

#[test]
fn call_on_an_embedding_role_prints_the_vector() {
    let provider = Provider::start(2);
    let config = provider.config();
    let output = llmhub(&["call", "emb.main", "Hello world", "-c", path_str(&config)]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "6 dimensions: [0.5, -0.25, 0.125, 1, 2, …]\n"
    );
    let request = &provider.received()[0];
    assert_eq!(request.path, "/v1/embeddings");
    assert_eq!(request.body["model"], "emb-test");
    assert_eq!(request.body["input"], "Hello world");

    let output = llmhub(&["call", "emb.main", "x", "--json", "-c", path_str(&config)]);
    assert_exit(&output, 0);
    let reply: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(reply["data"][0]["embedding"][1], -0.25);
}

#[test]
fn call_errors_go_to_stderr_with_a_non_zero_exit() {
    let provider = Provider::start(0);
    let config = provider.config();
    let config = path_str(&config);

    let unknown = llmhub(&["call", "chat.mian", "Hi", "-c", config]);
    assert_exit(&unknown, 1);
    assert!(stdout(&unknown).is_empty());
    assert!(
        stderr(&unknown).contains("chat.mian"),
        "{}",
        stderr(&unknown)
    );

    let image = llmhub(&["call", "img.main", "Hi", "-c", config]);
    assert_exit(&image, 2);
    assert!(stderr(&image).contains("mode `image`"));

    assert_exit(
        &llmhub(&["call", "emb.main", "Hi", "--stream", "-c", config]),
        2,
    );
    assert_exit(
        &llmhub(&["call", "chat.main", "Hi", "-p", "novalue", "-c", config]),
        2,
    );
    assert_exit(
        &llmhub(&["call", "chat.main", "Hi", "-p", "=1", "-c", config]),
        2,
    );
    // No prompt at all (stdin is empty).
    assert_exit(&llmhub(&["call", "chat.main", "-c", config]), 2);

    let bad = llmhub(&[
        "call",
        "llm.inference",
        "Hi",
        "-c",
        "fixtures/invalid/bad_mode.yaml",
    ]);
    assert_exit(&bad, 1);
    assert!(stderr(&bad).contains("fixtures/invalid/bad_mode.yaml:9:11"));
    assert!(provider.received().is_empty());
}

#[test]
fn call_reports_a_provider_that_is_down() {
    // A port that was free a moment ago: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let config = temp_config(&format!(
        "project: p\nenv: test\nproviders:\n  local:\n    base_url: http://127.0.0.1:{port}/v1\n    api: openai\n    max_retries: 0\nroles:\n  chat.main: {{ provider: local, model: m, mode: chat }}\n"
    ));
    let output = llmhub(&["call", "chat.main", "Hi", "-c", path_str(&config)]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).starts_with("error: "),
        "{}",
        stderr(&output)
    );
}

// ---------------------------------------------------------------------------------------------
// schema

fn schema_output() -> Value {
    let output = llmhub(&["schema"]);
    assert_exit(&output, 0);
    serde_json::from_slice(&output.stdout).expect("the schema is JSON")
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let output = llmhub(&["schema"]);
    assert_exit(&output, 0);
    let committed = std::fs::read_to_string(root().join("llmhub.schema.json"))
        .expect("llmhub.schema.json at the workspace root");
    assert!(
        committed == stdout(&output),
        "llmhub.schema.json is out of date; regenerate it with \
         `cargo run -p llmhub-cli -- schema > llmhub.schema.json`"
    );
}

/// A YAML file as JSON, the way an editor's YAML language server sees it.
fn yaml_as_json(file: &str) -> Result<Value, serde_yaml_ng::Error> {
    let text = std::fs::read_to_string(root().join(file)).expect("the fixture");
    serde_yaml_ng::from_str(&text)
}

#[test]
fn the_schema_accepts_the_canonical_fixture() {
    let validator = jsonschema::validator_for(&schema_output()).expect("a valid JSON Schema");
    let canonical = yaml_as_json(CANONICAL).expect("YAML");
    let errors: Vec<String> = validator
        .iter_errors(&canonical)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_schema_accepts_what_the_validator_accepts() {
    // Valid configs that stretch the schema: scalars taken as strings, empty provider
    // entries, empty roles, a loopback http base_url, an allowed insecure one, headers.
    let valid = [
        "project: 2024\nenv: true\nproviders:\n  ollama:\nroles:\n",
        "project: p\nenv: dev\nproviders:\n  local: { base_url: 'http://localhost:8080/v1', api: openai }\n  lan: { base_url: 'http://10.0.0.5/v1', api: openai, allow_insecure_http: true }\n  v6: { base_url: 'http://[::1]:9000', api: anthropic, headers: { X-Org: acme }, timeout_ms: 5, max_retries: 0 }\nroles:\n  r: { provider: local, model: 4, mode: tool, params: { stop: END, top_p: 1, custom: { a: [1] } } }\n",
    ];
    let validator = jsonschema::validator_for(&schema_output()).expect("a valid JSON Schema");
    for text in valid {
        Config::from_yaml_str(text).expect("valid for the validator");
        let value: Value = serde_yaml_ng::from_str(text).expect("YAML");
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{text}\n{errors:#?}");
    }
}

#[test]
fn the_schema_rejects_the_invalid_fixtures_it_can_express() {
    // Mistakes a schema cannot see, checked only by `llmhub check`:
    let not_expressible = [
        // YAML syntax, and a key given twice (the YAML loader itself refuses or merges it)
        "syntax_error.yaml",
        "duplicate_key.yaml",
        // relations between two values: a role's provider must be defined, served by the
        // provider's protocol, and two roles must not map to one method name
        "undefined_provider.yaml",
        "mode_not_served.yaml",
        "name_collision.yaml",
        // fallbacks name other roles (defined, same mode, no cycle); a deployment's mode is
        // the role's
        "fallback_unknown_role.yaml",
        "fallback_wrong_mode.yaml",
        "fallback_cycle.yaml",
        "deployments_mixed_modes.yaml",
    ];
    // The others, each with where the schema finds the mistake.
    let expressible = [
        ("bad_api.yaml", "/providers/local/api"),
        ("bad_deployments.yaml", "/providers/openai/rpm"),
        ("bad_mode.yaml", "/roles/llm.inference/mode"),
        ("bad_param.yaml", "/roles/llm.inference/params/temperature"),
        ("env_key_value.yaml", "/providers/openai/env_key"),
        ("insecure_http.yaml", "/providers/internal/base_url"),
        ("missing_field.yaml", "/roles/llm.inference"),
        (
            "several_errors.yaml",
            "/roles/llm.embedding/params/embedding_dim",
        ),
        ("unknown_key.yaml", "/roles/llm.inference"),
        ("unknown_provider_id.yaml", "/providers/acme"),
        ("wrong_type.yaml", "/providers/openai/timeout_ms"),
    ];
    let validator = jsonschema::validator_for(&schema_output()).expect("a valid JSON Schema");
    let mut listed: Vec<&str> = not_expressible.to_vec();
    listed.extend(expressible.iter().map(|(name, _)| *name));
    listed.sort_unstable();
    let files: Vec<String> = invalid_fixtures()
        .iter()
        .map(|f| f.trim_start_matches("fixtures/invalid/").to_owned())
        .collect();
    assert_eq!(
        listed, files,
        "every invalid fixture is listed as expressible or not"
    );
    for (name, path) in expressible {
        let file = format!("fixtures/invalid/{name}");
        let value = yaml_as_json(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let paths: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.instance_path.to_string())
            .collect();
        assert!(
            paths.iter().any(|p| p == path),
            "{file}: the schema should refuse {path}; it reports {paths:?}"
        );
    }
    // And the ones left out really are invalid for the validator.
    for name in not_expressible {
        assert!(Config::from_path(root().join("fixtures/invalid").join(name)).is_err());
    }
}
