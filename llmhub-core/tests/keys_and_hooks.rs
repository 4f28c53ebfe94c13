//! Keys (builder, strict checks, redaction) and call hooks. A key read from the environment
//! is tested in `key_from_env.rs`, its own binary, since it sets the process environment.

mod support;

use std::sync::{Arc, Mutex};

use llmhub_core::{CallInput, Config, Error, Hub, Message, Mode};
use serde_json::json;
use support::*;
use wiremock::{MockServer, ResponseTemplate};

async fn ok_server() -> MockServer {
    serve(json_reply(json!({
        "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    })))
    .await
}

#[test]
fn strict_env_reports_every_missing_variable() {
    let config = Config::from_yaml_str(&yaml_with_env(
        "http://127.0.0.1:9",
        "LLMHUB_TEST_STRICT_A",
        "LLMHUB_TEST_STRICT_B",
    ))
    .unwrap();
    let err = Hub::builder()
        .config(config.clone())
        .strict_env(true)
        .build()
        .unwrap_err();
    let Error::EnvVarMissing { missing } = &err else {
        panic!("{err:?}")
    };
    let vars: Vec<_> = missing.iter().map(|m| m.var.as_str()).collect();
    assert_eq!(vars, ["LLMHUB_TEST_STRICT_A", "LLMHUB_TEST_STRICT_B"]);
    assert!(
        err.to_string()
            .contains("`LLMHUB_TEST_STRICT_B` (provider `anthropic`)"),
        "{err}"
    );
    // A key given to the builder satisfies the check.
    let err = Hub::builder()
        .config(config)
        .strict_env(true)
        .api_key("openai", "k")
        .build()
        .unwrap_err();
    let Error::EnvVarMissing { missing } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(missing.len(), 1);
}

#[tokio::test]
async fn keys_never_show_in_debug_output_or_errors() {
    let server = serve(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"message": format!("Incorrect API key provided: {OPENAI_KEY}"), "type": "invalid_request_error"}
        }))).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (before, after) = (seen.clone(), seen.clone());
    let builder = builder(&server.uri(), "http://127.0.0.1:9")
        .on_before_call(move |ctx| before.lock().unwrap().push(format!("{ctx:?}")))
        .on_after_call(move |result| after.lock().unwrap().push(format!("{result:?}")));
    let builder_debug = format!("{builder:?}");
    let hub = builder.build().unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");

    let mut outputs = vec![
        builder_debug,
        format!("{hub:?}"),
        format!("{:?}", hub.config()),
        format!("{err:?}"),
        err.to_string(),
    ];
    outputs.extend(seen.lock().unwrap().iter().cloned());
    assert_eq!(outputs.len(), 7);
    for output in &outputs {
        for key in [OPENAI_KEY, ANTHROPIC_KEY, "TESTKEY"] {
            assert!(!output.contains(key), "key leaked in: {output}");
        }
    }
    assert!(outputs[0].contains("***"), "{}", outputs[0]);
    assert!(
        err.to_string().contains("Incorrect API key provided: ***"),
        "{err}"
    );
}

#[tokio::test]
async fn hooks_see_the_call_and_its_outcome() {
    let server = ok_server().await;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let (before, after) = (log.clone(), log.clone());
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .on_before_call(move |ctx| {
            let input = match ctx.input {
                CallInput::Messages(m) => m.len(),
                _ => 0,
            };
            before.lock().unwrap().push(format!(
                "before {} {} {} {} t={} m={} n={}",
                ctx.role,
                ctx.provider,
                ctx.model,
                ctx.mode,
                ctx.params["temperature"],
                ctx.params["max_tokens"],
                input
            ));
        })
        .on_after_call(move |r| {
            after.lock().unwrap().push(format!(
                "after {} {} success={} usage={:?} error={}",
                r.role,
                r.mode,
                r.success,
                r.usage.map(|u| u.total_tokens),
                r.error.is_some()
            ));
        })
        .build()
        .unwrap();
    let overrides = params(json!({"temperature": 0.0}));
    hub.completion("llm.inference", [Message::user("Hi")], Some(overrides))
        .await
        .unwrap();
    // Refused before the call: no hooks run.
    let err = hub.embedding("llm.inference", "x", None).await.unwrap_err();
    assert!(
        matches!(&err, Error::ModeMismatch { role, mode: Mode::Chat, .. } if role == "llm.inference"),
        "{err:?}"
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "before llm.inference openai gpt-4.1 chat t=0.0 m=2048 n=1",
            "after llm.inference chat success=true usage=Some(4) error=false",
        ]
    );
    assert_eq!(Mode::Chat.to_string(), "chat");
}

#[tokio::test]
async fn failed_calls_reach_the_after_hook() {
    let server = serve(ResponseTemplate::new(400)).await;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = failures.clone();
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .on_after_call(move |r| {
            sink.lock()
                .unwrap()
                .push((r.success, r.error.map(|e| e.to_string())))
        })
        .build()
        .unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 400, .. }), "{err:?}");
    let failures = failures.lock().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(!failures[0].0);
    assert!(
        failures[0]
            .1
            .as_deref()
            .unwrap()
            .contains("HTTP 400: (empty body)"),
        "{:?}",
        failures[0]
    );
}

#[test]
fn insecure_base_urls_cannot_be_slipped_in() {
    let mut config =
        Config::from_yaml_str(&yaml("http://127.0.0.1:9", "http://localhost:9")).unwrap();
    // A loopback disguise, as reqwest parses it, is refused too.
    for url in [
        "http://api.example.com/v1",
        "http://api.example.com\\@127.0.0.1/v1",
    ] {
        config.providers["openai"].base_url = url.into();
        let err = Hub::from_config(config.clone()).unwrap_err();
        let problems = err.config_problems();
        assert_eq!(problems.len(), 1, "{err:?}");
        assert!(
            problems[0]
                .message
                .contains("clear text to a non-loopback host"),
            "{err}"
        );
    }
    config.providers["openai"].allow_insecure_http = true;
    Hub::from_config(config).unwrap();
}

#[test]
fn a_key_for_an_unknown_provider_is_refused() {
    let err = builder("http://127.0.0.1:9", "http://127.0.0.1:9")
        .api_key("opnai", "k")
        .build()
        .unwrap_err();
    let problems = err.config_problems();
    assert_eq!(problems.len(), 1, "{err:?}");
    assert_eq!(problems[0].hint.as_deref(), Some("did you mean `openai`?"));
    let text = err.to_string();
    assert!(
        text.contains("provider `opnai`") && text.contains("did you mean `openai`?"),
        "{text}"
    );
    assert!(!text.contains("TESTKEY"));
}

#[tokio::test]
async fn an_error_inside_an_openai_stream_ends_it_with_the_key_masked() {
    use futures_util::StreamExt;
    let body = format!(
        "data: {{\"id\":\"c\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"Hel\"}}}}]}}\n\n\
         data: {{\"id\":\"c\",\"error\":{{\"message\":\"upstream failed for key {OPENAI_KEY}\",\"code\":502}},\
         \"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"error\"}}]}}\n\ndata: [DONE]\n\n"
    );
    let server = serve(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let mut stream = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.text(), Some("Hel"));
    let err = stream.next().await.unwrap().unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, Error::Http { status: 502, .. }), "{err:?}");
    assert!(shown.contains("upstream failed for key ***"), "{shown}");
    assert!(!shown.contains("TESTKEY"), "key leaked: {shown}");
}

#[tokio::test]
async fn a_key_echoed_across_the_message_cut_is_masked_before_cutting() {
    // The provider's message is cut at 500 characters; the key straddles the cut.
    let text = format!("{}{OPENAI_KEY} and more", "x".repeat(490));
    let server = serve(ResponseTemplate::new(400).set_body_string(text)).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("***"), "{shown}");
    assert!(
        !shown.contains("sk-openai"),
        "a prefix of the key leaked: {shown}"
    );
}

#[tokio::test]
async fn a_stream_dropped_early_is_not_reported_as_a_success() {
    use futures_util::StreamExt;
    let body = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n\
                data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let server = serve(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")).await;
    let outcomes: Arc<Mutex<Vec<bool>>> = Arc::default();
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .on_after_call({
            let outcomes = outcomes.clone();
            move |result| outcomes.lock().unwrap().push(result.success)
        })
        .build()
        .unwrap();
    let ask_stream = || hub.stream_completion("llm.inference", [Message::user("Hi")], None);
    let mut stream = ask_stream().await.unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let mut stream = ask_stream().await.unwrap();
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
    }
    assert_eq!(*outcomes.lock().unwrap(), [false, true]);
}
