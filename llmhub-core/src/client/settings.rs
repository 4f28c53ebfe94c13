//! Timeouts, retries and size caps: the defaults, what the builder overrides for every
//! provider, and each provider's retry policy.

use std::time::Duration;

/// Timeouts, retries and caps chosen in the builder; each `Some` overrides every provider's
/// config.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    pub connect_timeout: Duration,
    pub stream_idle_timeout: Option<Duration>,
    pub retry_base_delay: Duration,
    pub retry_max_delay: Duration,
    pub retry_after_ceiling: Duration,
    /// The largest reply body read, in bytes.
    pub max_response_bytes: usize,
    /// The largest line or event of a stream, in bytes.
    pub max_event_bytes: usize,
    /// Providers whose key was given as a bearer token (`HubBuilder::azure_ad_token`).
    pub bearer_tokens: Vec<String>,
    /// The window `rpm` and `tpm` count over (a minute, shorter in tests).
    pub rate_window: Duration,
    /// Whether the builder was given its HTTP client, whose default headers llmhub does not
    /// know (set when the hub is built, from whether it has one).
    pub client_given: bool,
    /// The Redis URL given to the builder (wins over the config's `shared:`).
    #[cfg(feature = "redis")]
    pub redis_url: Option<crate::secret::SecretString>,
}

/// The window `rpm` and `tpm` count over, unless a hub is built with another.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Whole-request timeout when neither the config nor the builder sets one.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Retries when neither the config nor the builder sets them.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 2;
/// The largest reply body read unless the builder says otherwise.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 << 20;
/// The largest stream line or event unless the builder says otherwise.
pub(crate) const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;
/// How much of an error body is kept (for its message); the rest is not read.
pub(crate) const ERROR_BODY_KEPT: usize = 8 << 10;

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: None,
            max_retries: None,
            connect_timeout: Duration::from_secs(10),
            stream_idle_timeout: None,
            retry_base_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(30),
            retry_after_ceiling: Duration::from_secs(60),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            bearer_tokens: Vec::new(),
            rate_window: RATE_WINDOW,
            client_given: false,
            #[cfg(feature = "redis")]
            redis_url: None,
        }
    }
}

/// How a provider's requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each further retry.
    pub base_delay: Duration,
    /// The longest wait of the backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a server asking for more gets no retry.
    pub ceiling: Duration,
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

    /// The wait before retry number `retry`: the provider's `Retry-After` when it gave one,
    /// else the backoff; `None` (do not retry) when it asks for more than the ceiling. A zero
    /// wait (`retry-after: 0`, a date passed) gets the backoff, so that a server cannot make
    /// the retries come in a burst.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        match retry_after {
            Some(asked) if asked > self.ceiling => None,
            Some(asked) if !asked.is_zero() => Some(asked),
            _ => Some(self.backoff(retry)),
        }
    }
}

/// The instant `after` past `from`; a wait too long to add (`Duration::MAX`, say) is a
/// deadline decades away rather than an overflow.
pub(crate) fn deadline_from(from: std::time::Instant, after: Duration) -> std::time::Instant {
    from.checked_add(after)
        .unwrap_or_else(|| from + Duration::from_secs(30 * 365 * 86_400))
}

/// A future for a rare wait (a limiter's, a retry's, an error body's), boxed behind `dyn`
/// when it is taken: its state then takes no room in every call's future, and its code is
/// not inlined into every call's poll, where it would spread the common path over more of
/// the instruction cache.
pub(crate) type RareWait<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `wait` as a [`RareWait`].
pub(crate) fn rare<'a, F>(wait: F) -> RareWait<'a, F::Output>
where
    F: Future + Send + 'a,
{
    Box::pin(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_too_far_to_add_is_decades_away_not_a_panic() {
        let now = std::time::Instant::now();
        assert_eq!(
            deadline_from(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = deadline_from(now, Duration::MAX);
        assert!(
            far - now >= Duration::from_secs(29 * 365 * 86_400),
            "{:?}",
            far - now
        );
    }
}
