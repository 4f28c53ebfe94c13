//! Structured output: a reply parsed into a Rust type. The type's JSON Schema is built once
//! per type (and made strict-ready: every object closed, every property required, optional
//! ones nullable), cached, and carried by the call to the protocol, which asks for it its own
//! way (OpenAI `response_format: json_schema`, Anthropic a forced tool). A reply that does
//! not fit the type is sent back to the model with serde's error and its path, for a
//! corrected one.

use std::any::TypeId;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock, RwLock};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::client::message::Message;
use crate::client::params::MergedParams;
use crate::client::response::ChatResponse;
use crate::error::Error;

/// The role param that turns strict mode off (`strict_json: false`), for OpenAI-compatible
/// servers without it. llmhub's own: never sent.
pub(crate) const STRICT_PARAM: &str = "strict_json";

/// The role param with the number of repair rounds (default [`DEFAULT_REPAIRS`]). llmhub's
/// own: never sent.
pub(crate) const REPAIRS_PARAM: &str = "json_repair_retries";

/// Repair rounds when the role does not say.
pub(crate) const DEFAULT_REPAIRS: u64 = 1;

/// The schema of one type, built once: its name for the provider, its description, the
/// schema as schemars gives it, and that and its strict-ready form serialized once (requests
/// splice those bytes in rather than serialize the schema on every call).
#[derive(Debug)]
pub(crate) struct TypeSchema {
    pub name: String,
    pub description: String,
    pub loose: Value,
    pub loose_json: Box<RawValue>,
    /// OpenAI's whole `response_format` for the type, serialized once: with the strict-ready
    /// schema and `strict: true`, and with the schema as schemars gives it.
    pub strict_format: Box<RawValue>,
    pub loose_format: Box<RawValue>,
}

/// Hashes a [`TypeId`] by the bits it writes: a type id is a hash already.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// The cached schema of `T`, built on first use.
pub(crate) fn schema_of<T: JsonSchema + 'static>() -> Arc<TypeSchema> {
    type Cache = HashMap<TypeId, Arc<TypeSchema>, BuildHasherDefault<TypeIdHasher>>;
    static CACHE: OnceLock<RwLock<Cache>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let id = TypeId::of::<T>();
    if let Some(schema) = cache.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
        return schema.clone();
    }
    let schema = Arc::new(build::<T>());
    cache
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(id)
        .or_insert(schema)
        .clone()
}

fn build<T: JsonSchema>() -> TypeSchema {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut loose = generator.into_root_schema_for::<T>().to_value();
    if let Value::Object(root) = &mut loose {
        // The meta-schema URI says nothing the providers need.
        root.remove("$schema");
    }
    let title = loose.get("title").and_then(Value::as_str);
    let type_name = std::any::type_name::<T>();
    let name = sanitize_name(title.unwrap_or_else(|| short_type_name(type_name)));
    let description = loose
        .get("description")
        .and_then(Value::as_str)
        .map_or_else(|| format!("Replies with a `{name}` value."), str::to_owned);
    let mut strict = loose.clone();
    make_strict(&mut strict);
    let raw = |value: &Value| {
        serde_json::value::to_raw_value(value)
            .unwrap_or_else(|_| RawValue::from_string("{}".into()).unwrap_or_default())
    };
    let format = |schema: &Value, strict: bool| {
        raw(&json!({
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": strict},
        }))
    };
    TypeSchema {
        loose_json: raw(&loose),
        strict_format: format(&strict, true),
        loose_format: format(&loose, false),
        name,
        description,
        loose,
    }
}

/// `std::any::type_name` without its module path or generic arguments.
fn short_type_name(full: &str) -> &str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// A name providers accept: `[a-zA-Z0-9_-]{1,64}`, other characters as `_`.
pub(crate) fn sanitize_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if out.is_empty() {
        out.push_str("output");
    }
    out
}

/// The `format`s strict mode accepts.
const STRICT_FORMATS: [&str; 9] = [
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// Makes a schema strict-ready, in place: every object schema gets
/// `additionalProperties: false` and lists all its properties in `required`, those that were
/// optional made nullable; `oneOf` becomes `anyOf` (strict mode has no `oneOf`) and a
/// `format` strict mode does not know is dropped. `$ref`s and
/// `$defs` are kept (each definition made strict the same way).
pub(crate) fn make_strict(schema: &mut Value) {
    let Value::Object(node) = schema else {
        return;
    };
    if let Some(one_of) = node.remove("oneOf") {
        node.insert("anyOf".into(), one_of);
    }
    // Strict mode knows only a few string formats; schemars also writes number formats
    // (`double`, `uint32`), which it would refuse.
    if node
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|format| !STRICT_FORMATS.contains(&format))
    {
        node.remove("format");
    }
    let is_object = node.get("type").and_then(Value::as_str) == Some("object")
        || node.contains_key("properties");
    if is_object {
        let required: Vec<String> = match node.get("required") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let properties = node
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        let mut all = Vec::new();
        if let Value::Object(properties) = properties {
            for (key, property) in properties.iter_mut() {
                if !required.contains(key) {
                    make_nullable(property);
                }
                all.push(Value::String(key.clone()));
            }
        }
        node.insert("required".into(), Value::Array(all));
        // A map type (`additionalProperties: {schema}`) cannot be closed without losing
        // its entries; strict mode rejects it, and the provider's error says so.
        if !matches!(node.get("additionalProperties"), Some(Value::Object(_))) {
            node.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    for key in ["properties", "$defs", "definitions"] {
        if let Some(Value::Object(map)) = node.get_mut(key) {
            map.values_mut().for_each(make_strict);
        }
    }
    for key in ["anyOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(list)) = node.get_mut(key) {
            list.iter_mut().for_each(make_strict);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub @ Value::Object(_)) = node.get_mut(key) {
            make_strict(sub);
        }
    }
}

/// Lets `schema` also accept `null` (for a property that strict mode makes required).
fn make_nullable(schema: &mut Value) {
    let null = json!({"type": "null"});
    let Value::Object(node) = schema else {
        return;
    };
    let accepts_null = |node: &Map<String, Value>| match node.get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => ["anyOf", "oneOf"].iter().any(|key| {
            node.get(*key)
                .and_then(Value::as_array)
                .is_some_and(|list| list.contains(&null))
        }),
    };
    if accepts_null(node) {
        return;
    }
    let has_ref = node.contains_key("$ref");
    match node.get_mut("type") {
        Some(Value::String(t)) if !has_ref => {
            let t = std::mem::take(t);
            node.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(values)) = node.get_mut("enum") {
                values.push(Value::Null);
            }
        }
        Some(Value::Array(types)) => types.push(Value::from("null")),
        _ => {
            let inner = std::mem::take(node);
            node.insert(
                "anyOf".into(),
                Value::Array(vec![Value::Object(inner), null]),
            );
        }
    }
}

/// What a call asks the protocol for: a reply of the type whose schema this is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutputRequest<'a> {
    pub schema: &'a TypeSchema,
}

impl<'a> OutputRequest<'a> {
    /// OpenAI's `response_format` to send: strict unless the role param `strict_json` is
    /// `false`, then with the schema as schemars gives it.
    pub fn openai_format(&self, params: &MergedParams<'_>) -> &'a RawValue {
        let strict = params
            .get(STRICT_PARAM)
            .and_then(Value::as_bool)
            .unwrap_or(true);
        if strict {
            &self.schema.strict_format
        } else {
            &self.schema.loose_format
        }
    }
}

/// A reply that did not fit the type: where, why, and the reply itself.
#[derive(Debug)]
pub(crate) struct Mismatch {
    pub path: String,
    pub message: String,
    pub raw: String,
}

/// Parses the structured value out of a reply: the arguments of the forced tool named
/// `name` if the model called it (Anthropic), else the reply's text (OpenAI). Parsed once,
/// straight from the text into `T`.
pub(crate) fn parse_reply<T: DeserializeOwned>(
    reply: &ChatResponse,
    name: &str,
) -> Result<T, Mismatch> {
    let message = reply.choices.first().map(|c| &c.message);
    let tool = message
        .and_then(|m| m.tool_calls.iter().find(|call| call.function.name == name))
        .map(|call| call.function.arguments.as_str());
    let text = tool.or_else(|| message.and_then(|m| m.content.as_deref()));
    let Some(text) = text else {
        let refusal = message.and_then(|m| m.refusal.as_deref());
        return Err(Mismatch {
            path: ".".into(),
            message: match refusal {
                Some(refusal) => format!("the model refused: {refusal}"),
                None => "the reply has no content".into(),
            },
            raw: String::new(),
        });
    };
    parse_text(text).map_err(|(path, message)| Mismatch {
        path,
        message,
        raw: text.to_owned(),
    })
}

/// Parses `text` into `T`; an error is its path (`items[2].price`, `.` for the whole value)
/// and serde's message.
///
/// A reply that fits is parsed once, straight into `T`; only one that does not is parsed
/// again, with the path tracked, to say where it went wrong.
pub(crate) fn parse_text<T: DeserializeOwned>(text: &str) -> Result<T, (String, String)> {
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|err| (err.path().to_string(), err.inner().to_string()))?;
    deserializer
        .end()
        .map_err(|err| (".".to_owned(), err.to_string()))?;
    Ok(value)
}

impl Mismatch {
    /// Adds the bad reply and what is wrong with it to the conversation, asking for a
    /// corrected reply.
    pub fn ask_again(&self, messages: &mut Vec<Message>) {
        messages.push(Message::assistant(self.raw.clone()));
        messages.push(Message::user(format!(
            "Your reply does not match the JSON schema: at `{}`: {}. Reply again with only the \
             corrected JSON value.",
            self.path, self.message
        )));
    }

    /// The error once the repair rounds are used up.
    pub fn into_error(self, role: String) -> Error {
        Error::Structured {
            role,
            path: self.path,
            message: self.message,
            raw: self.raw,
        }
    }
}

/// The repair rounds `params` allow.
pub(crate) fn repair_rounds(params: &MergedParams<'_>) -> u64 {
    params
        .get(REPAIRS_PARAM)
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_REPAIRS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize_name("Invoice"), "Invoice");
        assert_eq!(sanitize_name("Page_for_Item"), "Page_for_Item");
        assert_eq!(sanitize_name("a b<c>"), "a_b_c_");
        assert_eq!(sanitize_name(""), "output");
        assert_eq!(sanitize_name(&"x".repeat(100)).len(), 64);
        assert_eq!(short_type_name("a::b::Page<c::Item>"), "Page");
    }

    #[test]
    fn optional_properties_become_required_and_nullable() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": "string"},
                "b": {"type": ["integer", "null"]},
                "c": {"type": "string", "enum": ["x", "y"]},
                "d": {"$ref": "#/$defs/D"},
                "e": {"oneOf": [{"const": 1}, {"const": 2}]},
            },
            "required": ["a"],
            "$defs": {"D": {"type": "object", "properties": {"z": {"type": "number"}}}},
        });
        make_strict(&mut schema);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "a": {"type": "string"},
                    "b": {"type": ["integer", "null"]},
                    "c": {"type": ["string", "null"], "enum": ["x", "y", null]},
                    "d": {"anyOf": [{"$ref": "#/$defs/D"}, {"type": "null"}]},
                    "e": {"anyOf": [{"anyOf": [{"const": 1}, {"const": 2}]}, {"type": "null"}]},
                },
                "required": ["a", "b", "c", "d", "e"],
                "additionalProperties": false,
                "$defs": {"D": {
                    "type": "object",
                    "properties": {"z": {"type": ["number", "null"]}},
                    "required": ["z"],
                    "additionalProperties": false,
                }},
            })
        );
    }

    #[test]
    fn parse_errors_name_the_path() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Item {
            price: f64,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Order {
            items: Vec<Item>,
        }
        let (path, message) =
            parse_text::<Order>(r#"{"items": [{"price": 1}, {"price": 2}, {"price": "x"}]}"#)
                .unwrap_err();
        assert_eq!(path, "items[2].price");
        assert!(
            message.starts_with("invalid type: string \"x\", expected f64"),
            "{message}"
        );
        let (path, _) = parse_text::<Order>(r#"{"items": []} trailing"#).unwrap_err();
        assert_eq!(path, ".");
        assert!(parse_text::<Order>(r#" {"items": []} "#).is_ok());
    }
}
