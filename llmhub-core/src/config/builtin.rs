//! The built-in provider table: provider ids that need no `base_url` or `api`.

use crate::config::types::Protocol;

/// A provider id llmhub knows, with its protocol and default base URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinProvider {
    /// The provider id, as written under `providers:`.
    pub id: &'static str,
    /// The wire protocol.
    pub api: Protocol,
    /// The default base URL (for the OpenAI protocol it includes the version segment).
    pub base_url: &'static str,
}

const fn openai(id: &'static str, base_url: &'static str) -> BuiltinProvider {
    BuiltinProvider {
        id,
        api: Protocol::OpenAi,
        base_url,
    }
}

/// Every built-in provider.
pub const BUILTIN_PROVIDERS: &[BuiltinProvider] = &[
    openai("openai", "https://api.openai.com/v1"),
    BuiltinProvider {
        id: "anthropic",
        api: Protocol::Anthropic,
        base_url: "https://api.anthropic.com",
    },
    openai("mistral", "https://api.mistral.ai/v1"),
    openai("openrouter", "https://openrouter.ai/api/v1"),
    openai("groq", "https://api.groq.com/openai/v1"),
    openai("deepseek", "https://api.deepseek.com/v1"),
    openai("together", "https://api.together.xyz/v1"),
    openai("fireworks", "https://api.fireworks.ai/inference/v1"),
    openai("xai", "https://api.x.ai/v1"),
    openai(
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta/openai",
    ),
    openai("ollama", "http://127.0.0.1:11434/v1"),
    openai("vllm", "http://127.0.0.1:8000/v1"),
    openai("lmstudio", "http://127.0.0.1:1234/v1"),
];

/// The built-in provider `id`, if llmhub knows it.
///
/// ```
/// use llmhub_core::config::builtin_provider;
/// assert_eq!(builtin_provider("openai").unwrap().base_url, "https://api.openai.com/v1");
/// assert!(builtin_provider("acme").is_none());
/// ```
pub fn builtin_provider(id: &str) -> Option<&'static BuiltinProvider> {
    BUILTIN_PROVIDERS.iter().find(|p| p.id == id)
}
