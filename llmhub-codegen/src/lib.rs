//! Turns an `llmhub.yaml` into typed Rust code. Shared by the `roles!` macro and build scripts.
#![deny(missing_docs)]

pub use llmhub_core::Config;
