//! A key read from the environment at call time: missing, the call fails before any request;
//! set later, the next call sends it. Its own test binary with a single test, since it sets a
//! process-wide environment variable.

mod support;

use llmhub_core::{Error, Hub};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "current_thread")]
async fn a_missing_key_fails_before_any_request_and_is_read_when_set() {
    let server = serve(json_reply(json!({
        "choices": [{"index": 0, "message": {"content": "ok"}, "finish_reason": "stop"}]
    })))
    .await;
    let var = "LLMHUB_TEST_KEY_LATE";
    let hub = Hub::from_yaml_str(&yaml_with_env(
        &server.uri(),
        var,
        "LLMHUB_TEST_KEY_LATE_ANT",
    ))
    .unwrap();
    let err = ask(&hub, "llm.inference").await.unwrap_err();
    match &err {
        Error::EnvVarMissing { missing } => {
            assert_eq!(
                (missing[0].provider.as_str(), missing[0].var.as_str()),
                ("openai", var)
            );
        }
        other => panic!("expected EnvVarMissing, got {other:?}"),
    }
    assert!(err.to_string().contains(var), "{err}");
    assert_eq!(server.received_requests().await.unwrap().len(), 0);

    // SAFETY: this binary has this single test, so no other test reads the environment
    // while it changes.
    unsafe { std::env::set_var(var, "sk-from-env") };
    ask(&hub, "llm.inference").await.unwrap();
    let request = only_request(&server).await;
    assert_eq!(
        header(&request, "authorization"),
        Some("Bearer sk-from-env")
    );
}
