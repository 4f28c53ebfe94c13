//! Tracing spans and events carry the OpenTelemetry GenAI attributes and never a key.
//! Its own test binary: tracing caches per-callsite interest process-wide, so a test that
//! installs a capturing subscriber must not share the process with tests that run without one.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use wiremock::ResponseTemplate;

/// A `tracing` subscriber that writes every span field and event field it sees into a string.
struct Capture(Arc<Mutex<String>>);

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut out = self.0.lock().unwrap();
        out.push_str(&format!("\nspan {} ", span.metadata().name()));
        span.record(&mut Fields(&mut out));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        values.record(&mut Fields(&mut self.0.lock().unwrap()));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut out = self.0.lock().unwrap();
        out.push_str("\nevent ");
        event.record(&mut Fields(&mut out));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn spans_and_logs_never_carry_keys() {
    let log = Arc::new(Mutex::new(String::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(Capture(log.clone()), || {
        runtime.block_on(async {
            let server = serve(ResponseTemplate::new(500).set_body_string("oops")).await;
            let hub = builder(&server.uri(), "http://127.0.0.1:9")
                .max_retries(1)
                .build()
                .unwrap();
            ask(&hub, "llm.inference").await.unwrap_err();
        })
    });
    let log = log.lock().unwrap();
    assert!(log.contains("span gen_ai.client.call"), "{log}");
    assert!(log.contains("gen_ai.request.model=\"gpt-4.1\""), "{log}");
    assert!(log.contains("gen_ai.system=\"openai\""), "{log}");
    assert!(log.contains("retrying"), "{log}");
    assert!(!log.contains("TESTKEY"), "key leaked into tracing: {log}");
}

#[test]
fn a_span_names_the_deployment_that_answered_and_the_attempts() {
    let log = Arc::new(Mutex::new(String::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(Capture(log.clone()), || {
        runtime.block_on(async {
            let down = serve(ResponseTemplate::new(503).set_body_string("overloaded")).await;
            let up = serve(json_reply(serde_json::json!({
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
        })
    });
    let log = log.lock().unwrap();
    let span = log
        .split("\nspan ")
        .find(|s| s.starts_with("gen_ai.client.call"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(span.contains("gen_ai.system=\"down\""), "{span}");
    assert!(span.contains("llmhub deployment failed"), "{span}");
    assert!(span.contains("overloaded"), "why it failed: {span}");
    assert!(
        span.contains("gen_ai.system=\"up\" gen_ai.request.model=\"m2\""),
        "{span}"
    );
    assert!(
        span.contains("llmhub.attempts=2 llmhub.fallbacks=1"),
        "{span}"
    );
}
