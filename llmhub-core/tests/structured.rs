//! Typed in and out on the wire: `completion_json::<T>` (the strict schema sent to OpenAI, the
//! forced tool on Anthropic, repair rounds), typed tools in both protocols, and the bounded
//! tool loop.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use llmhub_core::schemars::JsonSchema;
use llmhub_core::{Error, Message, Params, Tool, Toolbox};
use serde::Deserialize;
use serde_json::{Value, json};
use support::*;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// An invoice, read from text.
#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub_core::schemars")]
struct Invoice {
    number: String,
    customer: Customer,
    status: Status,
    items: Vec<Item>,
    note: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub_core::schemars")]
struct Customer {
    name: String,
    email: Option<String>,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub_core::schemars")]
#[serde(rename_all = "snake_case")]
enum Status {
    Paid,
    Unpaid,
}

#[derive(Debug, PartialEq, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub_core::schemars")]
struct Item {
    description: String,
    price: f64,
    quantity: u32,
}

/// The strict-ready schema of [`Invoice`]: every object closed, every property required, the
/// optional ones nullable, number formats dropped, `$defs` kept.
fn strict_invoice_schema() -> Value {
    json!({
        "type": "object",
        "description": "An invoice, read from text.",
        "title": "Invoice",
        "properties": {
            "number": {"type": "string"},
            "customer": {"$ref": "#/$defs/Customer"},
            "status": {"$ref": "#/$defs/Status"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "note": {"type": ["string", "null"]},
        },
        "required": ["number", "customer", "status", "items", "note"],
        "additionalProperties": false,
        "$defs": {
            "Customer": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "email": {"type": ["string", "null"]},
                },
                "required": ["name", "email"],
                "additionalProperties": false,
            },
            "Status": {"type": "string", "enum": ["paid", "unpaid"]},
            "Item": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "price": {"type": "number"},
                    "quantity": {"type": "integer", "minimum": 0},
                },
                "required": ["description", "price", "quantity"],
                "additionalProperties": false,
            },
        },
    })
}

/// The schema of [`Invoice`] as schemars gives it (sent non-strict, and as Anthropic's tool
/// input schema).
fn loose_invoice_schema() -> Value {
    Tool::new::<Invoice>("invoice", "").parameters().clone()
}

const GOOD_INVOICE: &str = r#"{"number": "INV-42", "customer": {"name": "Ada", "email": null}, "status": "unpaid", "items": [{"description": "Tea", "price": 4.5, "quantity": 2}], "note": null}"#;
const BAD_INVOICE: &str = r#"{"number": "INV-42", "customer": {"name": "Ada", "email": null}, "status": "unpaid", "items": [{"description": "Tea", "price": 4.5, "quantity": 2}, {"description": "Cake", "price": "x", "quantity": 1}], "note": null}"#;

fn good_invoice() -> Invoice {
    Invoice {
        number: "INV-42".into(),
        customer: Customer {
            name: "Ada".into(),
            email: None,
        },
        status: Status::Unpaid,
        items: vec![Item {
            description: "Tea".into(),
            price: 4.5,
            quantity: 2,
        }],
        note: None,
    }
}

fn params(value: Value) -> Params {
    value.as_object().unwrap().clone()
}

/// An OpenAI reply whose text is `text`.
fn openai_text(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    })
}

/// An OpenAI reply that calls tools: `(id, name, arguments)`.
fn openai_tool_calls(calls: &[(&str, &str, &str)]) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(id, name, arguments)| {
            json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
        })
        .collect();
    json!({
        "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls"}]
    })
}

/// Answers with `replies` in turn, the last one again once they are used up.
struct Replies {
    replies: Vec<Value>,
    next: AtomicUsize,
}

impl Respond for Replies {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let reply = &self.replies[index.min(self.replies.len() - 1)];
        ResponseTemplate::new(200).set_body_json(reply)
    }
}

async fn serve_in_turn(replies: Vec<Value>) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Replies {
            replies,
            next: AtomicUsize::new(0),
        })
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(body_json)
        .collect()
}

#[tokio::test]
async fn openai_gets_the_strict_schema_and_the_reply_is_typed() {
    let server = serve(json_reply(openai_text(GOOD_INVOICE))).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let invoice: Invoice = hub
        .completion_json("llm.inference", [Message::user("Invoice 42...")], None)
        .await
        .unwrap();
    assert_eq!(invoice, good_invoice());

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/prefix/v1/chat/completions");
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(
        body_json(&request),
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "user", "content": "Invoice 42..."}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Invoice", "schema": strict_invoice_schema(), "strict": true},
            },
            "temperature": 0.7,
            "max_tokens": 2048,
        })
    );
}

#[tokio::test]
async fn strict_json_false_sends_the_schema_as_is_and_llmhub_params_stay_home() {
    let server = serve(json_reply(openai_text(GOOD_INVOICE))).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let overrides = params(json!({
        "strict_json": false,
        "json_repair_retries": 3,
        "response_format": {"type": "json_object"},
    }));
    let invoice: Invoice = hub
        .completion_json("llm.inference", [Message::user("Invoice")], Some(overrides))
        .await
        .unwrap();
    assert_eq!(invoice, good_invoice());
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "user", "content": "Invoice"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "Invoice", "schema": loose_invoice_schema(), "strict": false},
            },
            "temperature": 0.7,
            "max_tokens": 2048,
        })
    );
}

#[tokio::test]
async fn anthropic_gets_a_forced_tool_and_never_openai_only_params() {
    let input: Value = serde_json::from_str(GOOD_INVOICE).unwrap();
    let server = serve(json_reply(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "Invoice", "input": input}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 30}
    })))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    // OpenAI-only params in the overrides: translated (`user`) or not sent.
    let overrides = params(json!({
        "response_format": {"type": "json_object"},
        "seed": 7, "n": 1, "logprobs": true, "top_logprobs": 2, "presence_penalty": 0.1,
        "frequency_penalty": 0.1, "logit_bias": {"50256": -100}, "parallel_tool_calls": false,
        "user": "user-9", "strict_json": true, "json_repair_retries": 0,
    }));
    let invoice: Invoice = hub
        .completion_json(
            "llm.memwrite",
            [
                Message::system("Read invoices."),
                Message::user("Invoice 42..."),
            ],
            Some(overrides),
        )
        .await
        .unwrap();
    assert_eq!(invoice, good_invoice());

    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/anthropic/v1/messages");
    assert_eq!(
        body_json(&request),
        json!({
            "model": "claude-3-5-sonnet-20241022",
            "system": "Read invoices.",
            "messages": [{"role": "user", "content": "Invoice 42..."}],
            "max_tokens": 4096,
            "tools": [{
                "name": "Invoice",
                "description": "An invoice, read from text.",
                "input_schema": loose_invoice_schema(),
            }],
            "tool_choice": {"type": "tool", "name": "Invoice"},
            "temperature": 0.3,
            "stop_sequences": ["END"],
            "metadata": {"user_id": "user-9"},
        })
    );
}

#[tokio::test]
async fn anthropic_plain_chat_drops_openai_only_params() {
    let server = serve(json_reply(
        json!({"content": [{"type": "text", "text": "ok"}]}),
    ))
    .await;
    let hub = hub("http://127.0.0.1:9", &server.uri());
    let overrides = params(json!({"response_format": {"type": "json_object"}, "seed": 1, "n": 2}));
    hub.completion("llm.memwrite", [Message::user("Hi")], Some(overrides))
        .await
        .unwrap();
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({
            "model": "claude-3-5-sonnet-20241022",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 4096,
            "temperature": 0.3,
            "stop_sequences": ["END"],
        })
    );
}

#[tokio::test]
async fn a_reply_that_does_not_fit_is_repaired_once() {
    let server = serve_in_turn(vec![openai_text(BAD_INVOICE), openai_text(GOOD_INVOICE)]).await;
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    let hub = builder(&server.uri(), "http://127.0.0.1:9")
        .on_before_call(move |ctx| seen.lock().unwrap().push(ctx.call))
        .build()
        .unwrap();
    let invoice: Invoice = hub
        .completion_json("llm.inference", [Message::user("Invoice 42...")], None)
        .await
        .unwrap();
    assert_eq!(invoice, good_invoice());

    let bodies = requests(&server).await;
    assert_eq!(bodies.len(), 2);
    // The second request: the same call, with the bad reply and what is wrong with it.
    let mut expected = bodies[0].clone();
    expected["messages"] = json!([
        {"role": "user", "content": "Invoice 42..."},
        {"role": "assistant", "content": BAD_INVOICE},
        {"role": "user", "content": "Your reply does not match the JSON schema: at `items[1].price`: invalid type: string \"x\", expected f64 at line 1 column 184. Reply again with only the corrected JSON value."},
    ]);
    assert_eq!(bodies[1], expected);
    // Hooks see each round as a `completion_json` call.
    assert_eq!(
        *calls.lock().unwrap(),
        ["completion_json", "completion_json"]
    );
}

#[tokio::test]
async fn a_reply_that_never_fits_names_the_path_and_keeps_the_reply() {
    let server = serve_in_turn(vec![openai_text(BAD_INVOICE)]).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let err = hub
        .completion_json::<Invoice>("llm.inference", [Message::user("Invoice")], None)
        .await
        .unwrap_err();
    let Error::Structured {
        role,
        path,
        message,
        raw,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(role, "llm.inference");
    assert_eq!(path, "items[1].price");
    assert!(message.starts_with("invalid type: string \"x\", expected f64"));
    assert_eq!(raw, BAD_INVOICE);
    let text = err.to_string();
    assert!(text.contains("`items[1].price`"), "{text}");
    assert!(text.contains("json_repair_retries"), "{text}");
    // One call and the default single repair round.
    assert_eq!(requests(&server).await.len(), 2);

    // With no repair rounds, one call only.
    let server = serve_in_turn(vec![openai_text("not json")]).await;
    let hub = support::hub(&server.uri(), "http://127.0.0.1:9");
    let err = hub
        .completion_json::<Invoice>(
            "llm.inference",
            [Message::user("Invoice")],
            Some(params(json!({"json_repair_retries": 0}))),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Structured { path, raw, .. } if path == "." && raw == "not json")
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn completion_json_is_a_chat_call() {
    let hub = hub("http://127.0.0.1:9", "http://127.0.0.1:9");
    let err = hub
        .completion_json::<Invoice>("llm.embedding", [Message::user("x")], None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::ModeMismatch {
                call: "completion_json",
                ..
            }
        ),
        "{err:?}"
    );
}

/// The arguments of the weather tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub_core::schemars")]
struct WeatherArgs {
    /// The city, in English.
    city: String,
}

/// The arguments of the clock tool.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "llmhub_core::schemars")]
struct TimeArgs {
    city: String,
    utc_offset: Option<i8>,
}

fn weather_schema() -> Value {
    json!({
        "type": "object",
        "title": "WeatherArgs",
        "description": "The arguments of the weather tool.",
        "properties": {"city": {"type": "string", "description": "The city, in English."}},
        "required": ["city"],
    })
}

#[tokio::test]
async fn tools_go_with_the_call_in_both_protocols() {
    let tools = [Tool::new::<WeatherArgs>(
        "weather",
        "Current weather in a city",
    )];
    let server = serve(json_reply(openai_tool_calls(&[(
        "call_1",
        "weather",
        r#"{"city": "Paris"}"#,
    )])))
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let overrides = params(json!({"tools": [{"type": "function", "function": {"name": "old"}}]}));
    let reply = hub
        .completion_with_tools(
            "llm.tools",
            [Message::user("Weather?")],
            &tools,
            Some(overrides),
        )
        .await
        .unwrap();
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({
            "model": "gpt-4.1",
            "messages": [{"role": "user", "content": "Weather?"}],
            "tools": [{"type": "function", "function": {
                "name": "weather",
                "description": "Current weather in a city",
                "parameters": weather_schema(),
            }}],
        })
    );
    let call = &reply.tool_calls()[0];
    assert_eq!(call.arguments::<WeatherArgs>().unwrap().city, "Paris");
    let err = call.arguments::<Invoice>().unwrap_err();
    assert!(
        matches!(&err, Error::ToolArguments { tool, path, message } if tool == "weather" && path == "." && message.starts_with("missing field `number`")),
        "{err:?}"
    );

    let server = serve(json_reply(json!({
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": 7}}],
        "stop_reason": "tool_use"
    })))
    .await;
    let hub = support::hub("http://127.0.0.1:9", &server.uri());
    let reply = hub
        .completion_with_tools("llm.memwrite", [Message::user("Weather?")], &tools, None)
        .await
        .unwrap();
    assert_eq!(
        body_json(&only_request(&server).await),
        json!({
            "model": "claude-3-5-sonnet-20241022",
            "messages": [{"role": "user", "content": "Weather?"}],
            "max_tokens": 4096,
            "tools": [{
                "name": "weather",
                "description": "Current weather in a city",
                "input_schema": weather_schema(),
            }],
            "temperature": 0.3,
            "stop_sequences": ["END"],
        })
    );
    // Bad arguments: the error names the tool and the field.
    let err = reply.tool_calls()[0]
        .arguments::<WeatherArgs>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the arguments of the call to tool `weather` do not fit its type at `city`: invalid type: integer `7`, expected a string at line 1 column 9"
    );
}

/// A toolbox with the weather and clock tools; both wait for each other (a barrier of two),
/// so they finish only if the calls of one step run at once.
fn toolbox(ran: Arc<AtomicUsize>) -> Toolbox {
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let (weather_barrier, weather_ran) = (barrier.clone(), ran.clone());
    Toolbox::new()
        .tool(
            "weather",
            "Current weather in a city",
            move |args: WeatherArgs| {
                let (barrier, ran) = (weather_barrier.clone(), weather_ran.clone());
                async move {
                    barrier.wait().await;
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(json!({"city": args.city, "celsius": 21}))
                }
            },
        )
        .tool("time", "Local time in a city", move |args: TimeArgs| {
            let (barrier, ran) = (barrier.clone(), ran.clone());
            async move {
                barrier.wait().await;
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(format!("12:00 in {} ({:?})", args.city, args.utc_offset))
            }
        })
}

#[tokio::test]
async fn the_tool_loop_runs_tools_until_the_model_answers() {
    let server = serve_in_turn(vec![
        openai_tool_calls(&[
            ("call_1", "weather", r#"{"city": "Paris"}"#),
            ("call_2", "time", r#"{"city": "Paris", "utc_offset": 1}"#),
        ]),
        openai_tool_calls(&[
            ("call_3", "weather", r#"{"town": "Lyon"}"#),
            ("call_4", "stocks", "{}"),
        ]),
        openai_text("21°C and noon in Paris."),
    ])
    .await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let ran = Arc::new(AtomicUsize::new(0));
    let toolbox = toolbox(ran.clone());
    let run = tokio::time::timeout(
        Duration::from_secs(10),
        hub.run_tools(
            "llm.tools",
            [Message::user("Weather and time in Paris?")],
            &toolbox,
            5,
            None,
        ),
    )
    .await
    .expect("the calls of one step run at once")
    .unwrap();
    assert_eq!(run.text(), Some("21°C and noon in Paris."));
    assert_eq!(run.steps, 3);
    assert_eq!(ran.load(Ordering::SeqCst), 2);

    let bodies = requests(&server).await;
    assert_eq!(bodies.len(), 3);
    let tools = json!(["weather", "time"]);
    for body in &bodies {
        let names: Vec<&Value> = body["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| &t["function"]["name"])
            .collect();
        assert_eq!(json!(names), tools);
    }
    let call = |id: &str, name: &str, arguments: &str| json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}});
    let expected = json!([
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "tool_calls": [
            call("call_1", "weather", r#"{"city": "Paris"}"#),
            call("call_2", "time", r#"{"city": "Paris", "utc_offset": 1}"#),
        ]},
        {"role": "tool", "content": r#"{"city":"Paris","celsius":21}"#, "tool_call_id": "call_1"},
        {"role": "tool", "content": "12:00 in Paris (Some(1))", "tool_call_id": "call_2"},
        {"role": "assistant", "tool_calls": [
            call("call_3", "weather", r#"{"town": "Lyon"}"#),
            call("call_4", "stocks", "{}"),
        ]},
        {"role": "tool", "content": json!({"error": "the arguments of the call to tool `weather` do not fit its type at `.`: missing field `city` at line 1 column 16"}).to_string(), "tool_call_id": "call_3"},
        {"role": "tool", "content": json!({"error": "unknown tool `stocks`; the tools are: weather, time"}).to_string(), "tool_call_id": "call_4"},
    ]);
    assert_eq!(bodies[2]["messages"], expected);
    assert_eq!(
        bodies[1]["messages"],
        json!(expected.as_array().unwrap()[..4])
    );
    // The run's messages: all that was sent, and the final reply.
    assert_eq!(run.messages.len(), 8);
    assert_eq!(
        run.messages[7],
        Message::assistant("21°C and noon in Paris.")
    );
}

#[tokio::test]
async fn the_tool_loop_stops_after_max_steps_and_keeps_the_transcript() {
    let server = serve_in_turn(vec![openai_tool_calls(&[("call_1", "stocks", "{}")])]).await;
    let hub = hub(&server.uri(), "http://127.0.0.1:9");
    let toolbox = toolbox(Arc::new(AtomicUsize::new(0)));
    let err = hub
        .run_tools("llm.tools", [Message::user("Go")], &toolbox, 2, None)
        .await
        .unwrap_err();
    let Error::ToolLoop {
        role,
        max_steps,
        transcript,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((role.as_str(), *max_steps), ("llm.tools", 2));
    // The question, then two rounds of a call and its (error) result.
    assert_eq!(transcript.len(), 5);
    assert_eq!(transcript[4].tool_call_id.as_deref(), Some("call_1"));
    assert!(err.to_string().contains("after 2 steps"), "{err}");
    assert_eq!(requests(&server).await.len(), 2);
}
