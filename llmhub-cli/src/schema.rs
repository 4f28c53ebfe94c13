//! The JSON Schema (draft 2020-12) of `llmhub.yaml`, for editors (through yaml-language-server)
//! and other tools.
//!
//! It is built from the validator's own definitions: the key lists of the top level, of a
//! provider and of a role (`llmhub_core::__private`), the modes (`Mode::ALL`), the protocols and
//! the built-in providers (`BUILTIN_PROVIDERS`). A key the validator accepts but this file does
//! not describe is left out of the schema, and the tests below fail until it is described.
//!
//! The schema says what one value can say on its own: required keys, unknown keys, types,
//! ranges, the modes and protocols, that a provider id which is not built in needs `base_url`
//! and `api`, and that plain `http://` goes only to a loopback host unless allowed. It cannot
//! relate two values (a role's provider must be defined, its mode served by that provider's
//! protocol, two roles must not share a method name), nor see the YAML itself (syntax,
//! duplicate keys, the size limit): `llmhub check` does those.

use std::io::Write;
use std::process::ExitCode;

use llmhub_core::__private::{
    DEPLOYMENT_KEYS, MAX_DEPLOYMENTS, PROVIDER_KEYS, ROLE_KEYS, SHARED_KEYS, TOP_KEYS,
};
use llmhub_core::config::BUILTIN_PROVIDERS;
use llmhub_core::{Mode, Routing};
use serde_json::{Map, Value, json};

use crate::output::{CommandResult, EXIT_OK, Failure, stdout};

/// The names `api:` accepts, in the order the docs give them.
const PROTOCOL_NAMES: [&str; 3] = ["openai", "anthropic", "azure"];

pub fn run() -> CommandResult {
    let text = schema_text().map_err(|e| Failure::Failed(e.to_string()))?;
    let mut out = stdout();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::from(EXIT_OK))
}

/// The schema as committed in `llmhub.schema.json`: pretty-printed, ending with a newline.
pub fn schema_text() -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(&schema())?;
    text.push('\n');
    Ok(text)
}

/// A scalar "taken as written": the validator reads any non-empty scalar as a string, so
/// `env: 2024` and `model: 4` are valid.
fn text(description: &str) -> Value {
    json!({
        "description": description,
        "type": ["string", "number", "boolean"],
        "pattern": "\\S",
    })
}

fn integer(description: &str, minimum: u64, maximum: Option<u64>) -> Value {
    let mut schema = json!({
        "description": description,
        "type": "integer",
        "minimum": minimum,
    });
    if let Some(maximum) = maximum {
        schema["maximum"] = json!(maximum);
    }
    schema
}

/// The schema of one key of a provider entry, `None` for a key this file does not describe.
fn provider_key(key: &str) -> Option<Value> {
    Some(match key {
        "env_key" => json!({
            "description": "The name of the environment variable that holds the API key \
                (never the key itself).",
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        }),
        "base_url" => json!({
            "description": "Base URL. For the OpenAI protocol it includes the version segment \
                (`https://api.openai.com/v1`); for the Anthropic protocol it does not \
                (`https://api.anthropic.com`). Required for a provider id that is not built in.",
            "type": "string",
            "pattern": "^https?://",
        }),
        "api" => json!({
            "description": "The wire protocol: `openai` (any OpenAI-compatible API), `anthropic` \
                or `azure` (Azure OpenAI: `base_url: https://{resource}.openai.azure.com`, the \
                role's `model` is the deployment name; or a base URL ending in `/openai/v1`).",
            "enum": PROTOCOL_NAMES,
        }),
        "headers" => json!({
            "description": "Extra headers sent with every request.",
            "type": "object",
            "propertyNames": { "pattern": "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" },
            "additionalProperties": {
                "type": ["string", "number", "boolean"],
                "pattern": "^[^\\r\\n]*\\S[^\\r\\n]*$",
            },
        }),
        "timeout_ms" => integer("Whole-request timeout in milliseconds.", 1, None),
        "max_retries" => integer(
            "How many times a failed request is retried (at most 100).",
            0,
            Some(100),
        ),
        "allow_insecure_http" => json!({
            "description": "Permit a plain `http://` base_url to a host other than this machine \
                (the API key would travel in clear text).",
            "type": "boolean",
        }),
        "api_version" => json!({
            "description": "The Azure OpenAI `api-version` (`api: azure` only), `YYYY-MM-DD` or \
                `YYYY-MM-DD-preview`. Default: a current GA version.",
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$",
        }),
        "cooldown_ms" => integer(
            "How long a deployment on this provider that failed (429, 5xx, timeout, connection) \
                is skipped, in milliseconds. Default 30000.",
            0,
            None,
        ),
        "max_concurrency" => integer(
            "Most requests in flight to this provider; further calls wait in a fair queue, up \
                to the request timeout.",
            1,
            Some(u32::MAX.into()),
        ),
        "rpm" => integer(
            "Most requests per minute to this provider.",
            1,
            Some(u32::MAX.into()),
        ),
        "tpm" => integer(
            "Most tokens per minute to this provider (estimated before a call, corrected with \
                the reply's usage).",
            1,
            Some(u32::MAX.into()),
        ),
        _ => return None,
    })
}

/// The schema of one key of a deployment.
fn deployment_key(key: &str) -> Option<Value> {
    Some(match key {
        "provider" => text("The provider id: a key of `providers:`."),
        "model" => text("The model name, passed to the provider as is."),
        "params" => json!({
            "description": "Params of this deployment, over the role's.",
            "$ref": "#/$defs/params",
        }),
        "weight" => integer(
            "This deployment's share of the calls under `routing: weighted`. Default 1.",
            1,
            Some(1_000_000),
        ),
        "mode" => json!({
            "description": "Must be the role's mode, if given.",
            "$ref": "#/$defs/mode",
        }),
        _ => return None,
    })
}

/// The schema of one key of a role (or of `defaults:`).
fn role_key(key: &str) -> Option<Value> {
    Some(match key {
        "provider" => text("The provider id: a key of `providers:`."),
        "model" => text("The model name, passed to the provider as is."),
        "mode" => json!({ "$ref": "#/$defs/mode" }),
        "params" => json!({ "$ref": "#/$defs/params" }),
        "deployments" => json!({
            "description": "Instead of `provider` and `model`: the deployments calls are spread \
                over, all serving the role's mode.",
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_DEPLOYMENTS,
            "items": {
                "type": "object",
                "required": ["provider", "model"],
                "properties": properties(DEPLOYMENT_KEYS, deployment_key),
                "additionalProperties": false,
            },
        }),
        "routing" => json!({
            "description": "How a deployment is picked: `weighted` (default), `least-busy` \
                (fewest calls in flight) or `latency` (lowest recent latency).",
            "enum": Routing::ALL.map(Routing::as_str),
        }),
        "fallbacks" => json!({
            "description": "Roles tried in order when this one fails with 429, 5xx, a timeout \
                or a failed connection; each serves the same calls (`chat` and `tool` are \
                interchangeable) and no chain leads back to the role.",
            "type": "array",
            "items": { "type": ["string", "number", "boolean"], "pattern": "\\S" },
        }),
        "cooldown_ms" => integer(
            "How long a failing deployment of this role is skipped, in milliseconds (wins over \
                the provider's).",
            0,
            None,
        ),
        _ => return None,
    })
}

/// The schema of one key of `shared:`.
fn shared_key(key: &str) -> Option<Value> {
    Some(match key {
        "redis_url_env" => json!({
            "description": "The environment variable that holds the Redis URL \
                (redis://host:6379/0).",
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        }),
        _ => return None,
    })
}

/// The schema of one top-level key.
fn top_key(key: &str) -> Option<Value> {
    Some(match key {
        "project" => text("Logical project name."),
        "env" => text("Environment: dev, staging, prod, …"),
        "providers" => {
            let builtin: Map<String, Value> = BUILTIN_PROVIDERS
                .iter()
                .map(|p| {
                    let description = format!(
                        "Built-in provider `{}`: protocol `{}`, default base_url {}.",
                        p.id, p.api, p.base_url
                    );
                    let schema = json!({
                        "description": description,
                        "$ref": "#/$defs/provider",
                    });
                    (p.id.to_owned(), schema)
                })
                .collect();
            json!({
                "description": "The providers, by id. A built-in id needs nothing more; any \
                    other id needs `base_url` and `api`.",
                "type": "object",
                "properties": builtin,
                "additionalProperties": {
                    "allOf": [
                        { "$ref": "#/$defs/provider" },
                        { "type": "object", "required": ["base_url", "api"] },
                    ],
                },
            })
        }
        "roles" => json!({
            "description": "The roles, by name; each becomes a method of the generated struct.",
            "type": ["object", "null"],
            "additionalProperties": { "$ref": "#/$defs/role" },
        }),
        "defaults" => json!({
            "description": "The binding of roles not in the file (dynamic API only).",
            "$ref": "#/$defs/role",
        }),
        "shared" => json!({
            "description": "Where the replicas of a service share their providers' limits and \
                the deployments' cooldowns (feature `redis`).",
            "type": "object",
            "required": ["redis_url_env"],
            "properties": properties(SHARED_KEYS, shared_key),
            "additionalProperties": false,
        }),
        _ => return None,
    })
}

fn properties(keys: &[&str], describe: fn(&str) -> Option<Value>) -> Map<String, Value> {
    keys.iter()
        .filter_map(|key| describe(key).map(|schema| ((*key).to_owned(), schema)))
        .collect()
}

/// A `base_url` allowed without `allow_insecure_http`: https, or http to `localhost`,
/// 127.0.0.0/8 or `[::1]` (with an optional user part and port).
const SECURE_BASE_URL: &str = "^(https://.*|http://([^/?#\\\\]*@)?([Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]|127(\\.[0-9]{1,3}){3}|\\[::1\\])(:[0-9]*)?([/?#\\\\].*)?)$";

/// The whole schema.
pub fn schema() -> Value {
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
    let provider = json!({
        "description": "A provider: where and how to call it.",
        "type": ["object", "null"],
        "properties": properties(PROVIDER_KEYS, provider_key),
        "additionalProperties": false,
        "if": {
            "type": "object",
            "required": ["base_url"],
            "not": {
                "properties": { "allow_insecure_http": { "const": true } },
                "required": ["allow_insecure_http"],
            },
        },
        "then": {
            "properties": {
                "base_url": {
                    "pattern": SECURE_BASE_URL,
                    "description": "Plain http:// only to this machine, unless `allow_insecure_http: true`.",
                },
            },
        },
    });
    let role = json!({
        "description": "A role's binding: provider and model (or deployments), mode and params.",
        "type": "object",
        "required": ["mode"],
        "oneOf": [
            { "required": ["provider", "model"], "not": { "required": ["deployments"] } },
            { "required": ["deployments"], "not": { "anyOf": [
                { "required": ["provider"] },
                { "required": ["model"] },
            ] } },
        ],
        "properties": properties(ROLE_KEYS, role_key),
        "additionalProperties": false,
    });
    let params = json!({
        "description": "Default params of every call of the role; any JSON-like values. The \
            well-known ones are checked.",
        "type": ["object", "null"],
        "properties": {
            "temperature": { "type": "number", "minimum": 0, "maximum": 2 },
            "top_p": { "type": "number", "minimum": 0, "maximum": 1 },
            "max_tokens": { "type": "integer", "minimum": 1 },
            "stop": {
                "oneOf": [
                    { "type": "string" },
                    { "type": "array", "items": { "type": "string" } },
                ],
            },
            "embedding_dim": { "type": "integer", "minimum": 1 },
            "reasoning_effort": {
                "description": "How hard a reasoning model thinks; sent as is on the OpenAI \
                    protocol, as a `thinking` token budget on the Anthropic protocol.",
                "enum": ["minimal", "low", "medium", "high"],
            },
            "cache": {
                "description": "Prompt caching (llmhub's own, never sent): on the Anthropic \
                    protocol, cache breakpoints on the system prompt and the last tool; \
                    automatic elsewhere.",
                "type": "boolean",
            },
        },
        "additionalProperties": true,
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "llmhub.yaml",
        "description": "The llmhub config: providers, and roles bound to a provider, a model, \
            a mode and params. `llmhub check` runs every check, including those a schema \
            cannot express.",
        "type": "object",
        "required": ["project", "env", "providers", "roles"],
        "properties": properties(TOP_KEYS, top_key),
        "additionalProperties": false,
        "$defs": {
            "provider": provider,
            "role": role,
            "params": params,
            "mode": {
                "description": "What calls the role serves.",
                "enum": modes,
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use llmhub_core::Protocol;

    use super::*;

    fn keys(value: &Value) -> Vec<&str> {
        value
            .as_object()
            .expect("an object of properties")
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn property_names_are_the_validators_keys() {
        let schema = schema();
        assert_eq!(keys(&schema["properties"]), TOP_KEYS);
        assert_eq!(
            keys(&schema["$defs"]["provider"]["properties"]),
            PROVIDER_KEYS
        );
        assert_eq!(keys(&schema["$defs"]["role"]["properties"]), ROLE_KEYS);
        assert_eq!(
            keys(&schema["$defs"]["role"]["properties"]["deployments"]["items"]["properties"]),
            DEPLOYMENT_KEYS
        );
        assert_eq!(
            keys(&schema["properties"]["shared"]["properties"]),
            SHARED_KEYS
        );
    }

    #[test]
    fn modes_protocols_and_builtin_providers_are_the_libraries() {
        let schema = schema();
        let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(schema["$defs"]["mode"]["enum"], json!(modes));
        for name in PROTOCOL_NAMES {
            let protocol = Protocol::parse(name).expect("a protocol name");
            assert_eq!(protocol.as_str(), name);
        }
        for builtin in BUILTIN_PROVIDERS {
            assert!(PROTOCOL_NAMES.contains(&builtin.api.as_str()));
        }
        let ids: Vec<&str> = BUILTIN_PROVIDERS.iter().map(|p| p.id).collect();
        assert_eq!(keys(&schema["properties"]["providers"]["properties"]), ids);
    }
}
