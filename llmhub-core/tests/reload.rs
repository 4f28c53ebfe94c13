//! Run-time reload: what may change, what is refused, watch mode, and
//! reloads racing with calls.

mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use llmhub_core::__private::{compiled_roles, handle};
use llmhub_core::{Error, Hub, HubBuilder, Message, Mode, ReloadOutcome, mode};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const COMPILED: &[(&str, Mode)] = &[
    ("llm.inference", Mode::Chat),
    ("llm.embedding", Mode::Embedding),
];

/// A config whose `llm.inference` binding is `model` + `temperature`; `extra` is appended
/// under `roles:`.
fn config(server: &str, model: &str, temperature: f64, extra: &str) -> String {
    format!(
        "project: reload\nenv: dev\nproviders:\n  openai:\n    base_url: {server}/v1\n\
         roles:\n  llm.inference:\n    provider: openai\n    model: {model}\n    mode: chat\n    \
         params: {{ temperature: {temperature}, max_tokens: 64 }}\n  llm.embedding:\n    \
         provider: openai\n    model: text-embedding-3-small\n    mode: embedding\n{extra}"
    )
}

/// `llmhub.yaml` holding `text`, in a temporary directory of its own named after `name`
/// (removed on drop).
fn temp_file(name: &str, text: &str) -> support::TempFile {
    support::TempFile::with_prefix(&format!("llmhub-reload-{name}-"), "llmhub.yaml", text)
}

async fn chat_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c", "object": "chat.completion", "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]
        })))
        .mount(&server)
        .await;
    server
}

/// An `on_reload` hook that records whether each attempt was accepted.
fn record_into(
    seen: &Arc<Mutex<Vec<bool>>>,
) -> impl Fn(&llmhub_core::Result<ReloadOutcome>) + Send + Sync + 'static {
    let seen = seen.clone();
    move |result| seen.lock().unwrap().push(result.is_ok())
}

fn builder(path: &Path) -> HubBuilder {
    compiled_roles(Hub::builder().reload_from(path), COMPILED)
        .api_key("openai", support::OPENAI_KEY)
}

/// The model and temperature of every chat request the server got, in order.
async fn sent_bindings(server: &MockServer) -> Vec<(String, f64)> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/chat/completions"))
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            (
                body["model"].as_str().unwrap().to_owned(),
                body["temperature"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn ask(hub: &Hub) -> llmhub_core::Result<()> {
    handle::<mode::Chat>(hub, 0)
        .completion([Message::user("hi")])
        .await
        .map(|_| ())
}

#[tokio::test]
async fn the_next_request_uses_the_new_model_and_params() {
    let server = chat_server().await;
    let path = temp_file("next", &config(&server.uri(), "gpt-4.1", 0.7, ""));
    let hub = builder(&path).build().unwrap();
    ask(&hub).await.unwrap();

    std::fs::write(
        &path,
        config(
            &server.uri(),
            "gpt-4o-mini",
            0.1,
            "  llm.new:\n    provider: openai\n    model: gpt-5\n    mode: chat\n",
        ),
    )
    .unwrap();
    let outcome = hub.reload().unwrap();
    assert_eq!(outcome.changed_roles, ["llm.inference"]);
    assert_eq!(outcome.added_roles, ["llm.new"]);
    assert!(outcome.removed_roles.is_empty() && outcome.changed_providers.is_empty());
    ask(&hub).await.unwrap();
    // New roles are reachable through the dynamic API.
    hub.completion("llm.new", [Message::user("hi")], None)
        .await
        .unwrap();

    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["model"], "gpt-4.1");
    assert_eq!(bodies[0]["temperature"], 0.7);
    assert_eq!(bodies[1]["model"], "gpt-4o-mini");
    assert_eq!(bodies[1]["temperature"], 0.1);
    assert_eq!(bodies[1]["max_tokens"], 64);
    assert_eq!(bodies[2]["model"], "gpt-5");

    // Reloading the same file again changes nothing.
    assert!(hub.reload().unwrap().is_unchanged());
}

#[tokio::test]
async fn incompatible_or_invalid_files_are_refused_and_the_old_binding_stays() {
    let server = chat_server().await;
    let good = config(&server.uri(), "gpt-4.1", 0.7, "");
    let path = temp_file("refused", &good);
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let hub = builder(&path)
        .on_reload(record_into(&seen))
        .build()
        .unwrap();

    let without_compiled_role = good.replace("  llm.inference:", "  llm.other:");
    let mode_changed = good.replace(
        "model: gpt-4.1\n    mode: chat",
        "model: gpt-4.1\n    mode: tool",
    );
    let provider_removed = good.replace("  openai:\n    base_url", "  mistral:\n    base_url");
    let invalid_yaml = good.replace("mode: chat", "mode: [chat");
    type Check = Box<dyn Fn(&Error) -> bool>;
    let cases: [(&str, &str, Check); 4] = [
        (
            &without_compiled_role,
            "llm.inference",
            Box::new(|e| matches!(e, Error::UnknownRole { role, .. } if role == "llm.inference")),
        ),
        (
            &mode_changed,
            "mode `chat`",
            Box::new(|e| {
                matches!(
                    e,
                    Error::ModeMismatch {
                        mode: Mode::Tool,
                        ..
                    }
                )
            }),
        ),
        (
            &provider_removed,
            "`openai`",
            Box::new(|e| {
                e.config_problems()
                    .iter()
                    .any(|p| p.message.contains("not defined under `providers:`"))
            }),
        ),
        (
            &invalid_yaml,
            "YAML syntax error",
            Box::new(|e| {
                e.config_problems()
                    .first()
                    .is_some_and(|p| p.line == 10 && p.column == 11)
            }),
        ),
    ];
    for (text, words, check) in cases {
        std::fs::write(&path, text).unwrap();
        let err = hub.reload().unwrap_err();
        let Error::Reload {
            path: reported,
            reason,
        } = &err
        else {
            panic!("expected Reload, got {err:?}")
        };
        assert_eq!(Path::new(reported), path);
        assert!(check(reason), "unexpected reason: {reason:?}");
        assert!(err.to_string().contains(words), "{err}");
        assert!(
            err.to_string().contains("previous config stays in force"),
            "{err}"
        );
        ask(&hub).await.unwrap();
    }
    assert!(
        sent_bindings(&server)
            .await
            .iter()
            .all(|b| *b == ("gpt-4.1".to_owned(), 0.7))
    );
    // The hub started from the file (no attempt to report), then four refusals.
    assert_eq!(*seen.lock().unwrap(), [false, false, false, false]);
}

#[tokio::test]
async fn a_dynamic_hub_accepts_any_valid_config() {
    let server = chat_server().await;
    let path = temp_file("dynamic", &config(&server.uri(), "gpt-4.1", 0.7, ""));
    let hub = Hub::builder()
        .reload_from(&path)
        .api_key("openai", "k")
        .build()
        .unwrap();
    let only_new = format!(
        "project: p\nenv: dev\nproviders:\n  openai: {{ base_url: '{}/v1' }}\nroles:\n  llm.fresh: {{ provider: openai, model: m2, mode: chat }}\n",
        server.uri()
    );
    std::fs::write(&path, only_new).unwrap();
    let outcome = hub.reload().unwrap();
    assert_eq!(outcome.removed_roles, ["llm.inference", "llm.embedding"]);
    assert_eq!(outcome.added_roles, ["llm.fresh"]);
    hub.completion("llm.fresh", [Message::user("x")], None)
        .await
        .unwrap();
    assert!(matches!(
        hub.completion("llm.inference", [Message::user("x")], None)
            .await,
        Err(Error::UnknownRole { .. })
    ));
}

#[tokio::test]
async fn a_given_config_is_replaced_by_a_valid_file_at_build() {
    let server = chat_server().await;
    let path = temp_file("initial", &config(&server.uri(), "from-file", 0.2, ""));
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let given =
        llmhub_core::Config::from_yaml_str(&config(&server.uri(), "compiled-in", 0.5, "")).unwrap();
    let hub = builder(&path)
        .config(given.clone())
        .on_reload(record_into(&seen))
        .build()
        .unwrap();
    assert_eq!(hub.config().roles["llm.inference"].model, "from-file");
    // A refused file at build keeps the given config and is reported, not fatal.
    std::fs::write(&path, "project: [").unwrap();
    let hub = builder(&path)
        .config(given)
        .on_reload(record_into(&seen))
        .build()
        .unwrap();
    assert_eq!(hub.config().roles["llm.inference"].model, "compiled-in");
    assert_eq!(*seen.lock().unwrap(), [true, false]);
}

#[tokio::test]
async fn a_hub_without_a_file_cannot_reload() {
    let hub = Hub::from_yaml_str(&config("http://127.0.0.1:9", "m", 0.5, "")).unwrap();
    let err = hub.reload().unwrap_err();
    assert!(err.to_string().contains("reload_from"), "{err}");
    let err = Hub::builder()
        .config(
            llmhub_core::Config::from_yaml_str(&config("http://127.0.0.1:9", "m", 0.5, ""))
                .unwrap(),
        )
        .watch(true)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("needs a file to watch"), "{err}");
}

/// What the `on_reload` hooks saw: `Ok(model of llm.inference in the file)` or `Err(error)`.
type Reloads = Arc<Mutex<Vec<Result<String, String>>>>;

/// An `on_reload` hook that records each attempt into `reloads`.
fn record_reloads(
    reloads: &Reloads,
    path: &Path,
) -> impl Fn(&llmhub_core::Result<ReloadOutcome>) + Send + Sync + 'static {
    let reloads = reloads.clone();
    let path = path.to_path_buf();
    move |result| {
        let seen = match result {
            Ok(_) => Ok(
                llmhub_core::Config::from_path(&path).unwrap().roles["llm.inference"]
                    .model
                    .clone(),
            ),
            Err(err) => Err(err.to_string()),
        };
        reloads.lock().unwrap().push(seen);
    }
}

/// Polls (up to 10 s, 20 ms steps) until the reloads recorded after the first `from` satisfy
/// `done`; returns them.
fn wait_for_reloads(
    reloads: &Reloads,
    from: usize,
    what: &str,
    done: impl Fn(&[Result<String, String>]) -> bool,
) -> Vec<Result<String, String>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        {
            let seen = reloads.lock().unwrap();
            if done(&seen[from..]) {
                return seen[from..].to_vec();
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen within 10 s; reloads: {seen:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn applied(model: &str) -> impl Fn(&[Result<String, String>]) -> bool + '_ {
    move |seen| seen.last() == Some(&Ok(model.to_owned()))
}

#[tokio::test]
async fn watch_picks_up_edits_renames_and_recreation() {
    let uri = "http://127.0.0.1:9";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llmhub.yaml");
    std::fs::write(&path, config(uri, "v1", 0.5, "")).unwrap();
    let reloads: Reloads = Arc::default();
    let hub = builder(&path)
        .watch(true)
        .watch_debounce(Duration::from_millis(30))
        .on_reload(record_reloads(&reloads, &path))
        .build()
        .unwrap();
    let model = || hub.config().roles["llm.inference"].model.clone();
    assert_eq!(model(), "v1");
    assert!(reloads.lock().unwrap().is_empty(), "nothing changed yet");

    // Edited in place: a reader may catch the file truncated (a refusal) before the new text.
    let at = reloads.lock().unwrap().len();
    std::fs::write(&path, config(uri, "v2-edit", 0.5, "")).unwrap();
    wait_for_reloads(&reloads, at, "the edit applied", applied("v2-edit"));
    assert_eq!(model(), "v2-edit");

    // Saved by renaming a new file over it: seen whole, applied at once.
    let at = reloads.lock().unwrap().len();
    let tmp = path.with_file_name(".llmhub.yaml.tmp");
    std::fs::write(&tmp, config(uri, "v3-rename", 0.5, "")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let seen = wait_for_reloads(&reloads, at, "the rename applied", applied("v3-rename"));
    assert_eq!(seen, [Ok("v3-rename".to_owned())]);
    assert_eq!(model(), "v3-rename");

    // Deleted: the reload is refused (the file cannot be read) and the config stays.
    let at = reloads.lock().unwrap().len();
    std::fs::remove_file(&path).unwrap();
    let seen = wait_for_reloads(&reloads, at, "the deletion refused", |seen| {
        !seen.is_empty()
    });
    assert_eq!(seen.len(), 1, "{seen:?}");
    let refusal = seen[0].as_ref().unwrap_err();
    assert!(
        refusal.contains("cannot read the config file")
            && refusal.contains("previous config stays in force"),
        "{refusal}"
    );
    assert_eq!(model(), "v3-rename", "a deleted file keeps the config");

    let at = reloads.lock().unwrap().len();
    std::fs::write(&tmp, config(uri, "v4-recreated", 0.5, "")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let seen = wait_for_reloads(
        &reloads,
        at,
        "the recreation applied",
        applied("v4-recreated"),
    );
    assert_eq!(seen, [Ok("v4-recreated".to_owned())]);

    // An invalid save is refused and the config stays; the next good one applies.
    let at = reloads.lock().unwrap().len();
    std::fs::write(&tmp, "project: [").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let seen = wait_for_reloads(&reloads, at, "the invalid save refused", |seen| {
        !seen.is_empty()
    });
    assert_eq!(seen.len(), 1, "{seen:?}");
    let refusal = seen[0].as_ref().unwrap_err();
    assert!(refusal.contains("YAML syntax error"), "{refusal}");
    assert_eq!(model(), "v4-recreated");

    let at = reloads.lock().unwrap().len();
    std::fs::write(&tmp, config(uri, "v5-fixed", 0.5, "")).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let seen = wait_for_reloads(&reloads, at, "the fixed save applied", applied("v5-fixed"));
    assert_eq!(seen, [Ok("v5-fixed".to_owned())]);
    assert_eq!(model(), "v5-fixed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_racing_with_reloads_never_fail_nor_mix_configs() {
    let server = chat_server().await;
    let a = config(&server.uri(), "model-a", 0.1, "");
    let b = config(&server.uri(), "model-b", 0.9, "");
    let path_a = temp_file("race-a", &a);
    let path_b = temp_file("race-b", &b);
    let live = temp_file("race", &a);
    let hub = builder(&live).build().unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let hub = hub.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut calls = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) || calls == 0 {
                    ask(&hub).await.expect("no call fails during reloads");
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let reloader = {
        let hub = hub.clone();
        tokio::task::spawn_blocking(move || {
            for i in 0..200 {
                let source = if i % 2 == 0 { &path_b } else { &path_a };
                // Replace atomically, as a config generator would.
                let tmp = live.with_file_name("next.yaml");
                std::fs::copy(source, &tmp).unwrap();
                std::fs::rename(&tmp, &live).unwrap();
                hub.reload().expect("both configs are valid");
            }
        })
    };
    reloader.await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for caller in callers {
        total += caller.await.unwrap();
    }
    let bindings = sent_bindings(&server).await;
    assert_eq!(bindings.len() as u32, total);
    let a = ("model-a".to_owned(), 0.1);
    let b = ("model-b".to_owned(), 0.9);
    assert!(
        bindings.iter().all(|x| *x == a || *x == b),
        "a request mixed two configs"
    );
    assert!(bindings.contains(&b), "the reloaded config was used");
}
