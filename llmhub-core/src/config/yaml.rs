//! A small YAML tree with a position on every node, built from saphyr-parser's events.
//!
//! Building our own tree (instead of deserializing with serde) lets validation walk the whole
//! file and report every problem with its line and column, and lets us bound what an input
//! can cost: nesting depth and alias expansion are limited, so an alias bomb or a deeply
//! nested file is refused quickly instead of exhausting memory or the stack.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span as ParserSpan};

use crate::config::problem::LineIndex;
use crate::config::types::Span;

/// Deepest nesting accepted. A generated config nests 4 levels; params may add a few more.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, counting every node an alias repeats.
pub(crate) const MAX_NODES: usize = 500_000;
/// Most scalar text a document may expand to, in bytes (8 MiB), counting the text of every
/// node an alias repeats: a few aliases of one long value would otherwise cost gigabytes once
/// validation copies each of them.
pub(crate) const MAX_EXPANDED_BYTES: usize = 8 * 1024 * 1024;

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
    /// The error lies inside `env_key` or `headers`, whose lines may hold a key: its source
    /// line is not shown.
    pub secret: bool,
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
pub(crate) fn resolve_plain(text: &str) -> Scalar {
    // A letter other than the first of `null`, `true` or `false` starts a string (a number
    // starts with a digit, a sign or a `.`; `e5` is not one): most names and models.
    if let Some(first) = text.bytes().next()
        && first.is_ascii_alphabetic()
        && !matches!(first, b'n' | b'N' | b't' | b'T' | b'f' | b'F')
    {
        return Scalar::Str;
    }
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
        secret: false,
    }
}

/// A collection being built.
struct Frame<'a> {
    span: Span,
    /// The collection's start event: a flow collection's holds its `[` or `{` (after any anchor
    /// or tag); a block collection's is empty.
    start: ParserSpan,
    anchor: usize,
    items: Items<'a>,
}

impl Frame<'_> {
    /// The key whose value is being read, in a mapping.
    fn pending_key(&self) -> Option<&str> {
        match &self.items {
            Items::Map(_, Some(key)) => match &key.kind {
                NodeKind::Scalar { raw, .. } => Some(raw),
                _ => None,
            },
            _ => None,
        }
    }
}

enum Items<'a> {
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>, Option<Node<'a>>),
}

/// A parser error as a located problem. An unclosed flow collection or quoted string is
/// reported where it opens, with the place where the parser gave up (often many lines further
/// on, or the end of the file) in the message.
fn syntax_error(text: &str, err: &ScanError, reported: &Reported<'_, '_>) -> YamlError {
    let stack = reported.stack;
    let marker = *err.marker();
    let info = err.info();
    let at = Span {
        line: marker.line().max(1),
        column: marker.col() + 1,
        len: 1,
    };
    if info.contains("recursion limit") {
        return too_deep(at);
    }
    let secret = stack
        .iter()
        .any(|frame| matches!(frame.pending_key(), Some("env_key" | "headers")));
    let lines = LineIndex::new(text);
    let failure = if marker.index() >= text.trim_end().chars().count() {
        "the end of the file".to_owned()
    } else {
        format!("line {}, column {}", at.line, at.column)
    };
    let unclosed_quote = info.starts_with("while scanning a quoted scalar")
        || info.starts_with("invalid indentation in quoted scalar");
    if !unclosed_quote
        && let Some((open_at, open)) = innermost_flow(&lines, reported, marker)
        && (info.contains("flow") || at.line > open_at.line)
    {
        let (kind, close, block) = if open == '[' {
            ("sequence", ']', "a block list, one `- item` per line")
        } else {
            ("mapping", '}', "a block mapping, one `key: value` per line")
        };
        // The parser's own words name the innermost collection it was in, which may be a
        // mapping written inside this one without brackets; say what this one expects.
        let found = if info.starts_with("while parsing a flow") {
            String::new()
        } else {
            format!(" ({info})")
        };
        return YamlError {
            span: open_at,
            message: format!(
                "YAML syntax error: while parsing a flow {kind} started here; expected ',' or '{close}' at {failure}{found}"
            ),
            hint: Some(format!(
                "close the `{open}` with `{close}`, or write the value as {block}"
            )),
            secret,
        };
    }
    if let Some(quoted) = reported.multiline_quote {
        let open_at = Span {
            line: quoted.start.line().max(1),
            column: quoted.start.col() + 1,
            len: 1,
        };
        let quote = char_at(&lines, open_at)
            .filter(|c| matches!(c, '"' | '\''))
            .unwrap_or('"');
        let count = quoted.end.line() - quoted.start.line() + 1;
        return YamlError {
            span: open_at,
            message: format!(
                "YAML syntax error: the quoted string started here runs over {count} lines; after it: {info} at {failure}"
            ),
            hint: Some(format!(
                "close the `{quote}` on this line: a quote left open takes in the lines after it"
            )),
            secret,
        };
    }
    if unclosed_quote {
        let quote = char_at(&lines, at)
            .filter(|c| matches!(c, '"' | '\''))
            .unwrap_or('"');
        return YamlError {
            span: at,
            message: format!(
                "YAML syntax error: the quoted string started here is not closed ({info})"
            ),
            hint: Some(format!(
                "close the `{quote}` with a matching `{quote}` on the same line"
            )),
            secret,
        };
    }
    let hint = info.contains("unknown escape character").then(|| {
        "in a double-quoted string a `\\` starts an escape; write `\\\\`, or use single quotes"
            .to_owned()
    });
    YamlError {
        span: at,
        message: format!("YAML syntax error: {info}"),
        hint,
        secret,
    }
}

/// What the events told before a parser error.
struct Reported<'s, 'a> {
    /// The collections open at the error.
    stack: &'s [Frame<'a>],
    /// Where the last event ends.
    last_end: Marker,
    /// The last event, if it was a quoted scalar over several lines.
    multiline_quote: Option<ParserSpan>,
}

/// The innermost flow collection open at the parser's error `at`: where its `[` or `{` is,
/// and which it is. The parser reads ahead, so the brackets between its last event and the
/// error are scanned in the text; before that, the open collections' events tell.
fn innermost_flow(
    lines: &LineIndex<'_>,
    reported: &Reported<'_, '_>,
    at: Marker,
) -> Option<(Span, char)> {
    let in_flow = reported
        .stack
        .iter()
        .any(|frame| flow_bracket(lines, frame).is_some());
    let (mut unclosed, mut closed) = scan_brackets(lines, reported.last_end, at, in_flow);
    if let Some(innermost) = unclosed.pop() {
        return Some(innermost);
    }
    reported.stack.iter().rev().find_map(|frame| {
        let bracket = flow_bracket(lines, frame)?;
        if closed > 0 {
            closed -= 1;
            return None;
        }
        Some(bracket)
    })
}

/// Brackets opened in the text from `from` to `to` and not closed there (innermost last), and
/// how many closing brackets there close collections opened before `from`. Quoted strings and
/// comments are skipped. Outside a flow collection (`in_flow` false) a `[` or `{` opens one
/// only where a value starts, as in `key: [`; in `gpt[4]` it is text.
fn scan_brackets(
    lines: &LineIndex<'_>,
    from: Marker,
    to: Marker,
    in_flow: bool,
) -> (Vec<(Span, char)>, usize) {
    let mut open: Vec<(Span, char)> = Vec::new();
    let mut closed = 0usize;
    let mut quote: Option<char> = None;
    for number in from.line().max(1)..=to.line().min(lines.count()) {
        let Some(line) = lines.line(number) else {
            break;
        };
        let first = if number == from.line() { from.col() } else { 0 };
        let last = if number == to.line() {
            to.col()
        } else {
            usize::MAX
        };
        let mut prev: Option<char> = None;
        let mut chars = line.chars().enumerate().skip(first).peekable();
        while let Some((col, c)) = chars.next() {
            if col >= last {
                break;
            }
            let blank_before = prev.is_none_or(char::is_whitespace);
            let starts_value = blank_before || prev.is_some_and(|p| "[{,:".contains(p));
            prev = Some(c);
            match (quote, c) {
                (Some('"'), '\\') => {
                    chars.next();
                }
                (Some('\''), '\'') if chars.peek().is_some_and(|(_, next)| *next == '\'') => {
                    chars.next();
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if blank_before => break,
                (None, '"' | '\'') if starts_value => quote = Some(c),
                (None, '[' | '{') if in_flow || !open.is_empty() || starts_value => {
                    let span = Span {
                        line: number,
                        column: col + 1,
                        len: 1,
                    };
                    open.push((span, c));
                }
                (None, ']' | '}') if in_flow || !open.is_empty() => {
                    // With none open here, it closes one opened before `from`.
                    closed += usize::from(open.pop().is_none());
                }
                _ => {}
            }
        }
    }
    (open, closed)
}

/// The `[` or `{` of an open flow collection, from its start event; `None` for a block
/// collection.
fn flow_bracket(lines: &LineIndex<'_>, frame: &Frame<'_>) -> Option<(Span, char)> {
    let ParserSpan { start, end } = frame.start;
    let line = lines.line(start.line())?;
    let stop = if end.line() == start.line() {
        end.col()
    } else {
        usize::MAX
    };
    let (offset, bracket) = line
        .chars()
        .enumerate()
        .skip(start.col())
        .take_while(|(col, _)| *col < stop)
        .filter(|(_, c)| matches!(c, '[' | '{'))
        .last()?;
    let span = Span {
        line: start.line().max(1),
        column: offset + 1,
        len: 1,
    };
    Some((span, bracket))
}

/// The character at `span`'s line and column.
fn char_at(lines: &LineIndex<'_>, span: Span) -> Option<char> {
    let line = lines.line(span.line)?;
    line.chars().nth(span.column.checked_sub(1)?)
}

/// The size of a subtree: how many nodes it holds and how many bytes of scalar text.
#[derive(Clone, Copy)]
struct Size {
    nodes: usize,
    bytes: usize,
}

/// Parses `text` into one document's tree. An empty document is `Ok(None)`.
pub(crate) fn parse(text: &str) -> Result<Option<Node<'_>>, YamlError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, Size)> = HashMap::new();
    let mut sizes: Vec<Size> = Vec::new(); // the size of each open frame's subtree
    let mut total_nodes = 0usize;
    let mut total_bytes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    // The last event, if it was a quoted scalar running over several lines: an unclosed quote
    // swallows the lines after it and the parser fails further on.
    let mut multiline_quote: Option<ParserSpan> = None;
    // Where the last event ends: the parser may fail on text it has scanned past this point
    // without reporting events for it.
    let mut last_end = Marker::new(0, 1, 0);

    for event in Parser::new_from_str(text) {
        let (event, parser_span) = event.map_err(|err| {
            let reported = Reported {
                stack: &stack,
                last_end,
                multiline_quote,
            };
            syntax_error(text, &err, &reported)
        })?;
        last_end = parser_span.end;
        multiline_quote = match &event {
            Event::Scalar(_, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted, ..)
                if parser_span.end.line() > parser_span.start.line() =>
            {
                Some(parser_span)
            }
            _ => None,
        };
        let span = span_of(&parser_span);
        // A finished node, the size it stands for, and its anchor id.
        let finished: Option<(Node, Size, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        span,
                        message: "the config holds more than one YAML document".into(),
                        hint: Some("keep a single document: remove the second `---`".into()),
                        secret: false,
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
                let bytes = value.len();
                total_bytes += bytes;
                let node = Node {
                    kind: NodeKind::Scalar {
                        raw: value,
                        value: value_kind,
                    },
                    span,
                };
                Some((node, Size { nodes: 1, bytes }, anchor))
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
                    start: parser_span,
                    anchor,
                    items,
                });
                sizes.push(Size { nodes: 1, bytes: 0 });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else {
                    return Err(YamlError {
                        span,
                        message: "YAML syntax error: unbalanced collection".into(),
                        hint: None,
                        secret: false,
                    });
                };
                let size = sizes.pop().unwrap_or(Size { nodes: 1, bytes: 0 });
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
                        secret: false,
                    });
                };
                // Both budgets are checked before the anchored value is copied.
                if total_nodes + size.nodes > MAX_NODES {
                    return Err(YamlError {
                        span,
                        message: format!(
                            "aliases expand the config past {MAX_NODES} values (an alias bomb?)"
                        ),
                        hint: Some("write the values out instead of nesting aliases".into()),
                        secret: false,
                    });
                }
                if total_bytes + size.bytes > MAX_EXPANDED_BYTES {
                    return Err(YamlError {
                        span,
                        message: format!(
                            "aliases expand the config past {MAX_EXPANDED_BYTES} bytes (8 MiB) of text (an alias bomb?)"
                        ),
                        hint: Some(
                            "write the values out instead of repeating a long value with aliases"
                                .into(),
                        ),
                        secret: false,
                    });
                }
                total_nodes += size.nodes;
                total_bytes += size.bytes;
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
                secret: false,
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
                    parent.nodes += size.nodes;
                    parent.bytes += size.bytes;
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

#[cfg(test)]
mod tests {
    use super::{Scalar, resolve_plain};

    #[test]
    fn plain_scalars_resolve_with_the_core_schema() {
        let cases = [
            ("", Scalar::Null),
            ("~", Scalar::Null),
            ("null", Scalar::Null),
            ("Null", Scalar::Null),
            ("nullable", Scalar::Str),
            ("true", Scalar::Bool(true)),
            ("TRUE", Scalar::Bool(true)),
            ("False", Scalar::Bool(false)),
            ("falsey", Scalar::Str),
            ("12", Scalar::Int(12)),
            ("-3", Scalar::Int(-3)),
            ("+4", Scalar::Int(4)),
            ("0x1f", Scalar::Int(31)),
            ("0o17", Scalar::Int(15)),
            ("0.7", Scalar::Float(0.7)),
            ("1e3", Scalar::Float(1000.0)),
            ("-.5", Scalar::Float(-0.5)),
            (".inf", Scalar::Float(f64::INFINITY)),
            ("-.Inf", Scalar::Float(f64::NEG_INFINITY)),
            ("e5", Scalar::Str),
            ("E1", Scalar::Str),
            ("gpt-4.1", Scalar::Str),
            ("auto", Scalar::Str),
            ("1.2.3", Scalar::Str),
            ("0xzz", Scalar::Str),
        ];
        for (text, expected) in cases {
            assert_eq!(resolve_plain(text), expected, "{text:?}");
        }
        assert!(matches!(resolve_plain(".nan"), Scalar::Float(f) if f.is_nan()));
    }
}
