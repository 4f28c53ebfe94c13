//! The `llmhub.yaml` schema: its types, loading, validation and role resolution.
//!
//! [`Config::from_yaml_str`] and [`Config::from_path`] parse and validate a file in one step and
//! report every problem they find together, each with its line and column, in an
//! [`Error::Config`](crate::Error::Config).
//!
//! | file | job |
//! |---|---|
//! | `types.rs` | [`Config`], [`ProviderConfig`], [`RoleConfig`], [`Deployment`], [`Routing`], [`Mode`], [`Protocol`], [`Span`] |
//! | `fallbacks.rs` | the checks of `fallbacks:` across roles (unknown, mode, cycles) |
//! | `load.rs` | reading a file (size cap, UTF-8) and parsing text |
//! | `yaml.rs` | the spanned YAML tree, from saphyr-parser's events |
//! | `validate.rs` | every check, every problem collected with its position |
//! | `problem.rs` | [`ConfigProblem`] and [`ConfigError`]: located, rendered rustc-style |
//! | `builtin.rs` | the built-in provider ids and their default base URLs |
//! | `base_url.rs` | the one rule for `base_url` (scheme, clear text only to loopback) |
//! | `suggest.rs` | "did you mean" |
//! | `names.rs` | role name → Rust method name |
//! | `resolve.rs` | the one role lookup: role, else `defaults:` |
//! | `compat.rs` | what a new config changes, and whether compiled roles survive it |

pub(crate) mod base_url;
pub(crate) mod block;
pub(crate) mod builtin;
pub(crate) mod compat;
pub(crate) mod fallbacks;
pub(crate) mod load;
pub(crate) mod names;
pub(crate) mod problem;
pub(crate) mod resolve;
pub(crate) mod suggest;
pub(crate) mod types;
pub(crate) mod validate;
pub(crate) mod yaml;

pub use builtin::{BUILTIN_PROVIDERS, BuiltinProvider, builtin_provider};
pub use compat::ReloadOutcome;
#[cfg(feature = "client")]
pub(crate) use compat::compiled_slots;
pub use load::MAX_CONFIG_BYTES;
pub use problem::{ConfigError, ConfigProblem};
#[cfg(feature = "client")]
pub(crate) use resolve::Binding;
pub use resolve::{ResolvedCall, merge_params};
pub use types::{
    AZURE_API_VERSION, Config, Deployment, Mode, Params, Protocol, ProviderConfig, RoleConfig,
    Routing, SharedConfig, Span,
};
