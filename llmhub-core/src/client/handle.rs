//! Typed role handles: what generated code returns for each role ([`ChatRole`],
//! [`EmbeddingRole`], …). The mode is in the type, so a wrong-mode call does not compile; the
//! role is reached by its slot, never by hashing its name.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use crate::client::call;
use crate::client::hub::Hub;
use crate::client::media::{AudioFile, ImageResponse, Speech, Transcription};
use crate::client::message::{IntoEmbeddingInput, IntoMessages};
use crate::client::response::{ChatResponse, EmbeddingResponse};
use crate::client::state::RoleRef;
use crate::client::stream::ChatStream;
use crate::config::Params;
use crate::error::Result;

/// Mode marker types, one per [`Mode`](crate::Mode), for [`RoleHandle`]'s type parameter.
pub mod mode {
    /// A `chat` role.
    #[derive(Debug, Clone, Copy)]
    pub struct Chat;
    /// A `tool` role (chat with tool calling).
    #[derive(Debug, Clone, Copy)]
    pub struct Tool;
    /// An `embedding` role.
    #[derive(Debug, Clone, Copy)]
    pub struct Embedding;
    /// An `image` role.
    #[derive(Debug, Clone, Copy)]
    pub struct Image;
    /// An `audio` role.
    #[derive(Debug, Clone, Copy)]
    pub struct Audio;
    /// An `other` role.
    #[derive(Debug, Clone, Copy)]
    pub struct Other;
}

/// Modes whose roles serve chat calls (`completion`, `stream`).
#[diagnostic::on_unimplemented(
    message = "this role's mode (`{Self}`) does not allow chat calls",
    label = "`.completion()` and `.stream()` need a role with mode `chat` or `tool`",
    note = "call the method of the role's mode: embedding `.embedding()`, image `.generate()`, audio `.transcribe()`/`.speech()`, other `.raw()`; or give the role `mode: chat` in llmhub.yaml"
)]
pub trait SupportsChat {}
impl SupportsChat for mode::Chat {}
impl SupportsChat for mode::Tool {}

/// Modes whose roles serve embedding calls.
#[diagnostic::on_unimplemented(
    message = "this role's mode (`{Self}`) does not allow embedding calls",
    label = "`.embedding()` needs a role with mode `embedding`",
    note = "call the method of the role's mode: chat/tool `.completion()`/`.stream()`, image `.generate()`, audio `.transcribe()`/`.speech()`, other `.raw()`"
)]
pub trait SupportsEmbedding {}
impl SupportsEmbedding for mode::Embedding {}

/// Modes whose roles generate images.
#[diagnostic::on_unimplemented(
    message = "this role's mode (`{Self}`) does not allow image generation",
    label = "`.generate()` needs a role with mode `image`",
    note = "call the method of the role's mode: chat/tool `.completion()`, embedding `.embedding()`, audio `.transcribe()`/`.speech()`, other `.raw()`"
)]
pub trait SupportsImage {}
impl SupportsImage for mode::Image {}

/// Modes whose roles transcribe or speak.
#[diagnostic::on_unimplemented(
    message = "this role's mode (`{Self}`) does not allow audio calls",
    label = "`.transcribe()` and `.speech()` need a role with mode `audio`",
    note = "call the method of the role's mode: chat/tool `.completion()`, embedding `.embedding()`, image `.generate()`, other `.raw()`"
)]
pub trait SupportsAudio {}
impl SupportsAudio for mode::Audio {}

/// Modes whose roles make raw calls.
#[diagnostic::on_unimplemented(
    message = "this role's mode (`{Self}`) does not allow raw calls",
    label = "`.raw()` needs a role with mode `other`",
    note = "call the method of the role's mode: chat/tool `.completion()`, embedding `.embedding()`, image `.generate()`, audio `.transcribe()`/`.speech()`"
)]
pub trait SupportsOther {}
impl SupportsOther for mode::Other {}

/// The future of a typed call; `.await` it.
///
/// A concrete (boxed) future rather than an `async fn`'s opaque one, so that calling a method
/// the role's mode does not allow is reported once, with the mode's message, and not again at
/// the `.await`. The box is one small allocation next to an HTTP request.
pub type RoleCall<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// A typed handle on one role of a [`Hub`].
///
/// A call the role's mode does not allow does not compile:
///
/// ```compile_fail,E0277
/// # async fn demo(hub: llmhub_core::Hub) {
/// let role: llmhub_core::EmbeddingRole = llmhub_core::__private::handle(&hub, 0);
/// role.completion([llmhub_core::Message::user("Hi")]).await;
/// # }
/// ```
///
/// ```compile_fail,E0277
/// # async fn demo(hub: llmhub_core::Hub) {
/// let role: llmhub_core::ChatRole = llmhub_core::__private::handle(&hub, 0);
/// role.embedding("text").await;
/// # }
/// ```
///
/// Generated code creates the handles (`roles.llm_inference()`); each reaches its role by its
/// slot in the hub's compiled role table, never by hashing its name.
///
/// ```no_run
/// use llmhub_core::{ChatRole, Message, Params};
///
/// # async fn demo(role: ChatRole<'_>) -> llmhub_core::Result<()> {
/// let reply = role.completion([Message::user("Hello")]).await?;
/// let mut cold = Params::new();
/// cold.insert("temperature".into(), 0.0.into());
/// let exact = role.with_params(cold).completion([Message::user("2+2?")]).await?;
/// # Ok(()) }
/// ```
pub struct RoleHandle<'h, M> {
    hub: &'h Hub,
    slot: usize,
    params: Option<Params>,
    mode: PhantomData<fn() -> M>,
}

impl<M> Clone for RoleHandle<'_, M> {
    fn clone(&self) -> Self {
        RoleHandle {
            hub: self.hub,
            slot: self.slot,
            params: self.params.clone(),
            mode: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for RoleHandle<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleHandle")
            .field("slot", &self.slot)
            .field("mode", &std::any::type_name::<M>())
            .field("params", &self.params)
            .finish()
    }
}

/// A `chat` role.
pub type ChatRole<'h> = RoleHandle<'h, mode::Chat>;
/// A `tool` role.
pub type ToolRole<'h> = RoleHandle<'h, mode::Tool>;
/// An `embedding` role.
pub type EmbeddingRole<'h> = RoleHandle<'h, mode::Embedding>;
/// An `image` role.
pub type ImageRole<'h> = RoleHandle<'h, mode::Image>;
/// An `audio` role.
pub type AudioRole<'h> = RoleHandle<'h, mode::Audio>;
/// An `other` role.
pub type OtherRole<'h> = RoleHandle<'h, mode::Other>;

impl<'h, M> RoleHandle<'h, M> {
    /// The handle on slot `slot` of `hub` (generated code reaches it through `__private`).
    pub(crate) fn new(hub: &'h Hub, slot: usize) -> Self {
        RoleHandle {
            hub,
            slot,
            params: None,
            mode: PhantomData,
        }
    }

    /// Per-call params, merged over the role's params (an override wins). Calling it again
    /// adds to the earlier overrides.
    pub fn with_params(mut self, params: Params) -> Self {
        match &mut self.params {
            Some(existing) => existing.extend(params),
            None => self.params = Some(params),
        }
        self
    }

    /// The hub this handle calls through.
    pub fn hub(&self) -> &'h Hub {
        self.hub
    }

    /// A chat completion.
    pub fn completion<'a>(
        &'a self,
        messages: impl IntoMessages + Send + 'a,
    ) -> RoleCall<'a, ChatResponse>
    where
        M: SupportsChat,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::completion(
            &self.hub.shared,
            role,
            messages,
            self.params.as_ref(),
        ))
    }

    /// A streamed chat completion.
    pub fn stream<'a>(&'a self, messages: impl IntoMessages + Send + 'a) -> RoleCall<'a, ChatStream>
    where
        M: SupportsChat,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::stream(
            &self.hub.shared,
            role,
            messages,
            self.params.as_ref(),
        ))
    }

    /// Embeddings of one text or a batch.
    pub fn embedding<'a>(
        &'a self,
        input: impl IntoEmbeddingInput + Send + 'a,
    ) -> RoleCall<'a, EmbeddingResponse>
    where
        M: SupportsEmbedding,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::embedding(
            &self.hub.shared,
            role,
            input,
            self.params.as_ref(),
        ))
    }

    /// Images generated from `prompt` (see [`Hub::generate`]).
    pub fn generate<'a>(&'a self, prompt: &'a str) -> RoleCall<'a, ImageResponse>
    where
        M: SupportsImage,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::generate(
            &self.hub.shared,
            role,
            prompt,
            self.params.as_ref(),
        ))
    }

    /// The text of an audio file (see [`Hub::transcribe`]).
    pub fn transcribe(&self, audio: AudioFile) -> RoleCall<'_, Transcription>
    where
        M: SupportsAudio,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(async move {
            call::transcribe(&self.hub.shared, role, &audio, self.params.as_ref()).await
        })
    }

    /// `text` spoken (see [`Hub::speech`]).
    pub fn speech<'a>(&'a self, text: &'a str) -> RoleCall<'a, Speech>
    where
        M: SupportsAudio,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::speech(
            &self.hub.shared,
            role,
            text,
            self.params.as_ref(),
        ))
    }

    /// A POST of `body` to the provider's base URL + `path` (see [`Hub::raw`]).
    pub fn raw<'a>(
        &'a self,
        path: &'a str,
        body: serde_json::Value,
    ) -> RoleCall<'a, serde_json::Value>
    where
        M: SupportsOther,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(async move {
            call::raw(&self.hub.shared, role, path, &body, self.params.as_ref()).await
        })
    }
}
