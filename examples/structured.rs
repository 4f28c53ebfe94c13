//! Typed in and out: a reply parsed into a Rust type (`completion_json::<T>`) on an OpenAI
//! role and on an Anthropic role, a typed tool call, and a bounded tool loop.
//!
//! ```text
//! cargo run --example structured            # offline: a local server on loopback answers
//! cargo run --example structured -- --live  # the real providers, keys from the environment
//! ```
//!
//! Offline, every provider of `fixtures/llmhub.yaml` points at a server this program starts on
//! loopback, with canned answers: an invoice as JSON (OpenAI `response_format`, Anthropic
//! forced tool), then a call of the weather tool and an answer once its result is in.

use llmhub::schemars::JsonSchema;
use llmhub::{Config, Message, Tool, Toolbox};
use serde::Deserialize;

llmhub::roles!("fixtures/llmhub.yaml");

/// An invoice read from free text.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub::schemars")]
struct Invoice {
    /// The invoice number, as printed.
    number: String,
    customer: String,
    status: Status,
    lines: Vec<Line>,
    /// The due date (YYYY-MM-DD), if the text gives one.
    due_date: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub::schemars")]
#[serde(rename_all = "snake_case")]
enum Status {
    Paid,
    Unpaid,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub::schemars")]
struct Line {
    description: String,
    quantity: u32,
    unit_price: f64,
}

/// The arguments of the weather tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub::schemars")]
struct WeatherArgs {
    /// The city, in English.
    city: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    local::exit(run().await)
}

async fn run() -> llmhub::Result<()> {
    let mut config = Config::from_yaml_str_named(
        include_str!("../fixtures/llmhub.yaml"),
        "fixtures/llmhub.yaml",
    )?;
    let server = local::prepare(&mut config).await;
    let mut builder = Roles::builder();
    for (provider, key) in local::keys(&server, &config) {
        builder = builder.api_key(provider, key);
    }
    let roles = builder.config(config).build()?;

    let text = "Invoice INV-2025-042 for Ada Lovelace: 1 analytical engine rental at 120.00, \
                3 boxes of punched cards at 9.50 each. Not paid yet.";
    let ask = || [Message::system("Extract the invoice."), Message::user(text)];

    // A typed reply on an OpenAI role (`response_format` with the strict schema of `Invoice`).
    let invoice: Invoice = roles.llm_inference().completion_json(ask()).await?;
    let total: f64 = invoice
        .lines
        .iter()
        .map(|line| f64::from(line.quantity) * line.unit_price)
        .sum();
    println!(
        "llm.inference (completion_json) {} for {}: {} lines, total {total:.2}, {:?}, due {}",
        invoice.number,
        invoice.customer,
        invoice.lines.len(),
        invoice.status,
        invoice.due_date.as_deref().unwrap_or("(not given)")
    );
    if let Some(line) = invoice.lines.first() {
        println!("  first line: {} x {}", line.quantity, line.description);
    }

    // The same call on an Anthropic role (a forced tool whose input is the invoice).
    let invoice: Invoice = roles.llm_memwrite().completion_json(ask()).await?;
    println!(
        "llm.memwrite  (completion_json) {} for {}",
        invoice.number, invoice.customer
    );

    // A typed tool: the model's call, with its arguments parsed into `WeatherArgs`.
    let tools = [Tool::new::<WeatherArgs>(
        "weather",
        "Current weather in a city",
    )];
    let question = || [Message::user("What is the weather in Paris?")];
    let reply = roles
        .llm_inference()
        .completion_with_tools(question(), &tools)
        .await?;
    for call in reply.tool_calls() {
        let args: WeatherArgs = call.arguments()?;
        println!(
            "llm.inference (tool call)       {}(city: {})",
            call.function.name, args.city
        );
    }

    // The tool loop: the model calls the tool, the toolbox runs it, the model answers.
    let toolbox = Toolbox::new().tool(
        "weather",
        "Current weather in a city",
        |args: WeatherArgs| async move {
            Ok(serde_json::json!({ "city": args.city, "celsius": 21, "sky": "sunny" }))
        },
    );
    let run = roles
        .llm_inference()
        .run_tools(question(), &toolbox, 4)
        .await?;
    println!(
        "llm.inference (run_tools)       {} steps: {}",
        run.steps,
        run.text().unwrap_or("(no text)")
    );
    Ok(())
}

#[path = "support/local.rs"]
mod local;
