//! A small YAML tree with a position on every node, built from saphyr-parser's events.
//!
//! Building our own tree (instead of deserializing with serde) lets validation walk the whole
//! file and report every problem with its line and column, and lets us bound what an input
//! can cost: nesting depth and alias expansion are limited, so an alias bomb or a deeply
//! nested file is refused quickly instead of exhausting memory or the stack.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as ParserSpan};

use crate::config::types::Span;

/// Deepest nesting accepted. A generated config nests 4 levels; params may add a few more.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, counting every node an alias repeats.
pub(crate) const MAX_NODES: usize = 500_000;

/// A YAML value with its position.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    pub kind: NodeKind<'a>,
    pub span: Span,
}

/// The value of a [`Node`].
#[derive(Debug, Clone)]
pub(crate) enum NodeKind<'a> {
    /// A scalar: its text as written (without quotes) and its resolved value.
    Scalar { raw: Cow<'a, str>, value: Scalar },
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A mapping, in file order (duplicate keys are kept so validation can report them).
    Map(Vec<(Node<'a>, Node<'a>)>),
}

/// A scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

impl Node<'_> {
    /// A short name of the node's type, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { value, .. } => match value {
                Scalar::Null => "nothing (null)",
                Scalar::Bool(_) => "a boolean",
                Scalar::Int(_) => "an integer",
                Scalar::Float(_) => "a number",
                Scalar::Str => "a string",
            },
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// Why a document could not be turned into a tree. Always located.
#[derive(Debug)]
pub(crate) struct YamlError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

fn span_of(span: &ParserSpan) -> Span {
    let start = span.start;
    let len = if span.end.line() == start.line() {
        span.end.index().saturating_sub(start.index()).max(1)
    } else {
        1
    };
    Span {
        line: start.line().max(1),
        column: start.col() + 1,
        len,
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> Scalar {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let int = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = text.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if text
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
    {
        text.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(int) = int {
        return Scalar::Int(int);
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && text.bytes().any(|b| b.is_ascii_digit());
    match looks_numeric.then(|| text.parse::<f64>()) {
        Some(Ok(float)) => Scalar::Float(float),
        _ => Scalar::Str,
    }
}

fn too_deep(span: Span) -> YamlError {
    YamlError {
        span,
        message: format!("the config nests deeper than {MAX_DEPTH} levels"),
        hint: Some("flatten the value; a generated llmhub.yaml nests 4 levels".into()),
    }
}

/// A collection being built.
struct Frame<'a> {
    span: Span,
    anchor: usize,
    items: Items<'a>,
}

enum Items<'a> {
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>, Option<Node<'a>>),
}

/// Parses `text` into one document's tree. An empty document is `Ok(None)`.
pub(crate) fn parse(text: &str) -> Result<Option<Node<'_>>, YamlError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut sizes: Vec<usize> = Vec::new(); // node count of each open frame's subtree
    let mut total_nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;

    for event in Parser::new_from_str(text) {
        let (event, parser_span) = event.map_err(|err| {
            let marker = err.marker();
            let span = Span {
                line: marker.line().max(1),
                column: marker.col() + 1,
                len: 1,
            };
            if err.info().contains("recursion limit") {
                return too_deep(span);
            }
            YamlError {
                span,
                message: format!("YAML syntax error: {}", err.info()),
                hint: None,
            }
        })?;
        let span = span_of(&parser_span);
        // A finished node and how many nodes it stands for, with its anchor id.
        let finished: Option<(Node, usize, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        span,
                        message: "the config holds more than one YAML document".into(),
                        hint: Some("keep a single document: remove the second `---`".into()),
                    });
                }
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_string =
                    style != ScalarStyle::Plain || tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value_kind = if forced_string {
                    Scalar::Str
                } else {
                    resolve_plain(&value)
                };
                total_nodes += 1;
                let node = Node {
                    kind: NodeKind::Scalar {
                        raw: value,
                        value: value_kind,
                    },
                    span,
                };
                Some((node, 1, anchor))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(too_deep(span));
                }
                let items = if matches!(event, Event::SequenceStart(..)) {
                    Items::Seq(Vec::new())
                } else {
                    Items::Map(Vec::new(), None)
                };
                total_nodes += 1;
                stack.push(Frame {
                    span,
                    anchor,
                    items,
                });
                sizes.push(1);
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else {
                    return Err(YamlError {
                        span,
                        message: "YAML syntax error: unbalanced collection".into(),
                        hint: None,
                    });
                };
                let size = sizes.pop().unwrap_or(1);
                let kind = match frame.items {
                    Items::Seq(items) => NodeKind::Seq(items),
                    Items::Map(items, _) => NodeKind::Map(items),
                };
                Some((
                    Node {
                        kind,
                        span: frame.span,
                    },
                    size,
                    frame.anchor,
                ))
            }
            Event::Alias(id) => {
                let Some((node, size)) = anchors.get(&id) else {
                    return Err(YamlError {
                        span,
                        message: "alias to an anchor that is not defined before it".into(),
                        hint: None,
                    });
                };
                if total_nodes + size > MAX_NODES {
                    return Err(YamlError {
                        span,
                        message: format!(
                            "aliases expand the config past {MAX_NODES} values (an alias bomb?)"
                        ),
                        hint: Some("write the values out instead of nesting aliases".into()),
                    });
                }
                total_nodes += size;
                let mut node = node.clone();
                node.span = span;
                Some((node, *size, 0))
            }
        };
        if total_nodes > MAX_NODES {
            return Err(YamlError {
                span,
                message: format!("the config has more than {MAX_NODES} values"),
                hint: None,
            });
        }
        let Some((node, size, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(frame) => {
                if let Some(parent) = sizes.last_mut() {
                    *parent += size;
                }
                match &mut frame.items {
                    Items::Seq(items) => items.push(node),
                    Items::Map(items, pending) => match pending.take() {
                        None => *pending = Some(node),
                        Some(key) => items.push((key, node)),
                    },
                }
            }
        }
    }
    Ok(root.filter(|node| {
        !matches!(
            node.kind,
            NodeKind::Scalar {
                value: Scalar::Null,
                ..
            }
        )
    }))
}
