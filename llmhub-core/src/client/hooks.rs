//! Call hooks (`on_before_call`, `on_after_call`) and the per-call record that feeds them and
//! the `tracing` span. Hooks see the role, provider, model, mode, params and input, never a key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::kind::CallInput;
use crate::client::limits::Ticket;
use crate::client::response::Usage;
use crate::client::route::InFlight;
use crate::config::{Mode, Params};
use crate::error::Error;

/// A hook run before each call.
pub type BeforeCallHook = Arc<dyn Fn(&CallContext<'_>) + Send + Sync>;
/// A hook run once after each call: when it succeeds or fails (for a stream: when it ends or
/// fails), or, with [`Error::Cancelled`], when the caller drops it before it finishes.
pub type AfterCallHook = Arc<dyn Fn(&CallResult<'_>) + Send + Sync>;

/// The hooks of a hub.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub before: Vec<BeforeCallHook>,
    pub after: Vec<AfterCallHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("before", &self.before.len())
            .field("after", &self.after.len())
            .finish()
    }
}

/// What `on_before_call` sees.
#[derive(Debug)]
#[non_exhaustive]
pub struct CallContext<'a> {
    /// The role asked for.
    pub role: &'a str,
    /// Provider id.
    pub provider: &'a str,
    /// Model name.
    pub model: &'a str,
    /// The role's mode.
    pub mode: Mode,
    /// The call, by its method name: `completion` (also each model call of
    /// `completion_with_tools` and `run_tools`), `completion_json` (each of its rounds),
    /// `stream`, `embedding`, `generate`, `transcribe`, `speech` or `raw`.
    pub call: &'static str,
    /// The call's params: the role's, overlaid by the overrides.
    pub params: &'a Params,
    /// The messages or texts sent.
    pub input: CallInput<'a>,
    /// Whether the reply is streamed.
    pub stream: bool,
}

/// What `on_after_call` sees.
#[derive(Debug)]
#[non_exhaustive]
pub struct CallResult<'a> {
    /// The role asked for.
    pub role: &'a str,
    /// Provider id.
    pub provider: &'a str,
    /// Model name.
    pub model: &'a str,
    /// The role's mode.
    pub mode: Mode,
    /// The call, by its method name (as in [`CallContext::call`]).
    pub call: &'static str,
    /// Time from the start of the call to its end (for a stream, to its last chunk).
    pub duration: Duration,
    /// Whether the call succeeded.
    pub success: bool,
    /// The error, if it failed.
    pub error: Option<&'a Error>,
    /// Token counts, if the provider sent them.
    pub usage: Option<Usage>,
    /// The attempts that failed before the call was answered (or all of them, when it
    /// failed), each with the deployment tried and why it failed; empty for a call answered
    /// at once. [`provider`](Self::provider) and [`model`](Self::model) are the deployment
    /// that answered (or was tried last).
    pub attempts: &'a [Attempt],
    /// How many fallback roles the call moved to.
    pub fallbacks: u32,
}

/// A deployment tried by a call that did not answer it (see [`CallResult::attempts`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Attempt {
    /// The role whose deployment it was (the one asked for, or a fallback).
    pub role: String,
    /// Provider id.
    pub provider: Arc<str>,
    /// Model name.
    pub model: String,
    /// Why it failed (after its retries).
    pub error: Error,
}

/// What a call that moved on from a failed deployment keeps beyond a plain call.
#[derive(Default)]
struct Routed {
    /// The failed attempts (kept only when there are after-call hooks).
    attempts: Vec<Attempt>,
    failed: u32,
    fallbacks: u32,
}

/// Who was called and when, kept for the after-call hooks.
struct Called {
    started: Instant,
    hooks: Arc<Hooks>,
    role: Box<str>,
    model: Box<str>,
    mode: Mode,
    call: &'static str,
    /// The role whose deployment is being tried, once the call moved to a fallback.
    deployment_role: Option<Box<str>>,
}

/// One call in flight: its span, and what the after-call hooks need (only kept, and the clock
/// only read, when there are such hooks).
///
/// A record finishes exactly once: through [`finish`](CallRecord::finish) with the call's
/// outcome, or, when it is dropped unfinished (the caller dropped the call's future or its
/// stream), with an [`Error::Cancelled`].
pub(crate) struct CallRecord {
    span: tracing::Span,
    provider: Arc<str>,
    /// Boxed: a record is moved with its call's result, and most calls have no after-call
    /// hooks.
    called: Option<Box<Called>>,
    finished: bool,
    routed: Option<Box<Routed>>,
    /// The answering deployment's place under its provider's limits, held to the call's end.
    ticket: Option<Ticket>,
    /// The answering deployment's in-flight count, held to the call's end.
    busy: Option<InFlight>,
}

impl CallRecord {
    pub fn new(
        span: tracing::Span,
        hooks: &Arc<Hooks>,
        ctx: &CallContext<'_>,
        provider: &Arc<str>,
    ) -> CallRecord {
        let called = (!hooks.after.is_empty()).then(|| {
            Box::new(Called {
                started: Instant::now(),
                hooks: hooks.clone(),
                role: ctx.role.into(),
                model: ctx.model.into(),
                mode: ctx.mode,
                call: ctx.call,
                deployment_role: None,
            })
        });
        CallRecord {
            span,
            provider: provider.clone(),
            called,
            finished: false,
            routed: None,
            ticket: None,
            busy: None,
        }
    }

    fn routed(&mut self) -> &mut Routed {
        self.routed.get_or_insert_with(Box::default)
    }

    /// Holds what the call keeps until its end: its place under the provider's limits and its
    /// deployment's in-flight count.
    pub fn hold(&mut self, ticket: Option<Ticket>, busy: Option<InFlight>) {
        self.ticket = ticket;
        self.busy = busy;
    }

    /// Notes that the deployment tried last failed with `error`, and that the call moves on to
    /// the deployment `next` (its role, provider and model), `fallbacks` roles away from the
    /// one asked for.
    pub fn move_on(&mut self, error: Error, next: (&str, &Arc<str>, &str), fallbacks: u32) {
        let (role, provider, model) = next;
        tracing::debug!(parent: &self.span, error = %error, "llmhub attempt failed; moving on");
        self.span.record("gen_ai.system", &**provider);
        self.span.record("gen_ai.request.model", model);
        let tried = std::mem::replace(&mut self.provider, provider.clone());
        let attempt = self.called.as_mut().map(|called| Attempt {
            role: match called.deployment_role.replace(role.into()) {
                Some(role) => role.into(),
                None => called.role.to_string(),
            },
            provider: tried,
            model: std::mem::replace(&mut called.model, model.into()).into(),
            error,
        });
        let routed = self.routed();
        routed.failed += 1;
        routed.fallbacks = fallbacks;
        routed.attempts.extend(attempt);
    }

    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the outcome on the span and runs the after-call hooks.
    pub fn finish(mut self, outcome: Result<Option<Usage>, &Error>) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: Result<Option<Usage>, &Error>) {
        // Set first: should a hook panic, the unwinding drop does not report the call again.
        self.finished = true;
        match &outcome {
            Ok(Some(usage)) => {
                self.span
                    .record("gen_ai.usage.input_tokens", usage.prompt_tokens);
                self.span
                    .record("gen_ai.usage.output_tokens", usage.completion_tokens);
                self.span.record(
                    "gen_ai.usage.cache_read.input_tokens",
                    usage.cache_read_tokens,
                );
                self.span.record(
                    "gen_ai.usage.cache_creation.input_tokens",
                    usage.cache_creation_tokens,
                );
                self.span.record(
                    "gen_ai.usage.reasoning.output_tokens",
                    usage.reasoning_tokens,
                );
            }
            Ok(None) => {}
            Err(err) => {
                self.span
                    .record("error.type", tracing::field::display(error_type(err)));
                tracing::debug!(parent: &self.span, error = %err, "llmhub call failed");
            }
        }
        if let Some(ticket) = &self.ticket {
            ticket.settle(outcome.as_ref().ok().and_then(Option::as_ref));
        }
        let (attempts, fallbacks): (&[Attempt], u32) = match &self.routed {
            Some(routed) => {
                if routed.failed > 0 {
                    self.span.record("llmhub.attempts", routed.failed + 1);
                    self.span.record("llmhub.fallbacks", routed.fallbacks);
                }
                (&routed.attempts, routed.fallbacks)
            }
            None => (&[], 0),
        };
        if let Some(called) = &self.called {
            let (error, usage) = match outcome {
                Ok(usage) => (None, usage),
                Err(err) => (Some(err), None),
            };
            let result = CallResult {
                role: &called.role,
                provider: &self.provider,
                model: &called.model,
                mode: called.mode,
                call: called.call,
                duration: called.started.elapsed(),
                success: error.is_none(),
                error,
                usage,
                attempts,
                fallbacks,
            };
            for hook in &called.hooks.after {
                hook(&result);
            }
        }
    }
}

impl Drop for CallRecord {
    /// A call dropped before it finished is reported to hooks and tracing as cancelled, not
    /// as a success: the caller did not get the reply.
    fn drop(&mut self) {
        if !self.finished {
            let cancelled = Error::Cancelled {
                provider: self.provider.to_string(),
            };
            self.record(Err(&cancelled));
        }
    }
}

/// The OpenTelemetry `error.type` of an error.
fn error_type(err: &Error) -> &'static str {
    match err {
        Error::Http { .. } => "http",
        Error::RateLimited { .. } => "rate_limited",
        Error::Auth { .. } => "auth",
        Error::Timeout { .. } => "timeout",
        Error::Transport { .. } => "transport",
        Error::Cancelled { .. } => "cancelled",
        Error::Decode { .. } => "decode",
        Error::EnvVarMissing { .. } => "env_var_missing",
        Error::Limited { .. } => "limited",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// What an after-call hook saw: (success, error as `{:?}`).
    type Seen = Arc<Mutex<Vec<(bool, Option<String>)>>>;

    /// A record of a call to `openai`, and what its after-call hook saw.
    fn record() -> (CallRecord, Seen) {
        let seen: Seen = Arc::default();
        let hooks = Arc::new(Hooks {
            before: Vec::new(),
            after: vec![Arc::new({
                let seen = seen.clone();
                move |r: &CallResult<'_>| {
                    let error = r.error.map(|e| format!("{e:?}"));
                    seen.lock().unwrap().push((r.success, error));
                }
            })],
        });
        let params = Params::new();
        let ctx = CallContext {
            role: "r",
            provider: "openai",
            model: "m",
            mode: Mode::Chat,
            call: "completion",
            params: &params,
            input: CallInput::Text("x"),
            stream: false,
        };
        let record = CallRecord::new(tracing::Span::none(), &hooks, &ctx, &"openai".into());
        (record, seen)
    }

    #[test]
    fn a_finished_record_reports_once() {
        let (record, seen) = record();
        record.finish(Ok(None));
        assert_eq!(*seen.lock().unwrap(), [(true, None)]);
    }

    #[test]
    fn a_record_dropped_unfinished_reports_the_call_cancelled_once() {
        let (record, seen) = record();
        drop(record);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(!seen[0].0);
        assert_eq!(
            seen[0].1.as_deref(),
            Some(r#"Cancelled { provider: "openai" }"#)
        );
        assert_eq!(
            error_type(&Error::Cancelled {
                provider: "openai".into()
            }),
            "cancelled"
        );
    }
}
