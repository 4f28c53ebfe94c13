//! A tool the model may call, defined from a Rust type (its JSON Schema from schemars), and
//! the typed parsing of a tool call's arguments.

use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::message::ToolCall;
use crate::client::structured::{self, TypeSchema};
use crate::error::{Error, Result};

/// A tool the model may call: a name, a description, and parameters given by the JSON Schema
/// of a Rust type (built once per type, with `schemars`).
///
/// ```
/// use llmhub_core::Tool;
/// use llmhub_core::schemars::JsonSchema;
///
/// #[derive(serde::Deserialize, JsonSchema)]
/// #[schemars(crate = "llmhub_core::schemars")]
/// struct WeatherArgs {
///     /// The city, in English.
///     city: String,
/// }
///
/// let tool = Tool::new::<WeatherArgs>("weather", "Current weather in a city");
/// assert_eq!(tool.name(), "weather");
/// assert_eq!(tool.parameters()["required"], serde_json::json!(["city"]));
/// ```
#[derive(Clone)]
pub struct Tool {
    name: String,
    description: String,
    schema: Arc<TypeSchema>,
}

impl Tool {
    /// A tool named `name` whose arguments are an `A`.
    pub fn new<A: JsonSchema + 'static>(
        name: impl Into<String>,
        description: impl Into<String>,
    ) -> Tool {
        Tool {
            name: name.into(),
            description: description.into(),
            schema: structured::schema_of::<A>(),
        }
    }

    /// The tool's name, which the model's calls repeat.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the tool does, for the model.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of the tool's arguments.
    pub fn parameters(&self) -> &Value {
        &self.schema.loose
    }

    /// [`Tool::parameters`], serialized once (what requests send).
    pub(crate) fn parameters_json(&self) -> &serde_json::value::RawValue {
        &self.schema.loose_json
    }

    /// About how many bytes this tool takes in a request body.
    pub(crate) fn size_hint(&self) -> usize {
        64 + self.name().len() + self.description().len() + self.schema.loose_json.get().len()
    }
}

impl fmt::Debug for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl ToolCall {
    /// The call's arguments as an `A`. On arguments that do not fit, the error
    /// ([`Error::ToolArguments`]) names the tool and the field.
    ///
    /// ```
    /// use llmhub_core::{FunctionCall, ToolCall};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct WeatherArgs { city: String }
    ///
    /// let call = ToolCall {
    ///     function: FunctionCall { name: "weather".into(), arguments: r#"{"city":"Paris"}"#.into() },
    ///     ..ToolCall::default()
    /// };
    /// assert_eq!(call.arguments::<WeatherArgs>()?.city, "Paris");
    /// # Ok::<(), llmhub_core::Error>(())
    /// ```
    pub fn arguments<A: DeserializeOwned>(&self) -> Result<A> {
        let text = match self.function.arguments.trim() {
            "" => "{}",
            text => text,
        };
        structured::parse_text(text).map_err(|(path, message)| Error::ToolArguments {
            tool: self.function.name.clone(),
            path,
            message,
        })
    }
}
