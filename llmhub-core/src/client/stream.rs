//! [`ChatStream`], the stream of [`ChatChunk`]s a streamed chat call returns: bytes from the
//! connection go through the SSE parser, then the protocol's stream decoder.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use crate::client::deadline::Alarm;
use crate::client::hooks::CallRecord;
use crate::client::message::ToolCall;
use crate::client::positions::Positions;
use crate::client::protocol::{Step, StreamDecoder};
use crate::client::response::{ChatChunk, ChatResponse, Choice, Delta, ResponseMessage, Usage};
use crate::client::settings::deadline_from;
use crate::client::sse::{SseParser, TooLarge};
use crate::client::state::KeyMasker;
use crate::client::status::describe_reqwest;
use crate::error::{Error, Result};

type BodyStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// The reply to a streamed chat call: a [`Stream`] of [`ChatChunk`]s, the same for every
/// provider.
///
/// The stream ends (`None`) once the reply is complete. A connection cut before that, a
/// provider `error` event or a pause longer than the idle timeout ends it with an `Err` instead,
/// so a cut reply never looks like a short one. The last chunk of an OpenAI-compatible stream
/// carries [`usage`](ChatChunk::usage). A stream dropped before its end is reported to the
/// after-call hooks and tracing as cancelled ([`Error::Cancelled`]).
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
    /// Wakes the stream at its idle deadline as it was when last set; bytes that arrived
    /// since moved the deadline on (see `last_read`), which the alarm looks at only when the
    /// earlier one passes.
    idle: Alarm,
    /// When bytes last arrived (or the stream started).
    last_read: std::time::Instant,
    eof: bool,
    done: bool,
    usage: Option<Usage>,
    /// Taken when the stream ends; a stream dropped before that leaves it to report the call
    /// as cancelled.
    record: Option<CallRecord>,
    /// Masks the provider's key in errors a server sends inside the stream.
    masker: KeyMasker,
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
        max_event_bytes: usize,
        record: CallRecord,
        masker: KeyMasker,
    ) -> ChatStream {
        let now = std::time::Instant::now();
        ChatStream {
            body: Box::pin(response.bytes_stream()),
            parser: SseParser::new(max_event_bytes),
            decoder,
            provider,
            idle_timeout,
            idle: Alarm::new(),
            last_read: now,
            eof: false,
            done: false,
            usage: None,
            record: Some(record),
            masker,
        }
    }

    /// Puts `first` (the bytes read to see that the stream started) back in front of the
    /// body.
    pub(crate) fn unread(&mut self, first: Bytes) {
        let rest = std::mem::replace(&mut self.body, Box::pin(futures_util::stream::empty()));
        self.body = Box::pin(futures_util::stream::once(async { Ok(first) }).chain(rest));
    }

    fn finish(&mut self, outcome: Result<(), &Error>) {
        self.done = true;
        // The idle deadline is over: its slot is freed (and the task no longer woken).
        self.idle = Alarm::new();
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
        // Where each choice index sits in `reply.choices`, and for each choice where each
        // tool-call index sits in its `tool_calls`.
        let mut choices = Positions::default();
        let mut tool_calls: Vec<Positions> = Vec::new();
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
                let at = choices.position(part.index, || {
                    reply.choices.push(Choice {
                        index: part.index,
                        ..Choice::default()
                    });
                    tool_calls.push(Positions::default());
                });
                let choice = &mut reply.choices[at];
                add_delta(&mut choice.message, &mut tool_calls[at], part.delta);
                if part.finish_reason.is_some() {
                    choice.finish_reason = part.finish_reason;
                }
            }
        }
        Ok(reply)
    }
}

/// Adds a chunk's delta to a choice's message; `positions` maps the choice's tool-call indices
/// to places in `message.tool_calls`.
fn add_delta(message: &mut ResponseMessage, positions: &mut Positions, delta: Delta) {
    if delta.role.is_some() {
        message.role = delta.role;
    }
    if let Some(text) = delta.content {
        message.content.get_or_insert_default().push_str(&text);
    }
    if let Some(text) = delta.reasoning.or(delta.reasoning_content) {
        message.reasoning.get_or_insert_default().push_str(&text);
    }
    if let Some(block) = delta.reasoning_block {
        message.reasoning_blocks.push(block);
    }
    for piece in delta.tool_calls {
        let at = positions.position(piece.index, || {
            message.tool_calls.push(ToolCall {
                kind: "function".into(),
                ..ToolCall::default()
            });
        });
        let call = &mut message.tool_calls[at];
        if let Some(id) = piece.id {
            call.id = id;
        }
        if let Some(kind) = piece.kind {
            call.kind = kind;
        }
        if piece.extra_content.is_some() {
            call.extra_content = piece.extra_content;
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
        // Whether `last_read` was read from the clock in this poll (and so is the time now).
        let mut read_now = false;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            let event = match this.parser.next_event(this.eof) {
                Ok(event) => event,
                Err(TooLarge) => {
                    let err = Error::TooLarge {
                        provider: this.provider.to_string(),
                        what: "stream line or event",
                        limit: this.parser.limit(),
                        setter: "max_event_bytes",
                    };
                    return this.fail(err);
                }
            };
            if let Some(event) = event {
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
                    // A clock read, not a timer reset: the alarm catches up when it goes off.
                    this.last_read = std::time::Instant::now();
                    read_now = true;
                }
                Poll::Ready(Some(Err(err))) => {
                    let err = this.truncated(&describe_reqwest(&err));
                    return this.fail(err);
                }
                Poll::Ready(None) => this.eof = true,
                Poll::Pending => {
                    let deadline = deadline_from(this.last_read, this.idle_timeout);
                    let now = read_now.then_some(this.last_read);
                    if this
                        .idle
                        .poll_passed(deadline, this.idle_timeout, now, cx)
                        .is_ready()
                    {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tool_piece(index: u32, id: Option<&str>, arguments: &str) -> Delta {
        serde_json::from_value(serde_json::json!({"tool_calls": [{
            "index": index, "id": id, "function": {"arguments": arguments}
        }]}))
        .unwrap()
    }

    #[test]
    fn a_bogus_tool_call_index_does_not_allocate_for_it() {
        let mut message = ResponseMessage::default();
        let delta: Delta = serde_json::from_str(
            r#"{"tool_calls": [{"index": 4294967295, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]}"#,
        )
        .unwrap();
        add_delta(&mut message, &mut Positions::default(), delta);
        assert_eq!(message.tool_calls.len(), 1);
        assert_eq!(message.tool_calls[0].id, "c1");
    }

    #[test]
    fn tool_call_pieces_join_by_index_whatever_it_starts_at() {
        let mut message = ResponseMessage::default();
        let mut positions = Positions::default();
        for delta in [
            tool_piece(7, Some("a"), "{\"x\":"),
            tool_piece(7, None, "1}"),
            tool_piece(9, Some("b"), "{}"),
        ] {
            add_delta(&mut message, &mut positions, delta);
        }
        let calls: Vec<(&str, &str)> = message
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.function.arguments.as_str()))
            .collect();
        assert_eq!(calls, [("a", "{\"x\":1}"), ("b", "{}")]);
    }

    #[test]
    fn positions_keep_first_appearance_order_past_the_short_list() {
        let mut positions = Positions::default();
        let mut added = 0;
        // Descending indices, each seen twice, well past the switch to a map.
        for index in (0..100u32).rev().flat_map(|i| [i * 3, i * 3]) {
            let at = positions.position(index, || added += 1);
            assert_eq!(at, 99 - (index / 3) as usize);
        }
        assert_eq!((positions.len(), added), (100, 100));
        assert!(matches!(positions, Positions::Many(_)));
        assert_eq!(positions.get(297), Some(0));
        assert_eq!(positions.get(1), None);
    }
}
