//! The image, audio and other modes against a loopback server: the exact requests
//! (JSON and multipart), the parsed responses, and the inputs refused before any request.

mod support;

use llmhub_core::__private::handle;
use llmhub_core::{AudioFile, Config, Error, Hub, Message, mode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn yaml(server: &str) -> String {
    format!(
        r#"
project: media
env: dev
providers:
  openai:
    env_key: LLMHUB_TEST_UNSET_OPENAI
    base_url: {server}/prefix/v1
roles:
  llm.image:
    provider: openai
    model: dall-e-3
    mode: image
    params: {{ size: 1024x1024, quality: hd, n: 1, response_format: b64_json, max_prompt_chars: 40 }}
  llm.transcribe:
    provider: openai
    model: whisper-1
    mode: audio
    params: {{ language: en, temperature: 0, timestamp_granularities: [word, segment] }}
  llm.voice:
    provider: openai
    model: tts-1
    mode: audio
    params: {{ voice: alloy, response_format: mp3 }}
  llm.moderate:
    provider: openai
    model: omni-moderation-latest
    mode: other
    params: {{ threshold: 0.5 }}
  llm.chat:
    provider: openai
    model: gpt-4.1
    mode: chat
"#
    )
}

fn hub(server: &MockServer) -> Hub {
    Hub::builder()
        .config(Config::from_yaml_str(&yaml(&server.uri())).unwrap())
        .api_key("openai", support::OPENAI_KEY)
        .build()
        .unwrap()
}

async fn server(route: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}

fn header<'r>(request: &'r Request, name: &str) -> &'r str {
    request.headers.get(name).unwrap().to_str().unwrap()
}

fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test]
async fn image_generation_sends_prompt_and_params_and_decodes_the_data() {
    let server = server(
        "/prefix/v1/images/generations",
        ResponseTemplate::new(200).set_body_json(json!({
            "created": 1700000000,
            "data": [{"b64_json": "iVBORw0KGgo=", "revised_prompt": "a red cat, watercolor"}]
        })),
    )
    .await;
    let hub = hub(&server);
    let images = handle::<mode::Image>(&hub, 0)
        .generate("a red cat")
        .await
        .unwrap();
    assert_eq!(images.created, 1700000000);
    let image = images.first().unwrap();
    assert_eq!(image.bytes().unwrap(), b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        image.revised_prompt.as_deref(),
        Some("a red cat, watercolor")
    );

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        header(&request, "authorization"),
        format!("Bearer {}", support::OPENAI_KEY)
    );
    assert_eq!(header(&request, "content-type"), "application/json");
    // `max_prompt_chars` is llmhub's own check, never sent.
    assert_eq!(
        json_body(&request),
        json!({"model": "dall-e-3", "prompt": "a red cat", "size": "1024x1024", "quality": "hd", "n": 1, "response_format": "b64_json"})
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cat.png");
    image.save(&file).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn image_overrides_and_urls_through_the_dynamic_api() {
    let server = server(
        "/prefix/v1/images/generations",
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": [{"url": "https://img.example/1.png"}]})),
    )
    .await;
    let hub = hub(&server);
    let overrides = support::params(json!({"response_format": "url", "n": 2}));
    let images = hub
        .generate("llm.image", "a dog", Some(overrides))
        .await
        .unwrap();
    assert_eq!(
        images.urls().collect::<Vec<_>>(),
        ["https://img.example/1.png"]
    );
    let body = json_body(&only_request(&server).await);
    assert_eq!(
        (body["response_format"].as_str(), body["n"].as_i64()),
        (Some("url"), Some(2))
    );
}

#[tokio::test]
async fn transcription_sends_the_exact_multipart_body() {
    let server = server(
        "/prefix/v1/audio/transcriptions",
        ResponseTemplate::new(200)
            .set_body_json(json!({"text": "hello world", "language": "english", "duration": 1.5})),
    )
    .await;
    let hub = hub(&server);
    let audio = AudioFile::new(&b"RIFF\x00fake-wav"[..], "meeting.wav");
    let text = handle::<mode::Audio>(&hub, 1)
        .transcribe(audio)
        .await
        .unwrap();
    assert_eq!(text.text, "hello world");
    assert_eq!(text.duration, Some(1.5));

    let request = only_request(&server).await;
    let content_type = header(&request, "content-type");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect(content_type);
    let field = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let mut expected = String::new();
    expected += &field("model", "whisper-1");
    expected += &field("language", "en");
    expected += &field("temperature", "0");
    expected += &field("timestamp_granularities[]", "word");
    expected += &field("timestamp_granularities[]", "segment");
    expected += &format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"meeting.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
    );
    let mut expected = expected.into_bytes();
    expected.extend_from_slice(b"RIFF\x00fake-wav");
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(request.body, expected);
    assert_eq!(
        header(&request, "authorization"),
        format!("Bearer {}", support::OPENAI_KEY)
    );
}

#[tokio::test]
async fn plain_text_transcriptions_parse() {
    let server = server(
        "/prefix/v1/audio/transcriptions",
        ResponseTemplate::new(200)
            .set_body_raw("1\n00:00:00,000 --> 00:00:01,000\nhi\n", "text/plain"),
    )
    .await;
    let hub = hub(&server);
    let overrides = support::params(json!({"response_format": "srt"}));
    let text = hub
        .transcribe(
            "llm.transcribe",
            AudioFile::new(&b"ID3"[..], "a.mp3"),
            Some(overrides),
        )
        .await
        .unwrap();
    assert!(text.text.contains("00:00:01,000\nhi"));
}

#[tokio::test]
async fn speech_returns_the_audio_bytes() {
    let server = server(
        "/prefix/v1/audio/speech",
        ResponseTemplate::new(200).set_body_raw(&b"ID3\x04fake-mp3"[..], "audio/mpeg"),
    )
    .await;
    let hub = hub(&server);
    let speech = handle::<mode::Audio>(&hub, 2)
        .speech("Hello there")
        .await
        .unwrap();
    assert_eq!(&speech.bytes[..], b"ID3\x04fake-mp3");
    assert_eq!(speech.content_type.as_deref(), Some("audio/mpeg"));
    let request = only_request(&server).await;
    assert_eq!(
        json_body(&request),
        json!({"model": "tts-1", "input": "Hello there", "voice": "alloy", "response_format": "mp3"})
    );
}

#[tokio::test]
async fn raw_calls_post_model_params_and_body_to_the_path() {
    let server = server(
        "/prefix/v1/moderations",
        ResponseTemplate::new(200).set_body_json(json!({"results": [{"flagged": false}]})),
    )
    .await;
    let hub = hub(&server);
    let reply = handle::<mode::Other>(&hub, 3)
        .raw(
            "/moderations",
            json!({"input": "is this fine?", "threshold": 0.9}),
        )
        .await
        .unwrap();
    assert_eq!(reply["results"][0]["flagged"], false);
    let request = only_request(&server).await;
    assert_eq!(
        header(&request, "authorization"),
        format!("Bearer {}", support::OPENAI_KEY)
    );
    assert_eq!(
        json_body(&request),
        json!({"model": "omni-moderation-latest", "threshold": 0.9, "input": "is this fine?"})
    );
    // The dynamic API reaches the same endpoint; a path may omit the leading slash.
    hub.raw("llm.moderate", "moderations", json!({"input": "x"}), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_inputs_are_refused_before_any_request() {
    let server = MockServer::start().await;
    let hub = hub(&server);
    let expect_invalid = |result: Result<(), Error>, words: &str| match result {
        Err(err @ Error::InvalidInput { .. }) => {
            assert!(err.to_string().contains(words), "{err} lacks {words:?}")
        }
        other => panic!("expected InvalidInput containing {words:?}, got {other:?}"),
    };
    let voice = handle::<mode::Audio>(&hub, 2);
    let transcriber = handle::<mode::Audio>(&hub, 1);
    expect_invalid(
        transcriber
            .transcribe(AudioFile::new(Vec::new(), "a.wav"))
            .await
            .map(drop),
        "is empty",
    );
    expect_invalid(
        transcriber
            .transcribe(AudioFile::new(&b"x"[..], "notes.txt"))
            .await
            .map(drop),
        "not an audio file name",
    );
    expect_invalid(
        voice
            .transcribe(AudioFile::new(&b"x"[..], "a.wav"))
            .await
            .map(drop),
        "model `tts-1` speaks text; call .speech(text)",
    );
    expect_invalid(
        transcriber.speech("hi").await.map(drop),
        "call .transcribe(audio)",
    );
    expect_invalid(
        handle::<mode::Image>(&hub, 0)
            .generate(&"long ".repeat(20))
            .await
            .map(drop),
        "allows 40",
    );
    expect_invalid(
        handle::<mode::Image>(&hub, 0).generate("").await.map(drop),
        "prompt is empty",
    );
    expect_invalid(
        hub.raw(
            "llm.moderate",
            "https://evil.example/steal",
            json!({}),
            None,
        )
        .await
        .map(drop),
        "not a path under the provider's base URL",
    );
    expect_invalid(
        hub.raw("llm.moderate", "/../../admin", json!({}), None)
            .await
            .map(drop),
        "not a path under",
    );
    expect_invalid(
        hub.raw("llm.moderate", "/x", json!([1, 2]), None)
            .await
            .map(drop),
        "must be an object",
    );
    // Wrong-mode dynamic calls say what to call instead.
    match hub.generate("llm.chat", "a cat", None).await {
        Err(Error::ModeMismatch {
            call: "generate",
            hint,
            ..
        }) => {
            assert!(hint.contains("`completion`"), "{hint}")
        }
        other => panic!("expected ModeMismatch, got {other:?}"),
    }
    match hub
        .completion("llm.voice", [Message::user("hi")], None)
        .await
    {
        Err(Error::ModeMismatch { hint, .. }) => assert!(hint.contains("`transcribe` or `speech`")),
        other => panic!("expected ModeMismatch, got {other:?}"),
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing was sent"
    );
}

#[tokio::test]
async fn provider_errors_come_back_with_the_providers_message() {
    let server = server(
        "/prefix/v1/images/generations",
        ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Your prompt was rejected by the safety system", "type": "invalid_request_error"}})),
    )
    .await;
    let hub = hub(&server);
    match handle::<mode::Image>(&hub, 0).generate("something").await {
        Err(Error::Http {
            status: 400, body, ..
        }) => assert!(body.contains("safety system"), "{body}"),
        other => panic!("expected Http 400, got {other:?}"),
    }
}

#[test]
fn media_roles_on_anthropic_are_config_errors_at_the_role_line() {
    let err = Config::from_yaml_str(
        "project: p\nenv: dev\nproviders: { anthropic: {} }\nroles:\n  llm.image:\n    provider: anthropic\n    model: claude\n    mode: image\n",
    )
    .unwrap_err();
    let problems = err.config_problems();
    assert_eq!(problems.len(), 1);
    assert_eq!((problems[0].line, problems[0].column), (8, 11));
    assert!(problems[0].message.contains("mode `image`"));
}
