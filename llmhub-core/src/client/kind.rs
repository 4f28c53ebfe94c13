//! The call kinds: what each call sends ([`Payload`]) and, per kind, the table of what the
//! rest of the runtime needs to know about it ([`CallKind`]): its one name (the method of the
//! typed handle and of the dynamic API, the span's `llmhub.call`, the hook's `call`), its
//! OpenTelemetry operation name, the modes that serve it and what a hook sees of its input.
//!
//! Adding a call kind is a variant here (and its row in each `match` of [`CallKind`]), its
//! encoding in the protocols, and its handle and dynamic methods.

use serde_json::Value;

use crate::client::media::AudioFile;
use crate::client::message::{EmbeddingInput, Message};
use crate::client::structured::OutputRequest;
use crate::client::tool::Tool;
use crate::config::Mode;

/// What a call sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// A chat call, streamed or not; with a typed reply asked for (`output`) or tools given
    /// with the call (`tools`). Both are `None` on a plain chat call.
    Chat {
        messages: &'a [Message],
        stream: bool,
        output: Option<OutputRequest<'a>>,
        tools: Option<&'a [Tool]>,
    },
    /// An embedding call.
    Embedding(&'a EmbeddingInput),
    /// An image generation call.
    Image { prompt: &'a str },
    /// A text-to-speech call.
    Speech { text: &'a str },
    /// A transcription call (a multipart body).
    Transcription { audio: &'a AudioFile },
    /// A POST of `body` (merged with model and params) to the base URL + `path`.
    Raw { path: &'a str, body: &'a Value },
}

impl<'a> Payload<'a> {
    /// The kind of call this payload makes.
    pub fn kind(self) -> CallKind {
        match self {
            Payload::Chat {
                stream: false,
                output: Some(_),
                ..
            } => CallKind::CompletionJson,
            Payload::Chat { stream: false, .. } => CallKind::Completion,
            Payload::Chat { stream: true, .. } => CallKind::Stream,
            Payload::Embedding(_) => CallKind::Embedding,
            Payload::Image { .. } => CallKind::Generate,
            Payload::Speech { .. } => CallKind::Speech,
            Payload::Transcription { .. } => CallKind::Transcribe,
            Payload::Raw { .. } => CallKind::Raw,
        }
    }

    /// What the before-call hooks see of the input.
    pub fn hook_input(self) -> CallInput<'a> {
        match self {
            Payload::Chat { messages, .. } => CallInput::Messages(messages),
            Payload::Embedding(input) => CallInput::Embedding(input),
            Payload::Image { prompt: text } | Payload::Speech { text } => CallInput::Text(text),
            Payload::Transcription { audio } => CallInput::Audio(audio),
            Payload::Raw { path, body } => CallInput::Raw { path, body },
        }
    }
}

/// What a call sends, as a hook sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum CallInput<'a> {
    /// The messages of a chat call.
    Messages(&'a [Message]),
    /// The texts of an embedding call.
    Embedding(&'a EmbeddingInput),
    /// The prompt of an image call, or the text of a speech call.
    Text(&'a str),
    /// The audio file of a transcription call.
    Audio(&'a AudioFile),
    /// The path and JSON body of a raw call (`other` roles).
    Raw {
        /// The path under the provider's base URL.
        path: &'a str,
        /// The JSON body given.
        body: &'a serde_json::Value,
    },
}

/// A kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Completion,
    CompletionJson,
    Stream,
    Embedding,
    Generate,
    Transcribe,
    Speech,
    Raw,
}

impl CallKind {
    /// The call's one name: the typed handle's method, the span's `llmhub.call`, the hooks'
    /// `call` and the `call` of [`Error::ModeMismatch`](crate::Error::ModeMismatch).
    pub const fn name(self) -> &'static str {
        match self {
            CallKind::Completion => "completion",
            CallKind::CompletionJson => "completion_json",
            CallKind::Stream => "stream",
            CallKind::Embedding => "embedding",
            CallKind::Generate => "generate",
            CallKind::Transcribe => "transcribe",
            CallKind::Speech => "speech",
            CallKind::Raw => "raw",
        }
    }

    /// The OpenTelemetry GenAI `gen_ai.operation.name`: the conventions' name where they have
    /// one, else the call's name.
    pub const fn operation(self) -> &'static str {
        match self {
            CallKind::Completion | CallKind::CompletionJson | CallKind::Stream => "chat",
            CallKind::Embedding => "embeddings",
            other => other.name(),
        }
    }

    /// The mode whose roles serve this call (chat calls are also served by `tool` roles).
    pub const fn serves(self, mode: Mode) -> bool {
        match self {
            CallKind::Completion | CallKind::CompletionJson | CallKind::Stream => mode.is_chat(),
            CallKind::Embedding => matches!(mode, Mode::Embedding),
            CallKind::Generate => matches!(mode, Mode::Image),
            CallKind::Transcribe | CallKind::Speech => matches!(mode, Mode::Audio),
            CallKind::Raw => matches!(mode, Mode::Other),
        }
    }

    /// Whether the reply is a stream (read chunk by chunk, not whole).
    pub const fn is_stream(self) -> bool {
        matches!(self, CallKind::Stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CallKind; 8] = [
        CallKind::Completion,
        CallKind::CompletionJson,
        CallKind::Stream,
        CallKind::Embedding,
        CallKind::Generate,
        CallKind::Transcribe,
        CallKind::Speech,
        CallKind::Raw,
    ];

    /// The mode → methods table of `Mode::methods` and the kinds agree: a mode's methods are
    /// exactly the calls it serves.
    #[test]
    fn each_mode_lists_exactly_the_calls_it_serves() {
        for mode in Mode::ALL {
            let served: Vec<&str> = ALL
                .into_iter()
                .filter(|kind| kind.serves(mode))
                .map(CallKind::name)
                .collect();
            assert_eq!(served, mode.methods(), "{mode}");
        }
    }
}
