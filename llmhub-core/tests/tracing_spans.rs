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
fn a_call_dropped_before_it_finishes_marks_its_span_cancelled() {
    let log = Arc::new(Mutex::new(String::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(Capture(log.clone()), || {
        runtime.block_on(async {
            let server =
                serve(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)))
                    .await;
            let hub = hub(&server.uri(), "http://127.0.0.1:9");
            let call = ask(&hub, "llm.inference");
            let timed_out = tokio::time::timeout(std::time::Duration::from_millis(50), call).await;
            assert!(timed_out.is_err(), "the server never answers");
        })
    });
    let log = log.lock().unwrap();
    assert!(log.contains("span gen_ai.client.call"), "{log}");
    assert!(log.contains("error.type=cancelled"), "{log}");
    assert!(log.contains("the call was cancelled"), "{log}");
}

#[test]
fn spans_carry_cache_and_reasoning_token_counts() {
    let log = Arc::new(Mutex::new(String::new()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(Capture(log.clone()), || {
        runtime.block_on(async {
            let server = serve(json_reply(serde_json::json!({
                "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140,
                    "prompt_tokens_details": {"cached_tokens": 64},
                    "completion_tokens_details": {"reasoning_tokens": 32}}
            })))
            .await;
            let hub = hub(&server.uri(), "http://127.0.0.1:9");
            ask(&hub, "llm.inference").await.unwrap();
        })
    });
    let log = log.lock().unwrap();
    assert!(log.contains("gen_ai.usage.input_tokens=100"), "{log}");
    assert!(log.contains("gen_ai.usage.output_tokens=40"), "{log}");
    assert!(
        log.contains("gen_ai.usage.cache_read.input_tokens=64"),
        "{log}"
    );
    assert!(
        log.contains("gen_ai.usage.cache_creation.input_tokens=0"),
        "{log}"
    );
    assert!(
        log.contains("gen_ai.usage.reasoning.output_tokens=32"),
        "{log}"
    );
}
