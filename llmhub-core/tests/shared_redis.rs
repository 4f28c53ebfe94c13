//! Limits and cooldowns shared by several hubs through Redis (feature `redis`). Each test
//! starts its own `redis-server` on a free loopback port, in a temporary directory and without
//! persistence, and stops it at the end.
#![cfg(feature = "redis")]

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use llmhub_core::{Config, Hub, Message};
use support::counting_server;
use wiremock::ResponseTemplate;

/// A `redis-server` of this test; stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        Redis::start_on(port)
    }

    fn start_on(port: u16) -> Redis {
        let dir = std::env::temp_dir().join(format!("llmhub-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install -y redis-server)");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port, dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hub(yaml: &str, redis: &Redis) -> Hub {
    Hub::builder()
        .config(Config::from_yaml_str(yaml).unwrap())
        .redis_url(redis.url())
        .max_retries(0)
        .rate_window(Duration::from_secs(1))
        .build()
        .unwrap()
}

fn limited_yaml(project: &str, url: &str, limits: &str) -> String {
    format!(
        r#"
project: {project}
env: dev
shared: {{ redis_url_env: LLMHUB_TEST_REDIS_URL_UNSET }}
providers:
  primary: {{ base_url: {url}/v1, api: openai, {limits} }}
roles:
  llm.inference: {{ provider: primary, model: m, mode: chat }}
"#
    )
}

async fn ask(hub: &Hub) -> llmhub_core::Result<llmhub_core::ChatResponse> {
    hub.completion("llm.inference", [Message::user("Hi")], None)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hubs_share_one_rpm_budget() {
    let redis = Redis::start();
    let server = counting_server(Duration::ZERO).await;
    let yaml = limited_yaml("budget", &server.url, "rpm: 6");
    let hubs: Vec<Hub> = (0..4).map(|_| hub(&yaml, &redis)).collect();
    let calls = hubs.iter().flat_map(|hub| (0..5).map(move |_| ask(hub)));
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let arrivals = server.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 20);
    // Alone, each hub would send its five calls within the first second; together they must
    // keep to six per second.
    let window = Duration::from_millis(1000) - Duration::from_millis(30);
    for (i, start) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .filter(|t| t.duration_since(*start) < window)
            .count();
        assert!(in_window <= 6, "{in_window} requests within one window");
    }
    let span = arrivals.last().unwrap().duration_since(arrivals[0]);
    assert!(
        span >= Duration::from_secs(2),
        "20 requests at 6/s take at least 2 s: {span:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hubs_share_one_concurrency_limit() {
    let redis = Redis::start();
    let server = counting_server(Duration::from_millis(30)).await;
    let yaml = limited_yaml("slots", &server.url, "max_concurrency: 2");
    let hubs: Vec<Hub> = (0..4).map(|_| hub(&yaml, &redis)).collect();
    let calls = hubs.iter().flat_map(|hub| (0..5).map(move |_| ask(hub)));
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(server.arrivals.lock().unwrap().len(), 20);
    // Alone, each hub would have two in flight: eight together.
    assert_eq!(
        server.peak.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "never more than 2 in flight across the hubs"
    );
}

#[tokio::test]
async fn a_cooldown_set_by_one_hub_is_seen_by_the_others() {
    let redis = Redis::start();
    let down = support::serve(ResponseTemplate::new(503)).await;
    let up = support::serve(support::json_reply(serde_json::json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "up"}, "finish_reason": "stop"}]
    })))
    .await;
    let yaml = format!(
        r#"
project: cooldown
env: dev
providers:
  down: {{ base_url: {}/v1, api: openai }}
  up: {{ base_url: {}/v1, api: openai }}
roles:
  llm.inference:
    mode: chat
    routing: least-busy
    cooldown_ms: 60000
    deployments: [{{ provider: down, model: a }}, {{ provider: up, model: b }}]
"#,
        down.uri(),
        up.uri()
    );
    let hubs: Vec<Hub> = (0..4).map(|_| hub(&yaml, &redis)).collect();
    assert_eq!(ask(&hubs[0]).await.unwrap().text(), Some("up"));
    assert_eq!(down.received_requests().await.unwrap().len(), 1);
    // The cooldown reaches Redis in the background.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for hub in &hubs[1..] {
        assert_eq!(ask(hub).await.unwrap().text(), Some("up"));
    }
    assert_eq!(
        down.received_requests().await.unwrap().len(),
        1,
        "the other hubs skipped the deployment the first saw failing"
    );
    assert_eq!(up.received_requests().await.unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_redis_mid_run_fails_no_call() {
    let mut redis = Redis::start();
    let server = counting_server(Duration::from_millis(5)).await;
    let yaml = limited_yaml("outage", &server.url, "rpm: 600, max_concurrency: 4");
    let hubs: Vec<Hub> = (0..4).map(|_| hub(&yaml, &redis)).collect();
    let run = |hubs: Vec<Hub>| {
        tokio::spawn(async move {
            let calls = hubs.iter().flat_map(|hub| (0..10).map(move |_| ask(hub)));
            futures_util::future::join_all(calls).await
        })
    };
    let before = run(hubs.clone()).await.unwrap();
    assert!(before.iter().all(Result::is_ok), "{before:?}");

    let during = run(hubs.clone());
    tokio::time::sleep(Duration::from_millis(50)).await;
    redis.stop();
    let during = during.await.unwrap();
    assert!(during.iter().all(Result::is_ok), "{during:?}");
    let after = run(hubs.clone()).await.unwrap();
    assert!(after.iter().all(Result::is_ok), "{after:?}");

    // Shared mode resumes once Redis is back.
    let _again = Redis::start_on(redis.port);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let resumed = run(hubs).await.unwrap();
    assert!(resumed.iter().all(Result::is_ok), "{resumed:?}");
    assert_eq!(server.arrivals.lock().unwrap().len(), 160);
}
