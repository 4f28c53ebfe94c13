//! Sending: the request with its retries (exponential backoff with jitter, or the provider's
//! `Retry-After`), and the mapping of what came back (an error status, a failed connection, a
//! timeout) to llmhub errors, with the provider's key masked should a server echo it.

use std::borrow::Cow;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderValue, LOCATION};

use crate::client::provider::{Encoded, Provider};
use crate::client::settings::ERROR_BODY_KEPT;
use crate::client::status::{describe_reqwest, error_message, redacted_url, status_error};
use crate::error::{Error, Result};

/// Whether an HTTP status is worth retrying: 408, 429, 5xx (with
/// Anthropic's 529 "overloaded").
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429) || (500..=599).contains(&status)
}

/// The delay a response asks for: `retry-after-ms` (OpenAI), else `Retry-After` in seconds.
/// `Retry-After` may also be an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    // A huge value (`1e20`) does not fit a Duration: treat it as "no usable delay" rather
    // than panic; the policy caps any delay at `max_delay` anyway.
    if let Some(ms) = number("retry-after-ms") {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    if let Some(secs) = number("retry-after") {
        return Duration::try_from_secs_f64(secs).ok();
    }
    // The HTTP-date form: the wait is until that time (none if it has passed).
    let date = headers.get("retry-after")?.to_str().ok()?;
    let at = httpdate::parse_http_date(date.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// Sends `body` to `url`, retrying connect errors and retryable statuses with backoff, up to
/// the provider's `max_retries`; returns the first successful response (its body unread) or
/// the last error.
///
/// Each attempt is limited by the provider's timeout: with `whole`, until its body is read
/// (reqwest's own request timeout, one timer for both phases); without (a stream), until the
/// response headers arrive, the stream's idle timeout taking over from there.
pub(crate) async fn send(
    client: &reqwest::Client,
    provider: &Provider,
    encoded: &Encoded<'_>,
    auth: Option<&HeaderValue>,
    whole: bool,
) -> Result<reqwest::Response> {
    let mut retry = 0;
    loop {
        let mut request = provider.request(encoded, auth);
        let attempt = if whole {
            *request.timeout_mut() = Some(provider.timeout);
            Ok(client.execute(request).await)
        } else {
            tokio::time::timeout(provider.timeout, client.execute(request)).await
        };
        let (err, asked) = match attempt {
            Err(_) => return Err(timeout_error(provider, "request")),
            Ok(Ok(response)) if response.status().is_success() => return Ok(response),
            Ok(Ok(response)) if response.status().is_redirection() => {
                return Err(redirect_error(provider, &encoded.url, &response));
            }
            Ok(Ok(mut response)) => {
                let status = response.status().as_u16();
                let asked = retry_after(response.headers());
                // Only the start of an error body is read: enough for its message.
                let (body, cut) = tokio::time::timeout(
                    provider.timeout,
                    read_capped(&mut response, ERROR_BODY_KEPT),
                )
                .await
                .ok()
                .and_then(|body| body.ok())
                .unwrap_or_default();
                let err = http_error(provider, status, asked, &body, cut);
                if !is_retryable_status(status) {
                    return Err(err);
                }
                (err, asked)
            }
            Ok(Err(err)) => {
                let connect = err.is_connect();
                let err = transport_error(provider, &err);
                if !connect {
                    return Err(err);
                }
                (err, None)
            }
        };
        if retry >= provider.retry.max_retries {
            return Err(err);
        }
        let delay = provider.retry.delay(retry, asked);
        tracing::debug!(
            provider = &*provider.id,
            retry = retry + 1,
            delay_ms = delay.as_millis() as u64,
            error = %err,
            "retrying"
        );
        tokio::time::sleep(delay).await;
        retry += 1;
    }
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
    Error::Redirect {
        provider: provider.id.to_string(),
        status: response.status().as_u16(),
        location,
    }
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
    fn retry_after_headers_win_and_are_capped() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        assert_eq!(
            policy().delay(0, retry_after(&headers)),
            Duration::from_secs(1)
        );
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&headers),
            Some(Duration::ZERO),
            "a past date: retry now"
        );
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
            None,
            "a huge value is ignored, not a panic"
        );
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
