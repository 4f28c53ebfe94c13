//! Server-sent events: a byte-level SSE parser, and [`ChatStream`], the stream of
//! [`ChatChunk`]s a streamed chat call returns.
//!
//! The parser is ours rather than a crate's: it works on bytes (so a chunk boundary inside a
//! UTF-8 character or a line is harmless), hands out each event's data as a zero-copy
//! [`Bytes`] slice of the received buffer in the common one-`data:`-line case, skips comments
//! and keep-alives, accepts `\n`, `\r\n` and `\r` line ends, and lets the protocol decide what
//! the end of the body means (OpenAI sends `[DONE]`, Anthropic `message_stop`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};

use crate::error::{Error, Result};
use crate::hooks::CallRecord;
use crate::message::ToolCall;
use crate::providers::StreamDecoder;
use crate::response::{ChatChunk, ChatResponse, Choice, Delta, ResponseMessage, Usage};

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

/// What a protocol makes of one event.
pub(crate) enum Step {
    /// A chunk for the caller.
    Chunk(ChatChunk),
    /// Nothing for the caller (a ping, a block start without content, …).
    Skip,
    /// The reply is complete.
    Done,
}

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The reply to a streamed chat call: a [`Stream`] of [`ChatChunk`]s, the same for every
/// provider.
///
/// The stream ends (`None`) once the reply is complete. A connection cut before that, a
/// provider `error` event or a pause longer than the idle timeout ends it with an `Err` instead,
/// so a cut reply never looks like a short one. The last chunk of an OpenAI-compatible stream
/// carries [`usage`](ChatChunk::usage).
///
/// ```no_run
/// # async fn demo(hub: llmhub_core::Hub) -> llmhub_core::Result<()> {
/// use futures_util::StreamExt;
/// use llmhub_core::Message;
///
/// let mut stream = hub.stream_completion("llm.inference", [Message::user("Hi")], None).await?;
/// while let Some(chunk) = stream.next().await {
///     print!("{}", chunk?.text().unwrap_or(""));
/// }
/// # Ok(()) }
/// ```
pub struct ChatStream {
    body: BodyStream,
    parser: SseParser,
    decoder: StreamDecoder,
    provider: std::sync::Arc<str>,
    idle_timeout: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    eof: bool,
    done: bool,
    usage: Option<Usage>,
    record: Option<CallRecord>,
    /// Masks the provider's key in errors a server sends inside the stream.
    masker: crate::hub::KeyMasker,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("provider", &self.provider)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl ChatStream {
    pub(crate) fn new(
        response: reqwest::Response,
        decoder: StreamDecoder,
        provider: std::sync::Arc<str>,
        idle_timeout: Duration,
        record: CallRecord,
        masker: crate::hub::KeyMasker,
    ) -> ChatStream {
        ChatStream {
            body: Box::pin(response.bytes_stream()),
            parser: SseParser::default(),
            decoder,
            provider,
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            eof: false,
            done: false,
            usage: None,
            record: Some(record),
            masker,
        }
    }

    fn finish(&mut self, outcome: Result<(), &Error>) {
        self.done = true;
        if let Some(record) = self.record.take() {
            record.finish(outcome.map(|()| self.usage));
        }
    }

    /// Reads what has already arrived after the last event, so that the end of the body is
    /// seen and the connection goes back to the pool instead of being closed.
    fn drain_ready(&mut self, cx: &mut Context<'_>) {
        for _ in 0..4 {
            match self.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                _ => return,
            }
        }
    }

    fn fail(&mut self, err: Error) -> Poll<Option<Result<ChatChunk>>> {
        let err = self.masker.mask(err);
        self.finish(Err(&err));
        Poll::Ready(Some(Err(err)))
    }

    fn truncated(&self, detail: &str) -> Error {
        Error::Transport {
            provider: self.provider.to_string(),
            message: format!(
                "the stream ended before the reply was complete ({detail}); the connection was cut, retry the call"
            ),
        }
    }
}

impl ChatStream {
    /// Reads the rest of the stream and joins the chunks into one [`ChatResponse`]: text and
    /// tool-call pieces concatenated, the finish reason and the usage of the last chunks. (It
    /// has no raw body: [`ChatResponse::raw_bytes`] is empty.)
    pub async fn collect_response(mut self) -> Result<ChatResponse> {
        let mut reply = ChatResponse::default();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if reply.id.is_empty() {
                reply.id = chunk.id;
                reply.model = chunk.model;
                reply.created = chunk.created;
            }
            if chunk.usage.is_some() {
                reply.usage = chunk.usage;
            }
            for part in chunk.choices {
                let at = match reply.choices.iter().position(|c| c.index == part.index) {
                    Some(at) => at,
                    None => {
                        reply.choices.push(Choice {
                            index: part.index,
                            ..Choice::default()
                        });
                        reply.choices.len() - 1
                    }
                };
                let choice = &mut reply.choices[at];
                add_delta(&mut choice.message, part.delta);
                if part.finish_reason.is_some() {
                    choice.finish_reason = part.finish_reason;
                }
            }
        }
        Ok(reply)
    }
}

fn add_delta(message: &mut ResponseMessage, delta: Delta) {
    if delta.role.is_some() {
        message.role = delta.role;
    }
    if let Some(text) = delta.content {
        message.content.get_or_insert_default().push_str(&text);
    }
    for piece in delta.tool_calls {
        // Indices count up from 0; a bogus huge one must not make us allocate for it.
        let at = (piece.index as usize).min(message.tool_calls.len());
        if message.tool_calls.len() <= at {
            message.tool_calls.resize_with(at + 1, || ToolCall {
                kind: "function".into(),
                ..ToolCall::default()
            });
        }
        let call = &mut message.tool_calls[at];
        if let Some(id) = piece.id {
            call.id = id;
        }
        if let Some(kind) = piece.kind {
            call.kind = kind;
        }
        if let Some(function) = piece.function {
            call.function
                .name
                .push_str(function.name.as_deref().unwrap_or(""));
            call.function
                .arguments
                .push_str(function.arguments.as_deref().unwrap_or(""));
        }
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(event) = this.parser.next_event(this.eof) {
                match this.decoder.on_event(event, &this.provider) {
                    Ok(Step::Chunk(chunk)) => {
                        if let Some(usage) = chunk.usage {
                            this.usage = Some(usage);
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    Ok(Step::Skip) => continue,
                    Ok(Step::Done) => {
                        this.drain_ready(cx);
                        this.finish(Ok(()));
                        return Poll::Ready(None);
                    }
                    Err(err) => return this.fail(err),
                }
            }
            if this.eof {
                if this.parser.has_partial() {
                    let err = this.truncated("a partial event");
                    return this.fail(err);
                }
                return match this.decoder.at_end() {
                    Ok(()) => {
                        this.finish(Ok(()));
                        Poll::Ready(None)
                    }
                    Err(detail) => {
                        let err = this.truncated(detail);
                        this.fail(err)
                    }
                };
            }
            match this.body.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => {
                    this.parser.push(&bytes);
                    // `checked_add`: a builder may set `Duration::MAX` to mean "no limit".
                    let now = tokio::time::Instant::now();
                    let deadline = now
                        .checked_add(this.idle_timeout)
                        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
                    this.idle.as_mut().reset(deadline);
                }
                Poll::Ready(Some(Err(err))) => {
                    let err = this.truncated(&crate::providers::describe_reqwest(&err));
                    return this.fail(err);
                }
                Poll::Ready(None) => this.eof = true,
                Poll::Pending => {
                    if this.idle.as_mut().poll(cx).is_ready() {
                        let err = Error::Timeout {
                            provider: this.provider.to_string(),
                            what: "stream idle",
                            after: this.idle_timeout,
                        };
                        return this.fail(err);
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for ChatStream {
    /// A stream dropped before its end is reported to hooks and tracing as unfinished, not as
    /// a success: the caller did not get the whole reply.
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            let dropped = Error::Transport {
                provider: self.provider.to_string(),
                message: "the stream was dropped by the caller before the reply ended".into(),
            };
            record.finish(Err(&dropped));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bogus_tool_call_index_does_not_allocate_for_it() {
        let mut message = ResponseMessage::default();
        let delta: Delta = serde_json::from_str(
            r#"{"tool_calls": [{"index": 4294967295, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}"#,
        )
        .unwrap();
        add_delta(&mut message, delta);
        assert_eq!(message.tool_calls.len(), 1);
        assert_eq!(message.tool_calls[0].id, "c1");
    }

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
