//! Retries: which failures are retried, how long to wait (exponential backoff with jitter, or
//! the provider's `Retry-After`), and the send loop that applies them.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use crate::error::Result;
use crate::providers::{Encoded, Provider};

/// How a provider's requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each further retry.
    pub base_delay: Duration,
    /// The longest wait between two attempts (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based): `base * 2^retry`, capped, less a random
    /// part of up to a quarter so that many clients do not retry in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(1.0 - 0.25 * fastrand::f64())
    }

    /// The wait before retry number `retry`, honouring the provider's `Retry-After` when it
    /// gave one (capped at `max_delay`).
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(asked) => asked.min(self.max_delay),
            None => self.backoff(retry),
        }
    }
}

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
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or_default())
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
            Err(_) => return Err(provider.timeout_error("request")),
            Ok(Ok(response)) if response.status().is_success() => return Ok(response),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let asked = retry_after(response.headers());
                let body = tokio::time::timeout(provider.timeout, response.bytes())
                    .await
                    .ok()
                    .and_then(|body| body.ok())
                    .unwrap_or_default();
                let err = provider.http_error(status, asked, &body);
                if !is_retryable_status(status) {
                    return Err(err);
                }
                (err, asked)
            }
            Ok(Err(err)) => {
                let connect = err.is_connect();
                let err = provider.transport_error(&err);
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

#[cfg(test)]
mod tests {
    use super::*;
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
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date: retry now");
        let soon = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(30));
        headers.insert("retry-after", HeaderValue::from_str(&soon).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(27) && wait <= Duration::from_secs(30), "{wait:?}");
        headers.insert("retry-after", HeaderValue::from_static("1e20"));
        assert_eq!(retry_after(&headers), None, "a huge value is ignored, not a panic");
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
