//! A call's params: the role's params overlaid by the per-call overrides, serialized straight
//! into the request body (no merged copy), each param mapped to its wire name by the
//! protocol's translation.

use std::sync::OnceLock;

use serde::{Serialize, Serializer, ser::SerializeMap};
use serde_json::Value;

use crate::config::{Params, merge_params};

/// What happens to one param on the wire.
pub(crate) enum Wire {
    /// Sent as is.
    Keep,
    /// Not sent (the request sets it itself, or the protocol has no such field).
    Skip,
    /// Sent under another name.
    Rename(&'static str),
    /// Sent under a name with a translated value.
    Replace(&'static str, Value),
}

/// The params of a role (or of one deployment of a routed role) as calls without overrides
/// write them on its provider (see [`MergedParams::close_object`]), kept once written: they
/// are the same for every such call until a reload builds a new state. A role's mode fixes
/// the kind of body its params close (a chat request, an embedding request). Typed chat calls
/// (a typed reply, tools) translate some params their own way, so they keep their own text.
#[derive(Default)]
pub(crate) struct ParamsText {
    plain: OnceLock<Box<[u8]>>,
    typed: OnceLock<Box<[u8]>>,
}

impl std::fmt::Debug for ParamsText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamsText")
            .field("plain_kept", &self.plain.get().is_some())
            .field("typed_kept", &self.typed.get().is_some())
            .finish()
    }
}

impl ParamsText {
    /// The text of a typed call's params, or of a plain call's.
    fn of(&self, typed: bool) -> &OnceLock<Box<[u8]>> {
        if typed { &self.typed } else { &self.plain }
    }
}

/// The role's params overlaid by the overrides, serialized as a map without building a merged
/// copy; `translate` maps each param to the protocol's field.
#[derive(Clone, Copy)]
pub(crate) struct MergedParams<'a> {
    base: &'a Params,
    overrides: Option<&'a Params>,
    translate: fn(&str, &Value) -> Wire,
    /// Where the text of `base` alone is kept, for a call without overrides.
    kept: Option<&'a ParamsText>,
}

impl<'a> MergedParams<'a> {
    pub fn new(base: &'a Params, overrides: Option<&'a Params>) -> MergedParams<'a> {
        MergedParams {
            base,
            overrides,
            translate: |_, _| Wire::Keep,
            kept: None,
        }
    }

    pub fn translated(self, translate: fn(&str, &Value) -> Wire) -> MergedParams<'a> {
        MergedParams { translate, ..self }
    }

    /// These params with `kept` as the place their text is kept in: `kept` must belong to
    /// `base` and to one provider, whose typed and plain calls each give
    /// [`MergedParams::close_object`] one translation. A call with overrides writes its own
    /// text every time.
    pub fn kept_in(self, kept: Option<&'a ParamsText>) -> MergedParams<'a> {
        MergedParams {
            kept: kept.filter(|_| self.overrides.is_none()),
            ..self
        }
    }

    /// Ends `object`, the JSON text of an object with at least one field, with these params as
    /// its last fields: `{"model":"m"}` becomes `{"model":"m","temperature":0.7}`. The same
    /// text as a flattened map gives, written once when the params are kept (see
    /// [`MergedParams::kept_in`]); `typed` says which of the kept texts this call's is.
    pub fn close_object(&self, object: &mut Vec<u8>, typed: bool) -> serde_json::Result<()> {
        debug_assert_eq!(object.last(), Some(&b'}'));
        object.pop();
        match self.kept.map(|kept| kept.of(typed)) {
            Some(kept) => match kept.get() {
                Some(text) => object.extend_from_slice(text),
                None => {
                    let start = object.len();
                    self.write_closing(object)?;
                    let _ = kept.set(object[start..].into());
                }
            },
            None => self.write_closing(object)?,
        }
        Ok(())
    }

    /// Writes the params' fields after a `,` (nothing when none is sent), then the closing `}`.
    fn write_closing(&self, object: &mut Vec<u8>) -> serde_json::Result<()> {
        let start = object.len();
        serde_json::to_writer(&mut *object, self)?;
        if object.len() - start == 2 {
            // `{}`: no params.
            object.truncate(start);
            object.push(b'}');
        } else {
            object[start] = b',';
        }
        Ok(())
    }

    /// The value of `key` (the override's if there is one).
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.overrides
            .and_then(|o| lookup(o, key))
            .or_else(|| lookup(self.base, key))
    }

    /// Every param, the role's first (unless overridden), then the overrides.
    pub fn iter(&self) -> impl Iterator<Item = (&'a String, &'a Value)> + use<'a> {
        let overrides = self.overrides;
        self.base
            .iter()
            .filter(move |(key, _)| overrides.is_none_or(|o| lookup(o, key).is_none()))
            .chain(overrides.into_iter().flatten())
    }

    /// A merged copy (for hooks).
    pub fn to_params(self) -> Params {
        merge_params(self.base, self.overrides)
    }
}

/// The params a map holds up to which a lookup compares keys in order rather than hashing
/// (a role has a handful of params; hashing the key costs more than a few comparisons).
const SCANNED: usize = 8;

/// `params[key]`, if there.
fn lookup<'a>(params: &'a Params, key: &str) -> Option<&'a Value> {
    if params.len() <= SCANNED {
        params.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    } else {
        params.get(key)
    }
}

impl MergedParams<'_> {
    /// The wire name `key` is sent under, when it is translated to another one.
    fn renamed(&self, key: &str, value: &Value) -> Option<&'static str> {
        match (self.translate)(key, value) {
            Wire::Rename(name) | Wire::Replace(name, _) => Some(name),
            Wire::Keep | Wire::Skip => None,
        }
    }

    fn in_overrides(&self, key: &str) -> bool {
        self.overrides.is_some_and(|o| lookup(o, key).is_some())
    }

    /// Whether an override of another param is sent under `wire` (so that it wins over a
    /// role param written under that wire name directly).
    fn override_renamed_to(&self, wire: &str) -> bool {
        self.overrides.is_some_and(|o| {
            o.iter()
                .any(|(key, value)| key != wire && self.renamed(key, value) == Some(wire))
        })
    }
}

impl Serialize for MergedParams<'_> {
    /// Each wire key is sent once. When a portable param (`embedding_dim`) and its wire name
    /// (`dimensions`) are both given, the override layer wins over the role's params, and
    /// within one layer the wire name written directly wins.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.iter() {
            let from_override = self.in_overrides(key);
            match (self.translate)(key, value) {
                Wire::Keep => {
                    if from_override || !self.override_renamed_to(key) {
                        map.serialize_entry(key, value)?;
                    }
                }
                Wire::Skip => {}
                Wire::Rename(name) | Wire::Replace(name, _)
                    if name != key.as_str()
                        && (self.in_overrides(name)
                            || (!from_override && self.base.contains_key(name))) => {}
                Wire::Rename(name) => map.serialize_entry(name, value)?,
                Wire::Replace(name, value) => map.serialize_entry(name, &value)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: Value) -> Params {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn merged_params_override_and_translate() {
        let base = params(json!({"temperature": 0.7, "max_tokens": 10, "embedding_dim": 3}));
        let overrides = params(json!({"temperature": 0.1, "seed": 7}));
        let merged = MergedParams::new(&base, Some(&overrides)).translated(|key, _| match key {
            "max_tokens" => Wire::Skip,
            "embedding_dim" => Wire::Rename("dimensions"),
            "seed" => Wire::Replace("seed", json!(8)),
            _ => Wire::Keep,
        });
        assert_eq!(
            serde_json::to_value(merged).unwrap(),
            json!({"temperature": 0.1, "dimensions": 3, "seed": 8})
        );
        assert_eq!(merged.get("temperature"), Some(&json!(0.1)));
        assert_eq!(merged.to_params()["max_tokens"], 10);
    }

    #[test]
    fn closing_an_object_writes_what_a_flattened_map_writes_kept_or_not() {
        #[derive(Serialize)]
        struct Flattened<'a> {
            model: &'a str,
            #[serde(flatten)]
            params: MergedParams<'a>,
        }
        let rename = |key: &str, _: &Value| match key {
            "max_tokens" => Wire::Rename("max_completion_tokens"),
            "cache" => Wire::Skip,
            _ => Wire::Keep,
        };
        let cases = [
            (json!({}), None),
            (json!({"cache": true}), None),
            (
                json!({"temperature": 0.7, "max_tokens": 10, "cache": true}),
                None,
            ),
            (json!({"temperature": 0.7}), Some(json!({"seed": 1}))),
            (json!({}), Some(json!({"max_tokens": 5, "stop": ["\n"]}))),
        ];
        for (base, overrides) in cases {
            let base = params(base);
            let overrides = overrides.map(params);
            let kept = ParamsText::default();
            let merged = MergedParams::new(&base, overrides.as_ref())
                .translated(rename)
                .kept_in(Some(&kept));
            let expected = serde_json::to_vec(&Flattened {
                model: "m",
                params: merged,
            })
            .unwrap();
            // Twice: written (and kept when there are no overrides), then from what was kept.
            for _ in 0..2 {
                let mut object = br#"{"model":"m"}"#.to_vec();
                merged.close_object(&mut object, true).unwrap();
                assert_eq!(
                    String::from_utf8(object).unwrap(),
                    String::from_utf8(expected.clone()).unwrap()
                );
            }
            assert_eq!(kept.typed.get().is_some(), overrides.is_none(), "{base:?}");
            assert!(kept.plain.get().is_none());
        }
    }

    #[test]
    fn a_wire_key_is_sent_once_and_the_override_wins() {
        let rename = |key: &str, _: &Value| match key {
            "embedding_dim" => Wire::Rename("dimensions"),
            _ => Wire::Keep,
        };
        let sent = |base: Value, overrides: Option<Value>| {
            let base = params(base);
            let overrides = overrides.map(params);
            let merged = MergedParams::new(&base, overrides.as_ref()).translated(rename);
            serde_json::to_string(&merged).unwrap()
        };
        // The override wins, whichever name each layer used.
        assert_eq!(
            sent(
                json!({"embedding_dim": 256}),
                Some(json!({"dimensions": 512}))
            ),
            r#"{"dimensions":512}"#
        );
        assert_eq!(
            sent(
                json!({"dimensions": 512}),
                Some(json!({"embedding_dim": 256}))
            ),
            r#"{"dimensions":256}"#
        );
        // Within one layer, the wire name written directly wins.
        assert_eq!(
            sent(json!({"embedding_dim": 256, "dimensions": 512}), None),
            r#"{"dimensions":512}"#
        );
        assert_eq!(
            sent(json!({"embedding_dim": 256}), None),
            r#"{"dimensions":256}"#
        );
    }
}
