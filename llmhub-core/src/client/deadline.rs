//! A call's deadline, kept by one watchdog thread for the whole process rather than by a timer
//! of the async runtime.
//!
//! Every attempt runs against a deadline: its response headers must arrive, and its body be
//! read, by then. The deadline is almost never reached, yet a tokio timer costs every call its
//! registration in the runtime's timer wheel (a shard lock, the wheel's slots, the handle of
//! the runtime looked up) and its removal, and makes the runtime park with a timeout. Here a
//! pending call writes its deadline and waker into a slot of a small table instead (one
//! uncontended lock, taken again to free the slot), and one thread sleeps until the earliest
//! deadline in the tables, wakes the calls whose deadline has passed, and sleeps again. A call
//! that is ready on its first poll (a body already buffered, say) takes no slot at all.
//!
//! The thread is started on the first pending call. While calls are made, it wakes at the
//! earliest pending deadline or, at the latest, once per the shortest timeout of those calls,
//! so that a call made after it looked, whose deadline is at least that far off, need not wake
//! it; after a spell without calls it sleeps until one wakes it. A call wakes it only when its
//! deadline comes before the one it sleeps for (the first call after an idle spell, a provider
//! with a shorter timeout than those before). Should the thread fail to start, deadlines fall
//! back to the runtime's timer.
//!
//! Deadlines are instants of the process's monotonic clock (`std::time::Instant`), read and
//! compared on that clock alone: a tokio clock paused or advanced in a test does not move
//! them.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The deadline passed before the future finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadlinePassed;

/// `future`, ended with [`DeadlinePassed`] if it is still pending at `deadline`, which was
/// set `timeout` after the start of what it bounds (the watchdog's thread, awake while calls
/// are made, wakes at least once per the shortest such timeout, so that the calls that follow,
/// whose deadlines come later, need not wake it).
///
/// Like `tokio::time::timeout_at`, the future is polled first, so one that is ready at once
/// (or ready by the time it is polled after the deadline) gives its output.
pub(crate) fn within<F: Future>(deadline: Instant, timeout: Duration, future: F) -> Within<F> {
    Within {
        future,
        deadline,
        timeout,
        alarm: Alarm::new(),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`within`].
    pub(crate) struct Within<F> {
        #[pin]
        future: F,
        deadline: Instant,
        timeout: Duration,
        alarm: Alarm,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Result<F::Output, DeadlinePassed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            // The slot is freed now rather than when the future is dropped.
            *this.alarm = Alarm::new();
            return Poll::Ready(Ok(output));
        }
        this.alarm
            .poll_passed(*this.deadline, *this.timeout, None, cx)
            .map(|()| Err(DeadlinePassed))
    }
}

/// A wake-up at a deadline that stays or moves later (a stream's idle deadline moves on with
/// each read), for a task that polls it whenever it would wait.
pub(crate) struct Alarm {
    watch: Watch,
}

/// How an [`Alarm`] wakes its task.
enum Watch {
    /// Not armed yet.
    Unset,
    /// A slot in the watchdog's tables.
    Slot(Slot),
    /// The runtime's timer, when the watchdog's thread could not be started.
    Timer(Pin<Box<tokio::time::Sleep>>),
}

impl Alarm {
    /// An alarm not armed yet: it takes no slot until first polled.
    pub(crate) const fn new() -> Alarm {
        Alarm {
            watch: Watch::Unset,
        }
    }

    /// Ready once `deadline` (set `timeout` after the start of what it bounds) has passed;
    /// else the task of `cx` is woken at `deadline`, or before it to look again. `now` is the
    /// time, when the caller has just read the clock.
    ///
    /// A deadline moved later is looked at only when the earlier one passes: moving it costs
    /// nothing until then.
    pub(crate) fn poll_passed(
        &mut self,
        deadline: Instant,
        timeout: Duration,
        now: Option<Instant>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        match &mut self.watch {
            Watch::Unset => match watchdog() {
                // No clock read: a deadline already passed is woken for at once.
                Some(dog) => self.watch = Watch::Slot(dog.register(deadline, timeout, cx.waker())),
                None => {
                    let mut timer = Box::pin(tokio::time::sleep_until(deadline.into()));
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    self.watch = Watch::Timer(timer);
                }
            },
            Watch::Slot(slot) => {
                let now = now.unwrap_or_else(Instant::now);
                if now >= deadline {
                    return Poll::Ready(());
                }
                slot.keep(now, deadline, timeout, cx.waker());
            }
            Watch::Timer(timer) => {
                if timer.deadline().into_std() != deadline {
                    timer.as_mut().reset(deadline.into());
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
        }
        Poll::Pending
    }
}

/// The number of tables: pending calls pick one by their task's address, so that callers on
/// different threads seldom take the same lock.
const TABLES: usize = 8;

/// The process's watchdog: the tables of pending deadlines and the thread that keeps them.
struct Watchdog {
    /// Deadlines are kept as nanoseconds since this instant.
    epoch: Instant,
    tables: [Table; TABLES],
    /// The earliest deadline the thread will wake for, in nanoseconds since `epoch`
    /// (`u64::MAX`: none). A caller with an earlier one lowers it and wakes the thread.
    earliest: AtomicU64,
    /// The shortest timeout of the calls since the thread was last idle, in nanoseconds
    /// (`u64::MAX`: none).
    shortest: AtomicU64,
    thread: std::thread::Thread,
}

/// One table of pending deadlines, on a cache line of its own.
#[repr(align(128))]
#[derive(Default)]
struct Table {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Each pending call's deadline (nanoseconds since the epoch) and waker; the waker is
    /// `None` once the watchdog has woken the call, and in a free slot.
    slots: Vec<(u64, Option<Waker>)>,
    /// The indices of `slots` free for the next call.
    free: Vec<u32>,
    /// How many slots were ever taken (the thread tells an idle spell by it).
    taken: u64,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Nothing run under the lock panics; a poisoned table is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

static WATCHDOG: OnceLock<Option<Watchdog>> = OnceLock::new();

/// The process's watchdog, its thread started on first use; `None` if the thread could not
/// be started.
fn watchdog() -> Option<&'static Watchdog> {
    WATCHDOG
        .get_or_init(|| {
            let thread = std::thread::Builder::new()
                .name("llmhub-deadlines".into())
                .spawn(|| {
                    if let Some(dog) = WATCHDOG.wait() {
                        dog.keep();
                    }
                })
                .ok()?;
            Some(Watchdog {
                epoch: Instant::now(),
                tables: Default::default(),
                earliest: AtomicU64::new(u64::MAX),
                shortest: AtomicU64::new(u64::MAX),
                thread: thread.thread().clone(),
            })
        })
        .as_ref()
}

impl Watchdog {
    /// `at` in nanoseconds since the epoch (an instant before it is the epoch).
    fn nanos(&self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.epoch))
    }

    /// Writes `deadline` and `waker` into a free slot, and wakes the thread if it sleeps for
    /// a later deadline.
    fn register(&'static self, deadline: Instant, timeout: Duration, waker: &Waker) -> Slot {
        let at = self.nanos(deadline);
        self.note_timeout(timeout);
        let table = (waker.data() as usize >> 6) % TABLES;
        let index = {
            let mut entries = self.tables[table].lock();
            entries.taken += 1;
            let entry = (at, Some(waker.clone()));
            match entries.free.pop() {
                Some(index) => {
                    entries.slots[index as usize] = entry;
                    index
                }
                None => {
                    entries.slots.push(entry);
                    (entries.slots.len() - 1) as u32
                }
            }
        };
        self.announce(at);
        Slot {
            dog: self,
            table: table as u8,
            index,
            at,
            waker: identity(waker),
        }
    }

    /// Wakes the thread if it sleeps for a deadline later than `at`, which was just written
    /// into a slot.
    fn announce(&self, at: u64) {
        // Read after the slot is written: either the thread's scan saw the slot, or the value
        // read here is what it will wake for (or `u64::MAX`, when it sleeps for nothing).
        if at < self.earliest.load(Ordering::SeqCst) {
            self.earliest.fetch_min(at, Ordering::SeqCst);
            self.thread.unpark();
        }
    }

    /// Notes `timeout` as the shortest, if it is (a timeout under a millisecond counts as
    /// one, so that the thread does not spin on a zero timeout; deadlines stay exact).
    fn note_timeout(&self, timeout: Duration) {
        let timeout = nanos(timeout.max(Duration::from_millis(1)));
        if timeout < self.shortest.load(Ordering::Relaxed) {
            self.shortest.fetch_min(timeout, Ordering::Relaxed);
        }
    }

    /// The thread's loop: wakes the calls whose deadline passed, then sleeps until the
    /// earliest deadline left, or for the shortest timeout of the calls made since it was
    /// last idle, or, when no call is pending and none was made since it last looked, until a
    /// call wakes it.
    ///
    /// Sleeping no longer than the shortest timeout is what spares the calls from waking the
    /// thread: a call made after the thread looked has its deadline at least that far off.
    fn keep(&self) {
        let mut due = Vec::new();
        let mut taken_before = 0;
        loop {
            let now = self.nanos(Instant::now());
            // Callers that register while the tables are scanned see no deadline (or one
            // another caller lowered) and wake the thread: their slot may be in a table
            // already scanned.
            self.earliest.store(u64::MAX, Ordering::SeqCst);
            let mut pending = u64::MAX;
            let mut taken = 0;
            for table in &self.tables {
                let mut entries = table.lock();
                taken += entries.taken;
                for (at, waker) in entries.slots.iter_mut() {
                    match waker {
                        None => {}
                        Some(_) if *at <= now => due.extend(waker.take()),
                        Some(_) => pending = pending.min(*at),
                    }
                }
            }
            // Woken out of the locks: a task's wake may run code of its own, and a waker that
            // panics must not end the thread (no deadline would be kept after it).
            for waker in due.drain(..) {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| waker.wake()));
            }
            let next = if pending == u64::MAX && taken == taken_before {
                self.shortest.store(u64::MAX, Ordering::Relaxed);
                u64::MAX
            } else {
                pending.min(now.saturating_add(self.shortest.load(Ordering::Relaxed)))
            };
            taken_before = taken;
            self.earliest.fetch_min(next, Ordering::SeqCst);
            match self.earliest.load(Ordering::SeqCst) {
                u64::MAX => std::thread::park(),
                at => {
                    let now = self.nanos(Instant::now());
                    if at > now {
                        std::thread::park_timeout(Duration::from_nanos(at - now));
                    }
                }
            }
        }
    }
}

/// `span` in nanoseconds (at most `u64::MAX`, some 584 years).
fn nanos(span: Duration) -> u64 {
    span.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(span.subsec_nanos()))
}

/// What says whether two wakers wake the same task (the data and table `Waker::will_wake`
/// compares), kept as plain numbers so that a slot is `Send`.
fn identity(waker: &Waker) -> (usize, usize) {
    (waker.data() as usize, waker.vtable() as *const _ as usize)
}

/// A pending call's slot in the watchdog's tables, freed when dropped.
struct Slot {
    dog: &'static Watchdog,
    table: u8,
    index: u32,
    /// The deadline written into the slot, in nanoseconds since the epoch.
    at: u64,
    /// The identity of the waker written into the slot.
    waker: (usize, usize),
}

impl Slot {
    /// Keeps the slot set for `deadline`, not yet passed at `now`, and for the task of
    /// `waker`. Once the deadline written into it has passed, the watchdog has woken the task
    /// (or is about to) and emptied the slot: the slot is written again with `deadline`, which
    /// has moved on. Otherwise it is written only if `waker` wakes another task than the one
    /// in it (the future was moved to another task).
    fn keep(&mut self, now: Instant, deadline: Instant, timeout: Duration, waker: &Waker) {
        let identity = identity(waker);
        let passed = self.dog.nanos(now) >= self.at;
        if !passed && identity == self.waker {
            return;
        }
        let at = if passed {
            self.dog.nanos(deadline)
        } else {
            self.at
        };
        let old = {
            let mut entries = self.dog.tables[self.table as usize].lock();
            std::mem::replace(
                &mut entries.slots[self.index as usize],
                (at, Some(waker.clone())),
            )
            .1
        };
        self.waker = identity;
        self.at = at;
        if passed {
            self.dog.note_timeout(timeout);
        }
        // A slot written again after the watchdog emptied it (its deadline passed between
        // the clock read here and the thread's) is announced too, or the thread would wake
        // for it only on its next round.
        if passed || old.is_none() {
            self.dog.announce(at);
        }
        drop(old);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let waker = {
            let mut entries = self.dog.tables[self.table as usize].lock();
            let waker = entries.slots[self.index as usize].1.take();
            entries.free.push(self.index);
            waker
        };
        // Dropped out of the lock.
        drop(waker);
    }
}

/// Whether a slot holds `deadline` (for tests, which run side by side with calls of other
/// tests: a deadline taken from the clock is theirs alone).
#[cfg(test)]
fn taken(deadline: Instant) -> bool {
    let Some(dog) = watchdog() else { return false };
    let at = dog.nanos(deadline);
    dog.tables.iter().any(|table| {
        let entries = table.lock();
        entries
            .slots
            .iter()
            .enumerate()
            .any(|(index, (slot_at, _))| *slot_at == at && !entries.free.contains(&(index as u32)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    /// The timeout the tests' deadlines are said to come from.
    const SPAN: Duration = Duration::from_secs(1);

    fn after(wait: Duration) -> Instant {
        Instant::now() + wait
    }

    /// A call that never ends by itself, within `deadline`.
    fn never_ending(deadline: Instant) -> Within<std::future::Pending<()>> {
        within(deadline, SPAN, std::future::pending())
    }

    /// Runs a call that never ends with a deadline `wait` from now, checks that it failed at
    /// its deadline, neither before nor long after, and returns the deadline.
    async fn ends_at_its_deadline(wait: Duration) -> Instant {
        let started = Instant::now();
        let deadline = started + wait;
        let result = never_ending(deadline).await;
        let took = started.elapsed();
        assert_eq!(result, Err(DeadlinePassed));
        assert!(took >= wait, "woken early, after {took:?}");
        assert!(
            took < wait + Duration::from_secs(2),
            "woken late, after {took:?}"
        );
        deadline
    }

    #[tokio::test]
    async fn a_future_that_never_ends_fails_at_its_deadline_not_before() {
        let deadline = ends_at_its_deadline(Duration::from_millis(60)).await;
        assert!(!taken(deadline), "the slot is freed with the future");
    }

    #[tokio::test]
    async fn a_future_ready_in_time_gives_its_output_and_frees_its_slot() {
        let deadline = after(Duration::from_secs(5));
        let mut call = std::pin::pin!(within(deadline, SPAN, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            7
        }));
        let first = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        assert!(taken(deadline), "a pending call holds a slot");
        assert_eq!(call.await, Ok(7));
        assert!(!taken(deadline));
    }

    #[tokio::test]
    async fn a_future_ready_at_once_takes_no_slot_even_past_its_deadline() {
        let past = Instant::now() - Duration::from_millis(5);
        let mut call = std::pin::pin!(within(past, SPAN, async { 3 }));
        let polled = std::future::poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await;
        assert_eq!(polled, Poll::Ready(Ok(3)));
        assert!(!taken(past));
    }

    #[tokio::test]
    async fn an_earlier_deadline_wakes_the_thread_asleep_for_a_later_one() {
        // The thread sleeps for the far deadline; the near one must not wait for it.
        let far_deadline = after(Duration::from_secs(30));
        let far = tokio::spawn(never_ending(far_deadline));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(taken(far_deadline));
        let started = Instant::now();
        let near = never_ending(after(Duration::from_millis(50))).await;
        assert_eq!(near, Err(DeadlinePassed));
        assert!(started.elapsed() < Duration::from_secs(2));
        far.abort();
        let _ = far.await;
        assert!(!taken(far_deadline), "an aborted call frees its slot");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_deadlines_each_fire_in_their_turn() {
        let started = Instant::now();
        let calls: Vec<_> = (0..64u64)
            .map(|i| {
                let wait = Duration::from_millis(20 + (i * 37) % 200);
                tokio::spawn(async move {
                    let deadline = after(wait);
                    let result = never_ending(deadline).await;
                    (wait, result, started.elapsed(), taken(deadline))
                })
            })
            .collect();
        for call in calls {
            let (wait, result, took, still_taken) = call.await.unwrap();
            assert_eq!(result, Err(DeadlinePassed));
            assert!(took >= wait, "a {wait:?} deadline fired after {took:?}");
            assert!(took < wait + Duration::from_secs(2));
            assert!(!still_taken);
        }
    }

    /// A waker that records that it was woken.
    struct Flag(AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_future_moved_to_another_task_wakes_that_task() {
        let first = Arc::new(Flag(AtomicBool::new(false)));
        let second = Arc::new(Flag(AtomicBool::new(false)));
        let deadline = after(Duration::from_millis(40));
        let mut call = Box::pin(never_ending(deadline));
        let waker = Waker::from(first.clone());
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let waker = Waker::from(second.clone());
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let started = Instant::now();
        while !second.0.load(Ordering::SeqCst) {
            assert!(started.elapsed() < Duration::from_secs(2), "never woken");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !first.0.load(Ordering::SeqCst),
            "the task the future left is not woken"
        );
        assert_eq!(
            call.as_mut().poll(&mut Context::from_waker(&waker)),
            Poll::Ready(Err(DeadlinePassed))
        );
        drop(call);
        assert!(!taken(deadline));
    }

    #[tokio::test]
    async fn an_alarm_moved_later_goes_off_at_its_last_deadline_only() {
        // A stream's idle alarm: the deadline moves on while bytes come, the alarm is not
        // rewritten for that, and it goes off only once the last deadline has passed.
        let started = Instant::now();
        let mut alarm = Alarm::new();
        let mut deadline = started + Duration::from_millis(40);
        let mut moves = 0;
        let fired = std::future::poll_fn(|cx| {
            if moves < 3 && Instant::now() >= started + Duration::from_millis(20 * moves) {
                // Bytes came: the deadline moves 40 ms on from now.
                moves += 1;
                deadline = Instant::now() + Duration::from_millis(40);
            }
            let passed = alarm.poll_passed(deadline, SPAN, None, cx);
            if passed.is_pending() && moves < 3 {
                cx.waker().wake_by_ref();
            }
            passed.map(|()| Instant::now())
        })
        .await;
        assert_eq!(moves, 3);
        assert!(
            fired >= deadline,
            "went off {:?} before its deadline",
            deadline - fired
        );
        assert!(fired < deadline + Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_tokio_clock_neither_stops_nor_hurries_a_deadline() {
        ends_at_its_deadline(Duration::from_millis(100)).await;
    }

    /// A waker whose wake panics.
    struct Panics;

    impl std::task::Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("a waker that panics (expected by the test)");
        }
    }

    #[tokio::test]
    async fn a_waker_that_panics_does_not_end_the_watchdog() {
        let deadline = after(Duration::from_millis(20));
        let mut call = Box::pin(never_ending(deadline));
        let waker = Waker::from(Arc::new(Panics));
        assert!(
            call.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(call);
        // Deadlines are still kept after the panic.
        let started = Instant::now();
        let next = never_ending(after(Duration::from_millis(30)));
        // Bounded by the runtime's timer, should the watchdog be gone (the call is then
        // polled past its deadline, late).
        let result = tokio::time::timeout(Duration::from_secs(3), next).await;
        assert_eq!(result, Ok(Err(DeadlinePassed)));
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "the watchdog is gone: woken after {took:?}"
        );
    }

    #[test]
    fn a_deadline_decades_away_is_kept_without_overflow() {
        let Some(dog) = watchdog() else { return };
        let far = Instant::now() + Duration::from_secs(100 * 365 * 86_400);
        assert!(dog.nanos(far) > dog.nanos(Instant::now()));
        assert_eq!(dog.nanos(dog.epoch - Duration::from_secs(1)), 0);
    }
}
