//! A fast path for the plain shape of a generated config: block mappings whose values are
//! plain or simply quoted scalars, or one-line flow collections of them (`{ a: 1 }`, `[a, b]`),
//! with comments and blank lines anywhere.
//!
//! It reads such a file line by line, several times faster than the full YAML parser, and
//! builds the same tree, with the same positions. Anything else (block sequences, anchors,
//! tags, block scalars, escapes, multi-line values, tabs, odd indentation, any syntax error)
//! makes it give up with `None`, and the full parser reads the file instead: every message
//! about a file comes from the full parser.

use crate::config::types::Span;
use crate::config::yaml::{MAX_DEPTH, MAX_NODES, Node, NodeKind, Scalar, resolve_plain};

/// The file's tree, or `None` when the file is not of the plain shape (see the module docs).
pub(crate) fn parse(text: &str) -> Option<Node<'_>> {
    let lines = lines(text)?;
    let first = lines.first()?;
    if first.indent != 0 {
        return None;
    }
    let mut reader = Reader {
        lines: &lines,
        next: 0,
        nodes: 0,
    };
    let root = reader.block_map(0, 1)?;
    (reader.next == lines.len()).then_some(root)
}

/// A line that holds something: its 1-based number, its indentation and the rest of it (a
/// trailing comment included).
struct Line<'a> {
    number: usize,
    indent: usize,
    body: &'a str,
}

/// The lines of `text` that hold more than spaces and a comment; `None` if a character the
/// fast path does not read (a tab, a carriage return, a control character, anything outside
/// ASCII) appears outside a comment.
fn lines(text: &str) -> Option<Vec<Line<'_>>> {
    // Every character must be one YAML prints, and `\n` the only line end (a `\r` ends a line
    // too, even inside a comment).
    let printable = |c: char| {
        c == '\n'
            || (' '..='~').contains(&c)
            || (c >= '\u{a0}' && !matches!(c, '\u{feff}' | '\u{fffe}' | '\u{ffff}'))
    };
    let plain_ascii = all_printable_ascii(text.as_bytes());
    if !plain_ascii && !text.chars().all(printable) {
        return None;
    }
    // Sized once: a growing buffer this large would be reallocated a dozen times, and each
    // large buffer freed makes the allocator sweep its caches of small blocks.
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]);
    for (at, end) in ends.enumerate() {
        let line = &text[start..end];
        start = end + 1;
        let body = line.trim_start_matches(' ');
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = line.len() - body.len();
        // Up to the start of a comment, if any: only printable ASCII (already known when the
        // whole file is).
        if !plain_ascii {
            let code = &body[..comment_start(body).unwrap_or(body.len())];
            if !code.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return None;
            }
        }
        lines.push(Line {
            number: at + 1,
            indent,
            body,
        });
    }
    Some(lines)
}

struct Reader<'l, 'a> {
    lines: &'l [Line<'a>],
    next: usize,
    nodes: usize,
}

impl<'a> Reader<'_, 'a> {
    /// The block mapping whose keys start at column `indent` (0-based), from the next line on;
    /// `depth` is its nesting level.
    fn block_map(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let first = self.lines.get(self.next)?;
        let span = Span {
            line: first.number,
            column: indent + 1,
            len: 1,
        };
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.next) {
            if line.indent != indent {
                break;
            }
            self.next += 1;
            let (key, rest) = split_key(line.body)?;
            let key_node = self.scalar(line, indent, key, key, false)?;
            let value = rest.trim_start_matches(' ');
            let value = if value.is_empty() || value.starts_with('#') {
                match self.lines.get(self.next) {
                    Some(nested) if nested.indent > indent => {
                        self.block_map(nested.indent, depth + 1)?
                    }
                    // No value at all (a null): left to the full parser.
                    _ => return None,
                }
            } else {
                let column = indent + line.body.len() - value.len();
                self.inline_value(line, column, value, depth)?
            };
            items.push((key_node, value));
        }
        // A line indented deeper than this mapping's keys, but not under a key without a
        // value, is not of this shape.
        if self
            .lines
            .get(self.next)
            .is_some_and(|line| line.indent > indent)
        {
            return None;
        }
        self.count()?;
        Some(Node {
            kind: NodeKind::Map(items),
            span,
        })
    }

    /// The value after `key: `, starting at column `column` of `line`: a scalar or a one-line
    /// flow collection, then at most a comment.
    fn inline_value(
        &mut self,
        line: &Line<'a>,
        column: usize,
        value: &'a str,
        depth: usize,
    ) -> Option<Node<'a>> {
        let (node, rest) = match value.as_bytes()[0] {
            b'{' | b'[' => {
                let mut flow = Flow {
                    line,
                    text: value,
                    at: 0,
                    column,
                };
                let node = flow.collection(self, depth + 1)?;
                (node, &value[flow.at..])
            }
            b'\'' | b'"' => {
                let (text, rest) = quoted(value)?;
                // The full parser's span of a quoted scalar runs on to the next token: here
                // over the rest of the line, comment included.
                let node = self.scalar(line, column, value, text, true)?;
                (node, rest)
            }
            _ => {
                let text = plain_block(value)?;
                let node = self.scalar(line, column, text, text, false)?;
                (node, &value[text.len()..])
            }
        };
        end_of_line(rest).then_some(node)
    }

    /// A scalar node at `column` of `line`: `written` is its text as in the file (with its
    /// quotes), `value` its content; a `quoted` one is a string whatever it holds.
    fn scalar(
        &mut self,
        line: &Line<'a>,
        column: usize,
        written: &str,
        value: &'a str,
        quoted: bool,
    ) -> Option<Node<'a>> {
        // Outside ASCII, positions in characters and in bytes part: the full parser counts.
        if !written.is_ascii() {
            return None;
        }
        self.count()?;
        let resolved = if quoted {
            Scalar::Str
        } else {
            resolve_plain(value)
        };
        Some(Node {
            kind: NodeKind::Scalar {
                raw: value.into(),
                value: resolved,
            },
            span: Span {
                line: line.number,
                column: column + 1,
                len: written.len().max(1),
            },
        })
    }

    /// Counts a node against the tree's budget.
    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }
}

/// A one-line flow collection being read: `text` from `at` on, `text` starting at column
/// `column` of `line`.
struct Flow<'l, 'a> {
    line: &'l Line<'a>,
    text: &'a str,
    at: usize,
    column: usize,
}

impl<'a> Flow<'_, 'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// `[ .. ]` or `{ .. }` at `at`.
    fn collection(&mut self, reader: &mut Reader<'_, 'a>, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let open = self.peek()?;
        let start = self.at;
        self.at += 1;
        self.skip_spaces();
        // As the full parser places it: the bracket and the spaces after it.
        let span = Span {
            line: self.line.number,
            column: self.column + start + 1,
            len: self.at - start,
        };
        let close = if open == b'[' { b']' } else { b'}' };
        let mut seq = Vec::new();
        let mut map = Vec::new();
        if self.peek() != Some(close) {
            loop {
                let item = self.item(reader, depth)?;
                self.skip_spaces();
                if open == b'{' {
                    // `key: value`, the colon right after the key.
                    if self.peek() != Some(b':') {
                        return None;
                    }
                    self.at += 1;
                    if self.peek() != Some(b' ') {
                        return None;
                    }
                    self.skip_spaces();
                    let value = self.item(reader, depth)?;
                    map.push((item, value));
                    self.skip_spaces();
                } else {
                    seq.push(item);
                }
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.skip_spaces();
                        // A trailing comma is valid YAML, but rare: the full parser reads it.
                        if self.peek() == Some(close) {
                            return None;
                        }
                    }
                    byte if byte == close => break,
                    _ => return None,
                }
            }
        }
        self.at += 1;
        reader.count()?;
        let kind = if open == b'[' {
            NodeKind::Seq(seq)
        } else {
            NodeKind::Map(map)
        };
        Some(Node { kind, span })
    }

    /// An entry of a flow collection: a nested collection or a scalar.
    fn item(&mut self, reader: &mut Reader<'_, 'a>, depth: usize) -> Option<Node<'a>> {
        let start = self.at;
        let column = self.column + start;
        let rest = &self.text[start..];
        match *rest.as_bytes().first()? {
            b'[' | b'{' => self.collection(reader, depth + 1),
            b'\'' | b'"' => {
                let (text, after) = quoted(rest)?;
                self.at += rest.len() - after.len();
                // The full parser's span of a quoted scalar runs on over the spaces after it.
                self.skip_spaces();
                let written = &self.text[start..self.at];
                reader.scalar(self.line, column, written, text, true)
            }
            _ => {
                let text = plain_flow(rest)?;
                self.at += text.len();
                reader.scalar(self.line, column, text, text, false)
            }
        }
    }
}

/// Whether every byte of `bytes` is printable ASCII or `\n`. (Without an early exit, in
/// blocks, so that the compiler can check many bytes at once.)
fn all_printable_ascii(bytes: &[u8]) -> bool {
    let ok = |b: u8| b == b'\n' || (0x20..0x7f).contains(&b);
    let mut blocks = bytes.chunks_exact(64);
    let blocks_ok = blocks
        .by_ref()
        .all(|block| block.iter().fold(true, |all, &b| all & ok(b)));
    blocks_ok && blocks.remainder().iter().all(|&b| ok(b))
}

/// The bytes of a key's plain name: letters, digits and `_.-/`.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/');
        b += 1;
    }
    table
};

/// Splits `key: rest` (or `key:` at the end of the line); the key is a plain name of
/// letters, digits and `_.-/`, as generated configs write them.
fn split_key(body: &str) -> Option<(&str, &str)> {
    let colon = memchr::memchr(b':', body.as_bytes())?;
    let key = &body[..colon];
    let is_name =
        !key.is_empty() && key.bytes().all(|b| NAME_BYTES[usize::from(b)]) && !key.starts_with('-');
    let rest = &body[colon + 1..];
    (is_name && (rest.is_empty() || rest.starts_with(' '))).then_some((key, rest))
}

/// A quoted scalar at the start of `text` that needs no unescaping (no `\` in double
/// quotes, no `''` in single quotes): its content, and what follows the closing quote.
fn quoted(text: &str) -> Option<(&str, &str)> {
    let quote = text.as_bytes()[0];
    let body = &text[1..];
    let end = body.bytes().position(|b| b == quote)?;
    let content = &body[..end];
    let after = &body[end + 1..];
    let escaped = match quote {
        b'"' => content.contains('\\'),
        _ => after.starts_with('\''),
    };
    (!escaped).then_some((content, after))
}

/// A plain scalar in block context at the start of `value`: up to a comment or the end of
/// the line, trailing spaces left out. `None` where YAML would read more into it (an
/// indicator at its start, a `: ` inside it).
fn plain_block(value: &str) -> Option<&str> {
    if starts_with_indicator(value) {
        return None;
    }
    let text = value[..comment_start(value).unwrap_or(value.len())].trim_end_matches(' ');
    // A `:` that ends the text or that a space follows.
    let bytes = text.as_bytes();
    let colon = memchr::memchr_iter(b':', bytes)
        .any(|at| bytes.get(at + 1).is_none_or(|&next| next == b' '));
    (!colon).then_some(text)
}

/// A plain scalar in flow context at the start of `rest`: up to a `,`, a closing bracket or
/// a `: `, trailing spaces left out; `None` for anything the full parser reads otherwise.
fn plain_flow(rest: &str) -> Option<&str> {
    if rest.is_empty() || starts_with_indicator(rest) {
        return None;
    }
    let end = rest
        .bytes()
        .position(|b| matches!(b, b',' | b'[' | b']' | b'{' | b'}' | b'#' | b':'))
        .unwrap_or(rest.len());
    let stop = rest.as_bytes().get(end).copied();
    // A `:` not followed by a space, a `#` or an opening bracket inside a scalar: the full
    // parser decides.
    if matches!(stop, Some(b'#' | b'[' | b'{')) {
        return None;
    }
    if stop == Some(b':') && rest.as_bytes().get(end + 1) != Some(&b' ') {
        return None;
    }
    let text = rest[..end].trim_end_matches(' ');
    // A `-` or `?` that a space, a flow indicator or the end follows reads as an indicator.
    let bytes = rest.as_bytes();
    let odd_dash = text.bytes().enumerate().any(|(at, b)| {
        matches!(b, b'-' | b'?')
            && bytes
                .get(at + 1)
                .is_none_or(|next| matches!(next, b' ' | b',' | b'[' | b']' | b'{' | b'}'))
    });
    (!text.is_empty() && !odd_dash).then_some(text)
}

/// Whether `text` starts with a character that makes it more than a plain scalar (a `-`
/// unless a letter, a digit or a `.` follows, as in `-1` or `-.inf`).
fn starts_with_indicator(text: &str) -> bool {
    match text.as_bytes() {
        [b'-', next, ..] => !(next.is_ascii_alphanumeric() || *next == b'.'),
        // (A `match`, not a search of a byte string: the search costs a call per scalar.)
        [first, ..] => matches!(
            first,
            b'-' | b'?'
                | b':'
                | b','
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'#'
                | b'&'
                | b'*'
                | b'!'
                | b'|'
                | b'>'
                | b'\''
                | b'"'
                | b'%'
                | b'@'
                | b'`'
        ),
        [] => true,
    }
}

/// Where a comment starts in `line` (a `#` after a space), if it has one.
fn comment_start(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    memchr::memchr_iter(b'#', bytes)
        .find(|&at| at > 0 && bytes[at - 1] == b' ')
        .map(|at| at - 1)
}

/// Whether `rest` (what follows a value) is only spaces and a comment.
fn end_of_line(rest: &str) -> bool {
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml;

    const FIXTURE: &str = include_str!("../../../fixtures/llmhub.yaml");

    /// Whether the fast path read `text`; when it did, its tree must be the full parser's,
    /// positions included.
    fn fast_and_same(text: &str) -> bool {
        let Some(fast) = parse(text) else {
            return false;
        };
        let full = yaml::parse(text)
            .unwrap_or_else(|err| {
                panic!(
                    "the fast path read what the full parser refuses ({}): {text:?}",
                    err.message
                )
            })
            .expect("a document");
        assert_eq!(format!("{fast:?}"), format!("{full:?}"), "{text:?}");
        true
    }

    /// A config with `roles` roles as a generator writes them.
    fn generated(roles: usize) -> String {
        let mut text = String::from(
            "project: bench\nenv: dev\nproviders:\n  openai:\n    env_key: OPENAI_API_KEY\n    base_url: http://127.0.0.1:8080/v1\nroles:\n",
        );
        for i in 0..roles {
            text.push_str(&format!(
                "  team{}.role-{i}:\n    provider: openai\n    model: gpt-4.1\n    mode: chat\n    params:\n      temperature: 0.7\n      max_tokens: 2048\n      stop: [\"END\", 'STOP', x]\n    fallbacks: [team0.role-0]\n",
                i % 10
            ));
        }
        text
    }

    #[test]
    fn generated_configs_are_read_fast_and_the_same() {
        assert!(fast_and_same(FIXTURE));
        assert!(fast_and_same(&generated(50)));
        for text in [
            "a: 1",
            "a: 1\n",
            "a:  'x'  # note\nb: \"y z\"\n",
            "a: http://h:1/v1 # c\nb: x#y\nc: ~\nd: true\ne: -.inf\nf: 0x1F\ng: 1e3\nh: .nan\n",
            "a: { b: 1, c: [x, \"y\", 'z'], d: { e: f } }  # c\n",
            "a: []\nb: {}\nc: [ ]\nd: [[1, 2], [3]]\n",
            "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
            "# head\n\na: 1   \n   # indented comment\n\nb:\n\n  c: 2\n",
            "a: 1\na: 2\n",
            "a: x # comment with \u{2013}\n# \u{2013}\nb: -1\nc: [-x, -2]\n",
        ] {
            assert!(fast_and_same(text), "{text:?}");
        }
    }

    #[test]
    fn other_shapes_are_left_to_the_full_parser() {
        for text in [
            "",
            "# only a comment\n",
            "a:\n- 1\n",
            "a:\n  - 1\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: \"esc\\n\"\n",
            "a: 'it''s'\n",
            "a: multi\n  line\n",
            "a:\tb\n",
            "a: 1\r\nb: 2\r\n",
            "a:\nb: 1\n",
            "a: [1,\n  2]\n",
            "a: [1, 2,]\n",
            "a: b: c\n",
            "---\na: 1\n",
            "  a: 1\n",
            "a: 1\n  b: 2\n",
            "a: r\u{e9}sum\u{e9}\n",
            "a: { b }\n",
            "a: [b: c]\n",
            "\"a\": 1\n",
            "a: - x\n",
        ] {
            assert!(parse(text).is_none(), "{text:?}");
        }
    }

    /// Mutations of a few configs, one to three edits each with the characters YAML cares
    /// about: whatever the fast path reads, the full parser reads the same way.
    /// `LLMHUB_FUZZ_CASES` sets how many (20,000 by default), `LLMHUB_FUZZ_SEED` the seed.
    #[test]
    fn mutated_configs_read_fast_are_read_the_same() {
        let alphabet: &[u8] = b" \n\t\r:#-,[]{}'\"&*!|>%@`?x1.~\\";
        let cases = std::env::var("LLMHUB_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        let seed = std::env::var("LLMHUB_FUZZ_SEED")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(7);
        let mut rng = fastrand::Rng::with_seed(seed);
        let flows =
            "a: { b: 1, c: [x, \"y\", 'z'], d: { e: -f } }  # c\nb: [ [1, 2], {} ]\nc:  'q' # d\n";
        let bases = [FIXTURE.to_owned(), generated(3), flows.to_owned()];
        let (mut read, mut tried) = (0, 0);
        for _ in 0..cases {
            let mut text = bases[rng.usize(..bases.len())].clone().into_bytes();
            for _ in 0..rng.usize(1..=3) {
                let at = rng.usize(..=text.len());
                let byte = alphabet[rng.usize(..alphabet.len())];
                match rng.u8(..3) {
                    0 => text.insert(at, byte),
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ if at < text.len() => text[at] = byte,
                    _ => text.push(byte),
                }
            }
            let Ok(text) = String::from_utf8(text) else {
                continue;
            };
            tried += 1;
            if fast_and_same(&text) {
                read += 1;
            }
        }
        // Most single edits keep the plain shape; the test is only worth something if many
        // mutants went through the fast path.
        assert!(read > tried / 10, "{read} of {tried}");
    }
}
