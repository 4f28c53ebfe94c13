//! Server-sent events: a byte-level SSE parser.
//!
//! It works on bytes (so a chunk boundary inside a UTF-8 character or a line is harmless),
//! hands out each event's data as a zero-copy [`Bytes`] slice of the received buffer in the
//! common one-`data:`-line case, skips comments and keep-alives, accepts `\n`, `\r\n` and `\r`
//! line ends, and leaves to the protocol what the end of the body means (OpenAI sends
//! `[DONE]`, Anthropic `message_stop`).

use bytes::{Bytes, BytesMut};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<Bytes>,
    /// The `data:` lines, joined with `\n`.
    pub data: Bytes,
}

/// An incremental SSE parser: push bytes in, take events out.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: BytesMut,
    /// How much of `buf` is known to hold no line end.
    scanned: usize,
    event: Option<Bytes>,
    data: Option<Bytes>,
    /// Whether the data of the current event spans several lines (and so was copied).
    joined: Option<BytesMut>,
}

impl SseParser {
    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes that are not yet a whole event are buffered.
    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.data.is_some() || self.joined.is_some()
    }

    /// The next complete event, if the buffer holds one. With `eof`, the end of the body
    /// ends the last line and the last event.
    pub fn next_event(&mut self, eof: bool) -> Option<SseEvent> {
        loop {
            let Some((line_len, eol_len)) = self.find_line_end(eof) else {
                if eof {
                    return self.dispatch();
                }
                return None;
            };
            let line = self.buf.split_to(line_len + eol_len).freeze();
            self.scanned = 0;
            let line = line.slice(..line_len);
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    return Some(event);
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
                b"data" => self.add_data(value),
                b"event" => self.event = Some(value),
                _ => {} // id, retry and unknown fields do not matter here
            }
        }
    }

    fn add_data(&mut self, value: Bytes) {
        if let Some(joined) = &mut self.joined {
            joined.extend_from_slice(b"\n");
            joined.extend_from_slice(&value);
        } else if let Some(first) = self.data.take() {
            let mut joined = BytesMut::with_capacity(first.len() + 1 + value.len());
            joined.extend_from_slice(&first);
            joined.extend_from_slice(b"\n");
            joined.extend_from_slice(&value);
            self.joined = Some(joined);
        } else {
            self.data = Some(value);
        }
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
            while let Some(event) = parser.next_event(false) {
                events.push(event);
            }
        }
        while let Some(event) = parser.next_event(true) {
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
                while let Some(event) = parser.next_event(false) {
                    events.push(event.data);
                }
            }
            while let Some(event) = parser.next_event(true) {
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
    fn partial_data_is_reported() {
        let mut parser = SseParser::default();
        parser.push(b"data: {\"a\"");
        assert!(parser.next_event(false).is_none());
        assert!(parser.has_partial());
    }
}
