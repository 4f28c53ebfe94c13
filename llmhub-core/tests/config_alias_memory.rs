//! Alias expansion is bounded in memory, not only in nodes: a document that repeats one long
//! value through aliases is refused before the copies are made. This binary counts every
//! allocation (it holds one test, so nothing else allocates meanwhile) and refuses any past a
//! cap, so an expansion that is not bounded fails here instead of exhausting the machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use llmhub_core::Config;

/// Most memory live at once in this process.
const CAP: usize = 256 * 1024 * 1024;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; the counters only
// observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        if live > CAP {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_long_value_repeated_by_aliases_is_refused_without_copying_it() {
    let mut text = format!("project: &long \"{}\"\nenv: [", "x".repeat(600_000));
    text.push_str(&"*long, ".repeat(55_000));
    text.push_str("*long]\n");
    assert!(text.len() < llmhub_core::config::MAX_CONFIG_BYTES);

    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let err = Config::from_yaml_str(&text).unwrap_err();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert!(err.to_string().contains("8 MiB"), "{err}");
    assert!(
        peak < 32 * 1024 * 1024,
        "{peak} bytes allocated to refuse the document"
    );
}
