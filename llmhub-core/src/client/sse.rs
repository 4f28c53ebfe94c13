//! Server-sent events: a byte-level SSE parser.
//!
//! It works on bytes (so a chunk boundary inside a UTF-8 character or a line is harmless),
//! hands out each event's data as a zero-copy [`Bytes`] slice of the received buffer in the
//! common one-`data:`-line case, skips comments and keep-alives, accepts `\n`, `\r\n` and `\r`
//! line ends, and leaves to the protocol what the end of the body means (OpenAI sends
//! `[DONE]`, Anthropic `message_stop`).
//!
//! A line, and the data of an event, may not pass a cap: a server that sends bytes without a
//! line end, or `data:` lines without end, is stopped there instead of filling the memory.

use bytes::{Bytes, BytesMut};

use crate::client::settings::DEFAULT_MAX_EVENT_BYTES;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<Bytes>,
    /// The `data:` lines, joined with `\n`.
    pub data: Bytes,
}

/// A line or an event's data passed the parser's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// An incremental SSE parser: push bytes in, take events out.
#[derive(Debug)]
pub(crate) struct SseParser {
    buf: BytesMut,
    /// How much of `buf` is known to hold no line end.
    scanned: usize,
    event: Option<Bytes>,
    data: Option<Bytes>,
    /// Whether the data of the current event spans several lines (and so was copied).
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
            scanned: 0,
            event: None,
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
        !self.buf.is_empty() || self.data.is_some() || self.joined.is_some()
    }

    /// The next complete event, if the buffer holds one. With `eof`, the end of the body
    /// ends the last line and the last event. A line or an event's data longer than the
    /// limit is an error (the parser is then of no further use).
    pub fn next_event(&mut self, eof: bool) -> Result<Option<SseEvent>, TooLarge> {
        loop {
            let Some((line_len, eol_len)) = self.find_line_end(eof) else {
                if self.buf.len() > self.limit {
                    return Err(TooLarge);
                }
                if eof {
                    return Ok(self.dispatch());
                }
                return Ok(None);
            };
            if line_len > self.limit {
                return Err(TooLarge);
            }
            let line = self.buf.split_to(line_len + eol_len).freeze();
            self.scanned = 0;
            let line = line.slice(..line_len);
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    return Ok(Some(event));
                }
                continue;
            }
            if line[0] == b':' {
                continue; // a comment or keep-alive
            }
            let (field, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let start = if line.get(colon + 1) == Some(&b' ') {
                        colon + 2
                    } else {
                        colon + 1
                    };
                    (line.slice(..colon), line.slice(start..))
                }
                None => (line.clone(), Bytes::new()),
            };
            match &field[..] {
                b"data" => self.add_data(value)?,
                b"event" => self.event = Some(value),
                _ => {} // id, retry and unknown fields do not matter here
            }
        }
    }

    fn add_data(&mut self, value: Bytes) -> Result<(), TooLarge> {
        if let Some(joined) = &mut self.joined {
            if joined.len() + 1 + value.len() > self.limit {
                return Err(TooLarge);
            }
            joined.extend_from_slice(b"\n");
            joined.extend_from_slice(&value);
        } else if let Some(first) = self.data.take() {
            if first.len() + 1 + value.len() > self.limit {
                return Err(TooLarge);
            }
            let mut joined = BytesMut::with_capacity(first.len() + 1 + value.len());
            joined.extend_from_slice(&first);
            joined.extend_from_slice(b"\n");
            joined.extend_from_slice(&value);
            self.joined = Some(joined);
        } else {
            self.data = Some(value);
        }
        Ok(())
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let data = match (self.joined.take(), self.data.take()) {
            (Some(joined), _) => joined.freeze(),
            (None, Some(data)) => data,
            (None, None) => {
                self.event = None;
                return None;
            }
        };
        Some(SseEvent {
            event: self.event.take(),
            data,
        })
    }

    /// The length of the first line in the buffer and of its line end.
    fn find_line_end(&mut self, eof: bool) -> Option<(usize, usize)> {
        let start = self.scanned;
        match self.buf[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
        {
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
            None if eof && !self.buf.is_empty() => Some((self.buf.len(), 0)),
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

    fn parse_in_pieces(input: &[u8], piece: usize) -> Vec<(Option<String>, String)> {
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
            .map(|e| {
                (
                    e.event.map(|b| String::from_utf8(b.to_vec()).unwrap()),
                    String::from_utf8(e.data.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn every_split_gives_the_same_events() {
        let input = ": keep-alive\r\n\r\nevent: delta\r\ndata: {\"t\":\"héllo 😀\"}\r\n\r\ndata:a\ndata: b\n\nid: 7\nretry: 10\ndata: [DONE]\r\r: bye\n";
        let expected = vec![
            (Some("delta".to_owned()), "{\"t\":\"héllo 😀\"}".to_owned()),
            (None, "a\nb".to_owned()),
            (None, "[DONE]".to_owned()),
        ];
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
        assert_eq!(
            parse_in_pieces(b"data: x\n\ndata: y", 3),
            vec![(None, "x".to_owned()), (None, "y".to_owned())]
        );
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
    fn partial_data_is_reported() {
        let mut parser = SseParser::default();
        parser.push(b"data: {\"a\"");
        assert!(parser.next_event(false).unwrap().is_none());
        assert!(parser.has_partial());
    }
}
