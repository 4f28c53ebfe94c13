//! Resilient roles: fallbacks, deployments with weighted routing and cooldowns, and provider
//! limits, against loopback servers with scripted failures.

mod support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use llmhub_core::{Config, Error, Hub, HubBuilder, Message};
use serde_json::{Value, json};
use support::{body_json, counting_server, header};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PRIMARY_KEY: &str = "sk-primary-TESTKEY";
const BACKUP_KEY: &str = "sk-backup-TESTKEY";

fn chat_reply(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    })
}

/// A hub for `yaml` with both keys, no retries (each failure is final for its binding).
fn builder(yaml: &str) -> HubBuilder {
    Hub::builder()
        .config(Config::from_yaml_str(yaml).unwrap())
        .api_key("primary", PRIMARY_KEY)
        .api_key("backup", BACKUP_KEY)
        .max_retries(0)
}

/// `llm.inference` on `primary`, falling back to `llm.backup` on `backup`.
fn fallback_yaml(primary: &str, backup: &str) -> String {
    format!(
        r#"
project: test
env: dev
providers:
  primary: {{ base_url: {primary}/v1, api: openai, env_key: UNSET_PRIMARY_KEY }}
  backup: {{ base_url: {backup}/v1, api: openai, env_key: UNSET_BACKUP_KEY }}
roles:
  llm.inference:
    provider: primary
    model: big-model
    mode: chat
    params: {{ temperature: 0.2 }}
    fallbacks: [llm.backup]
  llm.backup:
    provider: backup
    model: small-model
    mode: tool
"#
    )
}

async fn server(reply: ResponseTemplate) -> MockServer {
    support::serve(reply).await
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

/// What the after-call hooks saw: provider, model, success, and each failed attempt's
/// provider, model and error.
type Seen = Arc<Mutex<Vec<(String, String, bool, u32, Vec<(String, String, String)>)>>>;

fn watch(builder: HubBuilder) -> (HubBuilder, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let builder = builder.on_after_call(move |r| {
        let attempts = r
            .attempts
            .iter()
            .map(|a| (a.role.clone(), a.provider.to_string(), a.error.to_string()))
            .collect();
        sink.lock().unwrap().push((
            r.provider.to_owned(),
            r.model.to_owned(),
            r.success,
            r.fallbacks,
            attempts,
        ));
    });
    (builder, seen)
}

#[tokio::test]
async fn a_failing_role_falls_back_and_the_fallback_answers() {
    let primary =
        server(ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "down"}})))
            .await;
    let backup = server(ResponseTemplate::new(200).set_body_json(chat_reply("from backup"))).await;
    let (builder, seen) = watch(builder(&fallback_yaml(&primary.uri(), &backup.uri())));
    let hub = builder.build().unwrap();

    let reply = hub
        .completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    assert_eq!(reply.text(), Some("from backup"));

    let [first] = &requests(&primary).await[..] else {
        panic!("one request to the primary")
    };
    assert_eq!(first.url.path(), "/v1/chat/completions");
    assert_eq!(
        header(first, "authorization"),
        Some(&*format!("Bearer {PRIMARY_KEY}"))
    );
    assert_eq!(
        body_json(first),
        json!({"model": "big-model", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.2})
    );
    let [second] = &requests(&backup).await[..] else {
        panic!("one request to the backup")
    };
    assert_eq!(second.method.as_str(), "POST");
    assert_eq!(second.url.path(), "/v1/chat/completions");
    assert_eq!(
        header(second, "authorization"),
        Some(&*format!("Bearer {BACKUP_KEY}"))
    );
    assert_eq!(
        body_json(second),
        json!({"model": "small-model", "messages": [{"role": "user", "content": "Hi"}]}),
        "the fallback role's own model and params"
    );

    let seen = seen.lock().unwrap();
    let (provider, model, success, fallbacks, attempts) = &seen[0];
    assert_eq!(
        (provider.as_str(), model.as_str(), *success, *fallbacks),
        ("backup", "small-model", true, 1)
    );
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].0.as_str(), attempts[0].1.as_str()),
        ("llm.inference", "primary")
    );
    assert!(
        attempts[0].2.contains("HTTP 500") && attempts[0].2.contains("down"),
        "{attempts:?}"
    );
    assert!(
        !format!("{seen:?}").contains("TESTKEY"),
        "no key in what hooks see"
    );
}

#[tokio::test]
async fn each_leg_of_a_route_writes_its_own_params_once_and_never_for_overrides() {
    let primary =
        server(ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "down"}})))
            .await;
    let backup = server(ResponseTemplate::new(200).set_body_json(chat_reply("ok"))).await;
    let yaml = format!(
        r#"
project: test
env: dev
providers:
  primary: {{ base_url: {}/v1, api: openai }}
  backup: {{ base_url: {}/v1, api: openai }}
roles:
  llm.inference:
    provider: primary
    model: big-model
    mode: chat
    params: {{ temperature: 0.2, max_tokens: 100 }}
    cooldown_ms: 0
    fallbacks: [llm.backup]
  llm.backup:
    provider: backup
    model: small-model
    mode: chat
    params: {{ top_p: 0.5 }}
"#,
        primary.uri(),
        backup.uri()
    );
    let hub = builder(&yaml).build().unwrap();
    let overrides = || Some(support::params(json!({"temperature": 0.9, "seed": 7})));
    for overrides in [None, overrides(), None, overrides(), None] {
        let reply = hub
            .completion("llm.inference", [Message::user("Hi")], overrides)
            .await
            .unwrap();
        assert_eq!(reply.text(), Some("ok"));
    }
    // The fallback role asked for itself: its own binding, not the route's leg.
    hub.completion("llm.backup", [Message::user("Hi")], None)
        .await
        .unwrap();

    let messages = r#""messages":[{"role":"user","content":"Hi"}]"#;
    let big = format!(r#"{{"model":"big-model",{messages},"temperature":0.2,"max_tokens":100}}"#);
    let big_overridden = format!(
        r#"{{"model":"big-model",{messages},"max_tokens":100,"temperature":0.9,"seed":7}}"#
    );
    assert_eq!(
        support::bodies(&primary).await,
        [&*big, &big_overridden, &big, &big_overridden, &big]
    );
    let small = format!(r#"{{"model":"small-model",{messages},"top_p":0.5}}"#);
    let small_overridden =
        format!(r#"{{"model":"small-model",{messages},"top_p":0.5,"temperature":0.9,"seed":7}}"#);
    assert_eq!(
        support::bodies(&backup).await,
        [
            &*small,
            &small_overridden,
            &small,
            &small_overridden,
            &small,
            &small
        ]
    );
}

#[tokio::test]
async fn a_bad_request_does_not_fall_back() {
    let primary = server(
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "bad messages"}})),
    )
    .await;
    let backup = server(ResponseTemplate::new(200).set_body_json(chat_reply("from backup"))).await;
    let hub = builder(&fallback_yaml(&primary.uri(), &backup.uri()))
        .build()
        .unwrap();

    let err = hub
        .completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http { status: 400, .. }), "{err:?}");
    assert_eq!(requests(&primary).await.len(), 1);
    assert!(
        requests(&backup).await.is_empty(),
        "a 400 is the request's fault: no fallback"
    );
}

#[tokio::test]
async fn rate_limits_and_timeouts_fall_back_too() {
    let limited = server(
        ResponseTemplate::new(429).set_body_json(json!({"error": {"message": "slow down"}})),
    )
    .await;
    let slow = server(
        ResponseTemplate::new(200)
            .set_body_json(chat_reply("late"))
            .set_delay(Duration::from_secs(5)),
    )
    .await;
    let backup = server(ResponseTemplate::new(200).set_body_json(chat_reply("from backup"))).await;
    for primary in [&limited, &slow] {
        let hub = builder(&fallback_yaml(&primary.uri(), &backup.uri()))
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let reply = hub
            .completion("llm.inference", [Message::user("Hi")], None)
            .await
            .unwrap();
        assert_eq!(reply.text(), Some("from backup"));
    }
    assert_eq!(requests(&backup).await.len(), 2);
}

const SSE_BODY: &str = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n\
data: [DONE]\n\n";

async fn stream_text(hub: &Hub) -> llmhub_core::Result<String> {
    let mut stream = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await?;
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(chunk?.text().unwrap_or(""));
    }
    Ok(text)
}

#[tokio::test]
async fn a_stream_falls_back_only_before_its_first_byte() {
    let sse = |body: &str| {
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(body.to_owned())
    };
    let backup = server(sse(SSE_BODY)).await;

    // Refused before the stream starts: the fallback streams the reply.
    let down = server(ResponseTemplate::new(503)).await;
    let hub = builder(&fallback_yaml(&down.uri(), &backup.uri()))
        .build()
        .unwrap();
    assert_eq!(stream_text(&hub).await.unwrap(), "Hello");
    let [request] = &requests(&backup).await[..] else {
        panic!("one request to the backup")
    };
    assert_eq!(body_json(request)["stream"], true);
    assert_eq!(body_json(request)["model"], "small-model");

    // Answered 200 but closed before its first byte: nothing was under way, so it falls back.
    let empty = server(sse("")).await;
    let hub = builder(&fallback_yaml(&empty.uri(), &backup.uri()))
        .build()
        .unwrap();
    assert_eq!(stream_text(&hub).await.unwrap(), "Hello");
    assert_eq!(requests(&empty).await.len(), 1);
    assert_eq!(requests(&backup).await.len(), 2);

    // Cut after its first bytes: the reply was under way, so the error is the caller's and
    // nothing is sent again.
    let cut = &SSE_BODY[..SSE_BODY.find("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"").unwrap()];
    let cutting = server(sse(cut)).await;
    let hub = builder(&fallback_yaml(&cutting.uri(), &backup.uri()))
        .build()
        .unwrap();
    let err = stream_text(&hub).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("ended before the reply was complete"),
        "{err}"
    );
    assert_eq!(requests(&cutting).await.len(), 1);
    assert_eq!(
        requests(&backup).await.len(),
        2,
        "no further request to the backup"
    );
}

/// `llm.inference` over `deployments` (YAML flow list entries), with `extra` role keys.
fn deployments_yaml(primary: &str, backup: &str, extra: &str, deployments: &str) -> String {
    format!(
        r#"
project: test
env: dev
providers:
  primary: {{ base_url: {primary}/v1, api: openai }}
  backup: {{ base_url: {backup}/v1, api: openai }}
roles:
  llm.inference:
    mode: chat
    {extra}
    deployments: {deployments}
"#
    )
}

#[tokio::test]
async fn deployments_share_calls_by_weight() {
    let server = server(ResponseTemplate::new(200).set_body_json(chat_reply("ok"))).await;
    let uri = server.uri();
    let yaml = deployments_yaml(
        &uri,
        &uri,
        "",
        "[{ provider: primary, model: light, weight: 1 }, { provider: primary, model: heavy, weight: 3, params: { temperature: 0.5 } }]",
    );
    let hub = builder(&yaml).build().unwrap();
    let calls = 1000;
    let failures = stream::iter(0..calls)
        .map(|_| hub.completion("llm.inference", [Message::user("Hi")], None))
        .buffer_unordered(32)
        .filter(|r| std::future::ready(r.is_err()))
        .count()
        .await;
    assert_eq!(failures, 0);

    let requests = requests(&server).await;
    assert_eq!(requests.len(), calls);
    let light = requests
        .iter()
        .filter(|r| body_json(r)["model"] == "light")
        .count();
    // Binomial(1000, 1/4): mean 250, standard deviation 13.7; 5 deviations either side.
    assert!((182..=318).contains(&light), "light got {light} of {calls}");
    let heavy = requests
        .iter()
        .find(|r| body_json(r)["model"] == "heavy")
        .unwrap();
    assert_eq!(
        body_json(heavy)["temperature"],
        0.5,
        "a deployment's own params"
    );
}

#[tokio::test]
async fn a_failing_deployment_cools_down_then_is_tried_again() {
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_reply("flaky is back")))
        .with_priority(2)
        .mount(&flaky)
        .await;
    let steady = server(ResponseTemplate::new(200).set_body_json(chat_reply("steady"))).await;
    // `least-busy` with no call in flight picks the first deployment: the flaky one.
    let yaml = deployments_yaml(
        &flaky.uri(),
        &steady.uri(),
        "routing: least-busy\n    cooldown_ms: 400",
        "[{ provider: primary, model: a }, { provider: backup, model: b }]",
    );
    let (builder, seen) = watch(builder(&yaml));
    let hub = builder.build().unwrap();
    let ask = || hub.completion("llm.inference", [Message::user("Hi")], None);

    // The first call fails on the flaky deployment and moves on to the steady one.
    assert_eq!(ask().await.unwrap().text(), Some("steady"));
    assert_eq!(requests(&flaky).await.len(), 1);
    // While it cools down, calls skip it.
    for _ in 0..5 {
        assert_eq!(ask().await.unwrap().text(), Some("steady"));
    }
    assert_eq!(
        requests(&flaky).await.len(),
        1,
        "skipped while cooling down"
    );
    assert_eq!(requests(&steady).await.len(), 6);
    // After the cooldown it is tried again, and answers.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(ask().await.unwrap().text(), Some("flaky is back"));
    assert_eq!(requests(&flaky).await.len(), 2);

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 7, "one after-call report per call");
    let (provider, model, _, fallbacks, attempts) = &seen[0];
    assert_eq!(
        (provider.as_str(), model.as_str(), *fallbacks),
        ("backup", "b", 0)
    );
    assert_eq!(attempts[0].1, "primary");
    assert!(attempts[0].2.contains("HTTP 503"), "{attempts:?}");
    assert!(seen[1..].iter().all(|s| s.4.is_empty()));
}

#[tokio::test]
async fn a_reload_keeps_cooldowns() {
    let down = server(ResponseTemplate::new(500)).await;
    let up = server(ResponseTemplate::new(200).set_body_json(chat_reply("up"))).await;
    let dir = std::env::temp_dir().join(format!("llmhub-resilient-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("llmhub.yaml");
    let yaml = |cooldown: u64| {
        deployments_yaml(
            &down.uri(),
            &up.uri(),
            &format!("routing: least-busy\n    cooldown_ms: {cooldown}"),
            "[{ provider: primary, model: a }, { provider: backup, model: b }]",
        )
    };
    std::fs::write(&file, yaml(60_000)).unwrap();
    let hub = Hub::builder()
        .reload_from(&file)
        .max_retries(0)
        .build()
        .unwrap();
    assert_eq!(
        hub.completion("llm.inference", [Message::user("Hi")], None)
            .await
            .unwrap()
            .text(),
        Some("up")
    );
    std::fs::write(&file, yaml(50_000)).unwrap();
    let outcome = hub.reload().unwrap();
    assert_eq!(
        outcome.changed_roles,
        ["llm.inference"],
        "the cooldown is part of the role"
    );
    hub.completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    assert_eq!(
        requests(&down).await.len(),
        1,
        "still cooling down after the reload"
    );
    // A provider's limits are part of the provider.
    std::fs::write(
        &file,
        yaml(50_000).replace("api: openai }", "api: openai, rpm: 1000 }"),
    )
    .unwrap();
    let outcome = hub.reload().unwrap();
    assert_eq!(outcome.changed_providers, ["primary", "backup"]);
    assert!(outcome.changed_roles.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

fn limited_yaml(url: &str, limits: &str) -> String {
    format!(
        r#"
project: test
env: dev
providers:
  primary: {{ base_url: {url}/v1, api: openai, {limits} }}
  backup: {{ base_url: {url}/v1, api: openai }}
roles:
  llm.inference: {{ provider: primary, model: m, mode: chat }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_concurrency_holds_under_many_callers() {
    let server = counting_server(Duration::from_millis(20)).await;
    let hub = builder(&limited_yaml(&server.url, "max_concurrency: 2"))
        .build()
        .unwrap();
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move {
                hub.completion("llm.inference", [Message::user("Hi")], None)
                    .await
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().text(), Some("counted"));
    }
    assert_eq!(server.arrivals.lock().unwrap().len(), 50);
    assert_eq!(
        server.peak.load(Ordering::SeqCst),
        2,
        "never more than 2 in flight, and 2 reached"
    );
}

#[tokio::test]
async fn a_call_that_cannot_get_a_slot_in_time_fails_clearly() {
    // A stream holds its provider's slot until it ends; this one is never read.
    let (url, received) = support::piecewise_server(
        support::head_and_pieces(SSE_BODY.as_bytes(), 64),
        Duration::from_millis(10),
    )
    .await;
    let hub = builder(&limited_yaml(&url, "max_concurrency: 1"))
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let held = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    let started = Instant::now();
    let err = hub
        .completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(matches!(err, Error::Limited { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "primary: the call waited 0.2s for the provider's limits (max_concurrency: 1)"
        ) && text.contains("raise the limits"),
        "{text}"
    );
    assert_eq!(
        received.lock().unwrap().len(),
        1,
        "the second call sent nothing"
    );
    // Once the stream is done, its slot is free again.
    drop(held);
    let again = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    drop(again);
    assert_eq!(received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn rpm_holds_over_a_window() {
    let server = counting_server(Duration::ZERO).await;
    let window = Duration::from_millis(500);
    let hub = builder(&limited_yaml(&server.url, "rpm: 5"))
        .rate_window(window)
        .build()
        .unwrap();
    let started = Instant::now();
    let results = futures_util::future::join_all(
        (0..12).map(|_| hub.completion("llm.inference", [Message::user("Hi")], None)),
    )
    .await;
    assert!(results.iter().all(Result::is_ok));
    let arrivals = server.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 12);
    // Twelve requests at five per 500 ms: about 1.1 s from the first to the last.
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    for (i, start) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .filter(|t| t.duration_since(*start) < window - Duration::from_millis(20))
            .count();
        assert!(in_window <= 5, "{in_window} requests within one window");
    }
}

#[tokio::test]
async fn tpm_charges_estimates_then_corrects_them_with_usage() {
    // Each call is charged about 20 tokens for its body plus its max_tokens of 100, against a
    // bucket of 250 tokens refilled over 600 ms.
    let yaml = |url: &str| {
        limited_yaml(url, "tpm: 250")
            .replace("mode: chat }", "mode: chat, params: { max_tokens: 100 } }")
    };
    let ask = |hub: Hub| async move {
        hub.completion("llm.inference", [Message::user("Hi")], None)
            .await
    };

    // Three at once: two fit the bucket, the third waits for the refill.
    let server = counting_server(Duration::ZERO).await;
    let hub = builder(&yaml(&server.url))
        .rate_window(Duration::from_millis(600))
        .build()
        .unwrap();
    let started = Instant::now();
    let results = futures_util::future::join_all((0..3).map(|_| ask(hub.clone()))).await;
    assert!(results.iter().all(Result::is_ok));
    let mut arrivals: Vec<Duration> = server
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.duration_since(started))
        .collect();
    arrivals.sort();
    assert!(
        arrivals[1] < Duration::from_millis(150),
        "two fit the bucket: {arrivals:?}"
    );
    assert!(
        arrivals[2] >= Duration::from_millis(150),
        "the third waits: {arrivals:?}"
    );

    // One after another: each reply says it used 11 tokens, so the next call is charged that
    // much less and none waits.
    let server = counting_server(Duration::ZERO).await;
    let hub = builder(&yaml(&server.url))
        .rate_window(Duration::from_millis(600))
        .build()
        .unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        ask(hub.clone()).await.unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn when_every_deployment_cools_down_the_first_to_recover_is_tried() {
    let a = server(ResponseTemplate::new(500).set_body_string("a is down")).await;
    let b = server(ResponseTemplate::new(502).set_body_string("b is down")).await;
    let yaml = deployments_yaml(
        &a.uri(),
        &b.uri(),
        "routing: least-busy\n    cooldown_ms: 60000",
        "[{ provider: primary, model: a }, { provider: backup, model: b }]",
    );
    let (builder, seen) = watch(builder(&yaml));
    let hub = builder.build().unwrap();
    let ask = || hub.completion("llm.inference", [Message::user("Hi")], None);

    // Both fail: the call's error is the last one, and the hooks see the first.
    let err = ask().await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 502, .. }), "{err:?}");
    // Both cool down now; rather than fail without a request, the call tries the deployment
    // whose cooldown ends first.
    let err = ask().await.unwrap_err();
    assert!(matches!(err, Error::Http { status: 500, .. }), "{err:?}");
    assert_eq!(requests(&a).await.len(), 2);
    assert_eq!(requests(&b).await.len(), 1);

    let seen = seen.lock().unwrap();
    let (provider, _, success, _, attempts) = &seen[0];
    assert_eq!((provider.as_str(), *success), ("backup", false));
    assert_eq!(attempts.len(), 1);
    assert!(attempts[0].2.contains("a is down"), "{attempts:?}");
}
