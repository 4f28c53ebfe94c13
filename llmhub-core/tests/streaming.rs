//! Streams served in awkward pieces by a loopback server: split lines, split UTF-8 characters,
//! comments and keep-alives, no `[DONE]`, a cut connection, a stalled server.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use llmhub_core::{ChatChunk, Error, Message, Result};
use support::*;

const OPENAI_STREAM: &str = concat!(
    ": this is a comment\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n",
    ": keep-alive\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße \"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"😀 日本\"}}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n\n",
);

async fn collect(
    pieces: Vec<Vec<u8>>,
    role: &str,
    idle: Option<Duration>,
) -> Vec<Result<ChatChunk>> {
    let (url, _) = piecewise_server(pieces, Duration::from_millis(1)).await;
    let mut builder = builder(&url, &url);
    if let Some(idle) = idle {
        builder = builder.stream_idle_timeout(idle);
    }
    let hub = builder.build().unwrap();
    let stream = hub
        .stream_completion(role, [Message::user("Hi")], None)
        .await
        .unwrap();
    stream.collect().await
}

#[tokio::test]
async fn split_anywhere_without_done_gives_the_whole_reply() {
    // Piece sizes that cut lines, `\r\n` pairs and multi-byte characters.
    for size in [1, 2, 3, 5, 7, 64] {
        let chunks = collect(
            head_and_pieces(OPENAI_STREAM.as_bytes(), size),
            "llm.inference",
            None,
        )
        .await;
        let chunks: Vec<ChatChunk> = chunks
            .into_iter()
            .collect::<Result<_>>()
            .unwrap_or_else(|e| panic!("size {size}: {e}"));
        let text: String = chunks.iter().filter_map(|c| c.text()).collect();
        assert_eq!(text, "Grüße 😀 日本", "size {size}");
        assert_eq!(
            chunks.last().unwrap().usage.unwrap().total_tokens,
            7,
            "size {size}"
        );
    }
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_an_error() {
    // Ends after two deltas: no finish_reason, no [DONE].
    let cut = OPENAI_STREAM
        .split("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},")
        .next()
        .unwrap();
    let chunks = collect(head_and_pieces(cut.as_bytes(), 16), "llm.inference", None).await;
    let (last, rest) = chunks.split_last().unwrap();
    let texts: Vec<_> = rest.iter().map(|c| c.as_ref().unwrap().text()).collect();
    assert_eq!(texts, [Some(""), Some("Grüße "), Some("😀 日本")]);
    let err = last.as_ref().unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("ended before the reply was complete"),
        "{err}"
    );

    // Cut inside an event's JSON.
    let mid = &OPENAI_STREAM.as_bytes()[..OPENAI_STREAM.find("😀").unwrap() + 2];
    let chunks = collect(head_and_pieces(mid, 9), "llm.inference", None).await;
    let (last, rest) = chunks.split_last().unwrap();
    let texts: Vec<_> = rest.iter().map(|c| c.as_ref().unwrap().text()).collect();
    assert_eq!(texts, [Some(""), Some("Grüße ")]);
    let err = last
        .as_ref()
        .expect_err("a partial event must not end the stream quietly");
    // The cut event is handed to the decoder as it is, which reports the JSON cut short.
    assert!(
        matches!(err, Error::Decode { message, .. } if message.contains("EOF while parsing")),
        "{err:?}"
    );
}

#[tokio::test]
async fn anthropic_stream_cut_before_message_stop_is_an_error() {
    let body = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hé\"}}\n\n",
    );
    let chunks = collect(head_and_pieces(body.as_bytes(), 3), "llm.memwrite", None).await;
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1].as_ref().unwrap().text(), Some("Hé"));
    assert!(matches!(chunks[2], Err(Error::Transport { .. })));
}

#[tokio::test]
async fn a_stalled_stream_times_out() {
    let first =
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n";
    let (url, _) = piecewise_server(
        vec![
            [SSE_HEAD, first.as_bytes()].concat(),
            b": late\n\n".to_vec(),
        ],
        Duration::from_secs(3),
    )
    .await;
    let hub = builder(&url, &url)
        .stream_idle_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut stream = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().text(), Some("a"));
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                what: "stream idle",
                ..
            }
        ),
        "{err}"
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_stream_that_keeps_sending_outlives_its_idle_timeout() {
    // Pieces 150 ms apart for 750 ms in all, under an idle timeout of 400 ms: each pause is
    // within it, so the deadline moves on with every piece and the stream is read whole.
    let piece = |text: &str| {
        format!("data: {{\"id\":\"c1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n")
            .into_bytes()
    };
    let mut pieces = vec![[SSE_HEAD, &piece("a")].concat()];
    pieces.extend(["b", "c", "d"].map(piece));
    pieces.push(
        b"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
            .to_vec(),
    );
    let (url, _) = piecewise_server(pieces, Duration::from_millis(150)).await;
    let hub = builder(&url, &url)
        .stream_idle_timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let reply = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(reply.text(), Some("abcd"));
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "the pauses happened"
    );
}

#[tokio::test]
async fn raw_server_sees_the_streaming_request() {
    let server = Server::script(vec![Reply::sse("data: [DONE]\n\n").split(4)]).await;
    let hub = hub(&server.url, &server.url);
    let chunks: Vec<_> = hub
        .stream_completion("llm.inference", [Message::user("Hi")], None)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(chunks.is_empty());
    let request = server.only_request();
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/prefix/v1/chat/completions");
    let auth = format!("Bearer {OPENAI_KEY}");
    assert_eq!(request.header("authorization"), Some(auth.as_str()));
    let body = request.json();
    assert_eq!(body["stream"], true, "{body}");
    assert_eq!(body["model"], "gpt-4.1", "{body}");
}
