//! The `roles!` procedural macro of llmhub; a thin wrapper over `llmhub-codegen`.
#![deny(missing_docs)]
