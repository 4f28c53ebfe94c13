//! Limits and cooldowns shared by the replicas of a service through Redis (feature `redis`):
//! each provider's `rpm`, `tpm` and `max_concurrency` and each deployment's cooldown are kept
//! in Redis, every change made by one atomic Lua script, so N processes together stay within
//! one budget and skip a deployment any of them saw failing.
//!
//! Redis is a help, never a dependency of a call: every operation has a short timeout, and
//! when Redis cannot be reached the call goes on with the process's own limits. The fleet then
//! leaves Redis alone for a short pause (a `warn` says so once) and tries again; shared mode
//! resumes (with an `info`) as soon as Redis answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script};

use crate::secret::SecretString;

/// The longest wait for one Redis operation before the call goes on without it.
const OP_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after it failed to answer.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// The pause between two tries for a shared slot or rate.
const POLL: Duration = Duration::from_millis(5);
/// The longest pause between two tries.
const MAX_POLL: Duration = Duration::from_millis(100);

/// The current time in Redis, in milliseconds.
const NOW: &str =
    "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n";

/// Takes a slot of KEYS[1] (a set of leases scored by their expiry) if fewer than ARGV[1] are
/// held; ARGV[2] is the lease, ARGV[3] its lifetime in ms. 1 when taken.
const TAKE_SLOT: &str = "
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0";

/// Counts one request in KEYS[1] (a log of the last window's requests) if fewer than ARGV[1]
/// were made in the last ARGV[2] ms; ARGV[3] names it. 0 when counted, else the ms to wait.
const TAKE_REQUEST: &str = "
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)";

/// Charges ARGV[3] tokens to the current window of KEYS[1] (windows of ARGV[2] ms) if that
/// keeps it within ARGV[1] (a call alone in its window always passes). 0 when charged, else
/// the ms to the next window.
const TAKE_TOKENS: &str = "
local window = tonumber(ARGV[2])
local key = KEYS[1] .. ':' .. math.floor(now / window)
local used = tonumber(redis.call('GET', key) or '0')
local n = tonumber(ARGV[3])
if used == 0 or used + n <= tonumber(ARGV[1]) then
  redis.call('INCRBY', key, n)
  redis.call('PEXPIRE', key, 2 * window)
  return 0
end
return math.max(1, window - now % window)";

/// The ms left of each cooldown KEYS[i] (0 when not cooling).
const COOLDOWNS: &str = "
local left = {}
for i, key in ipairs(KEYS) do
  local ms = redis.call('PTTL', key)
  if ms < 0 then ms = 0 end
  left[i] = ms
end
return left";

/// A connection to the fleet's Redis, shared by every state of a hub.
pub(crate) struct Fleet {
    client: redis::Client,
    prefix: String,
    conn: ArcSwapOption<ConnectionManager>,
    /// Redis is left alone until then (ms of `started`).
    paused_until: AtomicU64,
    /// Whether Redis is known to be unreachable (so the `warn` is said once).
    down: AtomicBool,
    started: Instant,
    scripts: Scripts,
}

struct Scripts {
    take_slot: Script,
    take_request: Script,
    take_tokens: Script,
    cooldowns: Script,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("prefix", &self.prefix)
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A fleet on the Redis at `url` (not connected until first used); keys start with
    /// `llmhub:<project>:`. `None`, with a `warn`, for a URL Redis cannot parse.
    pub fn new(url: &SecretString, project: &str) -> Option<Fleet> {
        let client = match redis::Client::open(url.expose()) {
            Ok(client) => client,
            Err(_) => {
                tracing::warn!(
                    "llmhub: the Redis URL for shared limits is not valid (redis://host:port/db); limits stay local"
                );
                return None;
            }
        };
        let script = |body: &str| Script::new(&format!("{NOW}{body}"));
        Some(Fleet {
            client,
            prefix: format!("llmhub:{project}:"),
            conn: ArcSwapOption::empty(),
            paused_until: AtomicU64::new(0),
            down: AtomicBool::new(false),
            started: Instant::now(),
            scripts: Scripts {
                take_slot: script(TAKE_SLOT),
                take_request: script(TAKE_REQUEST),
                take_tokens: script(TAKE_TOKENS),
                cooldowns: Script::new(COOLDOWNS),
            },
        })
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The key of `what` under this fleet's prefix.
    pub fn key(&self, what: &str) -> String {
        format!("{}{what}", self.prefix)
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if self.now() < self.paused_until.load(Ordering::Relaxed) {
            return None;
        }
        if let Some(conn) = self.conn.load_full() {
            return Some(ConnectionManager::clone(&conn));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1);
        let connect = ConnectionManager::new_with_config(self.client.clone(), config);
        match tokio::time::timeout(OP_TIMEOUT, connect).await {
            Ok(Ok(conn)) => {
                self.conn.store(Some(Arc::new(conn.clone())));
                Some(conn)
            }
            Ok(Err(err)) => self.failed(&err.to_string()),
            Err(_) => self.failed("no answer in time"),
        }
    }

    fn failed<T>(&self, why: &str) -> Option<T> {
        self.paused_until.store(
            self.now() + RETRY_PAUSE.as_millis() as u64,
            Ordering::Relaxed,
        );
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                reason = why,
                "llmhub: Redis is unreachable; calls go on with this process's own limits until it is back"
            );
        }
        None
    }

    /// Runs `script` with `keys` and `args`; `None` when Redis did not answer.
    async fn run<T: FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> Option<T> {
        let mut conn = self.connection().await?;
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        match tokio::time::timeout(OP_TIMEOUT, invocation.invoke_async(&mut conn)).await {
            Ok(Ok(value)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("llmhub: Redis answers again; limits and cooldowns are shared");
                }
                Some(value)
            }
            Ok(Err(err)) => self.failed(&err.to_string()),
            Err(_) => self.failed("no answer in time"),
        }
    }

    /// Sends `cmd`; `None` when Redis did not answer.
    async fn command(&self, cmd: redis::Cmd) -> Option<()> {
        let mut conn = self.connection().await?;
        match tokio::time::timeout(OP_TIMEOUT, cmd.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => Some(()),
            Ok(Err(err)) => self.failed(&err.to_string()),
            Err(_) => self.failed("no answer in time"),
        }
    }

    /// Retries `take` (a script answering 0 to let the call through, else the ms to wait)
    /// until it lets the call through or Redis stops answering (the call then goes on with its
    /// local limits); `false` when `deadline` comes first.
    async fn wait_for(
        &self,
        deadline: tokio::time::Instant,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> bool {
        loop {
            let wait: u64 = match self.run(script, keys, args).await {
                Some(wait) => wait,
                None => return true,
            };
            if wait == 0 {
                return true;
            }
            let next =
                tokio::time::Instant::now() + Duration::from_millis(wait).clamp(POLL, MAX_POLL);
            if next > deadline {
                return false;
            }
            tokio::time::sleep_until(next).await;
        }
    }

    /// Takes one of `max` slots of `provider` shared by the fleet, each held at most `ttl`
    /// (should a replica die holding it). `None` when `deadline` passed first; `Some(None)`
    /// when Redis is unavailable (the call goes on with its local slot).
    pub async fn slot(
        self: &Arc<Self>,
        provider: &str,
        max: u32,
        ttl: Duration,
        deadline: tokio::time::Instant,
    ) -> Option<Option<Lease>> {
        let key = self.key(&format!("slots:{provider}"));
        let id = format!("{:016x}", fastrand::u64(..));
        let max = max.to_string();
        let ttl = ttl.as_millis().max(1).to_string();
        loop {
            let taken: u64 = match self
                .run(&self.scripts.take_slot, &[&key], &[&max, &id, &ttl])
                .await
            {
                Some(taken) => taken,
                None => return Some(None),
            };
            if taken == 1 {
                return Some(Some(Lease {
                    fleet: self.clone(),
                    key,
                    id,
                }));
            }
            let next = tokio::time::Instant::now() + POLL;
            if next > deadline {
                return None;
            }
            tokio::time::sleep_until(next).await;
        }
    }

    /// Counts one request of `provider` against `rpm` per `window` across the fleet, waiting
    /// for room; `false` when `deadline` passed first.
    pub async fn request(
        &self,
        provider: &str,
        rpm: u32,
        window: Duration,
        deadline: tokio::time::Instant,
    ) -> bool {
        let key = self.key(&format!("rpm:{provider}"));
        let id = format!("{:016x}", fastrand::u64(..));
        let args = [rpm.to_string(), window.as_millis().max(1).to_string(), id];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.wait_for(deadline, &self.scripts.take_request, &[&key], &args)
            .await
    }

    /// Charges `tokens` of `provider` against `tpm` per `window` across the fleet, waiting
    /// for room; `false` when `deadline` passed first.
    pub async fn tokens(
        &self,
        provider: &str,
        tpm: u32,
        window: Duration,
        tokens: u64,
        deadline: tokio::time::Instant,
    ) -> bool {
        let key = self.key(&format!("tpm:{provider}"));
        let args = [
            tpm.to_string(),
            window.as_millis().max(1).to_string(),
            tokens.to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.wait_for(deadline, &self.scripts.take_tokens, &[&key], &args)
            .await
    }

    /// Marks the deployment `key` as cooling down for `cooldown`, for every replica (in the
    /// background: the call that failed does not wait for it).
    pub fn cool_down(self: &Arc<Self>, key: &str, cooldown: Duration) {
        let fleet = self.clone();
        let ms = cooldown.as_millis().max(1) as u64;
        let mut set = redis::cmd("SET");
        set.arg(key).arg(1).arg("PX").arg(ms);
        spawn(async move { fleet.command(set).await });
    }

    /// The ms left of each deployment's cooldown, as the fleet knows it; `None` when Redis is
    /// unavailable.
    pub async fn cooldowns(&self, keys: &[&str]) -> Option<Vec<u64>> {
        self.run(&self.scripts.cooldowns, keys, &[]).await
    }
}

/// Runs `task` on the current runtime, if there is one.
fn spawn(task: impl Future<Output = Option<()>> + Send + 'static) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(task);
    }
}

/// A slot held in Redis; given back when dropped.
pub(crate) struct Lease {
    fleet: Arc<Fleet>,
    key: String,
    id: String,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let fleet = self.fleet.clone();
        let mut remove = redis::cmd("ZREM");
        remove
            .arg(std::mem::take(&mut self.key))
            .arg(std::mem::take(&mut self.id));
        spawn(async move { fleet.command(remove).await });
    }
}
