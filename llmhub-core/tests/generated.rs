//! The contract with generated code: a struct like the one `roles!` generates, written by hand.

mod support;

use llmhub_core::__private::{GeneratedRoles, checked_from_hub, handle};
use llmhub_core::{ChatRole, Config, EmbeddingRole, Error, Hub, Message, Mode, RolesBuilder, mode};
use serde_json::json;
use support::*;

/// What `roles!` would generate for the shared test config (two of its roles).
struct Roles {
    hub: Hub,
}

impl Roles {
    const COMPILED: &'static [(&'static str, Mode)] = &[
        ("llm.embedding", Mode::Embedding),
        ("llm.inference", Mode::Chat),
    ];

    fn builder() -> RolesBuilder<Self> {
        RolesBuilder::default()
    }

    fn llm_embedding(&self) -> EmbeddingRole<'_> {
        handle::<mode::Embedding>(&self.hub, 0)
    }

    fn llm_inference(&self) -> ChatRole<'_> {
        handle::<mode::Chat>(&self.hub, 1)
    }
}

impl GeneratedRoles for Roles {
    const YAML: &'static str = "project: p\nenv: dev\nproviders: { openai: {} }\nroles:\n  llm.inference: { provider: openai, model: compiled-in, mode: chat }\n  llm.embedding: { provider: openai, model: e, mode: embedding }\n";
    const FILE: &'static str = "llmhub.yaml";
    const COMPILED: &'static [(&'static str, Mode)] = Roles::COMPILED;

    fn from_hub_unchecked(hub: Hub) -> Self {
        Roles { hub }
    }
}

#[tokio::test]
async fn generated_roles_call_through_their_slots() {
    let server = serve(json_reply(
        json!({"choices": [{"message": {"content": "hi"}}], "data": [{"embedding": [1.0]}]}),
    ))
    .await;
    let config = Config::from_yaml_str(&yaml(&server.uri(), "http://127.0.0.1:9")).unwrap();
    let roles = Roles::builder()
        .config(config.clone())
        .api_key("openai", OPENAI_KEY)
        .build()
        .unwrap();
    let reply = roles
        .llm_inference()
        .completion([Message::user("Hi")])
        .await
        .unwrap();
    assert_eq!(reply.text(), Some("hi"));
    let vector = roles.llm_embedding().embedding("x").await.unwrap();
    assert_eq!(vector.first(), Some(&[1.0][..]));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(body_json(&requests[0])["model"], "gpt-4.1");
    assert_eq!(requests[1].url.path(), "/prefix/v1/embeddings");

    // A hub built without the compiled table is given one by `checked_from_hub`.
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .build()
        .unwrap();
    let roles = checked_from_hub::<Roles>(hub).unwrap();
    roles
        .llm_inference()
        .completion([Message::user("Hi")])
        .await
        .unwrap();
    // It calls with the original hub's settings, the key given to its builder included.
    let request = &server.received_requests().await.unwrap()[2];
    assert_eq!(request.url.path(), "/prefix/v1/chat/completions");
    assert_eq!(
        header(request, "authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(header(request, "x-team"), Some("core"));
    assert_eq!(body_json(request)["model"], "gpt-4.1");
}

#[test]
fn the_compiled_in_config_is_the_default_and_incompatible_hubs_are_refused() {
    let roles = Roles::builder().build().unwrap();
    assert_eq!(
        roles.hub.config().roles["llm.inference"].model,
        "compiled-in"
    );

    let hub = Hub::from_yaml_str(
        "project: p\nenv: dev\nproviders: { openai: {} }\nroles:\n  llm.inference: { provider: openai, model: m, mode: embedding }\n  llm.embedding: { provider: openai, model: e, mode: embedding }\n",
    )
    .unwrap();
    let err = checked_from_hub::<Roles>(hub).err().unwrap();
    assert!(
        matches!(err, Error::ModeMismatch { ref role, .. } if role == "llm.inference"),
        "{err}"
    );
}
