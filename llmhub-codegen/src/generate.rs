//! `Config` → `TokenStream`: the generated `Roles` struct.
//!
//! The generated code is small: per role a method and a doc comment. All behaviour lives in
//! `llmhub-core` (`RolesBuilder`, `__private`, the typed handles), written with fully
//! qualified paths so it works whatever the user has imported.

use std::path::PathBuf;

use llmhub_core::__private::method_name;
use llmhub_core::{Config, Mode, RoleConfig};
use proc_macro2::{Delimiter, Group, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::quote;
use syn::Ident;

use crate::Error;

/// How the generated code embeds the config text (with `include_str!`, so that cargo rebuilds
/// the crate when the file changes and the program needs no file at run time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Embed {
    /// `include_str!("/absolute/path")`: what the macro uses.
    Absolute(PathBuf),
    /// `include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", path))`: portable, for code that
    /// is committed or written by a build script.
    ManifestRelative(String),
}

impl Embed {
    fn tokens(&self) -> TokenStream {
        match self {
            Embed::Absolute(path) => {
                let path = path.to_string_lossy();
                quote!(::std::include_str!(#path))
            }
            Embed::ManifestRelative(path) => {
                let path = format!("/{}", path.trim_start_matches("./"));
                quote!(::std::include_str!(::std::concat!(
                    ::std::env!("CARGO_MANIFEST_DIR"),
                    #path
                )))
            }
        }
    }
}

/// The generated code for `config`: `pub struct <struct_name>` with one method per role.
///
/// `config.source_name` (the file as the user wrote it) appears in the doc comments and in
/// messages at run time.
pub fn generate_tokens(
    config: &Config,
    struct_name: &Ident,
    embed: &Embed,
) -> Result<TokenStream, Error> {
    let file = config.source_name.as_str();
    // The calls of each mode, written once rather than per role.
    let calls_of = Mode::ALL.map(|mode| (mode, calls(mode)));
    let calls_of = |mode: Mode| {
        calls_of
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or("", |(_, calls)| calls.as_str())
    };
    let parts = MethodParts::new();
    let method_names: Vec<String> = config.roles.keys().map(|name| method_name(name)).collect();
    let mut methods = Vec::with_capacity(config.roles.len() * METHOD_TOKENS);
    for (slot, (role, name)) in config.roles.values().zip(&method_names).enumerate() {
        parts.push_method(&mut methods, role, name, slot, file, calls_of(role.mode))?;
    }
    let names: Vec<Literal> = config.roles.keys().map(|name| doc_literal(name)).collect();
    let compiled = config.roles.values().zip(&names).map(|(role, name)| {
        let entry = [
            TokenTree::from(name.clone()),
            parts.comma.clone(),
            parts.modes[mode_index(role.mode)].clone(),
        ];
        Group::new(Delimiter::Parenthesis, entry.into_iter().collect())
    });
    let compiled = separated(compiled);
    let role_names = separated(names.into_iter());
    let struct_doc = doc_literal(&struct_doc(config, &method_names));
    let yaml = embed.tokens();
    let mut impl_body = quote! {
        /// The roles compiled in, in the order of the file.
        pub const ROLE_NAMES: &'static [&'static str] = &[#role_names];

        /// Builds the hub from the compiled-in config, with API keys from the environment.
        ///
        /// # Errors
        /// `llmhub::Error` if the hub cannot be built (see `llmhub::RolesBuilder::build`).
        pub fn new() -> ::llmhub::Result<Self> {
            Self::builder().build()
        }

        /// A builder to set API keys, hooks, strict env, the HTTP client or reload before
        /// building.
        #[must_use]
        pub fn builder() -> ::llmhub::RolesBuilder<Self> {
            ::llmhub::RolesBuilder::default()
        }

        /// Wraps a hub built elsewhere, after checking that its config has every compiled
        /// role with the same mode.
        ///
        /// # Errors
        /// `llmhub::Error::UnknownRole` or `llmhub::Error::ModeMismatch` if it has not.
        pub fn from_hub(hub: ::llmhub::Hub) -> ::llmhub::Result<Self> {
            ::llmhub::__private::checked_from_hub(hub)
        }

        /// The hub behind the roles: the dynamic API, the config in force, reload.
        #[must_use]
        pub fn hub(&self) -> &::llmhub::Hub {
            &self.hub
        }
    };
    impl_body.extend(methods);
    let impl_body = Group::new(Delimiter::Brace, impl_body);

    Ok(quote! {
        #[doc = #struct_doc]
        #[derive(::std::clone::Clone, ::std::fmt::Debug)]
        #[allow(dead_code)]
        pub struct #struct_name {
            hub: ::llmhub::Hub,
        }

        #[allow(dead_code)]
        impl #struct_name #impl_body

        impl ::llmhub::__private::GeneratedRoles for #struct_name {
            const YAML: &'static str = #yaml;
            const FILE: &'static str = #file;
            const COMPILED: &'static [(&'static str, ::llmhub::Mode)] = &[#compiled];

            fn from_hub_unchecked(hub: ::llmhub::Hub) -> Self {
                Self { hub }
            }
        }
    })
}

/// `tokens` as a Rust source file: formatted with prettyplease, behind an `@generated` header.
/// Each line of a doc comment is written as its own `///` line.
pub fn format_source(tokens: TokenStream, config_file: &str) -> Result<String, Error> {
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|err| Error::Internal(err.to_string()))?;
    for item in &mut file.items {
        match item {
            syn::Item::Struct(item) => split_doc_lines(&mut item.attrs),
            syn::Item::Impl(item) => {
                split_doc_lines(&mut item.attrs);
                for member in &mut item.items {
                    match member {
                        syn::ImplItem::Fn(member) => split_doc_lines(&mut member.attrs),
                        syn::ImplItem::Const(member) => split_doc_lines(&mut member.attrs),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(format!(
        "// @generated by llmhub-codegen from `{config_file}`. Do not edit by hand: edit the config \
         and rebuild.\n\n{}",
        prettyplease::unparse(&file)
    ))
}

/// Replaces each `#[doc = "..."]` of several lines by one attribute per line (which
/// prettyplease writes as `///` lines rather than a block comment). The generated tokens carry
/// a doc comment as one attribute, one string for the compiler to read instead of a dozen.
fn split_doc_lines(attrs: &mut Vec<syn::Attribute>) {
    let mut split = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        let text = match &attr.meta {
            syn::Meta::NameValue(syn::MetaNameValue {
                path,
                value:
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }),
                ..
            }) if path.is_ident("doc") => text.value(),
            _ => {
                split.push(attr);
                continue;
            }
        };
        if !text.contains('\n') {
            split.push(attr);
            continue;
        }
        for line in text.split('\n') {
            split.push(syn::parse_quote!(#[doc = #line]));
        }
    }
    *attrs = split;
}

/// Tokens in one role method, for sizing the list they are written to.
const METHOD_TOKENS: usize = 12;

/// The tokens every role method repeats, built once per config. Each method clones them, and
/// a clone of a group shares its tokens (paths and types sit in invisible groups, which the
/// compiler reads as if the tokens were written out), so a method costs a dozen tokens rather
/// than the forty of its text.
struct MethodParts {
    pound: TokenTree,
    doc: TokenTree,
    eq: TokenTree,
    must_use: TokenTree,
    pub_: TokenTree,
    fn_: TokenTree,
    self_arg: TokenTree,
    arrow: [TokenTree; 2],
    comma: TokenTree,
    /// `::llmhub::__private::handle`.
    handle_fn: TokenTree,
    /// `&self.hub`.
    hub: TokenTree,
    /// The handle type of each mode (`::llmhub::ChatRole<'_>`), in [`Mode::ALL`] order.
    handles: [TokenTree; Mode::ALL.len()],
    /// Each mode as a path (`::llmhub::Mode::Chat`), in [`Mode::ALL`] order.
    modes: [TokenTree; Mode::ALL.len()],
}

impl MethodParts {
    fn new() -> Self {
        let invisible = |tokens: TokenStream| TokenTree::from(Group::new(Delimiter::None, tokens));
        let punct = |c: char, spacing: Spacing| TokenTree::from(Punct::new(c, spacing));
        let ident = |name: &str| TokenTree::from(Ident::new(name, Span::call_site()));
        MethodParts {
            pound: punct('#', Spacing::Alone),
            doc: ident("doc"),
            eq: punct('=', Spacing::Alone),
            must_use: Group::new(Delimiter::Bracket, quote!(must_use)).into(),
            pub_: ident("pub"),
            fn_: ident("fn"),
            self_arg: Group::new(Delimiter::Parenthesis, quote!(&self)).into(),
            arrow: [punct('-', Spacing::Joint), punct('>', Spacing::Alone)],
            comma: punct(',', Spacing::Alone),
            handle_fn: invisible(quote!(::llmhub::__private::handle)),
            hub: invisible(quote!(&self.hub)),
            handles: Mode::ALL.map(|mode| invisible(handle_type(mode))),
            modes: Mode::ALL.map(|mode| invisible(mode_tokens(mode))),
        }
    }

    /// Appends the method `name` of `role` (at `slot`) to `out`: `#[doc = ".."] #[must_use] pub fn
    /// name(&self) -> ::llmhub::ChatRole<'_> { ::llmhub::__private::handle(&self.hub, slot) }`.
    fn push_method(
        &self,
        out: &mut Vec<TokenTree>,
        role: &RoleConfig,
        name: &str,
        slot: usize,
        file: &str,
        calls: &str,
    ) -> Result<(), Error> {
        // `method_name` only makes `[a-z0-9_]` identifiers that do not start with a digit (a
        // keyword gets a trailing `_`); checking that here keeps a bug there from becoming a
        // panic in `Ident::new`, at a fraction of the cost of parsing the name.
        let is_ident = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && name != "_";
        if !is_ident {
            return Err(Error::Internal(format!(
                "role `{}` maps to method `{name}`, which is not an identifier",
                role.name
            )));
        }
        let doc = [
            self.doc.clone(),
            self.eq.clone(),
            doc_literal(&role_doc(role, file, calls)).into(),
        ];
        let arguments = [
            self.hub.clone(),
            self.comma.clone(),
            Literal::usize_unsuffixed(slot).into(),
        ];
        let body = [
            self.handle_fn.clone(),
            Group::new(Delimiter::Parenthesis, arguments.into_iter().collect()).into(),
        ];
        out.extend([
            self.pound.clone(),
            Group::new(Delimiter::Bracket, doc.into_iter().collect()).into(),
            self.pound.clone(),
            self.must_use.clone(),
            self.pub_.clone(),
            self.fn_.clone(),
            Ident::new(name, Span::call_site()).into(),
            self.self_arg.clone(),
            self.arrow[0].clone(),
            self.arrow[1].clone(),
            self.handles[mode_index(role.mode)].clone(),
            Group::new(Delimiter::Brace, body.into_iter().collect()).into(),
        ]);
        Ok(())
    }
}

/// The position of `mode` in [`Mode::ALL`].
fn mode_index(mode: Mode) -> usize {
    Mode::ALL
        .iter()
        .position(|m| *m == mode)
        .unwrap_or_default()
}

/// `items` separated by commas.
fn separated(items: impl Iterator<Item = impl Into<TokenTree>>) -> TokenStream {
    let mut tokens = Vec::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            tokens.push(TokenTree::from(Punct::new(',', Spacing::Alone)));
        }
        tokens.push(item.into());
    }
    tokens.into_iter().collect()
}

fn handle_type(mode: Mode) -> TokenStream {
    match mode {
        Mode::Chat => quote!(::llmhub::ChatRole<'_>),
        Mode::Tool => quote!(::llmhub::ToolRole<'_>),
        Mode::Embedding => quote!(::llmhub::EmbeddingRole<'_>),
        Mode::Image => quote!(::llmhub::ImageRole<'_>),
        Mode::Audio => quote!(::llmhub::AudioRole<'_>),
        Mode::Other => quote!(::llmhub::OtherRole<'_>),
    }
}

fn mode_tokens(mode: Mode) -> TokenStream {
    match mode {
        Mode::Chat => quote!(::llmhub::Mode::Chat),
        Mode::Tool => quote!(::llmhub::Mode::Tool),
        Mode::Embedding => quote!(::llmhub::Mode::Embedding),
        Mode::Image => quote!(::llmhub::Mode::Image),
        Mode::Audio => quote!(::llmhub::Mode::Audio),
        Mode::Other => quote!(::llmhub::Mode::Other),
    }
}

/// The calls a role of `mode` offers, for the doc comments: its methods with their arguments.
fn calls(mode: Mode) -> String {
    let call = |method: &str| {
        let args = match method {
            "completion" | "stream" => "messages",
            "completion_json" => return "`.completion_json::<T>(messages)`".to_owned(),
            "embedding" => "input",
            "generate" => "prompt",
            "transcribe" => "audio",
            "speech" => "text",
            "raw" => "path, json",
            _ => "..",
        };
        format!("`.{method}({args})`")
    };
    mode.methods()
        .iter()
        .map(|method| call(method))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The doc comment of a role method: role, provider, model, mode, params and where the role is
/// defined, so that IDE hover shows the binding. `calls` is [`calls`] of the role's mode.
fn role_doc(role: &RoleConfig, file: &str, calls: &str) -> String {
    use std::fmt::Write as _;
    let mut doc = String::with_capacity(320);
    doc.push_str(" Role ");
    push_code(&mut doc, &role.name);
    doc.push_str(": ");
    doc.push_str(calls);
    doc.push_str(".\n\n");
    if role.deployments.is_empty() {
        doc.push_str(" - provider: ");
        push_code(&mut doc, &role.provider);
        doc.push_str("\n - model: ");
        push_code(&mut doc, &role.model);
        doc.push('\n');
    } else {
        // `write!` to a `String` cannot fail.
        let _ = write!(doc, " - deployments ({} routing): ", role.routing);
        for (i, d) in role.deployments.iter().enumerate() {
            if i > 0 {
                doc.push_str(", ");
            }
            push_code(&mut doc, &format!("{}/{}", d.provider, d.model));
            let _ = write!(doc, " (weight {})", d.weight);
        }
        doc.push('\n');
    }
    doc.push_str(" - mode: ");
    push_code(&mut doc, role.mode.as_str());
    doc.push_str("\n - params: ");
    if role.params.is_empty() {
        doc.push_str("none");
    } else {
        push_code(
            &mut doc,
            &serde_json::to_string(&role.params).unwrap_or_default(),
        );
    }
    if !role.fallbacks.is_empty() {
        doc.push_str("\n - fallbacks: ");
        for (i, fallback) in role.fallbacks.iter().enumerate() {
            if i > 0 {
                doc.push_str(", ");
            }
            push_code(&mut doc, fallback);
        }
    }
    doc.push_str("\n\n Defined at ");
    if is_plain(file) {
        let _ = write!(doc, "`{file}:{}`", role.span.line);
    } else {
        push_code(&mut doc, &format!("{file}:{}", role.span.line));
    }
    doc.push('.');
    doc
}

fn struct_doc(config: &Config, method_names: &[String]) -> String {
    let mut doc = String::with_capacity(200 + config.roles.len() * 48);
    doc.push_str(" The roles of ");
    push_code(&mut doc, &config.source_name);
    doc.push_str(" (project ");
    push_code(&mut doc, &config.project);
    doc.push_str(", env ");
    push_code(&mut doc, &config.env);
    doc.push_str(
        "), checked at compile time.\n\n Build it with `new()` (API keys from the environment) \
         or `builder()`; each method returns the typed handle of one role.",
    );
    if !config.roles.is_empty() {
        doc.push('\n');
    }
    for (role, method) in config.roles.values().zip(method_names) {
        doc.push_str("\n - `");
        doc.push_str(method);
        doc.push_str("()`: role ");
        push_code(&mut doc, &role.name);
        doc.push_str(" (");
        doc.push_str(role.mode.as_str());
        doc.push(')');
    }
    doc
}

/// `text` as a string literal token: the doc comments, and the role names.
///
/// Inside the compiler (the `roles!` macro), `Literal::string` hands the text over as it is;
/// a literal parsed from source there would be lexed twice, by proc-macro2's checks and then
/// by the compiler. Elsewhere (a build script), proc-macro2 builds the literal itself, and
/// `Literal::string` would escape it character by character: the text is escaped in runs (see
/// [`push_str_literal`]) and lexed once instead.
fn doc_literal(text: &str) -> Literal {
    if proc_macro::is_available() {
        return Literal::string(text);
    }
    let mut repr = String::with_capacity(text.len() + text.len() / 16 + 2);
    push_str_literal(&mut repr, text);
    // Always a valid literal; should the lexer disagree, the slow path is still right.
    repr.parse().unwrap_or_else(|_| Literal::string(text))
}

/// Appends `text` as a Rust string literal to `out`. The doc comments are most of the
/// generated text, and this copies it in runs, escaping only what needs it (`"`, `\\`, line
/// ends and ASCII control characters), where `Literal::string` escapes character by character
/// the way `{:?}` does.
fn push_str_literal(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    // Control characters other than `\n` are rare: without any, only `"`, `\\` and `\n`
    // stop a run, and those are found a block at a time.
    let controls = bytes.iter().fold(false, |any, &b| {
        any | ((b < 0x20 && b != b'\n') || b == 0x7f)
    });
    let mut run = 0;
    let mut escape = |at: usize, out: &mut String| {
        out.push_str(&text[run..at]);
        match bytes[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            byte => out.extend(char::from(byte).escape_default()),
        }
        run = at + 1;
    };
    if controls {
        for (at, &byte) in bytes.iter().enumerate() {
            // Bytes of a multi-byte character are all >= 0x80: runs end only on ASCII.
            if matches!(byte, b'"' | b'\\' | b'\n') || byte < 0x20 || byte == 0x7f {
                escape(at, out);
            }
        }
    } else {
        for at in memchr::memchr3_iter(b'"', b'\\', b'\n', bytes) {
            escape(at, out);
        }
    }
    out.push_str(&text[run..]);
    out.push('"');
}

/// Whether `text` is the common case of a code span, printable ASCII without a backtick, which
/// goes in a plain span as it is.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'`')
}

/// Appends `text` to `out` as a Markdown code span, whatever backticks or control characters it
/// holds, so that no config value can break the doc comment (or be read as an intra-doc link).
/// The generated docs hold no intra-doc links at all: rustdoc's lints on them depend on the
/// user's imports.
fn push_code(out: &mut String, text: &str) {
    if is_plain(text) {
        out.push('`');
        out.push_str(text);
        out.push('`');
        return;
    }
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    let mut longest = 0;
    let mut run = 0;
    for c in escaped.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    if longest == 0 {
        out.push('`');
        out.push_str(&escaped);
        out.push('`');
        return;
    }
    let fence = "`".repeat(longest + 1);
    out.push_str(&fence);
    out.push(' ');
    out.push_str(&escaped);
    out.push(' ');
    out.push_str(&fence);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> String {
        let mut span = String::new();
        push_code(&mut span, text);
        span
    }

    /// The top-level tokens of the generated `impl` block's body.
    fn impl_body_tokens(roles: usize) -> usize {
        let mut yaml =
            String::from("project: p\nenv: dev\nproviders:\n  openai: { env_key: K }\nroles:\n");
        for i in 0..roles {
            yaml.push_str(&format!(
                "  r{i}: {{ provider: openai, model: m, mode: chat }}\n"
            ));
        }
        let config = Config::from_yaml_str_named(&yaml, "llmhub.yaml").unwrap();
        let tokens = generate_tokens(
            &config,
            &syn::parse_quote!(Roles),
            &Embed::ManifestRelative("llmhub.yaml".into()),
        )
        .unwrap();
        // `impl Roles { .. }` is the first brace group after an `impl`.
        let mut after_impl = false;
        for token in tokens {
            match token {
                TokenTree::Ident(ident) if ident == "impl" => after_impl = true,
                TokenTree::Group(group) if after_impl && group.delimiter() == Delimiter::Brace => {
                    return group.stream().into_iter().count();
                }
                _ => {}
            }
        }
        panic!("no impl block")
    }

    #[test]
    fn a_role_method_is_the_tokens_the_list_is_sized_for() {
        assert_eq!(
            impl_body_tokens(3) - impl_body_tokens(2),
            METHOD_TOKENS,
            "each role method is {METHOD_TOKENS} tokens"
        );
    }

    #[test]
    fn code_spans_survive_backticks_and_control_characters() {
        assert_eq!(code("llm.inference"), "`llm.inference`");
        assert_eq!(code("a`b"), "`` a`b ``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(code("a\nb"), "`a\\nb`");
        assert_eq!(code("résumé"), "`résumé`");
    }

    #[test]
    fn doc_literals_hold_the_text_exactly() {
        for text in [
            "plain",
            " Role `a`: `.completion(messages)`.\n\n - params: `{\"t\":0.7}`",
            "back\\slash \"quoted\" tab\tcr\rnul\0 bell\u{7} del\u{7f} résumé 日本 😀",
            "no control: back\\slash \"quoted\"\nrésumé 日本 😀 \\",
            "",
        ] {
            let literal = doc_literal(text);
            let parsed: syn::LitStr = syn::parse2(quote!(#literal)).unwrap();
            assert_eq!(parsed.value(), text);
        }
    }
}
