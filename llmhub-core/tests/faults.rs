//! Correctness under faults: hostile numbers and indices from the network, calls dropped
//! before they finish, a watched config swapped through symbolic links, a panicking
//! `on_reload` hook.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use llmhub_core::{Hub, Message};
use serde_json::json;
use support::*;
use wiremock::ResponseTemplate;

const MAX: u64 = u64::MAX;

/// A streamed reply of the given server-sent events.
fn sse_reply(events: &[String]) -> ResponseTemplate {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_string(body)
}

#[tokio::test]
async fn anthropic_usage_at_u64_max_saturates_in_a_reply() {
    let server = serve(json_reply(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
        "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": MAX, "output_tokens": MAX}
    })))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let reply = ask(&hub, "llm.memwrite").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        (request.method.as_str(), request.url.path()),
        ("POST", "/anthropic/v1/messages")
    );
    assert_eq!(body_json(&request)["model"], "claude-3-5-sonnet-20241022");
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (MAX, MAX, MAX)
    );
}

#[tokio::test]
async fn anthropic_usage_at_u64_max_saturates_in_a_stream() {
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": MAX}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": MAX}}),
        json!({"type": "message_stop"}),
    ]
    .map(|e| e.to_string());
    let server = serve(sse_reply(&events)).await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let reply = hub
        .stream_completion("llm.memwrite", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    let body = body_json(&only_request(&server).await);
    assert_eq!(body["stream"], true);
    assert_eq!(reply.text(), Some("ok"));
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (MAX, MAX, MAX)
    );
}

/// An OpenAI-compatible chunk of `choices`.
fn chunk(choices: serde_json::Value) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "model": "gpt-4.1", "choices": choices})
        .to_string()
}

/// A tool-call piece of choice 0.
fn tool_piece(index: u32, id: Option<&str>, name: Option<&str>, arguments: &str) -> String {
    chunk(json!([{"index": 0, "delta": {"tool_calls": [{
        "index": index, "id": id, "type": id.map(|_| "function"),
        "function": {"name": name, "arguments": arguments}
    }]}}]))
}

async fn collect(events: &[String]) -> (llmhub_core::ChatResponse, wiremock::MockServer) {
    let server = serve(sse_reply(events)).await;
    // One event of the 100,000-index stream is several MiB: above the default cap on an
    // event, which this test is not about.
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .max_event_bytes(64 << 20)
        .build()
        .unwrap();
    let reply = hub
        .stream_completion("llm.tools", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    (reply, server)
}

#[tokio::test]
async fn tool_call_pieces_join_by_index_when_indices_do_not_start_at_zero() {
    let events = [
        tool_piece(7, Some("call_a"), Some("weather"), ""),
        tool_piece(7, None, None, "{\"city\":"),
        tool_piece(9, Some("call_b"), Some("time"), "{}"),
        tool_piece(7, None, None, "\"Paris\"}"),
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
        "[DONE]".to_owned(),
    ];
    let (reply, server) = collect(&events).await;
    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/prefix/v1/chat/completions");
    assert_eq!(body_json(&request)["stream"], true);
    let calls: Vec<(&str, &str, &str, &str)> = reply
        .tool_calls()
        .iter()
        .map(|c| {
            (
                c.id.as_str(),
                c.kind.as_str(),
                c.function.name.as_str(),
                c.function.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            ("call_a", "function", "weather", "{\"city\":\"Paris\"}"),
            ("call_b", "function", "time", "{}"),
        ]
    );
    assert_eq!(
        reply.finish_reason(),
        Some(&llmhub_core::FinishReason::ToolCalls)
    );
}

#[tokio::test]
async fn a_stream_with_100_000_distinct_indices_is_joined_in_linear_time() {
    const N: u32 = 100_000;
    // Descending, sparse indices: none is a position in the list they end up in.
    let index = |k: u32| (N - k) * 2 + 1;
    // Written by hand: building 300,000 `json!` values is slow in a debug build.
    let list = |item: &dyn Fn(u32) -> String, range: std::ops::Range<u32>| {
        range.map(item).collect::<Vec<_>>().join(",")
    };
    let tool_pieces = list(
        &|k| {
            format!(
                r#"{{"index":{},"id":"t{k}","function":{{"name":"f","arguments":"{{"}}}}"#,
                index(k)
            )
        },
        0..N,
    );
    let tool_ends = list(
        &|k| {
            format!(
                r#"{{"index":{},"function":{{"arguments":"}}"}}}}"#,
                index(k)
            )
        },
        0..N,
    );
    let choices = list(
        &|k| {
            format!(
                r#"{{"index":{},"delta":{{"content":"x"}},"finish_reason":"stop"}}"#,
                index(k)
            )
        },
        1..N + 1,
    );
    let events = [
        format!(
            r#"{{"id":"c1","choices":[{{"index":0,"delta":{{"tool_calls":[{tool_pieces}]}}}}]}}"#
        ),
        format!(
            r#"{{"id":"c1","choices":[{{"index":0,"delta":{{"tool_calls":[{tool_ends}]}},"finish_reason":"tool_calls"}}]}}"#
        ),
        format!(r#"{{"id":"c1","choices":[{choices}]}}"#),
        "[DONE]".to_owned(),
    ];
    let (reply, _server) = collect(&events).await;
    assert_eq!(reply.choices.len(), N as usize + 1);
    let calls = reply.tool_calls();
    assert_eq!(calls.len(), N as usize);
    for k in [0, 1, 7, 8, 9, N / 2, N - 1] {
        let call = &calls[k as usize];
        assert_eq!(
            (call.id.as_str(), call.function.arguments.as_str()),
            (format!("t{k}").as_str(), "{}")
        );
    }
    let last = reply.choices.last().unwrap();
    assert_eq!(
        (last.index, last.message.content.as_deref()),
        (index(N), Some("x"))
    );
}

/// What the after-call hooks saw: (call, success, error as `{:?}`).
type AfterCalls = Arc<Mutex<Vec<(&'static str, bool, Option<String>)>>>;

const CANCELLED: &str = r#"Cancelled { provider: "openai" }"#;

fn hub_recording_after_calls(openai: &str) -> (Hub, AfterCalls) {
    let seen: AfterCalls = Arc::default();
    let hub = builder(openai, "http://127.0.0.1:9")
        .on_after_call({
            let seen = seen.clone();
            move |r| {
                let error = r.error.map(|e| format!("{e:?}"));
                seen.lock().unwrap().push((r.call, r.success, error));
            }
        })
        .build()
        .unwrap();
    (hub, seen)
}

#[tokio::test]
async fn a_call_dropped_by_a_timeout_runs_the_after_hooks_once_as_cancelled() {
    // The server takes the request and does not answer within the test.
    let server = serve(json_reply(json!({})).set_delay(Duration::from_secs(60))).await;
    let (hub, seen) = hub_recording_after_calls(&server.uri());
    let call = ask(&hub, "llm.inference");
    let timed_out = tokio::time::timeout(Duration::from_millis(50), call).await;
    assert!(timed_out.is_err(), "the server never answers");

    let request = only_request(&server).await;
    assert_eq!(
        (request.method.as_str(), request.url.path()),
        ("POST", "/prefix/v1/chat/completions")
    );
    assert_eq!(body_json(&request)["model"], "gpt-4.1");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0], ("completion", false, Some(CANCELLED.to_owned())));
}

#[tokio::test]
async fn a_completed_call_and_a_dropped_stream_each_run_the_after_hooks_once() {
    let chat = json!({"id": "c1", "model": "gpt-4.1", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ]});
    let server = serve(json_reply(chat)).await;
    let (hub, seen) = hub_recording_after_calls(&server.uri());
    ask(&hub, "llm.inference").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [("completion", true, None)]);

    let events = [chunk(json!([{"index": 0, "delta": {"content": "a"}}]))];
    let server = serve(sse_reply(&events)).await;
    let (hub, seen) = hub_recording_after_calls(&server.uri());
    let mut stream = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0], ("stream", false, Some(CANCELLED.to_owned())));
}

/// A config whose `llm.inference` role uses `model` at `server`.
fn config(server: &str, model: &str) -> String {
    format!(
        "project: faults\nenv: dev\nproviders:\n  openai:\n    base_url: {server}/v1\n\
         roles:\n  llm.inference:\n    provider: openai\n    model: {model}\n    mode: chat\n"
    )
}

/// Replaces `path` with `text` at once (a plain write may be seen half done, truncated).
fn replace(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// What the `on_reload` hooks saw: `Ok(model in force)` or `Err(error)`.
type Reloads = Arc<Mutex<Vec<Result<String, String>>>>;

/// Polls (up to 10 s, 20 ms steps) until `done` holds for the recorded reloads.
fn wait_for_reloads(
    reloads: &Reloads,
    what: &str,
    done: impl Fn(&[Result<String, String>]) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        {
            let seen = reloads.lock().unwrap();
            if done(&seen) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not seen within 10 s; reloads: {seen:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A watching hub on `path` whose `on_reload` hook records into the returned list (and panics
/// on its first call when `panic_first`).
fn watching_hub(path: &std::path::Path, panic_first: bool) -> (Hub, Reloads) {
    let reloads: Reloads = Arc::default();
    let hub = Hub::builder()
        .reload_from(path)
        .api_key("openai", OPENAI_KEY)
        .watch(true)
        .watch_debounce(Duration::from_millis(30))
        .on_reload({
            let reloads = reloads.clone();
            let path = path.to_path_buf();
            move |result| {
                let seen = match result {
                    Ok(_) => {
                        let config = llmhub_core::Config::from_path(&path).unwrap();
                        Ok(config.roles["llm.inference"].model.clone())
                    }
                    Err(err) => Err(err.to_string()),
                };
                let first = {
                    let mut reloads = reloads.lock().unwrap();
                    reloads.push(seen);
                    reloads.len() == 1
                };
                assert!(
                    !(panic_first && first),
                    "a hook that panics on its first reload"
                );
            }
        })
        .build()
        .unwrap();
    (hub, reloads)
}

/// The model of every chat request `server` received, in order.
async fn models_sent(server: &wiremock::MockServer) -> Vec<String> {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| {
            assert_eq!(
                (r.method.as_str(), r.url.path()),
                ("POST", "/v1/chat/completions")
            );
            assert_eq!(
                header(r, "authorization"),
                Some(&*format!("Bearer {OPENAI_KEY}"))
            );
            body_json(r)["model"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn chat_reply() -> ResponseTemplate {
    json_reply(json!({"id": "c1", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ]}))
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_configmap_is_reloaded_after_its_atomic_symlink_swap() {
    use std::os::unix::fs::symlink;
    let server = serve(chat_reply()).await;
    let volume = tempfile::tempdir().unwrap();
    let dir = volume.path();
    let first = dir.join("..2026_11_25_1");
    std::fs::create_dir(&first).unwrap();
    std::fs::write(first.join("llmhub.yaml"), config(&server.uri(), "model-1")).unwrap();
    symlink("..2026_11_25_1", dir.join("..data")).unwrap();
    symlink("..data/llmhub.yaml", dir.join("llmhub.yaml")).unwrap();
    let (hub, reloads) = watching_hub(&dir.join("llmhub.yaml"), false);
    ask(&hub, "llm.inference").await.unwrap();

    // What the kubelet does: a new directory, a new `..data` link renamed over the old one,
    // the old directory removed.
    let second = dir.join("..2026_11_25_2");
    std::fs::create_dir(&second).unwrap();
    std::fs::write(second.join("llmhub.yaml"), config(&server.uri(), "model-2")).unwrap();
    symlink("..2026_11_25_2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    std::fs::remove_dir_all(&first).unwrap();
    wait_for_reloads(&reloads, "the swap applied", |seen| {
        seen.contains(&Ok("model-2".to_owned()))
    });
    ask(&hub, "llm.inference").await.unwrap();
    assert_eq!(models_sent(&server).await, ["model-1", "model-2"]);
    assert!(
        reloads.lock().unwrap().iter().all(Result::is_ok),
        "{reloads:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_on_reload_hook_does_not_stop_the_watcher() {
    let server = serve(chat_reply()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llmhub.yaml");
    std::fs::write(&path, config(&server.uri(), "model-1")).unwrap();
    let (hub, reloads) = watching_hub(&path, true);

    replace(&path, &config(&server.uri(), "model-2"));
    wait_for_reloads(&reloads, "the first reload", |seen| {
        seen == [Ok("model-2".to_owned())]
    });
    // The hook panicked on that reload; the watcher still reloads the next edit.
    replace(&path, &config(&server.uri(), "model-3"));
    wait_for_reloads(&reloads, "the reload after the panic", |seen| {
        seen.last() == Some(&Ok("model-3".to_owned()))
    });
    ask(&hub, "llm.inference").await.unwrap();
    assert_eq!(models_sent(&server).await, ["model-3"]);
}
