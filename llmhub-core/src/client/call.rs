//! The one path of every call, typed or dynamic: find the role (by slot or by name), check
//! that its mode serves the call, check the input, encode the body with the provider's
//! protocol, run the before-call hooks, send with retries, then read the reply, the stream or
//! the embeddings (running the after-call hooks and closing the span).
//!
//! Each call kind has one function here, named after its method: the typed handle and the
//! dynamic API both call it.

use std::sync::Arc;

use bytes::Bytes;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::client::deadline::within;
use crate::client::hooks::{CallContext, CallRecord};
use crate::client::kind::{CallKind, Payload};
use crate::client::limits::estimate_tokens;
use crate::client::media::{self, AudioFile, AudioTask, ImageResponse, Speech, Transcription};
use crate::client::message::{IntoEmbeddingInput, IntoMessages, Message};
use crate::client::params::MergedParams;
use crate::client::provider::Provider;
use crate::client::response::{ChatResponse, EmbeddingResponse, Usage};
use crate::client::route::{Leg, Plan, first_bytes};
use crate::client::settings::rare;
use crate::client::state::{HubState, KeyMasker, RoleRef, Shared, Target};
use crate::client::status::decode_error;
use crate::client::stream::ChatStream;
use crate::client::structured::{self, OutputRequest};
use crate::client::tool::Tool;
use crate::client::transport::{
    self, read_capped, reply_too_large, timeout_error, transport_error,
};
use crate::config::{Mode, Params};
use crate::error::{Error, Result};

/// Awaits `future` inside `span`, or bare when nothing listens (a disabled span): entering
/// the span on every poll, and moving the future into the wrapper that does, would be wasted.
macro_rules! in_span {
    ($span:expr, $future:expr) => {{
        let span: &tracing::Span = $span;
        let future = $future;
        if span.is_disabled() {
            future.await
        } else {
            future.instrument(span.clone()).await
        }
    }};
}

/// A chat completion.
pub(crate) fn completion<'a>(
    shared: &'a Shared,
    role: RoleRef<'a>,
    messages: impl IntoMessages,
    overrides: Option<&'a Params>,
) -> impl Future<Output = Result<ChatResponse>> + 'a {
    completion_given(shared, role, messages, None, overrides)
}

/// A chat completion parsed into `T`, with repair rounds (see `structured`). (A plain
/// function returning a future, as [`completion_given`].)
pub(crate) fn completion_json<'a, T>(
    shared: &'a Shared,
    role: RoleRef<'a>,
    messages: impl IntoMessages,
    overrides: Option<&'a Params>,
) -> impl Future<Output = Result<T>> + 'a
where
    T: JsonSchema + DeserializeOwned + 'static,
{
    let messages = messages_of(shared, role, messages).map_err(Box::new);
    async move {
        let mut messages = messages.map_err(|err| *err)?;
        let schema = structured::schema_of::<T>();
        let mut repairs_left = None;
        loop {
            let payload = Payload::Chat {
                messages: &messages,
                stream: false,
                output: Some(OutputRequest { schema: &schema }),
                tools: None,
            };
            let reply = chat(shared, role, &payload, overrides).await?;
            let mismatch = match structured::parse_reply::<T>(&reply, &schema.name) {
                Ok(value) => return Ok(value),
                Err(mismatch) => mismatch,
            };
            // The role's params are read again only when a reply does not fit.
            let left = match repairs_left.as_mut() {
                Some(left) => left,
                None => repairs_left.insert(repair_rounds(shared, role, overrides)?),
            };
            if *left == 0 {
                return Err(mismatch.into_error(shared.state.load().role_name(role)));
            }
            *left -= 1;
            mismatch.ask_again(&mut messages);
        }
    }
}

/// A chat completion with `tools` given with the call.
pub(crate) fn completion_with_tools<'a>(
    shared: &'a Shared,
    role: RoleRef<'a>,
    messages: impl IntoMessages,
    tools: &'a [Tool],
    overrides: Option<&'a Params>,
) -> impl Future<Output = Result<ChatResponse>> + 'a {
    completion_given(shared, role, messages, Some(tools), overrides)
}

/// A chat completion, with the call's `tools` if any. (A plain function returning a future,
/// not an `async fn`: the messages are converted before the future is made, so that it holds
/// their `Vec`, not the value they came from as well. A failed conversion is boxed, so that
/// the error, larger than the `Vec`, takes no room in the future.)
fn completion_given<'a>(
    shared: &'a Shared,
    role: RoleRef<'a>,
    messages: impl IntoMessages,
    tools: Option<&'a [Tool]>,
    overrides: Option<&'a Params>,
) -> impl Future<Output = Result<ChatResponse>> + 'a {
    let messages = messages_of(shared, role, messages).map_err(Box::new);
    async move {
        let messages = messages.map_err(|err| *err)?;
        let payload = Payload::Chat {
            messages: &messages,
            stream: false,
            output: None,
            tools,
        };
        chat(shared, role, &payload, overrides).await
    }
}

/// One step of a tool loop: `messages` with `tools`.
pub(crate) async fn chat_with_tools(
    shared: &Shared,
    role: RoleRef<'_>,
    messages: &[Message],
    tools: &[Tool],
    overrides: Option<&Params>,
) -> Result<ChatResponse> {
    let payload = Payload::Chat {
        messages,
        stream: false,
        output: None,
        tools: Some(tools),
    };
    chat(shared, role, &payload, overrides).await
}

/// Sends a whole (not streamed) chat call and decodes the reply.
async fn chat(
    shared: &Shared,
    role: RoleRef<'_>,
    payload: &Payload<'_>,
    overrides: Option<&Params>,
) -> Result<ChatResponse> {
    let sent = send(shared, role, payload, overrides).await?;
    sent.read(|p, body| p.wire.decode_chat(body), |r| r.usage)
        .await
}

/// The repair rounds of `role` with `overrides`.
fn repair_rounds(shared: &Shared, role: RoleRef<'_>, overrides: Option<&Params>) -> Result<u64> {
    let state = shared.state.load();
    let target = state.target(role)?;
    Ok(structured::repair_rounds(&MergedParams::new(
        target.params,
        overrides,
    )))
}

/// A streamed chat completion (a plain function returning a future, as
/// [`completion_given`]).
pub(crate) fn stream(
    shared: &Shared,
    role: RoleRef<'_>,
    messages: impl IntoMessages,
    overrides: Option<&Params>,
) -> impl Future<Output = Result<ChatStream>> {
    let messages = messages_of(shared, role, messages).map_err(Box::new);
    async move {
        let messages = messages.map_err(|err| *err)?;
        let payload = Payload::Chat {
            messages: &messages,
            stream: true,
            output: None,
            tools: None,
        };
        Ok(send(shared, role, &payload, overrides).await?.stream())
    }
}

pub(crate) async fn embedding(
    shared: &Shared,
    role: RoleRef<'_>,
    input: impl IntoEmbeddingInput,
    overrides: Option<&Params>,
) -> Result<EmbeddingResponse> {
    let input = input.into_embedding_input();
    let sent = send(shared, role, &Payload::Embedding(&input), overrides).await?;
    sent.read(|p, body| p.wire.decode_embedding(body), |r| r.usage)
        .await
}

pub(crate) async fn generate(
    shared: &Shared,
    role: RoleRef<'_>,
    prompt: &str,
    overrides: Option<&Params>,
) -> Result<ImageResponse> {
    let sent = send(shared, role, &Payload::Image { prompt }, overrides).await?;
    sent.read(
        |p, body| p.wire.decode_image(body).map(|r| r.answered_by(&p.id)),
        |_| None,
    )
    .await
}

pub(crate) async fn transcribe(
    shared: &Shared,
    role: RoleRef<'_>,
    audio: &AudioFile,
    overrides: Option<&Params>,
) -> Result<Transcription> {
    let sent = send(shared, role, &Payload::Transcription { audio }, overrides).await?;
    sent.read(|p, body| p.wire.decode_transcription(body), |_| None)
        .await
}

pub(crate) async fn speech(
    shared: &Shared,
    role: RoleRef<'_>,
    text: &str,
    overrides: Option<&Params>,
) -> Result<Speech> {
    let sent = send(shared, role, &Payload::Speech { text }, overrides).await?;
    // Only speech needs the response's Content-Type; other calls do not copy it.
    let content_type = sent
        .answer
        .response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    sent.read(
        |_, bytes| {
            Ok(Speech {
                bytes,
                content_type,
            })
        },
        |_| None,
    )
    .await
}

pub(crate) async fn raw(
    shared: &Shared,
    role: RoleRef<'_>,
    path: &str,
    body: &serde_json::Value,
    overrides: Option<&Params>,
) -> Result<serde_json::Value> {
    let sent = send(shared, role, &Payload::Raw { path, body }, overrides).await?;
    sent.read(|_, body| serde_json::from_slice(&body), |_| None)
        .await
}

pub(crate) fn messages_of(
    shared: &Shared,
    role: RoleRef<'_>,
    messages: impl IntoMessages,
) -> Result<Vec<Message>> {
    messages
        .into_messages()
        .map_err(|message| Error::InvalidInput {
            role: shared.state.load().role_name(role),
            message,
        })
}

/// A request that got a successful status; the caller reads it as a reply, a stream or
/// embeddings.
struct Sent {
    /// The hub state the call was sent with: the one `Arc` of it the call holds.
    state: Arc<HubState>,
    /// What came back, and from which provider of `state`.
    answer: Answer,
}

/// What came back for a request that got a successful status, with the index of the
/// provider that sent it (in the state the call was made with, kept by [`Sent`]).
struct Answer {
    response: reqwest::Response,
    /// When the attempt that got the response runs out of time: its whole body must be read
    /// by then.
    deadline: std::time::Instant,
    /// A stream's first bytes, read to see that it started (routed calls only).
    first: Option<Bytes>,
    provider: usize,
    record: CallRecord,
}

impl Sent {
    /// Reads the whole body, then decodes it with `decode`.
    ///
    /// (A plain function returning a future, not an `async fn`: an `async fn` would keep
    /// `self` twice in its future, as the argument and as the binding it moves to.)
    #[allow(clippy::manual_async_fn)]
    fn read<T>(
        mut self,
        decode: impl FnOnce(&Provider, Bytes) -> serde_json::Result<T>,
        usage: fn(&T) -> Option<Usage>,
    ) -> impl Future<Output = Result<T>> {
        async move {
            let response = &mut self.answer.response;
            let deadline = self.answer.deadline;
            let provider = &self.state.providers[self.answer.provider];
            let result = in_span!(self.answer.record.span(), async move {
                // The attempt's timeout covers this read too.
                let limit = provider.max_response_bytes;
                if response.content_length().is_some_and(|n| n > limit as u64) {
                    return Err(reply_too_large(provider));
                }
                let (body, cut) = within(deadline, provider.timeout, read_capped(response, limit))
                    .await
                    .map_err(|_| timeout_error(provider, "request"))?
                    .map_err(|err| transport_error(provider, &err))?;
                if cut {
                    return Err(reply_too_large(provider));
                }
                // A decode error may quote the body, and so an echoed secret.
                decode(provider, body)
                    .map_err(|err| provider.mask(decode_error(&provider.id, &err)))
            });
            self.answer.record.finish(result.as_ref().map(usage));
            result
        }
    }

    fn stream(self) -> ChatStream {
        let Sent { state, answer } = self;
        let provider = &state.providers[answer.provider];
        let decoder = provider.wire.stream_decoder();
        let id = provider.id.clone();
        let idle = provider.idle_timeout;
        let max_event_bytes = provider.max_event_bytes;
        let masker = KeyMasker {
            state,
            provider: answer.provider,
        };
        let mut stream = ChatStream::new(
            answer.response,
            decoder,
            id,
            idle,
            max_event_bytes,
            answer.record,
            masker,
        );
        if let Some(first) = answer.first {
            stream.unread(first);
        }
        stream
    }
}

/// The error for a call the role's mode does not serve, naming the methods it does.
fn mode_mismatch(role: &str, mode: Mode, kind: CallKind) -> Error {
    let methods: Vec<String> = mode.methods().iter().map(|m| format!("`{m}`")).collect();
    Error::ModeMismatch {
        role: role.to_owned(),
        mode,
        call: kind.name(),
        hint: format!("call {} on it instead", methods.join(" or ")),
    }
}

/// The one path of every call, up to a successful status: the role's binding, or for a role
/// with deployments or fallbacks each binding its route yields until one answers.
async fn send(
    shared: &Shared,
    role: RoleRef<'_>,
    payload: &Payload<'_>,
    overrides: Option<&Params>,
) -> Result<Sent> {
    let state = shared.state.load_full();
    let target = state.target(role)?;
    let kind = payload.kind();
    if !kind.serves(target.mode) {
        return Err(mode_mismatch(target.role, target.mode, kind));
    }
    let answer = match target.route {
        // A plain role: its one binding, with no route to walk.
        None => attempt(shared, &state, &target, Binding::Own, payload, overrides).await,
        Some(route) => {
            // The walk's state is boxed: inline, it would make every call's future larger, a
            // plain role's too. Its attempts are awaited here, not in a future of its own,
            // so that the box holds the walk's state alone.
            let mut walk = Box::new(Walk {
                plan: Plan::new(route),
                leg: None,
                record: None,
                failed: None,
                call: (shared, payload, overrides),
            });
            walk.plan.share().await;
            loop {
                let Some(leg) = walk.plan.next() else {
                    break Err(walk.give_up(&target));
                };
                if let (Some(err), Some(record)) = (walk.failed.take(), walk.record.as_mut()) {
                    let next = (leg.role, &state.providers[leg.provider].id, leg.model);
                    CallRecord::move_on(record, err, next, walk.plan.fallbacks());
                }
                let Walk {
                    leg: tried,
                    record,
                    call: (shared, payload, overrides),
                    ..
                } = &mut *walk;
                let binding = Binding::Leg {
                    leg: tried.insert(leg),
                    record,
                };
                let outcome = attempt(shared, &state, &target, binding, payload, *overrides).await;
                let moves_on = walk.settle(&outcome);
                match outcome {
                    Ok(answer) => break Ok(answer),
                    Err(err) if moves_on => walk.failed = Some(err),
                    Err(err) => {
                        if let Some(record) = walk.record.take() {
                            record.finish(Err(&err));
                        }
                        break Err(err);
                    }
                }
            }
        }
    }?;
    // The state moves into what the call keeps, rather than being shared once more.
    Ok(Sent { state, answer })
}

/// The state of a call's walk along its role's route (deployments, fallbacks): each binding
/// the plan yields is tried until one answers, with one record for the call.
struct Walk<'s, 'c> {
    plan: Plan<'s>,
    /// The binding being tried.
    leg: Option<Leg<'s>>,
    /// The call's record, opened by the first binding and kept between bindings.
    record: Option<CallRecord>,
    /// The failure of the last binding tried, when the walk moved on from it.
    failed: Option<Error>,
    /// What each attempt is given: kept here rather than in the call's future, where the
    /// walk's loop would keep copies of them across its waits.
    call: (&'c Shared, &'c Payload<'c>, Option<&'c Params>),
}

impl Walk<'_, '_> {
    /// Whether the walk moves on after `outcome` of the binding it tried (see [`Plan::settle`]).
    fn settle<T>(&self, outcome: &Result<T>) -> bool {
        self.leg
            .as_ref()
            .is_some_and(|leg| self.plan.settle(leg, outcome))
    }

    /// The error of a walk whose every binding failed (the last failure), closing the record.
    fn give_up(&mut self, target: &Target<'_>) -> Error {
        let err = self.failed.take().unwrap_or_else(|| Error::UnknownRole {
            role: target.role.to_owned(),
            suggestion: None,
        });
        if let Some(record) = self.record.take() {
            record.finish(Err(&err));
        }
        err
    }
}

/// The binding an attempt tries, and where the call's record is kept.
enum Binding<'a, 's> {
    /// A plain role's own binding, its one: a failure finishes the call's record.
    Own,
    /// A leg of a route: the call's record is taken from `record` (when an earlier leg opened
    /// it) and left there on failure, for the next leg.
    Leg {
        leg: &'a Leg<'s>,
        record: &'a mut Option<CallRecord>,
    },
}

impl<'s> Binding<'_, 's> {
    /// The route's leg, if the binding is one.
    fn leg(&self) -> Option<&Leg<'s>> {
        match self {
            Binding::Leg { leg, .. } => Some(leg),
            Binding::Own => None,
        }
    }
}

/// One binding of a call: `target` with the leg's provider, model and params, or the role's
/// own. Encodes, opens the call's record on the first binding, waits for the provider's
/// limits, sends with retries; on failure the record goes where `binding` says.
async fn attempt(
    shared: &Shared,
    state: &HubState,
    target: &Target<'_>,
    mut binding: Binding<'_, '_>,
    payload: &Payload<'_>,
    overrides: Option<&Params>,
) -> Result<Answer> {
    let provider_index = binding
        .leg()
        .map_or(target.provider_index, |leg| leg.provider);
    let provider = &state.providers[provider_index];
    let limits = state.limits[provider_index].as_ref();
    // Only a routed stream waits for its first bytes.
    let routed = binding.leg().is_some();
    // The binding's target and params end with this block, before the first wait, so that
    // the call's future does not hold them.
    let (headers, encoded, max_tokens, mut this) = {
        let target = match binding.leg() {
            Some(leg) => Target {
                provider_index,
                model: leg.model,
                params: leg.params,
                // The deployment's own text, not the role's: a leg may have another
                // provider or params.
                params_text: Some(leg.params_text),
                ..*target
            },
            None => *target,
        };
        let params = MergedParams::new(target.params, overrides).kept_in(target.params_text);
        check_input(&target, *payload, &params)?;
        let headers = provider.call_headers()?;
        // Only a provider with limits estimates the call's tokens.
        let max_tokens = limits
            .is_some()
            .then(|| params.get("max_tokens").and_then(serde_json::Value::as_u64))
            .flatten();
        #[cfg_attr(not(feature = "testing"), allow(unused_mut))]
        let mut encoded = provider
            .encode(target.model, *payload, params)
            .map_err(|message| Error::InvalidInput {
                role: target.role.to_owned(),
                message,
            })?;
        #[cfg(feature = "testing")]
        if shared.tag_roles {
            // A role name outside ASCII is sent as its UTF-8 bytes (obs-text), which the mock
            // reads back whole.
            let role = reqwest::header::HeaderValue::from_bytes(target.role.as_bytes());
            encoded.role = role.ok().map(Box::new);
        }
        let kept = match &mut binding {
            Binding::Leg { record, .. } => record.take(),
            Binding::Own => None,
        };
        let this = match kept {
            Some(record) => record,
            None => open_record(shared, &target, provider, *payload, &params),
        };
        (headers, encoded, max_tokens, this)
    };
    let kind = payload.kind();
    let busy = binding.leg().and_then(Leg::begin);
    let sent = in_span!(this.span(), async {
        let ticket = match limits {
            Some(limits) => {
                let tokens = estimate_tokens(encoded.body.bytes.len(), max_tokens);
                // Out of line: most providers have no limits (see `rare`).
                Some(rare(limits.acquire(&provider.id, tokens, provider.timeout)).await?)
            }
            None => None,
        };
        let (mut response, deadline) =
            transport::send(&shared.client, provider, &encoded, headers).await?;
        // Out of line: see `rare`.
        let first = match kind.is_stream() && routed {
            true => rare(first_bytes(provider, &mut response)).await?,
            false => None,
        };
        Ok((response, deadline, ticket, first))
    });
    match sent {
        Ok((response, deadline, ticket, first)) => {
            this.hold(ticket, busy);
            Ok(Answer {
                response,
                deadline,
                first,
                provider: provider_index,
                record: this,
            })
        }
        Err(err) => {
            match binding {
                Binding::Leg { record, .. } => *record = Some(this),
                Binding::Own => this.finish(Err(&err)),
            }
            Err(err)
        }
    }
}

/// The record of a call, opened with its first binding: the span, and the before-call hooks.
fn open_record(
    shared: &Shared,
    target: &Target<'_>,
    provider: &Provider,
    payload: Payload<'_>,
    params: &MergedParams<'_>,
) -> CallRecord {
    let kind = payload.kind();
    let span = tracing::info_span!(
        "gen_ai.client.call",
        gen_ai.operation.name = kind.operation(),
        gen_ai.system = &*provider.id,
        gen_ai.request.model = target.model,
        llmhub.role = target.role,
        llmhub.call = kind.name(),
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
        gen_ai.usage.cache_creation.input_tokens = tracing::field::Empty,
        gen_ai.usage.reasoning.output_tokens = tracing::field::Empty,
        llmhub.attempts = tracing::field::Empty,
        llmhub.fallbacks = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    let hooks = &shared.hooks;
    let merged;
    let ctx = CallContext {
        role: target.role,
        provider: &provider.id,
        model: target.model,
        mode: target.mode,
        call: kind.name(),
        params: if hooks.before.is_empty() {
            target.params
        } else {
            merged = params.to_params();
            &merged
        },
        input: payload.hook_input(),
        stream: kind.is_stream(),
    };
    for hook in &hooks.before {
        hook(&ctx);
    }
    CallRecord::new(span, hooks, &ctx, &provider.id)
}

/// The checks of a call's input that can be made before any request.
fn check_input(target: &Target<'_>, payload: Payload<'_>, params: &MergedParams<'_>) -> Result<()> {
    let has_voice = || params.get("voice").is_some();
    let prompt_limit = || params.get(media::PROMPT_LIMIT_PARAM);
    match payload {
        Payload::Image { prompt } => media::check_prompt(target.role, prompt, prompt_limit()),
        Payload::Speech { text } => {
            AudioTask::check(target.role, target.model, has_voice(), AudioTask::Speech)?;
            media::check_prompt(target.role, text, prompt_limit())
        }
        Payload::Transcription { audio } => {
            AudioTask::check(
                target.role,
                target.model,
                has_voice(),
                AudioTask::Transcribe,
            )?;
            audio.check(target.role).map(|_| ())
        }
        Payload::Chat { .. } | Payload::Embedding(_) | Payload::Raw { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::hub::Hub;

    /// The largest allocation glibc's malloc serves from its per-thread cache, its fastest
    /// path (a larger one goes through the shared bins, with more code and colder memory).
    const CACHED_ALLOCATION: usize = 1032;

    /// A reply type for `completion_json`.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Reply {
        text: String,
    }

    /// The typed methods box a call's future, once per call: a plain role's chat (plain,
    /// typed, with tools), stream and embedding futures must stay small enough for the
    /// allocator's per-thread cache, and a route's state (boxed by a routed call) must not
    /// make them larger.
    #[test]
    fn a_calls_future_fits_the_allocators_per_thread_cache() {
        let hub = Hub::from_yaml_str(
            "project: p\nenv: dev\nproviders: { openai: {} }\nroles:\n  r: { provider: openai, model: m, mode: chat }\n",
        )
        .unwrap();
        let shared = &hub.shared;
        let role = RoleRef::Slot(0);
        let chat = completion(shared, role, [Message::user("x")], None);
        let stream = stream(shared, role, [Message::user("x")], None);
        let embedding = embedding(shared, role, "x", None);
        let typed = completion_json::<Reply>(shared, role, [Message::user("x")], None);
        let tools = completion_with_tools(shared, role, [Message::user("x")], &[], None);
        for (name, size) in [
            ("chat", std::mem::size_of_val(&chat)),
            ("typed chat", std::mem::size_of_val(&typed)),
            ("tool chat", std::mem::size_of_val(&tools)),
            ("stream", std::mem::size_of_val(&stream)),
            ("embedding", std::mem::size_of_val(&embedding)),
        ] {
            assert!(
                size <= CACHED_ALLOCATION,
                "a {name} call's future is {size} bytes, over {CACHED_ALLOCATION}"
            );
        }
    }
}
