//! Typed dispatch (a generated role method: a slot, an index into a table) against the dynamic
//! API's lookup by name (a hash of the role name), on the same hub and the same call.
//!
//! The config's API key variable is never set, so each call returns `Error::EnvVarMissing`
//! right after dispatch, before any request: what differs between the two paths is dispatch.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use llmhub::{Error, Message};

llmhub::roles!("benches/dispatch.yaml");

/// Polls a future that completes without waiting (every call here fails before any I/O).
fn ready<T>(future: impl Future<Output = T>) -> T {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => unreachable!("the call fails before any I/O"),
    }
}

fn dispatch(c: &mut Criterion) {
    let roles = Roles::new().expect("the bench config is valid");
    let hub = roles.hub().clone();
    let no_messages: Vec<Message> = Vec::new();
    let expect_key_error = |result: llmhub::Result<llmhub::ChatResponse>| {
        assert!(matches!(result, Err(Error::EnvVarMissing { .. })));
    };
    expect_key_error(ready(roles.llm_inference().completion(no_messages.clone())));
    expect_key_error(ready(hub.completion(
        "llm.inference",
        no_messages.clone(),
        None,
    )));

    let mut group = c.benchmark_group("dispatch");
    group.bench_function("typed/llm_inference()", |b| {
        b.iter(|| {
            ready(
                black_box(&roles)
                    .llm_inference()
                    .completion(Vec::<Message>::new()),
            )
        })
    });
    group.bench_function("dynamic/completion(\"llm.inference\")", |b| {
        b.iter(|| {
            ready(black_box(&hub).completion(
                black_box("llm.inference"),
                Vec::<Message>::new(),
                None,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
