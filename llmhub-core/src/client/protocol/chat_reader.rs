//! OpenAI-shaped chat replies and stream chunks in their plain shape, read by a small reader
//! of their own before the general deserializer is asked.
//!
//! A stream of a chat reply is mostly chunks of a few hundred bytes, each decoded into a
//! [`ChatChunk`]; the derived deserializer's code for that type (every field matched through
//! its visitor, every optional field through its own wrapper) is large enough that a chunk's
//! decoding, between two reads of the socket, runs mostly from cold caches. The reader here
//! knows the few fields of a chunk and of a reply and reads them in one pass: keys compared as
//! bytes, strings found eight bytes at a time and borrowed until they are kept, integers read
//! digit by digit, other fields checked as JSON and skipped. Anything it does not read exactly
//! as the deserializer would (a tool call's provider metadata, a list of content parts, an
//! `"error"` key, a number where a string belongs, a value nested too deep, JSON that does not
//! parse) makes it give up, and the body is read again the usual way, so that the result, or
//! the error, is the deserializer's own. Tests hold the two readings to the same value.

use std::borrow::Cow;

use crate::client::message::{FunctionCall, ToolCall};
use crate::client::response::{
    ChatChunk, ChatResponse, Choice, ChunkChoice, Completion, CompletionDetails, Delta,
    FinishReason, FunctionDelta, PromptDetails, ResponseMessage, ToolCallDelta, Usage, WireUsage,
};

/// How deeply nested a value of a field the types do not keep may be (`logprobs`,
/// `annotations`) before the reader gives up on it.
const MAX_SKIP_DEPTH: u8 = 16;

/// A stream chunk, if it has the plain shape (see the module's docs).
pub(crate) fn read_chunk(data: &[u8]) -> Option<ChatChunk> {
    let mut reader = Reader { bytes: data, at: 0 };
    let chunk = reader.completion(Reader::chunk_choice)?;
    reader.end()?;
    Some(chunk)
}

/// A chat reply, if it has the plain shape (see the module's docs).
pub(crate) fn read_reply(body: &[u8]) -> Option<ChatResponse> {
    let mut reader = Reader { bytes: body, at: 0 };
    let reply = reader.completion(Reader::choice)?;
    reader.end()?;
    Some(reply)
}

/// The length of the plain text at the start of `bytes`: up to the first `"`, `\` or control
/// character (or, with `ascii_only`, the first byte that is not ASCII), or all of it. Reads
/// eight bytes at a time.
fn plain_run(bytes: &[u8], ascii_only: bool) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let is_stop =
        |byte: u8| byte == b'"' || byte == b'\\' || byte < 0x20 || (ascii_only && byte >= 0x80);
    let (words, tail) = bytes.as_chunks::<8>();
    for (index, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // A byte's high bit is set in `stops` if the byte is a quote or a backslash (equal
        // to it: the XOR is zero), or below 0x20. A borrow can only flag a byte above one
        // rightly flagged, so the lowest flag is exact.
        let mut stops = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGH;
        if ascii_only {
            stops |= word & HIGH;
        }
        if stops != 0 {
            return index * 8 + (stops.trailing_zeros() / 8) as usize;
        }
    }
    let done = words.len() * 8;
    done + tail
        .iter()
        .position(|&byte| is_stop(byte))
        .unwrap_or(tail.len())
}

/// A position in a JSON text. Every method returns `None` when the text there is not what it
/// reads (or not in the plain shape), leaving the position anywhere.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The next byte that is not JSON whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&byte) = self.bytes.get(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// Consumes `byte`, after whitespace.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Nothing but whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// Consumes a `null`, if that is what comes next.
    fn null(&mut self) -> bool {
        self.peek() == Some(b'n') && self.literal(b"null").is_some()
    }

    /// Consumes `word` (`null`, `true`, `false`) at the current position.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `read`'s value, or `None` for a `null`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null() {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// `read` into `place`, unless a `null` comes (which leaves `place` as it is).
    fn nullable_into<T>(
        &mut self,
        place: &mut T,
        read: fn(&mut Self, &mut T) -> Option<()>,
    ) -> Option<()> {
        if self.null() {
            Some(())
        } else {
            read(self, place)
        }
    }

    /// An object whose fields named in `known` are read by `field` (each at most once: the
    /// deserializer rejects a repeated field) and whose other fields are skipped.
    fn object(
        &mut self,
        known: &[&[u8]],
        field: impl FnMut(&mut Self, &[u8]) -> Option<()>,
    ) -> Option<()> {
        self.object_within(MAX_SKIP_DEPTH, known, field)
    }

    /// [`Reader::object`], skipping values of other fields nested at most `depth` deep.
    fn object_within(
        &mut self,
        depth: u8,
        known: &[&[u8]],
        mut field: impl FnMut(&mut Self, &[u8]) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut seen = 0u32;
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            match known.iter().position(|name| *name == key) {
                Some(index) => {
                    if seen & (1 << index) != 0 {
                        return None;
                    }
                    seen |= 1 << index;
                    field(self, key)?;
                }
                None => self.skip(depth)?,
            }
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array, each element read by `element`.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object's key: ASCII without escapes or control characters (any other key is left
    /// to the deserializer).
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        self.at += plain_run(&self.bytes[start..], true);
        let key = &self.bytes[start..self.at];
        self.eat_here(b'"')?;
        Some(key)
    }

    /// Consumes `byte` at the current position (no whitespace before it).
    fn eat_here(&mut self, byte: u8) -> Option<()> {
        (*self.bytes.get(self.at)? == byte).then(|| self.at += 1)
    }

    /// A string, borrowed unless it has escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.at;
        self.at += plain_run(&self.bytes[start..], false);
        if self.eat_here(b'"').is_some() {
            let text = &self.bytes[start..self.at - 1];
            return std::str::from_utf8(text).ok().map(Cow::Borrowed);
        }
        self.escaped_string(start).map(Cow::Owned)
    }

    /// The string that began at `start` and whose plain text ends at an escape (or a control
    /// character), unescaped. Out of line, as escapes are rare in what most fields hold.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize) -> Option<String> {
        let mut text = self.bytes[start..self.at].to_vec();
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return String::from_utf8(text).ok();
                }
                b'\\' => {
                    self.at += 1;
                    self.escape(&mut text)?;
                }
                // A control character, which the deserializer rejects.
                _ => return None,
            }
            let run = plain_run(&self.bytes[self.at..], false);
            text.extend_from_slice(&self.bytes[self.at..self.at + run]);
            self.at += run;
        }
    }

    /// The escape after a `\`, appended to `text` as UTF-8. A surrogate that is not half of
    /// a pair is left to the deserializer.
    fn escape(&mut self, text: &mut Vec<u8>) -> Option<()> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        let unescaped = match byte {
            b'"' | b'\\' | b'/' => byte,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut code = self.hex4()?;
                if (0xd800..0xdc00).contains(&code) {
                    self.eat_here(b'\\')?;
                    self.eat_here(b'u')?;
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return None;
                    }
                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                }
                let ch = char::from_u32(code)?;
                text.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                return Some(());
            }
            _ => return None,
        };
        text.push(unescaped);
        Some(())
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        self.at += 4;
        u32::from_str_radix(text, 16).ok()
    }

    /// A string, owned.
    fn owned_string(&mut self) -> Option<String> {
        self.string().map(Cow::into_owned)
    }

    /// An unsigned integer: digits only (a sign, a fraction or an exponent is left to the
    /// deserializer), at most 19 of them, no leading zero.
    fn integer(&mut self) -> Option<u64> {
        self.peek()?;
        let digits = self.bytes[self.at..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if digits == 0 || digits > 19 || (digits > 1 && self.bytes[self.at] == b'0') {
            return None;
        }
        let value = self.bytes[self.at..self.at + digits]
            .iter()
            .fold(0u64, |value, digit| value * 10 + u64::from(digit - b'0'));
        self.at += digits;
        if matches!(self.bytes.get(self.at), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(value)
    }

    /// An integer that a missing or `null` value makes 0.
    fn count(&mut self) -> Option<u64> {
        Some(self.nullable(Self::integer)?.unwrap_or_default())
    }

    /// A list whose elements `push` reads onto its end; a missing or `null` list makes it
    /// empty.
    fn list_by<T>(
        &mut self,
        mut push: impl FnMut(&mut Self, &mut Vec<T>) -> Option<()>,
    ) -> Option<Vec<T>> {
        let mut list = Vec::new();
        if !self.null() {
            self.array(|reader| push(reader, &mut list))?;
        }
        Some(list)
    }

    /// A list read by `element`, which a missing or `null` list makes empty.
    fn list<T>(&mut self, element: fn(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.list_by(|reader, list| {
            list.push(element(reader)?);
            Some(())
        })
    }

    /// A list whose elements `element` reads into a default value in place (a choice of a
    /// few hundred bytes is then written once, not built and moved into the list); a missing
    /// or `null` list makes it empty.
    fn list_in_place<T: Default>(
        &mut self,
        element: fn(&mut Self, &mut T) -> Option<()>,
    ) -> Option<Vec<T>> {
        self.list_by(|reader, list| {
            list.push(T::default());
            element(reader, list.last_mut()?)
        })
    }

    /// A string that a missing or `null` value makes empty.
    fn text(&mut self) -> Option<String> {
        Some(self.nullable(Self::owned_string)?.unwrap_or_default())
    }

    /// A `null` where the types keep a JSON value (a tool call's `extra_content`): any other
    /// value is the deserializer's to read.
    fn no_value(&mut self) -> Option<()> {
        self.null().then_some(())
    }

    /// Any JSON value, checked as the deserializer checks a value it ignores, and dropped;
    /// `None` if it nests more than `depth` objects or arrays.
    fn skip(&mut self, depth: u8) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object_within(depth.checked_sub(1)?, &[], |_, _| None),
            b'[' => {
                let inner = depth.checked_sub(1)?;
                self.array(|reader| reader.skip(inner))
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    /// A JSON number of any kind, checked and dropped.
    fn number(&mut self) -> Option<()> {
        let _ = self.eat_here(b'-');
        match *self.bytes.get(self.at)? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat_here(b'.').is_some() {
            self.bytes.get(self.at)?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.bytes.get(self.at)?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        Some(())
    }

    /// Consumes a run of digits.
    fn digits(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
    }

    /// A reply or a chunk, its choices read in place by `choice`.
    fn completion<C: Default>(
        &mut self,
        choice: fn(&mut Self, &mut C) -> Option<()>,
    ) -> Option<Completion<C>> {
        let mut completion = Completion {
            id: String::new(),
            model: String::new(),
            created: None,
            choices: Vec::new(),
            usage: None,
            raw: bytes::Bytes::new(),
        };
        // An `"error"` key is an error event or an error reply, which the usual reading
        // reports.
        const KNOWN: &[&[u8]] = &[b"id", b"model", b"created", b"choices", b"usage", b"error"];
        self.object(KNOWN, |reader, key| {
            match key {
                b"id" => completion.id = reader.text()?,
                b"model" => completion.model = reader.text()?,
                b"created" => completion.created = reader.nullable(Self::integer)?,
                b"choices" => completion.choices = reader.list_in_place(choice)?,
                b"usage" => completion.usage = reader.nullable(Self::usage)?,
                _ => return None,
            }
            Some(())
        })?;
        Some(completion)
    }

    /// One choice of a reply, into `choice` (a default one: a field the object lacks, or
    /// has as `null`, stays at its default, as the deserializer leaves it).
    fn choice(&mut self, choice: &mut Choice) -> Option<()> {
        const KNOWN: &[&[u8]] = &[b"index", b"message", b"finish_reason"];
        self.object(KNOWN, |reader, key| {
            match key {
                b"index" => choice.index = reader.index()?,
                b"message" => reader.nullable_into(&mut choice.message, Self::message)?,
                _ => choice.finish_reason = reader.nullable(Self::finish_reason)?,
            }
            Some(())
        })
    }

    /// One choice of a stream chunk, into `choice` (a default one, as for
    /// [`Reader::choice`]).
    fn chunk_choice(&mut self, choice: &mut ChunkChoice) -> Option<()> {
        const KNOWN: &[&[u8]] = &[b"index", b"delta", b"finish_reason"];
        self.object(KNOWN, |reader, key| {
            match key {
                b"index" => choice.index = reader.index()?,
                b"delta" => reader.nullable_into(&mut choice.delta, Self::delta)?,
                _ => choice.finish_reason = reader.nullable(Self::finish_reason)?,
            }
            Some(())
        })
    }

    /// A choice's `index` (0 when `null`).
    fn index(&mut self) -> Option<u32> {
        u32::try_from(self.count()?).ok()
    }

    /// A finish reason.
    fn finish_reason(&mut self) -> Option<FinishReason> {
        Some(FinishReason::parse(&self.string()?))
    }

    /// A reply's message, when its content is a string or `null`, into `message` (a default
    /// one).
    fn message(&mut self, message: &mut ResponseMessage) -> Option<()> {
        const KNOWN: &[&[u8]] = &[
            b"role",
            b"content",
            b"tool_calls",
            b"refusal",
            b"reasoning",
            b"reasoning_content",
        ];
        self.object(KNOWN, |reader, key| {
            let text = match key {
                b"tool_calls" => {
                    message.tool_calls = reader.list(Self::tool_call)?;
                    return Some(());
                }
                b"role" => &mut message.role,
                b"content" => &mut message.content,
                b"refusal" => &mut message.refusal,
                b"reasoning" => &mut message.reasoning,
                _ => &mut message.reasoning_content,
            };
            *text = reader.nullable(Self::owned_string)?;
            Some(())
        })
    }

    /// A chunk's delta, into `delta` (a default one).
    fn delta(&mut self, delta: &mut Delta) -> Option<()> {
        const KNOWN: &[&[u8]] = &[
            b"role",
            b"content",
            b"tool_calls",
            b"reasoning",
            b"reasoning_content",
        ];
        self.object(KNOWN, |reader, key| {
            let text = match key {
                b"tool_calls" => {
                    delta.tool_calls = reader.list(Self::tool_call_delta)?;
                    return Some(());
                }
                b"role" => &mut delta.role,
                b"content" => &mut delta.content,
                b"reasoning" => &mut delta.reasoning,
                _ => &mut delta.reasoning_content,
            };
            *text = reader.nullable(Self::owned_string)?;
            Some(())
        })
    }

    /// A tool call of a reply, without provider metadata.
    fn tool_call(&mut self) -> Option<ToolCall> {
        let mut call = ToolCall {
            kind: "function".to_owned(),
            ..ToolCall::default()
        };
        const KNOWN: &[&[u8]] = &[b"id", b"type", b"function", b"extra_content"];
        self.object(KNOWN, |reader, key| {
            match key {
                b"id" => call.id = reader.text()?,
                b"type" => call.kind = reader.owned_string()?,
                b"function" => {
                    let (name, arguments) = reader.function(Self::text)?;
                    call.function = FunctionCall { name, arguments };
                }
                _ => reader.no_value()?,
            }
            Some(())
        })?;
        Some(call)
    }

    /// A piece of a streamed tool call, without provider metadata.
    fn tool_call_delta(&mut self) -> Option<ToolCallDelta> {
        let mut piece = ToolCallDelta::default();
        const KNOWN: &[&[u8]] = &[b"index", b"id", b"type", b"function", b"extra_content"];
        self.object(KNOWN, |reader, key| {
            match key {
                b"index" => piece.index = reader.index()?,
                b"id" => piece.id = reader.nullable(Self::owned_string)?,
                b"type" => piece.kind = reader.nullable(Self::owned_string)?,
                b"function" => {
                    piece.function = reader.nullable(|reader| {
                        let (name, arguments) =
                            reader.function(|reader| reader.nullable(Self::owned_string))?;
                        Some(FunctionDelta { name, arguments })
                    })?
                }
                _ => reader.no_value()?,
            }
            Some(())
        })?;
        Some(piece)
    }

    /// A tool call's `function`: its `name` and `arguments`, each read by `text` (and the
    /// type's default when missing).
    fn function<T: Default>(&mut self, text: impl Fn(&mut Self) -> Option<T>) -> Option<(T, T)> {
        let (mut name, mut arguments) = (T::default(), T::default());
        self.object(&[b"name", b"arguments"], |reader, key| {
            let value = text(reader)?;
            if key == b"name" {
                name = value;
            } else {
                arguments = value;
            }
            Some(())
        })?;
        Some((name, arguments))
    }

    /// Token counts.
    fn usage(&mut self) -> Option<Usage> {
        let mut wire = WireUsage::default();
        const KNOWN: &[&[u8]] = &[
            b"prompt_tokens",
            b"completion_tokens",
            b"total_tokens",
            b"prompt_tokens_details",
            b"completion_tokens_details",
            b"cache_creation_input_tokens",
            b"prompt_cache_hit_tokens",
        ];
        self.object(KNOWN, |reader, key| {
            match key {
                b"prompt_tokens" => wire.prompt_tokens = reader.count()?,
                b"completion_tokens" => wire.completion_tokens = reader.count()?,
                b"total_tokens" => wire.total_tokens = reader.count()?,
                b"prompt_tokens_details" => {
                    wire.prompt_tokens_details = reader
                        .nullable(|reader| reader.detail(b"cached_tokens"))?
                        .map(|cached_tokens| PromptDetails { cached_tokens })
                }
                b"completion_tokens_details" => {
                    wire.completion_tokens_details = reader
                        .nullable(|reader| reader.detail(b"reasoning_tokens"))?
                        .map(|reasoning_tokens| CompletionDetails { reasoning_tokens })
                }
                b"cache_creation_input_tokens" => {
                    wire.cache_creation_input_tokens = reader.nullable(Self::integer)?
                }
                _ => wire.prompt_cache_hit_tokens = reader.nullable(Self::integer)?,
            }
            Some(())
        })?;
        Some(Usage::from(wire))
    }

    /// The count named `name` in an object of counts (0 when missing or `null`).
    fn detail(&mut self, name: &[u8]) -> Option<u64> {
        let mut value = 0;
        self.object(&[name], |reader, _| {
            value = reader.count()?;
            Some(())
        })?;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks in the shapes providers send, each of which the reader must read.
    const CHUNKS: &[&str] = &[
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4.1","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}"#,
        r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4.1","choices":[{"index":0,"delta":{"content":"token7 "},"finish_reason":null}]}"#,
        r#"{"id":"chatcmpl-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        r#"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":3,"audio_tokens":0,"accepted_prediction_tokens":0}}}"#,
        r#"{"id":"x","model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"Think\n\"twice\""},"finish_reason":null}],"usage":null}"#,
        r#"{"id":"x","choices":[{"index":0,"delta":{"content":"caf\u00e9 \ud83d\ude00 \/ \\ \b\f\r\t"},"finish_reason":"length"}]}"#,
        r#" { "id" : "x" , "created" : null , "choices" : [ { "index" : 1 , "delta" : null , "finish_reason" : "content_filter" } ] , "extra" : [ 1 , -2.5e+3 , true , false , null , { "a" : [ ] } ] } "#,
        r#"{"id":null,"model":null,"choices":null,"x_groq":{"id":"req_1","usage":{"queue_time":0.001}}}"#,
        r#"{"id":"x","choices":[{"index":0,"delta":{"reasoning":"hmm","tool_calls":[]},"finish_reason":"something_new"}],"usage":{"prompt_tokens":1,"prompt_cache_hit_tokens":7,"cache_creation_input_tokens":null}}"#,
        r#"{}"#,
        r#"{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}"#,
        r#"{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Par"}},{"index":1,"id":null,"type":null,"function":null,"extra_content":null}]},"finish_reason":null}]}"#,
    ];

    /// Replies in the shapes providers send, each of which the reader must read.
    const REPLIES: &[&str] = &[
        r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"gpt-4.1-2025-04-14","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help?","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_1"}"#,
        r#"{"id":"x","model":"deepseek-reasoner","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning_content":"2 + 2 = 4\n"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_cache_hit_tokens":2}}"#,
        r#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":null,"refusal":"I can't."},"finish_reason":"content_filter"}]}"#,
        r#"{"id":"x","choices":[{"index":0,"message":null,"finish_reason":null},{"index":1,"message":{"content":"b","reasoning":"r"}}],"usage":{}}"#,
        r#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":null,"function":{"name":"now","arguments":null},"extra_content":null},{}]},"finish_reason":"tool_calls"}]}"#,
    ];

    fn assert_same_chunk(text: &str) {
        let fast = read_chunk(text.as_bytes());
        let slow: ChatChunk = serde_json::from_str(text).unwrap();
        assert_eq!(fast.as_ref(), Some(&slow), "{text}");
    }

    fn assert_same_reply(text: &str) {
        let fast = read_reply(text.as_bytes());
        let slow: ChatResponse = serde_json::from_str(text).unwrap();
        assert_eq!(fast.as_ref(), Some(&slow), "{text}");
    }

    #[test]
    fn reads_the_usual_chunks_as_the_deserializer_does() {
        for chunk in CHUNKS {
            assert_same_chunk(chunk);
        }
        let chunk = read_chunk(CHUNKS[5].as_bytes()).unwrap();
        assert_eq!(chunk.text(), Some("café 😀 / \\ \u{8}\u{c}\r\t"));
        let usage = read_chunk(CHUNKS[3].as_bytes()).unwrap().usage.unwrap();
        assert_eq!((usage.cache_read_tokens, usage.reasoning_tokens), (4, 3));
        let chunk = read_chunk(CHUNKS[11].as_bytes()).unwrap();
        let function = chunk.tool_calls()[0].function.as_ref().unwrap();
        assert_eq!(function.arguments.as_deref(), Some("{\"city\": \"Par"));
    }

    #[test]
    fn reads_the_usual_replies_as_the_deserializer_does() {
        for reply in REPLIES {
            assert_same_reply(reply);
        }
        let reply = read_reply(REPLIES[0].as_bytes()).unwrap();
        assert_eq!(reply.text(), Some("Hello! How can I help?"));
        assert_eq!(reply.usage.unwrap().total_tokens, 18);
        let calls = read_reply(REPLIES[4].as_bytes())
            .unwrap()
            .tool_calls()
            .to_vec();
        assert_eq!(calls[0].function.arguments, "{\"city\":\"Paris\"}");
        // A missing `type` is a function call, as the deserializer's default has it.
        assert_eq!(
            (calls[1].kind.as_str(), calls[2].kind.as_str()),
            ("function", "function")
        );
    }

    #[test]
    fn leaves_what_it_does_not_read_exactly_to_the_deserializer() {
        let chunks = [
            // Provider metadata, an error, content parts: read by the deserializer.
            r#"{"id":"x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"extra_content":{"google":{}}}]}}]}"#,
            r#"{"id":"x","error":{"message":"overloaded"},"choices":[]}"#,
            // What the deserializer rejects.
            r#"{"id":"x","id":"y"}"#,
            r#"{"id":"x",}"#,
            r#"{"id":"x"} {}"#,
            r#"{"id":"\ud83d"}"#,
            r#"{"id":7}"#,
            r#"{"id":"x","created":-1}"#,
            r#"{"id":"x","created":1.0}"#,
            r#"{"id":"x","created":01}"#,
            r#"{"id":"x","choices":[{"index":4294967296}]}"#,
            r#"{"id":"x","choices":[null]}"#,
            r#"{"id":"x","other":01}"#,
            r#"{"id":"x","other":1.}"#,
            r#"{"id":"x","other":tru}"#,
            r#"{"id":"a	b"}"#,
            r#"{"id":"x""#,
            r#"[]"#,
        ];
        for chunk in chunks {
            assert!(read_chunk(chunk.as_bytes()).is_none(), "{chunk}");
        }
        assert!(read_chunk(b"{\"id\":\"\xff\"}").is_none());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(17), "]".repeat(17));
        assert!(read_chunk(deep.as_bytes()).is_none());
        let shallow = format!("{{\"a\":{}{}}}", "[".repeat(16), "]".repeat(16));
        assert_same_chunk(&shallow);
        let replies = [
            r#"{"id":"x","choices":[{"index":0,"message":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"message":{"tool_calls":[{"id":"c","extra_content":{"google":{}}}]}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"message":{"tool_calls":[{"id":"c","type":null}]}}]}"#,
            r#"{"id":"x","choices":[{"index":0,"message":{"tool_calls":[{"id":"c","function":null}]}}]}"#,
        ];
        for reply in replies {
            assert!(read_reply(reply.as_bytes()).is_none(), "{reply}");
        }
    }

    /// Runs of bytes that JSON gives meaning to.
    const RUNS: &[&[u8]] = &[
        b"null",
        b"\"id\"",
        b"\"x\":1,",
        b"\\u00e9",
        b"\\ud83d",
        b"[]",
        b"{}",
    ];

    /// A byte, or a short run of bytes, that JSON gives meaning to.
    fn edit() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::sample::select(&b"{}[]\",:\\ 0123456789-+.eEnultrfsa\x01\xc3\xa9\xff"[..])
                .prop_map(|byte| vec![byte]),
            proptest::sample::select(RUNS).prop_map(<[u8]>::to_vec),
        ]
    }

    /// `text` with `edits` applied: each replaces, or is inserted at, a position.
    fn mutate(text: &str, edits: &[(usize, bool, Vec<u8>)]) -> Vec<u8> {
        let mut bytes = text.as_bytes().to_vec();
        for (at, replace, edit) in edits {
            let at = at % (bytes.len() + 1);
            if *replace && at < bytes.len() {
                bytes.remove(at);
            }
            bytes.splice(at..at, edit.iter().copied());
        }
        bytes
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        #[test]
        fn a_plain_run_ends_where_a_scan_byte_by_byte_ends(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![20 => 0x20u8..0x7f, 1 => proptest::num::u8::ANY],
                0..60,
            ),
            ascii_only in proptest::bool::ANY,
        ) {
            let stop = |byte: &u8| matches!(byte, b'"' | b'\\' | 0..=0x1f) || (ascii_only && *byte >= 0x80);
            let expected = bytes.iter().position(stop).unwrap_or(bytes.len());
            proptest::prop_assert_eq!(plain_run(&bytes, ascii_only), expected);
        }

        #[test]
        fn a_read_chunk_is_what_the_deserializer_reads(
            which in 0..CHUNKS.len(),
            edits in proptest::collection::vec((0usize..400, proptest::bool::ANY, edit()), 1..4),
        ) {
            let text = mutate(CHUNKS[which], &edits);
            if let Some(fast) = read_chunk(&text) {
                let slow = serde_json::from_slice::<ChatChunk>(&text);
                proptest::prop_assert_eq!(Some(fast), slow.ok(), "{}", String::from_utf8_lossy(&text));
            }
        }

        #[test]
        fn a_read_reply_is_what_the_deserializer_reads(
            which in 0..REPLIES.len(),
            edits in proptest::collection::vec((0usize..400, proptest::bool::ANY, edit()), 1..4),
        ) {
            let text = mutate(REPLIES[which], &edits);
            if let Some(fast) = read_reply(&text) {
                let slow = serde_json::from_slice::<ChatResponse>(&text);
                proptest::prop_assert_eq!(Some(fast), slow.ok(), "{}", String::from_utf8_lossy(&text));
            }
        }
    }
}
