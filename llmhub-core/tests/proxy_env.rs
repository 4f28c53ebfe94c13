//! The client llmhub builds sends through a proxy named in the environment, as reqwest's
//! default client does. A test binary of its own: the variable is set for the whole process,
//! which would send every other test's requests through the proxy too.

mod support;

use serde_json::json;
use support::{ask, header, json_reply, only_request, serve};

#[tokio::test]
async fn a_proxy_named_in_the_environment_carries_plain_http_requests() {
    let proxy = serve(json_reply(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "via proxy"}, "finish_reason": "stop"}]
    })))
    .await;
    // SAFETY: this binary's one test sets the variable before it builds the hub, and nothing
    // else in the process reads or writes the environment meanwhile.
    unsafe { std::env::set_var("HTTP_PROXY", proxy.uri()) };
    // Nothing listens on port 9: the reply can only come from the proxy.
    let hub = support::hub("http://127.0.0.1:9", "http://127.0.0.1:9");
    let reply = ask(&hub, "llm.inference").await.unwrap();
    assert_eq!(reply.text(), Some("via proxy"));

    let request = only_request(&proxy).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.url.as_str(),
        "http://127.0.0.1:9/prefix/v1/chat/completions",
        "the proxy is asked for the provider's URL"
    );
    assert!(header(&request, "authorization").is_some_and(|v| v.starts_with("Bearer ")));
}
