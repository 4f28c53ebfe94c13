//! Tracing spans and events carry the OpenTelemetry GenAI attributes and never a key.
//! Its own test binary: tracing caches per-callsite interest process-wide, so a test that
//! installs a capturing subscriber must not share the process with tests that run without one.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::*;
use wiremock::ResponseTemplate;

/// What the subscriber saw: each span's name and fields, and each event's fields (values in
/// `Debug` form), with the name of the span it happened in under `in_span`.
#[derive(Default)]
struct Seen {
    spans: Vec<(&'static str, BTreeMap<String, String>)>,
    events: Vec<BTreeMap<String, String>>,
    /// The spans entered and not yet exited, innermost last (one thread runs the calls).
    entered: Vec<u64>,
}

/// A `tracing` subscriber that keeps every span's fields and every event.
struct Capture(Arc<Mutex<Seen>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut seen = self.0.lock().unwrap();
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        seen.spans.push((span.metadata().name(), fields));
        tracing::span::Id::from_u64(seen.spans.len() as u64)
    }
    fn record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut seen = self.0.lock().unwrap();
        let index = id.into_u64() as usize - 1;
        values.record(&mut Fields(&mut seen.spans[index].1));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let mut seen = self.0.lock().unwrap();
        if let Some(&id) = seen.entered.last() {
            let name = seen.spans[id as usize - 1].0;
            fields.insert("in_span".to_owned(), name.to_owned());
        }
        seen.events.push(fields);
    }
    fn enter(&self, id: &tracing::span::Id) {
        self.0.lock().unwrap().entered.push(id.into_u64());
    }
    fn exit(&self, id: &tracing::span::Id) {
        let mut seen = self.0.lock().unwrap();
        if let Some(at) = seen.entered.iter().rposition(|&e| e == id.into_u64()) {
            seen.entered.remove(at);
        }
    }
}

/// What the capturing subscriber saw while `calls` ran on a one-thread runtime.
fn capture(calls: impl std::future::Future<Output = ()>) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(Capture(seen.clone()), || runtime.block_on(calls));
    std::mem::take(&mut *seen.lock().unwrap())
}

/// The fields a call span should end with.
fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn call_spans_carry_every_attribute_and_never_a_key() {
    let seen = capture(async {
        let ok = serve(json_reply(json!({
            "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
        })))
        .await;
        // One reply serves both calls; its `usage` is what their spans record.
        let hub = hub(&ok.uri(), "http://127.0.0.1:9");
        ask(&hub, "llm.inference").await.unwrap();
        hub.embedding("llm.embedding", "x", None).await.unwrap();

        let failing = serve(ResponseTemplate::new(500).set_body_string("oops")).await;
        let hub = builder(&failing.uri(), "http://127.0.0.1:9")
            .max_retries(1)
            .build()
            .unwrap();
        ask(&hub, "llm.inference").await.unwrap_err();

        // A port nobody listens on: each connect error is retried, twice.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = format!("http://127.0.0.1:{port}");
        let hub = builder(&refused, &refused).max_retries(2).build().unwrap();
        ask(&hub, "llm.inference").await.unwrap_err();
    });
    let calls: Vec<_> = seen
        .spans
        .iter()
        .filter(|(name, _)| *name == "gen_ai.client.call")
        .map(|(_, fields)| fields.clone())
        .collect();
    assert_eq!(
        calls,
        [
            fields(&[
                ("gen_ai.operation.name", "\"chat\""),
                ("gen_ai.system", "\"openai\""),
                ("gen_ai.request.model", "\"gpt-4.1\""),
                ("llmhub.role", "\"llm.inference\""),
                ("llmhub.call", "\"completion\""),
                ("gen_ai.usage.input_tokens", "12"),
                ("gen_ai.usage.output_tokens", "5"),
                ("gen_ai.usage.cache_read.input_tokens", "0"),
                ("gen_ai.usage.cache_creation.input_tokens", "0"),
                ("gen_ai.usage.reasoning.output_tokens", "0"),
            ]),
            fields(&[
                ("gen_ai.operation.name", "\"embeddings\""),
                ("gen_ai.system", "\"openai\""),
                ("gen_ai.request.model", "\"text-embedding-3-small\""),
                ("llmhub.role", "\"llm.embedding\""),
                ("llmhub.call", "\"embedding\""),
                ("gen_ai.usage.input_tokens", "12"),
                ("gen_ai.usage.output_tokens", "5"),
                ("gen_ai.usage.cache_read.input_tokens", "0"),
                ("gen_ai.usage.cache_creation.input_tokens", "0"),
                ("gen_ai.usage.reasoning.output_tokens", "0"),
            ]),
            fields(&[
                ("gen_ai.operation.name", "\"chat\""),
                ("gen_ai.system", "\"openai\""),
                ("gen_ai.request.model", "\"gpt-4.1\""),
                ("llmhub.role", "\"llm.inference\""),
                ("llmhub.call", "\"completion\""),
                ("error.type", "http"),
            ]),
            fields(&[
                ("gen_ai.operation.name", "\"chat\""),
                ("gen_ai.system", "\"openai\""),
                ("gen_ai.request.model", "\"gpt-4.1\""),
                ("llmhub.role", "\"llm.inference\""),
                ("llmhub.call", "\"completion\""),
                ("error.type", "transport"),
            ]),
        ]
    );
    // One retry of the HTTP 500, then two of the refused connection.
    let retries: Vec<_> = seen
        .events
        .iter()
        .filter(|e| e["message"] == "retrying")
        .map(|e| {
            let error = &e["error"];
            let cause = if error.contains("HTTP 500") {
                "http 500"
            } else if error.contains("Connection refused") {
                "refused"
            } else {
                error
            };
            // Each retry is told inside its call's span.
            assert_eq!(
                e.get("in_span").map(String::as_str),
                Some("gen_ai.client.call")
            );
            (cause, e["retry"].as_str(), e["provider"].as_str())
        })
        .collect();
    assert_eq!(
        retries,
        [
            ("http 500", "1", "\"openai\""),
            ("refused", "1", "\"openai\""),
            ("refused", "2", "\"openai\""),
        ]
    );
    let log = format!("{:?} {:?}", seen.spans, seen.events);
    assert!(!log.contains("TESTKEY"), "key leaked into tracing: {log}");
}

/// The fields of the one call span `seen` holds.
fn call_span(seen: &Seen) -> &BTreeMap<String, String> {
    let calls: Vec<_> = seen
        .spans
        .iter()
        .filter(|(name, _)| *name == "gen_ai.client.call")
        .collect();
    assert_eq!(calls.len(), 1, "one call span");
    &calls[0].1
}

#[test]
fn a_call_dropped_before_it_finishes_marks_its_span_cancelled() {
    let seen = capture(async {
        let server =
            serve(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60))).await;
        let hub = hub(&server.uri(), "http://127.0.0.1:9");
        let call = ask(&hub, "llm.inference");
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), call).await;
        assert!(timed_out.is_err(), "the server never answers");
    });
    let span = call_span(&seen);
    assert_eq!(
        span.get("error.type").map(String::as_str),
        Some("cancelled")
    );
    assert!(
        seen.events
            .iter()
            .any(|event| event.values().any(|v| v.contains("the call was cancelled"))),
        "an event says the call was cancelled"
    );
}

#[test]
fn spans_carry_cache_and_reasoning_token_counts() {
    let seen = capture(async {
        let server = serve(json_reply(serde_json::json!({
            "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 32}}
        })))
        .await;
        let hub = hub(&server.uri(), "http://127.0.0.1:9");
        ask(&hub, "llm.inference").await.unwrap();
    });
    let span = call_span(&seen);
    for (field, value) in [
        ("gen_ai.usage.input_tokens", "100"),
        ("gen_ai.usage.output_tokens", "40"),
        ("gen_ai.usage.cache_read.input_tokens", "64"),
        ("gen_ai.usage.cache_creation.input_tokens", "0"),
        ("gen_ai.usage.reasoning.output_tokens", "32"),
    ] {
        assert_eq!(span.get(field).map(String::as_str), Some(value), "{field}");
    }
}

#[test]
fn a_span_names_the_deployment_that_answered_and_the_attempts() {
    let seen = capture(async {
        let down = serve(ResponseTemplate::new(503).set_body_string("overloaded")).await;
        let up = serve(json_reply(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]
        })))
        .await;
        let yaml = format!(
            "project: p\nenv: dev\nproviders:\n  down: {{ base_url: {}/v1, api: openai }}\n  up: {{ base_url: {}/v1, api: openai }}\nroles:\n  llm.inference: {{ provider: down, model: m1, mode: chat, fallbacks: [llm.backup] }}\n  llm.backup: {{ provider: up, model: m2, mode: chat }}\n",
            down.uri(),
            up.uri()
        );
        let hub = llmhub_core::Hub::builder()
            .config(llmhub_core::Config::from_yaml_str(&yaml).unwrap())
            .max_retries(0)
            .build()
            .unwrap();
        ask(&hub, "llm.inference").await.unwrap();
    });
    let span = call_span(&seen);
    // The span ends naming the deployment that answered, after one attempt moved on.
    assert_eq!(
        span.get("gen_ai.system").map(String::as_str),
        Some("\"up\"")
    );
    assert_eq!(
        span.get("gen_ai.request.model").map(String::as_str),
        Some("\"m2\"")
    );
    assert_eq!(span.get("llmhub.attempts").map(String::as_str), Some("2"));
    assert_eq!(span.get("llmhub.fallbacks").map(String::as_str), Some("1"));
    // Why the first deployment failed is told in an event.
    assert!(
        seen.events
            .iter()
            .any(|event| event.values().any(|v| v.contains("overloaded"))),
        "an event says why the first deployment failed"
    );
}
