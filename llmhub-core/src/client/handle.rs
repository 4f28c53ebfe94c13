//! Typed role handles: what generated code returns for each role ([`ChatRole`],
//! [`EmbeddingRole`], …). The mode is in the type, so a wrong-mode call does not compile; the
//! role is reached by its slot, never by hashing its name.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::client::call;
use crate::client::hub::Hub;
use crate::client::media::{AudioFile, ImageResponse, Speech, Transcription};
use crate::client::message::{IntoEmbeddingInput, IntoMessages};
use crate::client::response::{ChatResponse, EmbeddingResponse};
use crate::client::state::RoleRef;
use crate::client::stream::ChatStream;
use crate::client::tool::Tool;
use crate::client::tools::{self, ToolRun, Toolbox};
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

/// Modes whose roles serve chat calls (`completion`, `completion_json`, `stream`, and the
/// tool calls).
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

    /// A chat completion whose reply is parsed into a `T`: the model is asked for a reply
    /// that fits `T`'s JSON Schema (OpenAI: `response_format` in strict mode, unless the role
    /// has `strict_json: false`; Anthropic: a forced tool). A reply that does not fit is sent
    /// back once with serde's error and its path for a corrected one (the role param
    /// `json_repair_retries`, default 1); after that, [`Error::Structured`](crate::Error::Structured)
    /// names the path and keeps the raw reply.
    ///
    /// ```no_run
    /// use llmhub_core::{ChatRole, Message};
    /// use llmhub_core::schemars::JsonSchema;
    ///
    /// #[derive(serde::Deserialize, JsonSchema)]
    /// #[schemars(crate = "llmhub_core::schemars")]
    /// struct Invoice { number: String, total: f64, paid: Option<bool> }
    ///
    /// # async fn demo(role: ChatRole<'_>) -> llmhub_core::Result<()> {
    /// let invoice: Invoice = role
    ///     .completion_json([Message::user("Invoice 42, total 99.50 EUR, unpaid.")])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn completion_json<'a, T>(
        &'a self,
        messages: impl IntoMessages + Send + 'a,
    ) -> RoleCall<'a, T>
    where
        M: SupportsChat,
        T: JsonSchema + DeserializeOwned + Send + 'static,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::completion_json::<T>(
            &self.hub.shared,
            role,
            messages,
            self.params.as_ref(),
        ))
    }

    /// A chat completion with `tools` the model may call; read its calls with
    /// [`ChatResponse::tool_calls`] and their arguments with
    /// [`ToolCall::arguments`](crate::ToolCall::arguments). A call's tools replace the role's
    /// `tools` param.
    pub fn completion_with_tools<'a>(
        &'a self,
        messages: impl IntoMessages + Send + 'a,
        tools: &'a [Tool],
    ) -> RoleCall<'a, ChatResponse>
    where
        M: SupportsChat,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(call::completion_with_tools(
            &self.hub.shared,
            role,
            messages,
            tools,
            self.params.as_ref(),
        ))
    }

    /// A bounded tool loop: calls the model with the toolbox's tools, runs the tools it calls
    /// (those of one step at once), sends the results back, and repeats until the model
    /// answers without calling a tool, in at most `max_steps` model calls
    /// ([`Error::ToolLoop`](crate::Error::ToolLoop), with the conversation, after that).
    /// Arguments that do not fit a tool's type and unknown tool names are answered to the
    /// model as the tool's error.
    ///
    /// ```no_run
    /// use llmhub_core::{ChatRole, Message, Toolbox};
    /// use llmhub_core::schemars::JsonSchema;
    ///
    /// #[derive(serde::Deserialize, JsonSchema)]
    /// #[schemars(crate = "llmhub_core::schemars")]
    /// struct WeatherArgs { city: String }
    ///
    /// # async fn demo(role: ChatRole<'_>) -> llmhub_core::Result<()> {
    /// let toolbox = Toolbox::new().tool("weather", "Current weather in a city", |args: WeatherArgs| async move {
    ///     Ok(serde_json::json!({"city": args.city, "celsius": 21}))
    /// });
    /// let run = role.run_tools([Message::user("Weather in Paris?")], &toolbox, 4).await?;
    /// println!("{}", run.text().unwrap_or_default());
    /// # Ok(()) }
    /// ```
    pub fn run_tools<'a>(
        &'a self,
        messages: impl IntoMessages + Send + 'a,
        toolbox: &'a Toolbox,
        max_steps: usize,
    ) -> RoleCall<'a, ToolRun>
    where
        M: SupportsChat,
    {
        let role = RoleRef::Slot(self.slot);
        Box::pin(tools::run_tools(
            &self.hub.shared,
            role,
            messages,
            toolbox,
            max_steps,
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
