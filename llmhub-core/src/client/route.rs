//! Routing: a role with `deployments:` or `fallbacks:` becomes a [`Route`], the roles to try
//! in order (the role, then its fallbacks, theirs after them), each with the deployments that
//! serve it. A [`Plan`] walks a route for one call: it picks a deployment by the role's
//! `routing`, skips those cooling down, and after a transient failure cools the deployment
//! down and moves on. A plain role has no route: its plan yields its one binding, with no lock
//! and no allocation.
//!
//! The runtime counters of a deployment ([`Stats`]: calls in flight, recent latency, cooldown)
//! live in the [`Registry`], keyed by provider and model, so a reload keeps them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

#[cfg(feature = "redis")]
use crate::client::fleet::Fleet;
use bytes::Bytes;

use crate::client::deadline::within;
use crate::client::limits::ProviderLimits;
use crate::client::params::ParamsText;
use crate::client::provider::Provider;
use crate::client::settings::deadline_from;
use crate::client::transport::{timeout_error, transport_error};
use crate::config::{Config, Params, ProviderConfig, RoleConfig, Routing};
use crate::error::Error;

/// How long a failing deployment is skipped when neither the role nor its provider says.
pub(crate) const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);

/// The weight of the newest latency sample in a deployment's moving average.
const LATENCY_ALPHA: f64 = 0.3;

/// Whether a failure is the provider's (rate limited, overloaded, down, slow or unreachable),
/// so that another deployment or a fallback role may serve the call; a request the provider
/// refused as wrong (another 4xx) would be refused by the others too.
pub(crate) fn is_transient(err: &Error) -> bool {
    match err {
        Error::RateLimited { .. }
        | Error::Timeout { .. }
        | Error::Transport { .. }
        | Error::Limited { .. } => true,
        Error::Http { status, .. } => *status == 408 || *status >= 500,
        _ => false,
    }
}

/// Milliseconds since the first use of the routing clock (never 0, which means "not
/// cooling").
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// The runtime counters of one deployment (a provider and model), shared by every role and
/// every state that uses it.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    in_flight: AtomicU32,
    /// Moving average of the time to a reply's headers, in microseconds; 0 before the first.
    latency_us: AtomicU64,
    /// When the cooldown ends ([`now_ms`]); 0 when not cooling.
    cooling_until: AtomicU64,
}

impl Stats {
    fn cooling(&self, now: u64) -> bool {
        self.cooling_until.load(Ordering::Relaxed) > now
    }

    fn cool_down(&self, cooldown: Duration) {
        let until = now_ms() + cooldown.as_millis() as u64;
        self.cooling_until.fetch_max(until, Ordering::Relaxed);
    }

    fn observe_latency(&self, elapsed: Duration) {
        let sample = elapsed.as_micros().max(1) as u64;
        let _ = self
            .latency_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(if old == 0 {
                    sample
                } else {
                    (old as f64 * (1.0 - LATENCY_ALPHA) + sample as f64 * LATENCY_ALPHA) as u64
                })
            });
    }
}

/// A call in flight on a deployment; counted until dropped (the end of the call).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Stats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What outlives a reload: each deployment's counters (by provider and model) and each
/// provider's limits (by id, kept while the limits are unchanged). Only read when a state is
/// built.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    stats: Mutex<HashMap<(String, String), Weak<Stats>>>,
    limits: Mutex<HashMap<String, Weak<ProviderLimits>>>,
    /// The fleet's Redis and its URL, once a config or the builder named one.
    #[cfg(feature = "redis")]
    fleet: Mutex<Option<(crate::secret::SecretString, Arc<Fleet>)>>,
}

impl Registry {
    /// Connects (lazily) to the fleet's Redis: the builder's URL, else the one in the variable
    /// the config's `shared:` names; the same connection as before when the URL is the same.
    #[cfg(feature = "redis")]
    pub fn join_fleet(&self, config: &Config, builder_url: Option<&crate::secret::SecretString>) {
        let url = builder_url.cloned().or_else(|| {
            let var = &config.shared.as_ref()?.redis_url_env;
            let url = std::env::var(var).ok().filter(|u| !u.is_empty());
            if url.is_none() {
                tracing::warn!(
                    var = var.as_str(),
                    "llmhub: `shared:` names an environment variable that is not set; limits and cooldowns stay local"
                );
            }
            url.map(crate::secret::SecretString::from)
        });
        let mut fleet = self.fleet.lock().unwrap_or_else(|e| e.into_inner());
        *fleet = match url {
            Some(url) => match fleet.take() {
                Some((known, same)) if known.expose() == url.expose() => Some((known, same)),
                _ => Fleet::new(&url, &config.project).map(|f| (url, Arc::new(f))),
            },
            None => None,
        };
    }

    /// The fleet's Redis, if the hub shares its limits.
    #[cfg(feature = "redis")]
    pub fn fleet(&self) -> Option<Arc<Fleet>> {
        let fleet = self.fleet.lock().unwrap_or_else(|e| e.into_inner());
        fleet.as_ref().map(|(_, fleet)| fleet.clone())
    }

    fn stats(&self, provider: &str, model: &str) -> Arc<Stats> {
        let mut map = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, weak| weak.strong_count() > 0);
        let key = (provider.to_owned(), model.to_owned());
        if let Some(stats) = map.get(&key).and_then(Weak::upgrade) {
            return stats;
        }
        let stats = Arc::new(Stats::default());
        map.insert(key, Arc::downgrade(&stats));
        stats
    }

    /// The limits of `provider`, `None` when it sets none: the same ones as before a reload
    /// when they did not change (so calls waiting or in flight stay counted).
    pub fn limits(
        &self,
        provider: &ProviderConfig,
        window: Duration,
    ) -> Option<Arc<ProviderLimits>> {
        let wanted = ProviderLimits::wanted(provider)?;
        let mut map = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, weak| weak.strong_count() > 0);
        #[cfg(feature = "redis")]
        let fleet = self.fleet();
        #[cfg(not(feature = "redis"))]
        let fleet = None;
        if let Some(limits) = map.get(&provider.id).and_then(Weak::upgrade)
            && limits.is(&wanted, window, fleet.as_ref())
        {
            return Some(limits);
        }
        let limits = Arc::new(ProviderLimits::new(wanted, window, fleet));
        map.insert(provider.id.clone(), Arc::downgrade(&limits));
        Some(limits)
    }
}

/// One deployment of a routed role, ready to call.
#[derive(Debug)]
pub(crate) struct Deployment {
    pub provider: usize,
    pub model: String,
    pub params: Params,
    /// The text of `params` as this deployment's calls write them, kept once written.
    params_text: ParamsText,
    weight: u32,
    cooldown: Duration,
    stats: Arc<Stats>,
    /// Its cooldown's key in the fleet's Redis.
    #[cfg(feature = "redis")]
    shared_key: String,
}

/// One role of a route: its name, how it picks, and its deployments (one for a plain role).
#[derive(Debug)]
struct RouteRole {
    name: String,
    routing: Routing,
    deployments: Vec<Deployment>,
}

/// The roles a routed call may use, in order: the role, then its fallbacks (depth first,
/// each role once).
#[derive(Debug)]
pub(crate) struct Route {
    roles: Vec<RouteRole>,
    #[cfg(feature = "redis")]
    fleet: Option<Arc<Fleet>>,
}

impl Route {
    /// The route of `role`, `None` for a plain role (no deployments, no fallbacks).
    /// `provider_index` maps a provider id to its index in the state.
    pub fn build(
        config: &Config,
        role: &RoleConfig,
        provider_index: &dyn Fn(&str) -> Option<usize>,
        registry: &Registry,
    ) -> Option<Route> {
        if role.deployments.is_empty() && role.fallbacks.is_empty() {
            return None;
        }
        let mut order: Vec<&RoleConfig> = Vec::new();
        let mut stack = vec![role];
        while let Some(next) = stack.pop() {
            if order.iter().any(|r| r.name == next.name) {
                continue;
            }
            order.push(next);
            // Pushed in reverse so that the first fallback is tried first.
            stack.extend(
                next.fallbacks
                    .iter()
                    .rev()
                    .filter_map(|f| config.roles.get(f)),
            );
        }
        #[cfg(feature = "redis")]
        let fleet = registry.fleet();
        let roles = order
            .into_iter()
            .map(|role| {
                let cooldown = |provider: &str| {
                    let ms = role
                        .cooldown_ms
                        .or_else(|| config.providers.get(provider).and_then(|p| p.cooldown_ms));
                    ms.map_or(DEFAULT_COOLDOWN, Duration::from_millis)
                };
                let deployment = |provider: &str, model: &str, params: &Params, weight| {
                    Some(Deployment {
                        provider: provider_index(provider)?,
                        model: model.to_owned(),
                        params: params.clone(),
                        params_text: ParamsText::default(),
                        weight,
                        cooldown: cooldown(provider),
                        stats: registry.stats(provider, model),
                        #[cfg(feature = "redis")]
                        shared_key: fleet
                            .as_ref()
                            .map(|f| f.key(&format!("cooldown:{provider}:{model}")))
                            .unwrap_or_default(),
                    })
                };
                let deployments = if role.deployments.is_empty() {
                    deployment(&role.provider, &role.model, &role.params, 1)
                        .into_iter()
                        .collect()
                } else {
                    role.deployments
                        .iter()
                        .filter_map(|d| deployment(&d.provider, &d.model, &d.params, d.weight))
                        .collect()
                };
                RouteRole {
                    name: role.name.clone(),
                    routing: role.routing,
                    deployments,
                }
            })
            .collect();
        Some(Route {
            roles,
            #[cfg(feature = "redis")]
            fleet,
        })
    }
}

/// One binding of a route to try: a deployment of the role asked for or of a fallback role,
/// with its provider, model and params.
pub(crate) struct Leg<'s> {
    /// The role whose binding this is (the one asked for, or a fallback).
    pub role: &'s str,
    pub provider: usize,
    pub model: &'s str,
    pub params: &'s Params,
    /// Where the text of `params` on this leg's provider is kept.
    pub params_text: &'s ParamsText,
    deployment: &'s Deployment,
    /// How the leg's role picks its deployments: what the leg's counters must feed.
    routing: Routing,
}

impl<'s> Leg<'s> {
    /// Counts the call in flight on the deployment, until the guard is dropped: only for a
    /// role routed to the least busy deployment, the one reader of the count (the counter is
    /// shared by every caller, and so costly to write from many threads).
    pub fn begin(&self) -> Option<InFlight> {
        if self.routing != Routing::LeastBusy {
            return None;
        }
        let stats = &self.deployment.stats;
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(InFlight(stats.clone()))
    }
}

/// For a stream on a routed call: waits for the reply's first bytes, so that a stream that
/// fails before them moves on like any other failure (once bytes arrived, a failure is the
/// caller's: the reply was under way). A plain role's stream does not wait.
pub(crate) async fn first_bytes(
    provider: &Provider,
    response: &mut reqwest::Response,
) -> Result<Option<Bytes>, Error> {
    let deadline = deadline_from(Instant::now(), provider.timeout);
    match within(deadline, provider.timeout, response.chunk()).await {
        Err(_) => Err(timeout_error(provider, "the stream's first byte")),
        Ok(Err(err)) => Err(transport_error(provider, &err)),
        Ok(Ok(None)) => Err(Error::Transport {
            provider: provider.id.to_string(),
            message: "the stream ended before its first byte; retry the call".into(),
        }),
        Ok(Ok(Some(bytes))) => Ok(Some(bytes)),
    }
}

/// The walk of one call through its route.
pub(crate) struct Plan<'s> {
    route: &'s Route,
    /// The role of the route being tried.
    role: usize,
    /// The deployments of that role already tried (bit i: deployment i).
    tried: u64,
    /// Legs handed out.
    legs: u32,
    /// When the last leg of a routed call started.
    started: Option<Instant>,
}

impl<'s> Plan<'s> {
    /// The plan of a call on a role with `route`.
    pub fn new(route: &'s Route) -> Plan<'s> {
        Plan {
            route,
            role: 0,
            tried: 0,
            legs: 0,
            started: None,
        }
    }

    /// The next binding to try, `None` when every one was tried (or is cooling down).
    pub fn next(&mut self) -> Option<Leg<'s>> {
        let route = self.route;
        let now = now_ms();
        while let Some(role) = route.roles.get(self.role) {
            if let Some(i) = self.pick(role, now) {
                self.tried |= 1 << i;
                self.legs += 1;
                return Some(self.start(role, &role.deployments[i]));
            }
            self.role += 1;
            self.tried = 0;
        }
        // Everything is cooling down and nothing was tried: rather than fail without a
        // request, try the deployment of the role asked for whose cooldown ends first.
        if self.legs == 0 {
            self.legs = 1;
            let role = route.roles.first()?;
            let d = role
                .deployments
                .iter()
                .min_by_key(|d| d.stats.cooling_until.load(Ordering::Relaxed))?;
            return Some(self.start(role, d));
        }
        None
    }

    /// The leg of deployment `d` of `role`, its start noted when the role is routed by latency.
    fn start(&mut self, role: &'s RouteRole, d: &'s Deployment) -> Leg<'s> {
        self.started = (role.routing == Routing::Latency).then(Instant::now);
        Leg {
            role: &role.name,
            provider: d.provider,
            model: &d.model,
            params: &d.params,
            params_text: &d.params_text,
            deployment: d,
            routing: role.routing,
        }
    }

    /// The deployment of `role` to try next: not tried yet, not cooling down, chosen by the
    /// role's routing.
    fn pick(&self, role: &RouteRole, now: u64) -> Option<usize> {
        let open = |i: usize, d: &Deployment| self.tried & (1 << i) == 0 && !d.stats.cooling(now);
        let candidates = || {
            role.deployments
                .iter()
                .enumerate()
                .filter(move |(i, d)| open(*i, d))
        };
        if let [only] = &role.deployments[..] {
            return open(0, only).then_some(0);
        }
        match role.routing {
            Routing::Weighted => {
                let total: u64 = candidates().map(|(_, d)| u64::from(d.weight)).sum();
                if total == 0 {
                    return None;
                }
                let mut ticket = fastrand::u64(0..total);
                candidates()
                    .find(|(_, d)| {
                        let weight = u64::from(d.weight);
                        if ticket < weight {
                            return true;
                        }
                        ticket -= weight;
                        false
                    })
                    .map(|(i, _)| i)
            }
            Routing::LeastBusy => candidates()
                .min_by_key(|(_, d)| d.stats.in_flight.load(Ordering::Relaxed))
                .map(|(i, _)| i),
            Routing::Latency => candidates()
                .min_by_key(|(_, d)| d.stats.latency_us.load(Ordering::Relaxed))
                .map(|(i, _)| i),
        }
    }

    /// Learns the cooldowns other replicas set, when the hub shares them (one Redis round
    /// trip per routed call; nothing without a fleet).
    pub async fn share(&mut self) {
        #[cfg(feature = "redis")]
        if let Some(fleet) = &self.route.fleet {
            let route = self.route;
            let deployments = || route.roles.iter().flat_map(|r| &r.deployments);
            let keys: Vec<&str> = deployments().map(|d| d.shared_key.as_str()).collect();
            if let Some(left) = fleet.cooldowns(&keys).await {
                for (d, ms) in deployments().zip(left) {
                    if ms > 0 {
                        d.stats.cool_down(Duration::from_millis(ms));
                    }
                }
            }
        }
    }

    /// How many fallback roles away from the one asked for the last leg was.
    pub fn fallbacks(&self) -> u32 {
        self.role as u32
    }

    /// Takes note of `leg`'s outcome: a success feeds the deployment's latency (for a role
    /// routed by latency, the one reader of it); a transient
    /// failure cools the deployment down. Whether the call may move on to another leg.
    pub fn settle<T>(&self, leg: &Leg<'_>, outcome: &Result<T, Error>) -> bool {
        let d = leg.deployment;
        match outcome {
            Ok(_) => {
                if let Some(started) = self.started {
                    d.stats.observe_latency(started.elapsed());
                }
                false
            }
            Err(err) if is_transient(err) => {
                d.stats.cool_down(d.cooldown);
                #[cfg(feature = "redis")]
                if let Some(fleet) = &self.route.fleet {
                    fleet.cool_down(&d.shared_key, d.cooldown);
                }
                tracing::warn!(
                    role = leg.role,
                    model = leg.model,
                    cooldown_ms = d.cooldown.as_millis() as u64,
                    error = %err,
                    "llmhub deployment failed; cooling it down and trying the next"
                );
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_move_on() {
        let http = |status| Error::Http {
            provider: "p".into(),
            status,
            body: String::new(),
            retry_after: None,
        };
        assert!(is_transient(&http(500)));
        assert!(is_transient(&http(529)));
        assert!(!is_transient(&http(400)));
        assert!(!is_transient(&http(404)));
        assert!(is_transient(&Error::RateLimited {
            provider: "p".into(),
            retry_after: None,
            message: String::new()
        }));
        assert!(!is_transient(&Error::Auth {
            provider: "p".into(),
            status: 401,
            message: String::new()
        }));
    }

    #[test]
    fn counters_are_kept_only_for_the_routing_that_reads_them() {
        let config = Config::from_yaml_str(
            "project: p\nenv: dev\nproviders:\n  openai: { base_url: http://127.0.0.1:9/v1 }\nroles:\n  busy:\n    mode: chat\n    routing: least-busy\n    deployments: [{ provider: openai, model: a }, { provider: openai, model: b }]\n  fast:\n    mode: chat\n    routing: latency\n    deployments: [{ provider: openai, model: c }, { provider: openai, model: d }]\n  spread:\n    mode: chat\n    deployments: [{ provider: openai, model: e }, { provider: openai, model: f }]\n  alone:\n    mode: chat\n    provider: openai\n    model: g\n    fallbacks: [spread]\n",
        )
        .unwrap();
        let registry = Registry::default();
        // (role, counts calls in flight, times replies)
        for (name, counts, times) in [
            ("busy", true, false),
            ("fast", false, true),
            ("spread", false, false),
            ("alone", false, false),
        ] {
            let route =
                Route::build(&config, &config.roles[name], &|_| Some(0), &registry).unwrap();
            let mut plan = Plan::new(&route);
            let leg = plan.next().unwrap();
            assert_eq!(leg.role, name);
            let stats = &leg.deployment.stats;
            let busy = leg.begin();
            assert_eq!(busy.is_some(), counts, "{name}");
            assert_eq!(stats.in_flight.load(Ordering::Relaxed), counts as u32);
            drop(busy);
            assert_eq!(stats.in_flight.load(Ordering::Relaxed), 0);
            assert!(!plan.settle(&leg, &Ok::<(), Error>(())));
            assert_eq!(
                stats.latency_us.load(Ordering::Relaxed) > 0,
                times,
                "{name}"
            );
        }
    }

    #[test]
    fn latency_is_a_moving_average() {
        let stats = Stats::default();
        stats.observe_latency(Duration::from_millis(100));
        assert_eq!(stats.latency_us.load(Ordering::Relaxed), 100_000);
        stats.observe_latency(Duration::from_millis(200));
        assert_eq!(stats.latency_us.load(Ordering::Relaxed), 130_000);
    }
}
