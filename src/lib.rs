//! llmhub: call LLMs by role from a generated `llmhub.yaml`, with the roles checked at compile
//! time. This crate re-exports the public API of `llmhub-core` and the `roles!` macro.
#![deny(missing_docs)]

pub use llmhub_core::*;
pub use llmhub_macros::roles;
