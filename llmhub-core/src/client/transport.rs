//! Sending: the request with its retries (exponential backoff with jitter, or the provider's
//! `Retry-After`), and the mapping of what came back (an error status, a failed connection, a
//! timeout) to llmhub errors, with the provider's key masked should a server echo it.

use std::borrow::Cow;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Url;
use reqwest::header::{HeaderMap, LOCATION};
use std::time::Instant;

use crate::client::deadline::within;
use crate::client::provider::{Encoded, Provider};
use crate::client::settings::{ERROR_BODY_KEPT, deadline_from, rare};
use crate::client::status::{describe_reqwest, error_message, redacted_url, status_error};
use crate::error::{Error, Result};

/// Whether an HTTP status is worth retrying: 408, 429, 5xx (with
/// Anthropic's 529 "overloaded").
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status)
}

/// Whether a failed response is worth retrying: as its `x-should-retry` header says (OpenAI
/// and Anthropic send it), else as its status says.
pub(crate) fn should_retry(status: u16, headers: &HeaderMap) -> bool {
    let said = headers
        .get("x-should-retry")
        .and_then(|value| value.to_str().ok())
        .map(str::trim);
    match said {
        Some(value) if value.eq_ignore_ascii_case("true") => true,
        Some(value) if value.eq_ignore_ascii_case("false") => false,
        _ => is_retryable_status(status),
    }
}

/// The headers that carry the delay a response asks for, in milliseconds then in seconds (or
/// an HTTP date): the provider's own, then the provider's as a LiteLLM proxy passes them on.
const RETRY_AFTER_HEADERS: [(&str, &str); 2] = [
    ("retry-after-ms", "retry-after"),
    ("llm_provider-retry-after-ms", "llm_provider-retry-after"),
];

/// The delay a response asks for (see [`RETRY_AFTER_HEADERS`]). A date that has passed is a
/// zero delay; a value too large for a `Duration` is the longest one.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| Some(headers.get(name)?.to_str().ok()?.trim());
    let number = |name: &str| -> Option<f64> {
        let value = text(name)?.parse::<f64>().ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    let secs = |secs: f64| Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
    for (ms_header, secs_header) in RETRY_AFTER_HEADERS {
        if let Some(ms) = number(ms_header) {
            return Some(secs(ms / 1000.0));
        }
        if let Some(value) = number(secs_header) {
            return Some(secs(value));
        }
        if let Some(at) = text(secs_header).and_then(|date| httpdate::parse_http_date(date).ok()) {
            return Some(
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
            );
        }
    }
    None
}

/// Sends `encoded` with `headers` (the provider's [`Provider::call_headers`]), retrying
/// connect errors and retryable statuses with backoff, up to the provider's `max_retries`;
/// returns the first successful response (its body unread) with the deadline of its attempt,
/// or the last error.
///
/// Each attempt is given the provider's timeout from its start: the response headers must
/// arrive by the deadline returned, and a whole body must be read by it too (the caller's
/// part); a stream's idle timeout takes over once its headers are in. A body that is already
/// buffered when it is read never arms the timer.
pub(crate) async fn send(
    client: &reqwest::Client,
    provider: &Provider,
    encoded: &Encoded<'_>,
    headers: &HeaderMap,
) -> Result<(reqwest::Response, Instant)> {
    let mut retry = 0;
    loop {
        let request = provider.request(encoded, headers);
        let deadline = deadline_from(Instant::now(), provider.timeout);
        // A failure is read out of line, as the retry's sleep below (see `rare`). The
        // response moves into the boxed read of its error, and the attempt's outcome ends
        // with this block, so that neither takes room in the call's future.
        let failed = {
            let attempt = within(deadline, provider.timeout, client.execute(request)).await;
            match attempt {
                Err(_) => return Err(timeout_error(provider, "request")),
                Ok(Ok(response)) if response.status().is_success() => {
                    return Ok((response, deadline));
                }
                Ok(Ok(response)) if response.status().is_redirection() => {
                    return Err(redirect_error(provider, &encoded.url, &response));
                }
                Ok(Ok(response)) => rare(failure(provider, response, deadline)),
                Ok(Err(err)) if err.is_connect() => rare(std::future::ready((
                    transport_error(provider, &err),
                    None,
                    true,
                ))),
                Ok(Err(err)) => return Err(transport_error(provider, &err)),
            }
        };
        let (err, asked, retryable) = failed.await;
        if !retryable {
            return Err(err);
        }
        if retry >= provider.retry.max_retries {
            return Err(err);
        }
        let Some(delay) = provider.retry.delay(retry, asked) else {
            // The provider asked for a longer wait than the ceiling: its error, with the
            // delay it asked for, at once.
            return Err(err);
        };
        tracing::debug!(
            provider = &*provider.id,
            retry = retry + 1,
            delay_ms = delay.as_millis() as u64,
            error = %err,
            "retrying"
        );
        rare(tokio::time::sleep(delay)).await;
        retry += 1;
    }
}

/// What an unsuccessful `response` means: its error (with the provider's message, from the
/// start of its body, read by `deadline`), the delay it asks for, and whether it is worth
/// retrying.
async fn failure(
    provider: &Provider,
    mut response: reqwest::Response,
    deadline: Instant,
) -> (Error, Option<Duration>, bool) {
    let status = response.status().as_u16();
    let asked = retry_after(response.headers());
    // Only the start of an error body is read: enough for its message.
    let (body, cut) = within(
        deadline,
        provider.timeout,
        read_capped(&mut response, ERROR_BODY_KEPT),
    )
    .await
    .ok()
    .and_then(|body| body.ok())
    .unwrap_or_default();
    let err = http_error(provider, status, asked, &body, cut);
    (err, asked, should_retry(status, response.headers()))
}

/// Reads a body chunk by chunk, stopping once it passes `limit` bytes: the body (at most
/// `limit` bytes) and whether it was cut. A body that comes in one chunk is not copied.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> reqwest::Result<(Bytes, bool)> {
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    let mut cut = false;
    while let Some(chunk) = response.chunk().await? {
        let len = joined.as_ref().map_or(first.len(), BytesMut::len);
        let room = limit - len;
        cut = chunk.len() > room;
        let chunk = if cut { chunk.slice(..room) } else { chunk };
        match &mut joined {
            None if first.is_empty() => first = chunk,
            None => {
                let expected = usize::try_from(response.content_length().unwrap_or(0))
                    .unwrap_or(limit)
                    .clamp(len + chunk.len(), limit);
                let mut buf = BytesMut::with_capacity(expected);
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&chunk);
                joined = Some(buf);
            }
            Some(buf) => buf.extend_from_slice(&chunk),
        }
        if cut {
            break;
        }
    }
    Ok((joined.map_or(first, BytesMut::freeze), cut))
}

/// The error for a reply body larger than the provider's cap.
pub(crate) fn reply_too_large(provider: &Provider) -> Error {
    Error::TooLarge {
        provider: provider.id.to_string(),
        what: "reply body",
        limit: provider.max_response_bytes,
        setter: "max_response_bytes",
    }
}

/// The error for an unsuccessful status, with the provider's own message (with the key and
/// header values masked, should a server echo them). `cut` says the body was cut short.
pub(crate) fn http_error(
    provider: &Provider,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    cut: bool,
) -> Error {
    // Masked before the message is cut to length, so no prefix of a secret survives the cut.
    let mut body = Cow::Borrowed(body);
    for secret in provider.secrets() {
        if secret.is_empty() {
            continue;
        }
        if memchr::memmem::find(&body, secret.as_bytes()).is_some() {
            body = Cow::Owned(
                String::from_utf8_lossy(&body)
                    .replace(secret, "***")
                    .into_bytes(),
            );
        }
        // A body cut short may end with the start of a secret.
        if cut
            && let Some(keep) = (1..secret.len())
                .rev()
                .find(|&n| body.ends_with(&secret.as_bytes()[..n]))
        {
            body = Cow::Owned(body[..body.len() - keep].to_vec());
        }
    }
    status_error(&provider.id, status, retry_after, error_message(&body))
}

/// The error for a redirect, naming where it pointed (resolved against the request's URL,
/// without user info or query). Redirects are not followed: the key would go along.
fn redirect_error(provider: &Provider, url: &Url, response: &reqwest::Response) -> Error {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|location| url.join(location.trim()).ok())
        .map(|location| redacted_url(&location));
    provider.mask(Error::Redirect {
        provider: provider.id.to_string(),
        status: response.status().as_u16(),
        location,
    })
}

/// The error for a failed send or body read.
pub(crate) fn transport_error(provider: &Provider, err: &reqwest::Error) -> Error {
    if err.is_timeout() {
        let connect = err.is_connect();
        return Error::Timeout {
            provider: provider.id.to_string(),
            what: if connect { "connect" } else { "request" },
            after: if connect {
                provider.connect_timeout
            } else {
                provider.timeout
            },
        };
    }
    let mut message = describe_reqwest(err);
    if err.is_connect() {
        message.push_str("; check the provider's `base_url` and that its server is reachable");
    }
    Error::Transport {
        provider: provider.id.to_string(),
        message,
    }
}

/// The error for `what` (a request, a stream's first byte) taking longer than the timeout.
pub(crate) fn timeout_error(provider: &Provider, what: &'static str) -> Error {
    Error::Timeout {
        provider: provider.id.to_string(),
        what,
        after: provider.timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::settings::RetryPolicy;
    use reqwest::header::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ceiling: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        for _ in 0..100 {
            let first = policy().backoff(0);
            assert!(first <= Duration::from_millis(100) && first >= Duration::from_millis(75));
            let third = policy().backoff(2);
            assert!(third <= Duration::from_millis(400) && third >= Duration::from_millis(300));
            let late = policy().backoff(40);
            assert!(late <= Duration::from_secs(1) && late >= Duration::from_millis(750));
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_ceiling() {
        let delay = |asked: Option<Duration>| policy().delay(0, asked);
        // Beyond the backoff's cap: honoured, not cut (a retry that came early would only
        // burn the budget).
        assert_eq!(
            delay(Some(Duration::from_secs(45))),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            delay(Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            delay(Some(Duration::from_secs(61))),
            None,
            "past the ceiling"
        );
        assert_eq!(delay(Some(Duration::MAX)), None);
        // Zero (`retry-after: 0`, a date passed) and none: the backoff, never an instant retry.
        for asked in [Some(Duration::ZERO), None] {
            for _ in 0..100 {
                let wait = delay(asked).unwrap();
                assert!(wait >= Duration::from_millis(75), "{wait:?}");
            }
        }
    }

    #[test]
    fn retry_after_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        headers.insert("retry-after", HeaderValue::from_str(&soon).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(27) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert("retry-after", HeaderValue::from_static("1e20"));
        assert_eq!(
            retry_after(&headers),
            Some(Duration::MAX),
            "a huge value is the longest wait, not a panic"
        );
    }

    #[test]
    fn a_litellm_proxy_passes_the_providers_retry_after_on() {
        let mut headers = HeaderMap::new();
        headers.insert("llm_provider-retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(
            "llm_provider-retry-after-ms",
            HeaderValue::from_static("250"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        // The proxy's own header wins.
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
    }

    #[test]
    fn x_should_retry_overrides_the_status() {
        let mut headers = HeaderMap::new();
        assert!(should_retry(503, &headers));
        assert!(!should_retry(409, &headers));
        headers.insert("x-should-retry", HeaderValue::from_static("false"));
        assert!(!should_retry(503, &headers));
        assert!(!should_retry(429, &headers));
        headers.insert("x-should-retry", HeaderValue::from_static(" TRUE "));
        assert!(should_retry(409, &headers));
        headers.insert("x-should-retry", HeaderValue::from_static("maybe"));
        assert!(should_retry(500, &headers));
        assert!(!should_retry(400, &headers));
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [408, 429, 500, 502, 503, 529] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }
}
