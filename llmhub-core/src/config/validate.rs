//! Validation of a parsed `llmhub.yaml`: walks the whole tree, collects every
//! problem with its position, and builds a [`Config`] only when there are none.

use std::collections::hash_map::Entry;
use std::fmt;

use indexmap::IndexMap;
use serde_json::Value;

use crate::config::base_url::check_base_url;
use crate::config::block;
use crate::config::builtin::{BUILTIN_PROVIDERS, builtin_provider};
use crate::config::fallbacks::{self, FallbackRefs};
use crate::config::names::push_method_name;
use crate::config::problem::{ConfigError, ConfigProblem, LineIndex, MAX_PROBLEMS};
use crate::config::suggest::{closest, did_you_mean};
use crate::config::types::{
    AZURE_API_VERSION, Config, Deployment, Mode, Params, Protocol, ProviderConfig, RoleConfig,
    Routing, SharedConfig, Span,
};
use crate::config::yaml::{self, Node, NodeKind, Scalar};
use crate::error::{Error, Result};
use crate::secret::SecretString;
use smallvec::SmallVec;

/// The hash maps of validation: keyed by names from the file, looked up once each; a fast
/// hasher (still seeded per process) where SipHash cost more than the lookups it served.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Each provider id's protocol, in file order (`None` where it cannot be told).
type ProtocolMap = IndexMap<String, Option<Protocol>, foldhash::fast::RandomState>;

/// The keys accepted at the top level of the file.
pub const TOP_KEYS: &[&str] = &["project", "env", "providers", "roles", "defaults", "shared"];
/// The keys accepted in `shared:`.
pub const SHARED_KEYS: &[&str] = &["redis_url_env"];
/// The keys accepted in an entry of `providers:`.
pub const PROVIDER_KEYS: &[&str] = &[
    "env_key",
    "base_url",
    "api",
    "headers",
    "timeout_ms",
    "max_retries",
    "allow_insecure_http",
    "api_version",
    "cooldown_ms",
    "max_concurrency",
    "rpm",
    "tpm",
];
/// The keys accepted in an entry of `roles:` and in `defaults:`.
pub const ROLE_KEYS: &[&str] = &[
    "provider",
    "model",
    "mode",
    "params",
    "deployments",
    "routing",
    "fallbacks",
    "cooldown_ms",
];
/// The keys accepted in an entry of a role's `deployments:`.
pub const DEPLOYMENT_KEYS: &[&str] = &["provider", "model", "params", "weight", "mode"];
/// Most deployments a role may list.
pub const MAX_DEPLOYMENTS: usize = 64;

/// The values of the portable `reasoning_effort` param.
pub const REASONING_EFFORTS: &[&str] = &["minimal", "low", "medium", "high"];

/// Most names a suggestion is chosen from.
const MAX_SUGGESTION_CANDIDATES: usize = 256;
/// Most names a hint lists.
const MAX_LISTED: usize = 16;

/// Parses and validates `text`; `file` names it in every problem.
pub(crate) fn parse_and_validate(text: &str, file: &str) -> Result<Config> {
    let mut v = Validator {
        file,
        text,
        problems: Vec::new(),
        secret: false,
        fallbacks: Vec::new(),
    };
    // The plain shape of a generated config is read by the fast path; anything else (and every
    // syntax error) by the full YAML parser.
    let parsed = block::parse(text).map_or_else(|| yaml::parse(text), |root| Ok(Some(root)));
    let root = match parsed {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(Error::Config(ConfigError::new(vec![
                ConfigProblem::whole_file(
                    file,
                    "the config is empty",
                    Some("a config needs `project`, `env`, `providers` and `roles`"),
                ),
            ])));
        }
        Err(err) => {
            v.secret = err.secret;
            v.problem(err.span, err.message, err.hint);
            return Err(v.into_error());
        }
    };
    let config = v.config(&root);
    if v.problems.is_empty() {
        config.ok_or_else(|| v.into_error())
    } else {
        Err(v.into_error())
    }
}

/// What `env_key` is, for the hint of a value that is not a variable name.
const ENV_KEY_HINT: &str = "`env_key` names the environment variable that holds the key, e.g. OPENAI_API_KEY; never put the key itself in this file";

/// Whether `name` is a plausible environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_env_var_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`, with a plausible month and day.
fn is_api_version(text: &str) -> bool {
    let date = text.strip_suffix("-preview").unwrap_or(text);
    let bytes = date.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    if !(digits(0..4) && digits(5..7) && digits(8..10)) {
        return false;
    }
    let month = (bytes[5] - b'0') * 10 + (bytes[6] - b'0');
    let day = (bytes[8] - b'0') * 10 + (bytes[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

struct Validator<'a> {
    file: &'a str,
    /// The file's text, indexed by line only when a problem is shown.
    text: &'a str,
    problems: Vec<Pending>,
    /// Set while checking a value that may hold a secret (`env_key`, `headers`): problems found
    /// then are located but do not show their source line.
    secret: bool,
    /// Every role's `fallbacks:` with positions, checked across roles once all are read.
    fallbacks: Vec<FallbackRefs>,
}

/// A problem found, made into a [`ConfigProblem`] only if it is among those listed.
struct Pending {
    span: Span,
    message: String,
    hint: Option<String>,
    secret: bool,
}

/// The fields of one mapping, checked for unknown and duplicate keys. A role or its params
/// have a handful of fields, kept inline rather than allocated.
struct Fields<'n> {
    entries: SmallVec<[Field<'n>; 8]>,
}

/// A key of a mapping, its node and its value's node.
type Field<'n> = (&'n str, &'n Node<'n>, &'n Node<'n>);

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node<'n>> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }
}

impl<'a> Validator<'a> {
    fn problem(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        self.problems.push(Pending {
            span,
            message: message.into(),
            hint,
            secret: self.secret,
        });
    }

    /// The problems in file order: the first [`MAX_PROBLEMS`], then one that counts the rest.
    fn into_error(mut self) -> Error {
        self.problems.sort_by_key(|p| (p.span.line, p.span.column));
        let total = self.problems.len();
        let lines = LineIndex::new(self.text);
        let mut problems: Vec<ConfigProblem> = self
            .problems
            .into_iter()
            .take(MAX_PROBLEMS)
            .map(|p| {
                ConfigProblem::located(self.file, &lines, p.span, p.message, p.hint, !p.secret)
            })
            .collect();
        if total > MAX_PROBLEMS {
            problems.push(ConfigProblem::whole_file(
                self.file,
                format!(
                    "… and {} more problems (only the first {MAX_PROBLEMS} are listed)",
                    total - MAX_PROBLEMS
                ),
                Some("fix the problems above, then check the file again for the rest"),
            ));
        }
        Error::Config(ConfigError::new(problems))
    }

    /// The entries of a mapping with string keys; reports a non-mapping, non-string keys and
    /// duplicate keys. `None` when `node` is not a mapping.
    fn mapping<'n>(&mut self, node: &'n Node<'n>, what: &dyn fmt::Display) -> Option<Fields<'n>> {
        let NodeKind::Map(items) = &node.kind else {
            self.problem(
                node.span,
                format!("{what} must be a mapping, found {}", node.type_name()),
                None,
            );
            return None;
        };
        let mut entries: SmallVec<[Field<'n>; 8]> = SmallVec::with_capacity(items.len());
        // Small mappings (a role, its params) are checked for duplicates by a scan, which is
        // cheaper than hashing; large ones (`roles:` of a big config) by a set.
        let small = items.len() <= 16;
        let mut seen: FastMap<&str, usize> = if small {
            FastMap::default()
        } else {
            FastMap::with_capacity_and_hasher(items.len(), Default::default())
        };
        for (key, value) in items {
            let NodeKind::Scalar { raw, value: scalar } = &key.kind else {
                self.problem(key.span, format!("keys of {what} must be strings"), None);
                continue;
            };
            if *scalar == Scalar::Null {
                self.problem(key.span, format!("empty key in {what}"), None);
                continue;
            }
            let duplicate_of = if small {
                entries
                    .iter()
                    .find(|(k, _, _)| *k == raw.as_ref())
                    .map(|(_, k, _)| k.span.line)
            } else {
                match seen.entry(raw.as_ref()) {
                    Entry::Occupied(first) => Some(*first.get()),
                    Entry::Vacant(slot) => {
                        slot.insert(key.span.line);
                        None
                    }
                }
            };
            if let Some(first) = duplicate_of {
                let message = if self.secret && !is_header_name(raw) {
                    format!("duplicate key in {what} (first defined on line {first})")
                } else {
                    format!("duplicate key `{raw}` in {what} (first defined on line {first})")
                };
                self.problem(
                    key.span,
                    message,
                    Some("remove one of the two entries".into()),
                );
                continue;
            }
            entries.push((raw.as_ref(), key, value));
        }
        Some(Fields { entries })
    }

    /// Reports keys of `fields` that are not in `known`.
    /// A typo'd key is most likely one of the known keys that is absent, so those are
    /// suggested first.
    fn unknown_keys(&mut self, fields: &Fields<'_>, known: &[&str], what: &str) {
        for (key, key_node, _) in &fields.entries {
            if !known.contains(key) {
                let absent: Vec<&str> = known
                    .iter()
                    .copied()
                    .filter(|k| fields.get(k).is_none())
                    .collect();
                let hint = did_you_mean(key, &absent)
                    .or_else(|| did_you_mean(key, known))
                    .unwrap_or_else(|| format!("the keys of {what} are {}", list(known)));
                self.problem(
                    key_node.span,
                    format!("unknown key `{key}` in {what}"),
                    Some(hint),
                );
            }
        }
    }

    /// A required field; reports it missing at `fields`' position (or `at`).
    fn required<'n>(
        &mut self,
        fields: &Fields<'n>,
        key: &str,
        what: &str,
        at: Span,
    ) -> Option<&'n Node<'n>> {
        let node = fields.get(key);
        if node.is_none() {
            let hint = match key {
                "providers" => format!(
                    "add `providers:` to {what}, with an entry per provider, e.g. `openai: {{ env_key: OPENAI_API_KEY }}`"
                ),
                "roles" => format!("add `roles:` to {what}, with an entry per role"),
                _ => {
                    let example = match key {
                        "project" => "project: <project name>",
                        "env" => "env: dev",
                        "provider" => "provider: <provider id>",
                        "model" => "model: <model name>",
                        "mode" => "mode: chat",
                        _ => key,
                    };
                    format!("add `{example}` to {what}")
                }
            };
            self.problem(
                at,
                format!("{what} is missing the required field `{key}`"),
                Some(hint),
            );
        }
        node
    }

    /// A string value (any non-null scalar, taken as written).
    fn string(&mut self, node: &Node<'_>, what: fmt::Arguments<'_>) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar {
                value: Scalar::Null,
                ..
            } => {
                self.problem(node.span, format!("{what} has no value"), None);
                None
            }
            NodeKind::Scalar { raw, .. } if raw.trim().is_empty() => {
                self.problem(node.span, format!("{what} is empty"), None);
                None
            }
            NodeKind::Scalar { raw, .. } => Some(raw.to_string()),
            _ => {
                self.problem(
                    node.span,
                    format!("{what} must be a string, found {}", node.type_name()),
                    None,
                );
                None
            }
        }
    }

    fn unsigned(&mut self, node: &Node<'_>, what: fmt::Arguments<'_>, min: i64) -> Option<u64> {
        match &node.kind {
            NodeKind::Scalar {
                value: Scalar::Int(n),
                ..
            } if *n >= min => Some(*n as u64),
            _ => {
                let bound = if min > 0 {
                    "a positive integer"
                } else {
                    "a non-negative integer"
                };
                self.problem(
                    node.span,
                    format!("{what} must be {bound}, found {}", describe(node)),
                    None,
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node<'_>, what: fmt::Arguments<'_>) -> Option<bool> {
        match &node.kind {
            NodeKind::Scalar {
                value: Scalar::Bool(b),
                ..
            } => Some(*b),
            _ => {
                self.problem(
                    node.span,
                    format!("{what} must be `true` or `false`, found {}", describe(node)),
                    None,
                );
                None
            }
        }
    }

    fn config(&mut self, root: &Node<'_>) -> Option<Config> {
        let top = self.mapping(root, &"the config")?;
        self.unknown_keys(&top, TOP_KEYS, "the config");
        let at = Span {
            line: 1,
            column: 1,
            len: 1,
        };
        let project = self
            .required(&top, "project", "the config", at)
            .and_then(|n| self.string(n, format_args!("`project`")));
        let env = self
            .required(&top, "env", "the config", at)
            .and_then(|n| self.string(n, format_args!("`env`")));
        let providers = self
            .required(&top, "providers", "the config", at)
            .and_then(|n| self.providers(n));
        let roles_node = self.required(&top, "roles", "the config", at);
        let (protocols, providers) = match providers {
            Some((protocols, providers)) => (Some(protocols), providers),
            None => (None, None),
        };
        let provider_ids: Vec<String> = protocols
            .as_ref()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let binding_ctx = BindingContext {
            provider_ids: &provider_ids,
            protocols: protocols.as_ref(),
        };
        let roles = roles_node.and_then(|n| self.roles(n, &binding_ctx));
        let defaults = top.get("defaults").and_then(|n| {
            let key_span = top
                .entries
                .iter()
                .find(|(k, _, _)| *k == "defaults")
                .map(|(_, k, _)| k.span)
                .unwrap_or(n.span);
            self.binding(n, "defaults", key_span, "`defaults`", &binding_ctx)
        });
        let shared = top.get("shared").and_then(|n| self.shared(n));
        if !self.fallbacks.is_empty() {
            let modes = roles_node.map(role_modes).unwrap_or_default();
            let refs = std::mem::take(&mut self.fallbacks);
            for (span, message, hint) in fallbacks::check(&refs, &modes) {
                self.problem(span, message, hint);
            }
        }
        Some(Config {
            project: project?,
            env: env?,
            providers: providers?,
            roles: roles?,
            defaults,
            shared,
            source_name: self.file.to_owned(),
        })
    }

    /// The protocol of every provider id (known even when a provider has other problems, so
    /// that roles are still checked against it), and the providers if all are valid. `None`
    /// when `providers` is not a mapping.
    #[allow(clippy::type_complexity)]
    fn providers(
        &mut self,
        node: &Node<'_>,
    ) -> Option<(ProtocolMap, Option<IndexMap<String, ProviderConfig>>)> {
        let fields = self.mapping(node, &"`providers`")?;
        let mut protocols =
            ProtocolMap::with_capacity_and_hasher(fields.entries.len(), Default::default());
        let mut providers = IndexMap::with_capacity(fields.entries.len());
        let mut ok = true;
        for (id, key, value) in &fields.entries {
            let (protocol, provider) = self.provider(id, key.span, value);
            protocols.insert((*id).to_owned(), protocol);
            match provider {
                Some(provider) => {
                    providers.insert((*id).to_owned(), provider);
                }
                None => ok = false,
            }
        }
        Some((protocols, ok.then_some(providers)))
    }

    /// One provider: its protocol (if it can be told) and the provider if it is valid.
    fn provider(
        &mut self,
        id: &str,
        key_span: Span,
        node: &Node<'_>,
    ) -> (Option<Protocol>, Option<ProviderConfig>) {
        let api = self.provider_api(node);
        (
            api.or_else(|| builtin_provider(id).map(|b| b.api)),
            self.provider_config(id, key_span, node),
        )
    }

    /// The provider's explicit `api`, if it names a valid protocol (reported in `provider_config`).
    fn provider_api(&self, node: &Node<'_>) -> Option<Protocol> {
        let NodeKind::Map(items) = &node.kind else {
            return None;
        };
        items.iter().find_map(|(k, v)| match (&k.kind, &v.kind) {
            (NodeKind::Scalar { raw: key, .. }, NodeKind::Scalar { raw, .. }) if key == "api" => {
                Protocol::parse(raw)
            }
            _ => None,
        })
    }

    fn provider_config(
        &mut self,
        id: &str,
        key_span: Span,
        node: &Node<'_>,
    ) -> Option<ProviderConfig> {
        let what = format!("provider `{id}`");
        // `openai: {}` and `ollama:` (no value) are both fine for a built-in provider.
        let empty = Fields {
            entries: SmallVec::new(),
        };
        let fields = match &node.kind {
            NodeKind::Scalar {
                value: Scalar::Null,
                ..
            } => empty,
            _ => self.mapping(node, &what)?,
        };
        self.unknown_keys(&fields, PROVIDER_KEYS, &what);
        let before = self.problems.len();
        let env_key = fields.get("env_key").and_then(|n| self.env_key(n, &what));
        let base_url_node = fields.get("base_url");
        let base_url =
            base_url_node.and_then(|n| self.string(n, format_args!("`base_url` of {what}")));
        let api = fields.get("api").and_then(|n| {
            let name = self.string(n, format_args!("`api` of {what}"))?;
            let parsed = Protocol::parse(&name);
            if parsed.is_none() {
                self.problem(
                    n.span,
                    format!("unknown `api` `{name}` for {what}"),
                    Some(
                        "`api` is `openai` (any OpenAI-compatible API), `anthropic` or `azure`"
                            .into(),
                    ),
                );
            }
            parsed
        });
        let headers = fields
            .get("headers")
            .and_then(|n| self.secretly(|v| v.headers(n, &what)))
            .unwrap_or_default();
        let timeout_ms = fields
            .get("timeout_ms")
            .and_then(|n| self.unsigned(n, format_args!("`timeout_ms` of {what}"), 1));
        let max_retries = fields.get("max_retries").and_then(|n| {
            let retries = self.unsigned(n, format_args!("`max_retries` of {what}"), 0)?;
            if retries > 100 {
                self.problem(
                    n.span,
                    format!("`max_retries` of {what} is {retries}; at most 100"),
                    None,
                );
                return None;
            }
            Some(retries as u32)
        });
        let allow_insecure_http = fields
            .get("allow_insecure_http")
            .and_then(|n| self.boolean(n, format_args!("`allow_insecure_http` of {what}")))
            .unwrap_or(false);
        let cooldown_ms = fields
            .get("cooldown_ms")
            .and_then(|n| self.unsigned(n, format_args!("`cooldown_ms` of {what}"), 0));
        let mut limit = |key: &str| {
            let n = fields.get(key)?;
            let value = self.unsigned(n, format_args!("`{key}` of {what}"), 1)?;
            let value = u32::try_from(value).ok();
            if value.is_none() {
                self.problem(
                    n.span,
                    format!("`{key}` of {what} is above {}", u32::MAX),
                    None,
                );
            }
            value
        };
        let (max_concurrency, rpm, tpm) = (limit("max_concurrency"), limit("rpm"), limit("tpm"));

        let api_version_node = fields.get("api_version");
        let api_version = api_version_node.and_then(|n| self.api_version(n, &what));

        let builtin = builtin_provider(id);
        let (base_url, api) = match (builtin, base_url, api) {
            (_, Some(url), Some(api)) => (url, api),
            (Some(b), url, api) => (
                url.unwrap_or_else(|| b.base_url.to_owned()),
                api.unwrap_or(b.api),
            ),
            (None, url, api) => {
                if self.problems.len() == before {
                    let ids: Vec<&str> = BUILTIN_PROVIDERS.iter().map(|b| b.id).collect();
                    let missing = match (&url, &api) {
                        (None, None) => "`base_url` and `api`",
                        (None, Some(_)) => "`base_url`",
                        _ => "`api`",
                    };
                    let hint = match did_you_mean(id, &ids) {
                        Some(typo) => format!("{typo} Otherwise add {missing} to this provider"),
                        None => format!(
                            "add {missing} (for example `base_url: https://host/v1` and `api: openai`); built-in ids are {}",
                            list(&ids)
                        ),
                    };
                    self.problem(
                        key_span,
                        format!("provider `{id}` is not built in and has no {missing}"),
                        Some(hint),
                    );
                }
                return None;
            }
        };
        let base_url = base_url.trim_end_matches('/').to_owned();
        if let Some(problem) = check_base_url(&base_url, allow_insecure_http) {
            let span = base_url_node.map(|n| n.span).unwrap_or(key_span);
            self.problem(span, format!("{what}: {}", problem.0), Some(problem.1));
        }
        if let Some(n) = api_version_node
            && api != Protocol::Azure
        {
            self.problem(
                n.span,
                format!("`api_version` of {what} is only for `api: azure`, and this provider speaks `{api}`"),
                Some("remove `api_version`, or set `api: azure` if this is an Azure OpenAI resource".into()),
            );
        }
        if self.problems.len() != before {
            return None;
        }
        Some(ProviderConfig {
            id: id.to_owned(),
            env_key,
            base_url,
            api,
            headers,
            timeout_ms,
            max_retries,
            allow_insecure_http,
            api_version,
            cooldown_ms,
            max_concurrency,
            rpm,
            tpm,
            span: key_span,
        })
    }

    /// `api_version`: an Azure OpenAI API version, `YYYY-MM-DD` or `YYYY-MM-DD-preview`.
    fn api_version(&mut self, node: &Node<'_>, provider: &str) -> Option<String> {
        let version = self.string(node, format_args!("`api_version` of {provider}"))?;
        if is_api_version(&version) {
            return Some(version);
        }
        self.problem(
            node.span,
            format!("`api_version` of {provider} is not an Azure API version, found {}", describe(node)),
            Some(format!(
                "write a date such as `{AZURE_API_VERSION}`, or a preview such as `2025-04-01-preview`"
            )),
        );
        None
    }

    /// `shared:`: the variable that names the Redis of the fleet.
    fn shared(&mut self, node: &Node<'_>) -> Option<SharedConfig> {
        let what = "`shared`";
        let fields = self.mapping(node, &what)?;
        self.unknown_keys(&fields, SHARED_KEYS, what);
        let n = self.required(&fields, "redis_url_env", what, node.span)?;
        let name = self.secretly(|v| v.string(n, format_args!("`redis_url_env` of {what}")))?;
        if !is_env_var_name(&name) {
            self.secretly(|v| {
                v.problem(
                    n.span,
                    "`redis_url_env` of `shared` is not an environment variable name",
                    Some("name the variable that holds the URL, e.g. LLMHUB_REDIS_URL; never put the URL (it may hold a password) in this file".into()),
                )
            });
            return None;
        }
        Some(SharedConfig {
            redis_url_env: name,
        })
    }

    /// Runs `check` on a value that may hold a secret: its problems do not show their line.
    fn secretly<T>(&mut self, check: impl FnOnce(&mut Self) -> T) -> T {
        let outer = std::mem::replace(&mut self.secret, true);
        let out = check(self);
        self.secret = outer;
        out
    }

    /// `env_key`: the name of a variable, never the key itself. Neither the message nor the
    /// rendered problem shows the value, in case it is a pasted key.
    fn env_key(&mut self, node: &Node<'_>, provider: &str) -> Option<String> {
        self.secretly(|v| {
            let name = v.string(node, format_args!("`env_key` of {provider}"))?;
            if is_env_var_name(&name) {
                return Some(name);
            }
            v.problem(
                node.span,
                format!(
                    "`env_key` of {provider} is not an environment variable name (letters, digits and `_`, not starting with a digit)"
                ),
                Some(ENV_KEY_HINT.into()),
            );
            None
        })
    }

    /// `headers`: checked with [`Validator::secretly`], since a header often holds a token.
    fn headers(
        &mut self,
        node: &Node<'_>,
        provider: &str,
    ) -> Option<IndexMap<String, SecretString>> {
        let what = format!("`headers` of {provider}");
        let fields = self.mapping(node, &what)?;
        let mut headers = IndexMap::with_capacity(fields.entries.len());
        for (name, key, value) in &fields.entries {
            if !is_header_name(name) {
                // The name is not echoed: a line such as `Authorization: Bearer …` pasted as
                // a key would put the token in the message.
                self.problem(
                    key.span,
                    format!("a key of {what} is not a valid HTTP header name"),
                    Some("a header name is letters, digits and `-`, e.g. `X-Org-Id`".into()),
                );
                continue;
            }
            if let Some(v) = self.string(value, format_args!("header `{name}`")) {
                if v.bytes().any(|b| b == b'\r' || b == b'\n') {
                    self.problem(
                        value.span,
                        format!("header `{name}` holds a line break"),
                        None,
                    );
                    continue;
                }
                headers.insert((*name).to_owned(), SecretString::from(v));
            }
        }
        Some(headers)
    }

    fn roles(
        &mut self,
        node: &Node<'_>,
        ctx: &BindingContext<'_>,
    ) -> Option<IndexMap<String, RoleConfig>> {
        // `roles:` with nothing under it is an empty set of roles.
        if let NodeKind::Scalar {
            value: Scalar::Null,
            ..
        } = node.kind
        {
            return Some(IndexMap::new());
        }
        let fields = self.mapping(node, &"`roles`")?;
        let mut roles = IndexMap::with_capacity(fields.entries.len());
        // Every role's method name, written into one buffer.
        let mut method_names = String::with_capacity(fields.entries.len() * 16);
        let mut ends = Vec::with_capacity(fields.entries.len());
        for (name, _, _) in &fields.entries {
            push_method_name(&mut method_names, name);
            ends.push(method_names.len());
        }
        let mut methods: FastMap<&str, (&str, usize)> =
            FastMap::with_capacity_and_hasher(fields.entries.len(), Default::default());
        let mut ok = true;
        // The subject of each role's messages, written into one buffer.
        let mut what = String::new();
        let mut start = 0;
        for ((name, key, value), end) in fields.entries.iter().zip(ends) {
            let method = &method_names[start..end];
            start = end;
            if let Some((other, line)) = methods.get(method) {
                self.problem(
                    key.span,
                    format!(
                        "roles `{other}` (line {line}) and `{name}` both become the method `{method}()`"
                    ),
                    Some("rename one of the two roles".into()),
                );
                ok = false;
            } else {
                methods.insert(method, (name, key.span.line));
            }
            what.clear();
            what.push_str("role `");
            what.push_str(name);
            what.push('`');
            match self.binding(value, name, key.span, &what, ctx) {
                Some(role) => {
                    roles.insert((*name).to_owned(), role);
                }
                None => ok = false,
            }
        }
        ok.then_some(roles)
    }

    /// A role or `defaults` (named `name`, its key at `key_span`): provider and model, or
    /// deployments; mode, params, routing, fallbacks, cooldown.
    fn binding(
        &mut self,
        node: &Node<'_>,
        name: &str,
        key_span: Span,
        what: &str,
        ctx: &BindingContext<'_>,
    ) -> Option<RoleConfig> {
        let fields = self.mapping(node, &what)?;
        self.unknown_keys(&fields, ROLE_KEYS, what);
        let before = self.problems.len();
        let mode_node = self.required(&fields, "mode", what, key_span);
        let mode = mode_node.and_then(|n| self.mode(n, what));
        let params = self.optional_params(fields.get("params"), what);
        let deployments_node = fields.get("deployments");
        let (provider, model, deployments) = match deployments_node {
            None => {
                let provider_node = self.required(&fields, "provider", what, key_span);
                let provider = provider_node.and_then(|n| {
                    self.provider_ref(n, what, mode.zip(mode_node.map(|m| m.span)), ctx)
                });
                let model = self
                    .required(&fields, "model", what, key_span)
                    .and_then(|n| self.string(n, format_args!("`model` of {what}")));
                (provider, model, Some(Vec::new()))
            }
            Some(list) => {
                for key in ["provider", "model"] {
                    if let Some((_, key_node, _)) =
                        fields.entries.iter().find(|(k, _, _)| *k == key)
                    {
                        self.problem(
                            key_node.span,
                            format!("{what} has both `{key}` and `deployments`"),
                            Some("give each deployment its own `provider` and `model`, and remove them from the role".into()),
                        );
                    }
                }
                let deployments = self.deployments(list, what, mode, params.as_ref(), ctx);
                let first = deployments.as_ref().and_then(|d| d.first());
                (
                    first.map(|d| d.provider.clone()),
                    first.map(|d| d.model.clone()),
                    deployments,
                )
            }
        };
        let routing = fields.get("routing").and_then(|n| {
            let name = self.string(n, format_args!("`routing` of {what}"))?;
            let routing = Routing::parse(&name);
            if routing.is_none() {
                let names: Vec<&str> = Routing::ALL.iter().map(|r| r.as_str()).collect();
                self.problem(
                    n.span,
                    format!("unknown routing `{name}` for {what}"),
                    Some(format!("`routing` is one of {}", list(&names))),
                );
            }
            routing
        });
        if let (Some(n), None) = (fields.get("routing"), deployments_node) {
            self.problem(
                n.span,
                format!("{what} has `routing` but no `deployments`"),
                Some(
                    "`routing` chooses among `deployments`; remove it, or list the deployments"
                        .into(),
                ),
            );
        }
        let cooldown_ms = fields
            .get("cooldown_ms")
            .and_then(|n| self.unsigned(n, format_args!("`cooldown_ms` of {what}"), 0));
        let fallbacks = match fields.get("fallbacks") {
            None => Vec::new(),
            Some(n) => self.fallback_list(n, name, mode, what),
        };
        if self.problems.len() != before {
            return None;
        }
        Some(RoleConfig {
            name: name.to_owned(),
            provider: provider?,
            model: model?,
            mode: mode?,
            params: params?,
            deployments: deployments?,
            routing: routing.unwrap_or_default(),
            fallbacks,
            cooldown_ms,
            span: key_span,
        })
    }

    /// `mode`: one of the mode names.
    fn mode(&mut self, n: &Node<'_>, what: &str) -> Option<Mode> {
        let name = self.string(n, format_args!("`mode` of {what}"))?;
        let mode = Mode::parse(&name);
        if mode.is_none() {
            let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
            let hint = match did_you_mean(&name, &modes) {
                Some(typo) => format!("{typo} The modes are {}", list(&modes)),
                None => format!("the modes are {}", list(&modes)),
            };
            self.problem(
                n.span,
                format!("unknown mode `{name}` for {what}"),
                Some(hint),
            );
        }
        mode
    }

    /// `params`, absent or empty meaning none.
    fn optional_params(&mut self, node: Option<&Node<'_>>, what: &str) -> Option<Params> {
        match node {
            None => Some(Params::new()),
            Some(n)
                if matches!(
                    n.kind,
                    NodeKind::Scalar {
                        value: Scalar::Null,
                        ..
                    }
                ) =>
            {
                Some(Params::new())
            }
            Some(n) => self.params(n, what),
        }
    }

    /// A `provider:` value: defined under `providers:`, and its protocol serves `mode` (a
    /// problem with that reported at the span given with it).
    fn provider_ref(
        &mut self,
        n: &Node<'_>,
        what: &str,
        mode: Option<(Mode, Span)>,
        ctx: &BindingContext<'_>,
    ) -> Option<String> {
        let id = self.string(n, format_args!("`provider` of {what}"))?;
        if let Some(protocols) = ctx.protocols
            && !protocols.contains_key(id.as_str())
        {
            // A suggestion compares the id with every provider; past a few hundred providers
            // that would make each such problem cost as much as the whole file.
            let ids = ctx.provider_ids;
            let suggestion = if ids.len() <= MAX_SUGGESTION_CANDIDATES {
                closest(&id, ids)
            } else {
                None
            };
            let hint = suggestion
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    if ids.is_empty() {
                        format!("add `{id}` under `providers:`")
                    } else if ids.len() <= MAX_LISTED {
                        format!("add `{id}` under `providers:`, or use one of {}", list(ids))
                    } else {
                        format!(
                            "add `{id}` under `providers:`, or use one of {} (and {} more)",
                            list(&ids[..MAX_LISTED]),
                            ids.len() - MAX_LISTED
                        )
                    }
                });
            self.problem(
                n.span,
                format!("{what} uses provider `{id}`, which is not defined under `providers:`"),
                Some(hint),
            );
        }
        if let Some((mode, at)) = mode
            && let Some(api) = ctx
                .protocols
                .and_then(|p| p.get(id.as_str()).copied().flatten())
            && !api.serves(mode)
        {
            self.problem(
                at,
                format!(
                    "{what} has mode `{mode}`, but provider `{id}` speaks the `{api}` protocol, which serves only `chat` and `tool` roles"
                ),
                Some("bind this role to an OpenAI-compatible provider (for example `openai`)".into()),
            );
        }
        Some(id)
    }

    /// `deployments:` of a role: a non-empty list of `{provider, model, params?, weight?,
    /// mode?}`, each serving the role's mode; each deployment's params overlay the role's.
    fn deployments(
        &mut self,
        node: &Node<'_>,
        what: &str,
        mode: Option<Mode>,
        role_params: Option<&Params>,
        ctx: &BindingContext<'_>,
    ) -> Option<Vec<Deployment>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.problem(
                node.span,
                format!(
                    "`deployments` of {what} must be a list, found {}",
                    node.type_name()
                ),
                Some("write `deployments: [{ provider: openai, model: gpt-4.1 }, …]`".into()),
            );
            return None;
        };
        if items.is_empty() || items.len() > MAX_DEPLOYMENTS {
            self.problem(
                node.span,
                format!("`deployments` of {what} has {} entries", items.len()),
                Some(format!("list from 1 to {MAX_DEPLOYMENTS} deployments")),
            );
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let at = format!("deployment {} of {what}", i + 1);
            match self.deployment(item, &at, mode, role_params, ctx) {
                Some(d) => out.push(d),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn deployment(
        &mut self,
        node: &Node<'_>,
        what: &str,
        mode: Option<Mode>,
        role_params: Option<&Params>,
        ctx: &BindingContext<'_>,
    ) -> Option<Deployment> {
        let fields = self.mapping(node, &what)?;
        self.unknown_keys(&fields, DEPLOYMENT_KEYS, what);
        let before = self.problems.len();
        if let (Some(n), Some(role_mode)) = (fields.get("mode"), mode)
            && let Some(own) = self.mode(n, what)
            && own != role_mode
        {
            self.problem(
                n.span,
                format!("{what} has mode `{own}`, but the role's mode is `{role_mode}`"),
                Some("every deployment of a role serves the role's mode: remove `mode` here, or move this deployment to a role of mode `{own}`".replace("{own}", own.as_str())),
            );
        }
        let provider = self
            .required(&fields, "provider", what, node.span)
            .and_then(|n| self.provider_ref(n, what, mode.map(|m| (m, n.span)), ctx));
        let model = self
            .required(&fields, "model", what, node.span)
            .and_then(|n| self.string(n, format_args!("`model` of {what}")));
        let own = self.optional_params(fields.get("params"), what);
        let weight = match fields.get("weight") {
            None => Some(1),
            Some(n) => self
                .unsigned(n, format_args!("`weight` of {what}"), 1)
                .and_then(|w| {
                    let w = u32::try_from(w).ok().filter(|w| *w <= 1_000_000);
                    if w.is_none() {
                        self.problem(n.span, format!("`weight` of {what} is above 1000000"), None);
                    }
                    w
                }),
        };
        if self.problems.len() != before {
            return None;
        }
        let mut params = role_params.cloned().unwrap_or_default();
        params.extend(own?);
        Some(Deployment {
            provider: provider?,
            model: model?,
            params,
            weight: weight?,
            span: node.span,
        })
    }

    /// `fallbacks:` of a role: a list of role names, kept with their positions for the checks
    /// across roles (`fallbacks.rs`) once every role is read.
    fn fallback_list(
        &mut self,
        node: &Node<'_>,
        role: &str,
        mode: Option<Mode>,
        what: &str,
    ) -> Vec<String> {
        let NodeKind::Seq(items) = &node.kind else {
            self.problem(
                node.span,
                format!(
                    "`fallbacks` of {what} must be a list of role names, found {}",
                    node.type_name()
                ),
                Some("write `fallbacks: [other.role]`".into()),
            );
            return Vec::new();
        };
        let mut names = Vec::with_capacity(items.len());
        let mut refs = Vec::with_capacity(items.len());
        for item in items {
            if let Some(name) = self.string(item, format_args!("a fallback of {what}")) {
                refs.push((name.clone(), item.span));
                names.push(name);
            }
        }
        self.fallbacks.push(FallbackRefs {
            role: role.to_owned(),
            mode,
            targets: refs,
        });
        names
    }

    fn params(&mut self, node: &Node<'_>, owner: &str) -> Option<Params> {
        let fields = self.mapping(node, &format_args!("`params` of {owner}"))?;
        let mut params = Params::with_capacity(fields.entries.len());
        for (name, _, value) in &fields.entries {
            let Some(json) = self.json(value) else {
                continue;
            };
            self.check_well_known(name, value, &json, owner);
            params.insert((*name).to_owned(), json);
        }
        Some(params)
    }

    /// Checks the type and range of the portable params.
    fn check_well_known(&mut self, name: &str, node: &Node<'_>, value: &Value, owner: &str) {
        let number_in = |lo: f64, hi: f64| value.as_f64().is_some_and(|x| (lo..=hi).contains(&x));
        let positive_int = || value.as_u64().is_some_and(|n| n > 0);
        let (expected, hint) = match name {
            "temperature" if !number_in(0.0, 2.0) => (
                "a number from 0 to 2",
                "`temperature` is a number from 0 to 2, e.g. 0.7",
            ),
            "top_p" if !number_in(0.0, 1.0) => (
                "a number from 0 to 1",
                "`top_p` is a number from 0 to 1, e.g. 0.9",
            ),
            "max_tokens" if !positive_int() => (
                "a positive integer",
                "`max_tokens` is a whole number above 0, without quotes, e.g. 1024",
            ),
            "embedding_dim" if !positive_int() => (
                "a positive integer",
                "`embedding_dim` is a whole number above 0, without quotes, e.g. 1536",
            ),
            "stop"
                if !(value.is_string()
                    || value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string))) =>
            {
                (
                    "a string or a list of strings",
                    "`stop` is a string or a list of strings, e.g. [\"END\", \"###\"]",
                )
            }
            "reasoning_effort"
                if !value
                    .as_str()
                    .is_some_and(|effort| REASONING_EFFORTS.contains(&effort)) =>
            {
                (
                    "`minimal`, `low`, `medium` or `high`",
                    "`reasoning_effort` is one of minimal, low, medium, high, e.g. `reasoning_effort: medium`",
                )
            }
            "cache" if !value.is_boolean() => (
                "`true` or `false`",
                "`cache: true` turns prompt caching on for this role",
            ),
            _ => return,
        };
        self.problem(
            node.span,
            format!(
                "param `{name}` of {owner} must be {expected}, found {}",
                describe(node)
            ),
            Some(hint.into()),
        );
    }

    /// Converts a YAML value to JSON; reports what JSON cannot hold.
    fn json(&mut self, node: &Node<'_>) -> Option<Value> {
        match &node.kind {
            NodeKind::Scalar { raw, value } => match value {
                Scalar::Null => Some(Value::Null),
                Scalar::Bool(b) => Some(Value::Bool(*b)),
                Scalar::Int(i) => Some(Value::from(*i)),
                Scalar::Float(f) => match serde_json::Number::from_f64(*f) {
                    Some(n) => Some(Value::Number(n)),
                    None => {
                        self.problem(
                            node.span,
                            format!("`{raw}` cannot be sent as JSON"),
                            Some("use a finite number".into()),
                        );
                        None
                    }
                },
                Scalar::Str => Some(Value::String(raw.to_string())),
            },
            NodeKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.json(item) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Array(out))
            }
            NodeKind::Map(_) => {
                let fields = self.mapping(node, &"a params value")?;
                let mut out = serde_json::Map::with_capacity(fields.entries.len());
                let mut ok = true;
                for (key, _, value) in &fields.entries {
                    match self.json(value) {
                        Some(v) => {
                            out.insert((*key).to_owned(), v);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(out))
            }
        }
    }
}

struct BindingContext<'c> {
    provider_ids: &'c [String],
    /// Each provider id's protocol; `None` when `providers:` itself is broken (then undefined
    /// providers are not reported, since the list is unknown).
    protocols: Option<&'c ProtocolMap>,
}

/// Every role's name and mode as written (the mode `None` when it is not a valid one), read
/// straight from the `roles:` node so that roles with other problems are known too.
fn role_modes<'n>(roles: &'n Node<'n>) -> Vec<(&'n str, Option<Mode>)> {
    let NodeKind::Map(items) = &roles.kind else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|(k, v)| {
            let NodeKind::Scalar { raw: name, .. } = &k.kind else {
                return None;
            };
            let mode = match &v.kind {
                NodeKind::Map(fields) => {
                    fields.iter().find_map(|(k, v)| match (&k.kind, &v.kind) {
                        (NodeKind::Scalar { raw: key, .. }, NodeKind::Scalar { raw, .. })
                            if key == "mode" =>
                        {
                            Mode::parse(raw)
                        }
                        _ => None,
                    })
                }
                _ => None,
            };
            Some((name.as_ref(), mode))
        })
        .collect()
}

/// `found X` text for a node: the value as written for scalars, the type otherwise.
fn describe(node: &Node<'_>) -> String {
    match &node.kind {
        NodeKind::Scalar {
            raw,
            value: Scalar::Str,
            ..
        } => format!("\"{raw}\""),
        NodeKind::Scalar {
            value: Scalar::Null,
            ..
        } => "nothing".into(),
        NodeKind::Scalar { raw, .. } => format!("`{raw}`"),
        _ => node.type_name().into(),
    }
}
