//! A provider's own limits: `max_concurrency` (requests in flight; further calls wait their
//! turn in a fair queue), `rpm` (requests per minute) and `tpm` (tokens per minute, estimated
//! before a call and corrected with the reply's usage). A call waits for all three before its
//! request is sent, up to the provider's request timeout, then fails with
//! [`Error::Limited`].
//!
//! Rates use governor's GCRA limiter. `rpm` spaces requests evenly (one every window/rpm), so
//! no window ever sees more than `rpm` of them; `tpm` is a bucket of `tpm` tokens refilled
//! evenly over the window. The window is one minute (a hub built for tests may shorten it).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::client::response::Usage;
use crate::client::settings::{deadline_from, rare};
use crate::config::ProviderConfig;
use crate::error::{Error, Result};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// The fleet a provider's limits are shared with, if any.
#[cfg(feature = "redis")]
pub(crate) type FleetLink = Option<Arc<crate::client::fleet::Fleet>>;
/// Without the `redis` feature, limits are never shared.
#[cfg(not(feature = "redis"))]
pub(crate) type FleetLink = Option<std::convert::Infallible>;
/// What a [`FleetLink`] holds.
#[cfg(feature = "redis")]
pub(crate) type FleetArc = Arc<crate::client::fleet::Fleet>;
/// What a [`FleetLink`] holds (nothing, without the `redis` feature).
#[cfg(not(feature = "redis"))]
pub(crate) type FleetArc = std::convert::Infallible;

/// The limits a provider sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wanted {
    max_concurrency: Option<u32>,
    rpm: Option<NonZeroU32>,
    tpm: Option<NonZeroU32>,
}

/// One provider's limiters, shared by every state that has the same limits for it.
pub(crate) struct ProviderLimits {
    wanted: Wanted,
    window: Duration,
    slots: Option<Arc<Semaphore>>,
    rpm: Option<Limiter>,
    tpm: Option<Limiter>,
    /// Tokens used beyond the estimates (below them when negative), charged to the next call.
    token_debt: AtomicI64,
    /// The fleet whose Redis counts these limits for every replica.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fleet: FleetLink,
}

impl std::fmt::Debug for ProviderLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderLimits")
            .field("wanted", &self.wanted)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl ProviderLimits {
    /// The limits `provider` sets, `None` when it sets none.
    pub fn wanted(provider: &ProviderConfig) -> Option<Wanted> {
        let wanted = Wanted {
            max_concurrency: provider.max_concurrency,
            rpm: provider.rpm.and_then(NonZeroU32::new),
            tpm: provider.tpm.and_then(NonZeroU32::new),
        };
        (wanted.max_concurrency.is_some() || wanted.rpm.is_some() || wanted.tpm.is_some())
            .then_some(wanted)
    }

    pub fn new(wanted: Wanted, window: Duration, fleet: FleetLink) -> ProviderLimits {
        // A quota of `n` per window: one cell every window/n (at least a nanosecond).
        let per = |n: NonZeroU32| {
            Quota::with_period((window / n.get()).max(Duration::from_nanos(1)))
                .unwrap_or_else(|| Quota::per_second(n))
        };
        ProviderLimits {
            wanted,
            window,
            slots: wanted
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(n as usize))),
            rpm: wanted.rpm.map(|n| RateLimiter::direct(per(n))),
            tpm: wanted
                .tpm
                .map(|n| RateLimiter::direct(per(n).allow_burst(n))),
            token_debt: AtomicI64::new(0),
            fleet,
        }
    }

    /// Whether these are the limiters of `wanted` over `window`, shared with `fleet`.
    pub fn is(&self, wanted: &Wanted, window: Duration, fleet: Option<&FleetArc>) -> bool {
        #[cfg(feature = "redis")]
        let same_fleet = match (&self.fleet, fleet) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        #[cfg(not(feature = "redis"))]
        let same_fleet = fleet.is_none();
        self.wanted == *wanted && self.window == window && same_fleet
    }

    /// Waits for a free slot, then for the rates, at most `timeout`; `tokens` is the call's
    /// estimated token count.
    ///
    /// Each limiter is asked first without waiting: while the limits are not reached, no
    /// timer is set.
    pub async fn acquire(
        self: &Arc<Self>,
        provider: &str,
        tokens: u64,
        timeout: Duration,
    ) -> Result<Ticket> {
        // On the runtime's clock: the wait below is the runtime's timer.
        let now = tokio::time::Instant::now();
        let deadline = tokio::time::Instant::from_std(deadline_from(now.into_std(), timeout));
        let permit = match &self.slots {
            Some(slots) => match slots.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => self
                    .within(slots.clone().acquire_owned(), deadline, provider, timeout)
                    .await?
                    .ok(),
            },
            None => None,
        };
        if let Some(rpm) = &self.rpm
            && rpm.check().is_err()
        {
            self.within(rpm.until_ready(), deadline, provider, timeout)
                .await?;
        }
        let mut charged = None;
        if let (Some(tpm), Some(capacity)) = (&self.tpm, self.wanted.tpm) {
            let debt = self.token_debt.swap(0, Ordering::Relaxed);
            let n = (tokens as i64)
                .saturating_add(debt)
                .clamp(1, capacity.get().into());
            // `n` is within 1..=capacity, so the limiter can always grant it.
            let n = NonZeroU32::new(n as u32).unwrap_or(NonZeroU32::MIN);
            if !matches!(tpm.check_n(n), Ok(Ok(()))) {
                let _ = self
                    .within(tpm.until_n_ready(n), deadline, provider, timeout)
                    .await?;
            }
            charged = Some(tokens);
        }
        #[allow(unused_mut)]
        let mut ticket = Ticket {
            _permit: permit,
            limits: self.clone(),
            charged,
            #[cfg(feature = "redis")]
            lease: None,
        };
        #[cfg(feature = "redis")]
        if let Some(fleet) = &self.fleet {
            ticket.lease = self
                .share(fleet, provider, tokens, timeout, deadline)
                .await
                .ok_or_else(|| self.exceeded(provider, timeout))?;
        }
        Ok(ticket)
    }

    /// `wait`, unless `deadline` comes first: then the error that the limits were exceeded.
    ///
    /// The wait is boxed: it happens only when a limit is reached, and its future (a rate
    /// limiter's is several hundred bytes) would otherwise be part of every call's future.
    fn within<'a, F: std::future::Future + Send + 'a>(
        &'a self,
        wait: F,
        deadline: tokio::time::Instant,
        provider: &'a str,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<F::Output>> + 'a {
        let wait = rare(tokio::time::timeout_at(deadline, wait));
        async move { wait.await.map_err(|_| self.exceeded(provider, timeout)) }
    }

    /// The same limits counted for the whole fleet in Redis, after the local ones: a shared
    /// slot (held at most twice the request timeout, should this process die holding it), a
    /// request and the tokens. `None` when `deadline` passed first; `Some(None)` when Redis
    /// is unavailable or no slot is needed.
    #[cfg(feature = "redis")]
    async fn share(
        &self,
        fleet: &Arc<crate::client::fleet::Fleet>,
        provider: &str,
        tokens: u64,
        timeout: Duration,
        deadline: tokio::time::Instant,
    ) -> Option<Option<crate::client::fleet::Lease>> {
        let lease = match self.wanted.max_concurrency {
            Some(max) => fleet.slot(provider, max, timeout * 2, deadline).await?,
            None => None,
        };
        if let Some(rpm) = self.wanted.rpm
            && !fleet
                .request(provider, rpm.get(), self.window, deadline)
                .await
        {
            return None;
        }
        if let Some(tpm) = self.wanted.tpm
            && !fleet
                .tokens(provider, tpm.get(), self.window, tokens, deadline)
                .await
        {
            return None;
        }
        Some(lease)
    }

    fn exceeded(&self, provider: &str, waited: Duration) -> Error {
        let mut limits = Vec::new();
        if let Some(n) = self.wanted.max_concurrency {
            limits.push(format!("max_concurrency: {n}"));
        }
        if let Some(n) = self.wanted.rpm {
            limits.push(format!("rpm: {n}"));
        }
        if let Some(n) = self.wanted.tpm {
            limits.push(format!("tpm: {n}"));
        }
        Error::Limited {
            provider: provider.to_owned(),
            message: format!(
                "the call waited {:.1}s for the provider's limits ({}) and did not get its turn; raise the limits or send fewer calls at once",
                waited.as_secs_f64(),
                limits.join(", ")
            ),
        }
    }
}

/// A call's place under its provider's limits: its concurrency slot (freed when dropped, at
/// the end of the call) and the tokens it was charged.
pub(crate) struct Ticket {
    _permit: Option<OwnedSemaphorePermit>,
    limits: Arc<ProviderLimits>,
    charged: Option<u64>,
    /// The call's slot in the fleet's Redis, given back when dropped.
    #[cfg(feature = "redis")]
    lease: Option<crate::client::fleet::Lease>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("charged", &self.charged)
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// Corrects the token estimate with the reply's usage: the difference is charged to (or
    /// credited to) the next call.
    pub fn settle(&self, usage: Option<&Usage>) {
        if let (Some(charged), Some(usage)) = (self.charged, usage) {
            let used = usage
                .total_tokens
                .max(usage.prompt_tokens + usage.completion_tokens);
            let diff = used as i64 - charged as i64;
            self.limits.token_debt.fetch_add(diff, Ordering::Relaxed);
        }
    }
}

/// The tokens a call is estimated to use before it is sent: its body's size in characters
/// over 4, plus the `max_tokens` it allows.
pub(crate) fn estimate_tokens(body_len: usize, max_tokens: Option<u64>) -> u64 {
    (body_len as u64).div_ceil(4) + max_tokens.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_count_input_and_max_tokens() {
        assert_eq!(estimate_tokens(400, Some(100)), 200);
        assert_eq!(estimate_tokens(3, None), 1);
    }

    #[tokio::test]
    async fn concurrency_slots_are_freed_when_a_ticket_drops() {
        let wanted = Wanted {
            max_concurrency: Some(1),
            rpm: None,
            tpm: None,
        };
        let limits = Arc::new(ProviderLimits::new(
            wanted,
            crate::client::settings::RATE_WINDOW,
            None,
        ));
        let first = limits
            .acquire("p", 1, Duration::from_secs(1))
            .await
            .unwrap();
        let err = limits
            .acquire("p", 1, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("did not get its turn; raise the limits"),
            "{err}"
        );
        assert!(err.to_string().contains("max_concurrency: 1"), "{err}");
        drop(first);
        limits
            .acquire("p", 1, Duration::from_millis(20))
            .await
            .unwrap();
    }
}
