//! Provider failures as llmhub errors: an HTTP status and its error body, a decode failure,
//! a reqwest error. Shared by the send loop and the protocols' stream decoders (which meet the
//! same failures inside a stream).

use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;

use crate::error::Error;

/// The error for a body that does not parse as the protocol's reply.
pub(crate) fn decode_error(provider: &str, err: &serde_json::Error) -> Error {
    Error::Decode {
        provider: provider.to_owned(),
        message: format!("{err}; the provider may not speak the protocol set by `api`"),
    }
}

/// The error for an unsuccessful status (or an error event of that kind).
pub(crate) fn status_error(
    provider: &str,
    status: u16,
    retry_after: Option<Duration>,
    message: String,
) -> Error {
    let provider = provider.to_owned();
    match status {
        401 | 403 => Error::Auth {
            provider,
            status,
            message,
        },
        429 => Error::RateLimited {
            provider,
            retry_after,
            message,
        },
        _ => Error::Http {
            provider,
            status,
            body: message,
            retry_after,
        },
    }
}

/// The longest provider message kept in an error, in characters.
const MESSAGE_CHARS: usize = 500;

/// The provider's error message from an error body: `error.message` (OpenAI and Anthropic),
/// `message`, `error` as a string, else the start of the body; at most [`MESSAGE_CHARS`]
/// characters of it.
pub(crate) fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(default)]
        error: Option<Detail>,
        #[serde(default)]
        message: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Detail {
        Object {
            #[serde(default)]
            message: Option<String>,
            #[serde(default, rename = "type")]
            kind: Option<String>,
        },
        Text(String),
    }
    if let Ok(envelope) = serde_json::from_slice::<Envelope>(body) {
        match envelope.error {
            Some(Detail::Object {
                message: Some(message),
                kind,
            }) => {
                return match kind {
                    Some(kind) => format!("{} ({})", bounded(&message), bounded(&kind)),
                    None => bounded(&message),
                };
            }
            Some(Detail::Text(message)) => return bounded(&message),
            _ => {}
        }
        if let Some(message) = envelope.message {
            return bounded(&message);
        }
    }
    bounded(String::from_utf8_lossy(body).trim())
}

/// `text`, cut to [`MESSAGE_CHARS`] characters (marked with `…`).
fn bounded(text: &str) -> String {
    match text.char_indices().nth(MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A reqwest error with its causes, on one line, its URL shown without user info or query.
pub(crate) fn describe_reqwest(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    match err.url() {
        Some(url) if url.as_str().contains(['@', '?', '#']) => {
            message.replace(url.as_str(), &redacted_url(url))
        }
        _ => message,
    }
}

/// `url` as it may appear in a message: without user info (a password), query (a token) or
/// fragment.
pub(crate) fn redacted_url(url: &Url) -> String {
    let mut url = url.clone();
    // Both only fail for URLs that cannot have user info (`data:`, …), which have none.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_error_messages_are_extracted() {
        assert_eq!(
            error_message(br#"{"error":{"message":"bad model","type":"invalid_request_error"}}"#),
            "bad model (invalid_request_error)"
        );
        assert_eq!(
            error_message(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            "Overloaded (overloaded_error)"
        );
        assert_eq!(error_message(br#"{"error":"nope"}"#), "nope");
        assert_eq!(error_message(b"upstream down"), "upstream down");
        assert_eq!(error_message(&[b'x'; 600]).chars().count(), 501);
        let long = format!(
            r#"{{"error":{{"message":"{}","type":"{}"}}}}"#,
            "é".repeat(4000),
            "t".repeat(900)
        );
        assert_eq!(
            error_message(long.as_bytes()).chars().count(),
            501 + 2 + 501 + 1
        );
        let long = format!(r#"{{"message":"{}"}}"#, "m".repeat(4000));
        assert_eq!(error_message(long.as_bytes()).chars().count(), 501);
    }

    #[test]
    fn urls_lose_user_info_query_and_fragment() {
        let url = Url::parse("https://user:pw@host.example:8443/v1/x?token=secret#frag").unwrap();
        assert_eq!(redacted_url(&url), "https://host.example:8443/v1/x");
        let url = Url::parse("http://127.0.0.1/v1").unwrap();
        assert_eq!(redacted_url(&url), "http://127.0.0.1/v1");
    }
}
