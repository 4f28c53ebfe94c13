//! Server-sent events: a byte-level SSE parser.
//!
//! It works on bytes (so a chunk boundary inside a UTF-8 character or a line is harmless),
//! hands out each event's data as a zero-copy [`Bytes`] slice of the received buffer in the
//! common one-`data:`-line case, skips comments and keep-alives, accepts `\n`, `\r\n` and `\r`
//! line ends, and leaves to the protocol what the end of the body means (OpenAI sends
//! `[DONE]`, Anthropic `message_stop`). The `event:` field is read and dropped: both protocols
//! name an event's type inside its data.
//!
//! Lines are found by position in the buffer, not split off one by one: an event's data is
//! the one piece cut from the buffer (a reference count taken once per event, where cutting
//! each line, and its field and value, would take and drop several).
//!
//! A line, and the data of an event, may not pass a cap: a server that sends bytes without a
//! line end, or `data:` lines without end, is stopped there instead of filling the memory.

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

use crate::client::settings::DEFAULT_MAX_EVENT_BYTES;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    /// The `data:` lines, joined with `\n`.
    pub data: Bytes,
}

/// A line or an event's data passed the parser's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// An incremental SSE parser: push bytes in, take events out.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Received bytes from the start of the event being read (or of the next line).
    buf: BytesMut,
    /// Where the next line starts in `buf`.
    line_start: usize,
    /// How much of `buf` is known to hold no line end (at least `line_start`).
    scanned: usize,
    /// The event's data so far, when it is one `data:` line: where it is in `buf`.
    data: Option<Range<usize>>,
    /// The event's data when it spans several lines (and so was copied).
    joined: Option<BytesMut>,
    /// The longest line, and the longest data of one event, in bytes.
    limit: usize,
}

impl Default for SseParser {
    fn default() -> SseParser {
        SseParser::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser that refuses lines and event data longer than `limit` bytes.
    pub fn new(limit: usize) -> SseParser {
        SseParser {
            buf: BytesMut::new(),
            line_start: 0,
            scanned: 0,
            data: None,
            joined: None,
            limit,
        }
    }

    /// The longest line or event data this parser accepts.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes that are not yet a whole event are buffered.
    pub fn has_partial(&self) -> bool {
        self.buf.len() > self.line_start || self.data.is_some() || self.joined.is_some()
    }

    /// The next complete event, if the buffer holds one. With `eof`, the end of the body
    /// ends the last line and the last event. A line or an event's data longer than the
    /// limit is an error (the parser is then of no further use).
    pub fn next_event(&mut self, eof: bool) -> Result<Option<SseEvent>, TooLarge> {
        loop {
            let Some((line_end, eol_len)) = self.find_line_end(eof) else {
                if self.buf.len() - self.line_start > self.limit {
                    return Err(TooLarge);
                }
                if eof {
                    return Ok(self.dispatch());
                }
                if self.line_start > self.limit
                    && let Some(range) = self.data.take()
                {
                    // Lines without data (comments, say) keep coming after the event's one
                    // `data:` line: the data is copied out, so that the buffer need not keep
                    // them all.
                    self.joined = Some(BytesMut::from(&self.buf[range]));
                }
                if self.data.is_none() {
                    self.drop_read();
                }
                return Ok(None);
            };
            let line = self.line_start..line_end;
            self.line_start = line_end + eol_len;
            self.scanned = self.line_start;
            if line.len() > self.limit {
                return Err(TooLarge);
            }
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    return Ok(Some(event));
                }
                continue;
            }
            let text = &self.buf[line.clone()];
            if text[0] == b':' {
                continue; // a comment or keep-alive
            }
            let (field, value) = match memchr::memchr(b':', text) {
                Some(colon) => {
                    let skip = if text.get(colon + 1) == Some(&b' ') {
                        2
                    } else {
                        1
                    };
                    (&text[..colon], line.start + colon + skip..line.end)
                }
                None => (text, line.end..line.end),
            };
            if field == b"data" {
                self.add_data(value)?;
            }
            // `event`, `id`, `retry` and unknown fields do not matter here.
        }
    }

    /// Adds a `data:` line's value (where it is in `buf`) to the event's data.
    fn add_data(&mut self, value: Range<usize>) -> Result<(), TooLarge> {
        if let Some(joined) = &mut self.joined {
            if joined.len() + 1 + value.len() > self.limit {
                return Err(TooLarge);
            }
            joined.extend_from_slice(b"\n");
            joined.extend_from_slice(&self.buf[value]);
        } else if let Some(first) = self.data.take() {
            if first.len() + 1 + value.len() > self.limit {
                return Err(TooLarge);
            }
            let mut joined = BytesMut::with_capacity(first.len() + 1 + value.len());
            joined.extend_from_slice(&self.buf[first]);
            joined.extend_from_slice(b"\n");
            joined.extend_from_slice(&self.buf[value]);
            self.joined = Some(joined);
        } else {
            self.data = Some(value);
        }
        Ok(())
    }

    /// The event read so far, if it has data; the lines read are dropped from the buffer.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let data = match (self.joined.take(), self.data.take()) {
            (Some(joined), _) => joined.freeze(),
            (None, Some(range)) => {
                // The data is cut from the buffer, the rest of its event dropped around it.
                self.buf.advance(range.start);
                let data = self.buf.split_to(range.len()).freeze();
                self.line_start -= range.end;
                self.scanned -= range.end;
                data
            }
            (None, None) => {
                self.drop_read();
                return None;
            }
        };
        self.drop_read();
        Some(SseEvent { data })
    }

    /// Drops the lines already read from the front of the buffer.
    fn drop_read(&mut self) {
        self.buf.advance(self.line_start);
        self.scanned -= self.line_start;
        self.line_start = 0;
    }

    /// Where the next line ends in the buffer, and the length of its line end.
    fn find_line_end(&mut self, eof: bool) -> Option<(usize, usize)> {
        let start = self.scanned;
        match memchr::memchr2(b'\n', b'\r', &self.buf[start..]) {
            Some(offset) => {
                let at = start + offset;
                if self.buf[at] == b'\n' {
                    return Some((at, 1));
                }
                match self.buf.get(at + 1) {
                    Some(b'\n') => Some((at, 2)),
                    Some(_) => Some((at, 1)),
                    // A `\r` at the end: a `\n` may follow in the next chunk.
                    None if eof => Some((at, 1)),
                    None => {
                        self.scanned = at;
                        None
                    }
                }
            }
            None if eof && self.buf.len() > self.line_start => Some((self.buf.len(), 0)),
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<String> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in input.chunks(piece) {
            parser.push(chunk);
            while let Some(event) = parser.next_event(false).unwrap() {
                events.push(event);
            }
        }
        while let Some(event) = parser.next_event(true).unwrap() {
            events.push(event);
        }
        events
            .into_iter()
            .map(|e| String::from_utf8(e.data.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn every_split_gives_the_same_events() {
        let input = ": keep-alive\r\n\r\nevent: delta\r\ndata: {\"t\":\"héllo 😀\"}\r\n\r\ndata:a\ndata: b\n\nid: 7\nretry: 10\ndata: [DONE]\r\r: bye\n";
        let expected = vec!["{\"t\":\"héllo 😀\"}", "a\nb", "[DONE]"];
        for piece in 1..input.len() {
            assert_eq!(
                parse_in_pieces(input.as_bytes(), piece),
                expected,
                "piece {piece}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn random_cuts_give_the_same_events(cuts in proptest::collection::vec(0usize..200, 0..20)) {
            let input = "data: {\"a\":\"é😀\"}\r\n\r\n: ping\n\nevent: x\ndata: 1\ndata: 2\n\ndata: [DONE]\n\n".as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % input.len()).collect();
            cuts.sort_unstable();
            let mut parser = SseParser::default();
            let mut events = Vec::new();
            let mut start = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                parser.push(&input[start..cut]);
                start = cut;
                while let Some(event) = parser.next_event(false).unwrap() {
                    events.push(event.data);
                }
            }
            while let Some(event) = parser.next_event(true).unwrap() {
                events.push(event.data);
            }
            let events: Vec<&[u8]> = events.iter().map(|b| &b[..]).collect();
            proptest::prop_assert_eq!(events, vec!["{\"a\":\"é😀\"}".as_bytes(), b"1\n2", b"[DONE]"]);
        }
    }

    #[test]
    fn last_event_without_blank_line_is_dispatched_at_eof() {
        assert_eq!(parse_in_pieces(b"data: x\n\ndata: y", 3), vec!["x", "y"]);
    }

    #[test]
    fn lines_and_events_past_the_limit_are_refused() {
        // A line without end, fed in pieces: refused once the buffer passes the limit.
        let mut parser = SseParser::new(16);
        parser.push(b"data: 0123456789");
        assert_eq!(parser.next_event(false), Ok(None));
        parser.push(b"abcdef");
        assert_eq!(parser.next_event(false), Err(TooLarge));
        // A long line that arrives whole.
        let mut parser = SseParser::new(16);
        parser.push(b"data: 0123456789abcdef\n\n");
        assert_eq!(parser.next_event(false), Err(TooLarge));
        // Short `data:` lines that join into a long event.
        let mut parser = SseParser::new(16);
        parser.push(b"data: 01234567\ndata: 01234567\n");
        assert_eq!(parser.next_event(false), Err(TooLarge));
        let mut parser = SseParser::new(16);
        parser.push(b"data: 0123\ndata: 0123\ndata: 0123\ndata: 0123\n");
        assert_eq!(parser.next_event(false), Err(TooLarge));
        // At the limit exactly: accepted.
        let mut parser = SseParser::new(16);
        parser.push(b"data: 0123456789\ndata:abcd\n\n");
        assert_eq!(
            parser.next_event(false).unwrap().unwrap().data,
            &b"0123456789\nabcd"[..]
        );
    }

    #[test]
    fn lines_after_an_events_data_are_not_all_kept() {
        let mut parser = SseParser::new(64);
        parser.push(b"data: x\n");
        for _ in 0..1000 {
            parser.push(b": keep-alive\n");
            assert_eq!(parser.next_event(false), Ok(None));
            assert!(
                parser.buf.len() <= 64 + 13,
                "{} bytes kept",
                parser.buf.len()
            );
        }
        parser.push(b"data: y\n\n");
        assert_eq!(
            parser.next_event(false).unwrap().unwrap().data,
            &b"x\ny"[..]
        );
        assert!(!parser.has_partial());
    }

    #[test]
    fn partial_data_is_reported() {
        let mut parser = SseParser::default();
        parser.push(b"data: {\"a\"");
        assert!(parser.next_event(false).unwrap().is_none());
        assert!(parser.has_partial());
    }

    /// Seeds for the fuzz run: real streams of both protocols.
    const SEEDS: [&str; 4] = [
        "data: {\"id\":\"c1\",\"model\":\"gpt-4.1\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n\
         data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\n\
         : keep-alive\r\n\r\n\
         data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n\
         data: [DONE]\n\n",
        "data: {\"error\":{\"message\":\"boom\",\"code\":429}}\n\ndata: {\"id\":\"x\",\"error\":{\"message\":\"m\"},\"choices\":[{\"index\":0,\"finish_reason\":\"error\",\"delta\":{}}]}\n\n",
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
         event: ping\ndata: {\"type\":\"ping\"}\n\n\
         event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \\u00e9\"}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"tu\",\"name\":\"get\",\"input\":{}}}\n\n\
         event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":1}\"}}\n\n\
         event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n\
         event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n\
         event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    ];

    /// Pieces a mutation may insert: what parsers trip on.
    const TOKENS: [&[u8]; 24] = [
        b"\n",
        b"\r",
        b"\r\n",
        b"\n\n",
        b":",
        b"data:",
        b"data: ",
        b"event: ",
        b"[DONE]",
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b"\\",
        b"\\u",
        b"\\ud800",
        b"1e999",
        b"-1",
        b"4294967296",
        b"18446744073709551616",
        b"null",
        b"\xff\xfe",
        b"\xf0\x9f\x98",
    ];

    fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
        for _ in 0..rng.usize(1..8) {
            let at = rng.usize(..=input.len());
            match rng.u8(..7) {
                0 if !input.is_empty() => {
                    let i = rng.usize(..input.len());
                    input[i] ^= 1 << rng.u8(..8);
                }
                1 => input.insert(at, rng.u8(..)),
                2 => {
                    let end = (at + rng.usize(..64)).min(input.len());
                    input.drain(at..end);
                }
                3 => {
                    let end = (at + rng.usize(..256)).min(input.len());
                    let copy = input[at..end].to_vec();
                    let to = rng.usize(..=input.len());
                    input.splice(to..to, copy);
                }
                4 => {
                    let seed = SEEDS[rng.usize(..SEEDS.len())].as_bytes();
                    let from = rng.usize(..seed.len());
                    let end = (from + rng.usize(..200)).min(seed.len());
                    input.splice(at..at, seed[from..end].iter().copied());
                }
                5 => input.truncate(at),
                _ => {
                    let token = TOKENS[rng.usize(..TOKENS.len())];
                    input.splice(at..at, token.iter().copied());
                }
            }
        }
    }

    /// Feeds `input` in random pieces to a parser and both protocols' stream decoders (and
    /// their whole-reply decoders, on each event's data), as a stream would.
    fn run_case(rng: &mut fastrand::Rng, input: &[u8]) {
        use crate::client::protocol::{Step, StreamDecoder, WireProtocol, anthropic, openai};
        let limit = if rng.bool() {
            64
        } else {
            DEFAULT_MAX_EVENT_BYTES
        };
        let mut parser = SseParser::new(limit);
        let wires: [&dyn WireProtocol; 2] = [
            openai::OpenAi::for_base_url("http://127.0.0.1/v1"),
            &anthropic::Anthropic,
        ];
        let mut decoders: Vec<Option<StreamDecoder>> =
            wires.iter().map(|w| Some(w.stream_decoder())).collect();
        let mut feed = |event: SseEvent| {
            for wire in wires {
                let _ = wire.decode_chat(event.data.clone());
            }
            for slot in &mut decoders {
                if let Some(decoder) = slot {
                    match decoder.on_event(event.clone(), "fuzz") {
                        Ok(Step::Chunk(chunk)) => {
                            let _ = (chunk.text(), chunk.finish_reason());
                        }
                        Ok(Step::Skip) => {}
                        Ok(Step::Done) | Err(_) => *slot = None,
                    }
                }
            }
        };
        let mut start = 0;
        while start < input.len() {
            let end = (start + rng.usize(1..=64)).min(input.len());
            parser.push(&input[start..end]);
            start = end;
            loop {
                match parser.next_event(false) {
                    Ok(Some(event)) => feed(event),
                    Ok(None) => break,
                    Err(TooLarge) => return,
                }
            }
        }
        while let Ok(Some(event)) = parser.next_event(true) {
            feed(event);
        }
        let _ = parser.has_partial();
        for decoder in decoders.iter().flatten() {
            let _ = decoder.at_end();
        }
    }

    /// Mutated streams of both protocols through the parser and the decoders: no input may
    /// panic. `LLMHUB_FUZZ_CASES` (default 100000) and `LLMHUB_FUZZ_SEED` choose the run:
    /// `cargo test -p llmhub-core --lib fuzz_sse -- --ignored --nocapture`.
    #[test]
    #[ignore = "a long fuzz run; run it by hand"]
    fn fuzz_sse_streams_never_panic() {
        let env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let cases = env("LLMHUB_FUZZ_CASES", 100_000);
        let seed = env("LLMHUB_FUZZ_SEED", 0x11_4b);
        let mut rng = fastrand::Rng::with_seed(seed);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let started = std::time::Instant::now();
        let (mut panics, mut bytes) = (0u64, 0u64);
        let mut first_panic = None;
        for case in 0..cases {
            let mut input = SEEDS[rng.usize(..SEEDS.len())].as_bytes().to_vec();
            mutate(&mut rng, &mut input);
            bytes += input.len() as u64;
            let case_seed = rng.u64(..);
            let outcome = std::panic::catch_unwind(|| {
                run_case(&mut fastrand::Rng::with_seed(case_seed), &input)
            });
            if outcome.is_err() {
                panics += 1;
                first_panic.get_or_insert((case, input));
            }
        }
        std::panic::set_hook(hook);
        println!(
            "fuzz_sse: seed {seed}, {cases} streams ({bytes} bytes) in {:.1}s, {panics} panics",
            started.elapsed().as_secs_f64()
        );
        if let Some((case, input)) = first_panic {
            panic!(
                "case {case} panicked on {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}
