//! The test kit as an application uses it: a small function that calls two roles of the
//! generated `Roles`, unit-tested on a mock with scripted replies (text, an embedding, a stream,
//! tool calls, a structured value) and a scripted 429, asserting what each role was asked.

use std::time::Duration;

use futures_util::StreamExt;
use llmhub::testing::{Mock, TEST_KEY};
use llmhub::{Error, Message};
use serde_json::json;

llmhub::roles!("fixtures/llmhub.yaml");

const CONFIG: &str = include_str!("../fixtures/llmhub.yaml");

/// The application code under test: summarizes a note with one role and embeds the summary
/// with another.
async fn summarize_and_embed(roles: &Roles, note: &str) -> llmhub::Result<(String, usize)> {
    let reply = roles
        .llm_memwrite()
        .completion([
            Message::system("Summarize in one sentence."),
            Message::user(note),
        ])
        .await?;
    let summary = reply.text().unwrap_or_default().to_owned();
    let vectors = roles.llm_embedding().embedding(summary.as_str()).await?;
    Ok((summary, vectors.first().map_or(0, |v| v.len())))
}

#[tokio::test]
async fn an_application_function_is_tested_on_scripted_roles() {
    let mock = Mock::from_yaml_str(CONFIG).unwrap();
    mock.script("llm.memwrite")
        .text("The user likes tea.")
        .rate_limited(7);
    mock.script("llm.embedding").embedding(vec![0.5, 0.5, 0.0]);
    let roles: Roles = mock.build().unwrap();

    let (summary, dimensions) = summarize_and_embed(&roles, "I drink tea every morning.")
        .await
        .unwrap();
    assert_eq!(summary, "The user likes tea.");
    assert_eq!(dimensions, 3);

    // What each role was asked, through its real protocol: llm.memwrite is an Anthropic role.
    let asked = mock.requests("llm.memwrite");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method, "POST");
    assert!(asked[0].path.ends_with("/v1/messages"), "{}", asked[0].path);
    assert_eq!(asked[0].header("x-api-key"), Some(TEST_KEY));
    assert_eq!(asked[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(asked[0].body["model"], "claude-3-5-sonnet-20241022");
    assert_eq!(asked[0].body["system"], "Summarize in one sentence.");
    assert_eq!(
        asked[0].messages(),
        &json!([{"role": "user", "content": "I drink tea every morning."}])
    );
    assert_eq!(asked[0].param("temperature"), Some(&json!(0.3)));
    assert_eq!(asked[0].param("max_tokens"), Some(&json!(1024)));
    let embedded = mock.requests("llm.embedding");
    assert!(embedded[0].path.ends_with("/v1/embeddings"));
    assert_eq!(
        embedded[0].header("authorization"),
        Some(format!("Bearer {TEST_KEY}").as_str())
    );
    assert_eq!(embedded[0].body["input"], "The user likes tea.");
    assert_eq!(embedded[0].body["dimensions"], 1536);

    // The scripted 429 reaches the application as a rate limit, with the server's delay.
    match summarize_and_embed(&roles, "again").await {
        Err(Error::RateLimited {
            provider,
            retry_after,
            ..
        }) => {
            assert_eq!(provider, "anthropic");
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    assert_eq!(mock.requests("llm.memwrite").len(), 2);
    assert_eq!(mock.pending("llm.memwrite"), 0);
}

#[tokio::test]
async fn streams_tool_calls_and_structured_values_in_both_protocols() {
    let mock = Mock::from_yaml_str(CONFIG).unwrap();
    mock.script("llm.preprocess").stream(["1, ", "2, ", "3."]);
    mock.script("llm.memread").stream(["Tea", " lover."]);
    mock.script("llm.inference")
        .tool_call("weather", json!({"city": "Paris"}))
        .json(&json!({"city": "Paris", "celsius": 21}));
    let roles: Roles = mock.build().unwrap();

    let mut text = String::new();
    let mut stream = roles
        .llm_preprocess()
        .stream([Message::user("Count")])
        .await
        .unwrap();
    while let Some(chunk) = stream.next().await {
        text.push_str(chunk.unwrap().text().unwrap_or_default());
    }
    assert_eq!(text, "1, 2, 3.");
    assert_eq!(mock.requests("llm.preprocess")[0].body["stream"], true);

    // An Anthropic stream, collected.
    let reply = roles
        .llm_memread()
        .stream([Message::user("Who?")])
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(reply.text(), Some("Tea lover."));

    let reply = roles
        .llm_inference()
        .completion([Message::user("Weather in Paris?")])
        .await
        .unwrap();
    let call = &reply.tool_calls()[0];
    assert_eq!(call.function.name, "weather");
    assert_eq!(call.function.arguments, r#"{"city":"Paris"}"#);
    let reply = roles
        .llm_inference()
        .completion([Message::user("As JSON")])
        .await
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(reply.text().unwrap()).unwrap();
    assert_eq!(value, json!({"city": "Paris", "celsius": 21}));
}

#[tokio::test]
async fn an_unscripted_role_and_a_slow_reply_fail_clearly() {
    let mock = Mock::from_yaml_str(CONFIG).unwrap();
    mock.script("llm.inference")
        .delayed(Duration::from_secs(5))
        .text("too late");
    let roles: Roles = mock
        .builder::<Roles>()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    match roles
        .llm_inference()
        .completion([Message::user("Hi")])
        .await
    {
        Err(Error::Timeout { after, .. }) => assert_eq!(after, Duration::from_millis(200)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    match roles.llm_memread().completion([Message::user("Hi")]).await {
        Err(Error::Http { status, body, .. }) => {
            assert_eq!(status, 500);
            assert!(
                body.contains("no reply scripted for role `llm.memread`"),
                "{body}"
            );
        }
        other => panic!("expected the unscripted error, got {other:?}"),
    }
}
