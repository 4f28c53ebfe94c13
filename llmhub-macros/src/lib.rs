//! The `roles!` procedural macro of llmhub; a thin wrapper over `llmhub-codegen`.
//!
//! Use it through the facade: `llmhub::roles!("llmhub.yaml");` or
//! `llmhub::roles!(MyRoles, "llmhub.yaml");`. See the `llmhub` crate for the generated API.
#![deny(missing_docs)]

use std::path::PathBuf;

use proc_macro::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

/// Generates `pub struct Roles` (or the name given first) from an `llmhub.yaml`, with one
/// method per role, typed by the role's mode.
///
/// The path is relative to the crate directory (`CARGO_MANIFEST_DIR`). The config is validated
/// at compile time, by the same code that validates it at run time; every problem becomes a
/// compile error on the path literal that names the file, line and column, shows the YAML line
/// and, where it helps, a fix. The file is embedded with `include_str!`, so cargo rebuilds the
/// crate when it changes and the program needs no file at run time.
///
/// ```ignore
/// llmhub::roles!("llmhub.yaml");
/// llmhub::roles!(MyRoles, "config/llmhub.yaml");
/// ```
///
/// The generated struct has:
/// - `Roles::new() -> llmhub::Result<Roles>`: the compiled-in config, keys from the environment;
/// - `Roles::builder() -> llmhub::RolesBuilder<Roles>`: keys, hooks, strict env, HTTP client,
///   another config, reload; then `.build()`;
/// - `Roles::from_hub(hub) -> llmhub::Result<Roles>`: wraps a hub whose config has every
///   compiled role with the same mode;
/// - `roles.hub() -> &llmhub::Hub`: the dynamic API, the config in force, reload;
/// - `Roles::ROLE_NAMES: &[&str]`: the compiled roles, in file order;
/// - one method per role, named by lower-casing the role name, turning each run of other
///   characters than `[a-z0-9]` into `_`, trimming `_`, prefixing `role_` before a digit and
///   appending `_` to a keyword or to a method the struct already has (`new`, `builder`,
///   `from_hub`, `hub`, `clone`, `fmt`): `llm.inference` → `llm_inference()`, `type` → `type_()`. It
///   returns the role's typed handle (`llmhub::ChatRole`, `llmhub::EmbeddingRole`, …), so a call
///   the role's mode does not allow does not compile. Its doc comment shows the role's binding
///   and the `file:line` where it is defined.
#[proc_macro]
pub fn roles(input: TokenStream) -> TokenStream {
    syn::parse::<RolesInput>(input)
        .and_then(expand)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// `"path"` or `Name, "path"`, with an optional trailing comma.
struct RolesInput {
    name: Ident,
    path: LitStr,
}

impl Parse for RolesInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let lookahead = input.lookahead1();
        let name = if lookahead.peek(Ident) {
            let name: Ident = input.parse()?;
            input.parse::<Token![,]>()?;
            name
        } else if lookahead.peek(LitStr) {
            Ident::new("Roles", proc_macro2::Span::call_site())
        } else {
            return Err(syn::Error::new(
                input.span(),
                "expected the path of an llmhub.yaml, relative to the crate: \
                 `roles!(\"llmhub.yaml\")` or `roles!(StructName, \"llmhub.yaml\")`",
            ));
        };
        let path = input.parse()?;
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected input after the config path"));
        }
        Ok(RolesInput { name, path })
    }
}

fn expand(input: RolesInput) -> syn::Result<proc_macro2::TokenStream> {
    let span = input.path.span();
    let path = input.path.value();
    let base_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| {
            syn::Error::new(
                span,
                "CARGO_MANIFEST_DIR is not set; llmhub::roles! resolves its path against it, \
                 so build with cargo",
            )
        })?;
    let (config, resolved) =
        llmhub_codegen::load_config(&base_dir, &path).map_err(|err| located_error(span, err))?;
    let embed = llmhub_codegen::Embed::Absolute(resolved);
    llmhub_codegen::generate_tokens(&config, &input.name, &embed)
        .map_err(|err| syn::Error::new(span, err))
}

/// One compile error per config problem, all on the path literal, combined so that the user
/// sees every problem at once. A file that cannot be read is named as the user wrote it, relative
/// to the crate: the crate directory's absolute path says nothing the literal does not, and
/// would differ between machines and target directories.
fn located_error(span: proc_macro2::Span, err: llmhub_codegen::Error) -> syn::Error {
    let config_error = match err {
        llmhub_codegen::Error::Config(config_error) => config_error,
        llmhub_codegen::Error::Read { file, source, .. } => {
            return syn::Error::new(
                span,
                format!(
                    "cannot read the llmhub config `{file}`: {source}\n  = note: the path is \
                     relative to the crate directory, the one holding its Cargo.toml"
                ),
            );
        }
        other => return syn::Error::new(span, other),
    };
    let mut errors = config_error
        .problems
        .iter()
        .map(|problem| syn::Error::new(span, problem.located_message()));
    let mut combined = errors
        .next()
        .unwrap_or_else(|| syn::Error::new(span, config_error.to_string()));
    errors.for_each(|next| combined.combine(next));
    combined
}
