//! Typed tools: a [`Tool`] whose parameters are the JSON Schema of a Rust type, typed
//! arguments of a [`ToolCall`], and a [`Toolbox`] of tools with their handlers, which
//! [`RoleHandle::run_tools`](crate::RoleHandle::run_tools) runs in a bounded loop.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use futures_util::future::join_all;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::call;
use crate::client::message::{IntoMessages, Message, ToolCall};
use crate::client::response::ChatResponse;
use crate::client::state::{RoleRef, Shared};
use crate::client::tool::Tool;
use crate::config::Params;
use crate::error::{Error, Result};

/// What a tool handler returns on failure; its message goes back to the model.
pub type ToolError = Box<dyn std::error::Error + Send + Sync>;

type ToolFuture = Pin<Box<dyn Future<Output = std::result::Result<Value, String>> + Send>>;
type Handler = Box<dyn Fn(&ToolCall) -> ToolFuture + Send + Sync>;

/// Tools and the async functions that run them, for
/// [`RoleHandle::run_tools`](crate::RoleHandle::run_tools).
///
/// ```
/// use llmhub_core::Toolbox;
/// use llmhub_core::schemars::JsonSchema;
/// use serde_json::json;
///
/// #[derive(serde::Deserialize, JsonSchema)]
/// #[schemars(crate = "llmhub_core::schemars")]
/// struct WeatherArgs { city: String }
///
/// let toolbox = Toolbox::new().tool("weather", "Current weather in a city", |args: WeatherArgs| async move {
///     Ok(json!({"city": args.city, "celsius": 21}))
/// });
/// assert_eq!(toolbox.tools()[0].name(), "weather");
/// ```
#[derive(Default)]
pub struct Toolbox {
    tools: Vec<Tool>,
    handlers: Vec<Handler>,
}

impl Toolbox {
    /// An empty toolbox.
    pub fn new() -> Toolbox {
        Toolbox::default()
    }

    /// Adds the tool `name`, whose arguments are an `A`, run by `run`. Its result is sent to
    /// the model as JSON (a string as is); an error's message is sent as the tool's error.
    pub fn tool<A, R, F, Fut>(
        mut self,
        name: impl Into<String>,
        description: impl Into<String>,
        run: F,
    ) -> Toolbox
    where
        A: JsonSchema + DeserializeOwned + Send + 'static,
        R: Serialize,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::result::Result<R, ToolError>> + Send + 'static,
    {
        self.tools.push(Tool::new::<A>(name, description));
        self.handlers.push(Box::new(move |call: &ToolCall| {
            match call.arguments::<A>() {
                Ok(args) => {
                    let running = run(args);
                    Box::pin(async move {
                        let result = running.await.map_err(|err| err.to_string())?;
                        serde_json::to_value(result).map_err(|err| err.to_string())
                    })
                }
                Err(err) => {
                    let message = err.to_string();
                    Box::pin(async move { Err(message) })
                }
            }
        }));
        self
    }

    /// The tools, as sent to the model.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// Runs one call; the result (or error) as the `tool` message's text.
    async fn answer(&self, call: &ToolCall) -> String {
        let name = &call.function.name;
        let Some(index) = self.tools.iter().position(|tool| tool.name() == name) else {
            let known: Vec<&str> = self.tools.iter().map(Tool::name).collect();
            return error_text(format!(
                "unknown tool `{name}`; the tools are: {}",
                known.join(", ")
            ));
        };
        match (self.handlers[index])(call).await {
            Ok(Value::String(text)) => text,
            Ok(value) => value.to_string(),
            Err(message) => error_text(message),
        }
    }
}

impl fmt::Debug for Toolbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Toolbox")
            .field("tools", &self.tools)
            .finish()
    }
}

fn error_text(message: String) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// The outcome of [`RoleHandle::run_tools`](crate::RoleHandle::run_tools): the model's last
/// reply, which calls no tool, and the whole conversation.
#[derive(Debug, Clone)]
pub struct ToolRun {
    /// The model's final reply.
    pub reply: ChatResponse,
    /// The messages sent, every tool call and result, and the final reply.
    pub messages: Vec<Message>,
    /// How many model calls it took.
    pub steps: usize,
}

impl ToolRun {
    /// The final reply's text.
    pub fn text(&self) -> Option<&str> {
        self.reply.text()
    }
}

/// The assistant message of `reply` (its text, its tool calls and any signed reasoning), to
/// send back.
fn assistant_message(reply: &ChatResponse) -> Message {
    Message::from(reply)
}

/// The tool loop: call the model with the tools, run the calls it asks for (those of one step
/// at once), send the results back, until it answers without tool calls or `max_steps` model
/// calls are made.
pub(crate) async fn run_tools(
    shared: &Shared,
    role: RoleRef<'_>,
    messages: impl IntoMessages,
    toolbox: &Toolbox,
    max_steps: usize,
    overrides: Option<&Params>,
) -> Result<ToolRun> {
    let mut messages = call::messages_of(shared, role, messages)?;
    for step in 1..=max_steps {
        let reply =
            call::chat_with_tools(shared, role, &messages, toolbox.tools(), overrides).await?;
        messages.push(assistant_message(&reply));
        let calls = reply.tool_calls();
        if calls.is_empty() {
            return Ok(ToolRun {
                reply,
                messages,
                steps: step,
            });
        }
        let answers = join_all(calls.iter().map(|call| toolbox.answer(call))).await;
        for (call, answer) in calls.iter().zip(answers) {
            messages.push(Message::tool(call.id.clone(), answer));
        }
    }
    Err(Error::ToolLoop {
        role: shared.state.load().role_name(role),
        max_steps,
        transcript: messages,
    })
}
