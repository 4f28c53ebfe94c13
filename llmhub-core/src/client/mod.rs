//! The runtime (feature `client`): [`Hub`](crate::Hub), typed role handles, the wire
//! protocols, streaming, retries, hooks and reload.
//!
//! | file | job |
//! |---|---|
//! | `hub.rs` | [`Hub`](crate::Hub) and the dynamic, string-keyed API |
//! | `builder.rs` | [`HubBuilder`](crate::HubBuilder) (also `Roles::builder()`) |
//! | `generated.rs` | what generated code builds on (`__private`) |
//! | `handle.rs` | typed role handles, the mode in the type |
//! | `kind.rs` | the call kinds and their table: name, operation, modes, hook input |
//! | `call.rs` | the one path of every call: mode check, input checks, encode, hooks, send, decode |
//! | `state.rs` | what a hub shares, and the state derived from one config (swapped by reload) |
//! | `provider.rs` | a provider ready to send: URLs, headers, auth, timeouts |
//! | `protocol/` | the wire protocols, each in its own file; registered in `protocol/mod.rs` |
//! | `structured.rs` | typed replies: a type's schema (cached), its strict form, parsing, repairs |
//! | `tool.rs`, `tools.rs` | a tool from a Rust type; the toolbox and the bounded tool loop |
//! | `positions.rs` | index to position, for joining the pieces of a stream |
//! | `params.rs` | role params overlaid by overrides, translated to wire names |
//! | `transport.rs` | the send loop with retries, and failures as errors |
//! | `route.rs` | deployments, routing, cooldowns and fallbacks: the bindings a call may try |
//! | `limits.rs` | a provider's `max_concurrency`, `rpm` and `tpm` |
//! | `fleet.rs` | limits and cooldowns shared across replicas through Redis (feature `redis`) |
//! | `status.rs` | HTTP statuses and error bodies as errors |
//! | `settings.rs` | timeouts, retries and their defaults |
//! | `sse.rs` | the byte-level server-sent events parser |
//! | `stream.rs` | [`ChatStream`](crate::ChatStream) |
//! | `hooks.rs` | before/after-call hooks and the per-call record and span |
//! | `reload.rs`, `watch.rs` | reload settings and the file watcher |
//! | `message.rs`, `response.rs`, `media.rs` | what calls send and receive |

pub(crate) mod builder;
pub(crate) mod call;
pub(crate) mod deadline;
#[cfg(feature = "redis")]
pub(crate) mod fleet;
pub(crate) mod generated;
pub(crate) mod handle;
pub(crate) mod hooks;
pub(crate) mod hub;
pub(crate) mod kind;
pub(crate) mod limits;
pub mod media;
pub(crate) mod message;
pub(crate) mod params;
pub(crate) mod positions;
pub(crate) mod protocol;
pub(crate) mod provider;
pub mod reload;
pub(crate) mod response;
pub(crate) mod route;
pub(crate) mod settings;
pub(crate) mod sse;
pub(crate) mod state;
pub(crate) mod status;
pub(crate) mod stream;
pub(crate) mod structured;
pub(crate) mod tool;
pub(crate) mod tools;
pub(crate) mod transport;
pub mod watch;
