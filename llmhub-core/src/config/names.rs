//! Role names to Rust method names, shared by validation (two roles with one method name are a
//! config error) and code generation.

/// Rust keywords (strict and reserved, edition 2024) and the names of the methods every
/// generated `Roles` struct has; a role mapping to one of these gets a trailing `_`.
const RESERVED: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
    // methods of the generated struct, and of the traits it derives (`Clone`, `Debug`), which
    // a role method of the same name would shadow
    "new", "builder", "from_hub", "hub", "clone", "fmt",
];

/// The length of the longest name in [`RESERVED`]: longer names skip the list.
const LONGEST_RESERVED: usize = 8;

/// The method name of a role: lower-case it, replace each run of characters other than
/// `[a-z0-9]` with `_`, trim `_` at both ends, prefix `role_` if it starts with a digit, and
/// append `_` to a Rust keyword or a name the generated struct already uses.
///
/// A name with no ASCII letter or digit at all becomes `role_` followed by the hex of its UTF-8
/// bytes, so that every role still gets a stable method.
///
/// ```
/// use llmhub_core::__private::method_name;
/// assert_eq!(method_name("llm.inference"), "llm_inference");
/// assert_eq!(method_name("Summarize-v2 (fast)"), "summarize_v2_fast");
/// assert_eq!(method_name("2nd-pass"), "role_2nd_pass");
/// assert_eq!(method_name("type"), "type_");
/// ```
pub fn method_name(role: &str) -> String {
    let mut name = String::with_capacity(role.len());
    push_method_name(&mut name, role);
    name
}

/// Appends [`method_name`] of `role` to `out`, so that many names can share one buffer.
pub(crate) fn push_method_name(out: &mut String, role: &str) {
    let start = out.len();
    let mut pending_sep = false;
    let lowered: String;
    let role_lower: &str = if role.is_ascii() {
        role
    } else {
        lowered = role.chars().flat_map(char::to_lowercase).collect();
        &lowered
    };
    // Byte by byte: every byte of a character beyond ASCII is >= 0x80, a separator like any
    // other character outside `[a-z0-9]`.
    for byte in role_lower.bytes().map(|b| b.to_ascii_lowercase()) {
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() {
            if pending_sep && out.len() > start {
                out.push('_');
            }
            pending_sep = false;
            out.push(char::from(byte));
        } else {
            pending_sep = true;
        }
    }
    if out.len() == start {
        out.push_str("role_");
        for byte in role.bytes() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        return;
    }
    if out[start..].starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(start, "role_");
    }
    let name = &out[start..];
    if name.len() <= LONGEST_RESERVED && RESERVED.contains(&name) {
        out.push('_');
    }
}

#[cfg(test)]
mod tests {
    use super::{LONGEST_RESERVED, RESERVED, method_name};

    #[test]
    fn no_reserved_name_is_longer_than_the_check_allows() {
        assert_eq!(
            RESERVED.iter().map(|r| r.len()).max(),
            Some(LONGEST_RESERVED)
        );
    }

    #[test]
    fn the_spec_examples() {
        assert_eq!(method_name("llm.inference"), "llm_inference");
        assert_eq!(method_name("Summarize-v2 (fast)"), "summarize_v2_fast");
        assert_eq!(method_name("--llm..x--"), "llm_x");
        assert_eq!(method_name("3d-render"), "role_3d_render");
        assert_eq!(method_name("type"), "type_");
        assert_eq!(method_name("Self"), "self_");
        assert_eq!(method_name("hub"), "hub_");
        assert_eq!(method_name("new"), "new_");
        assert_eq!(method_name("clone"), "clone_");
    }

    #[test]
    fn unicode_names() {
        assert_eq!(method_name("llm.résumé"), "llm_r_sum");
        assert_eq!(method_name("ÉTÉ"), "t");
        assert_eq!(method_name("日本"), "role_e697a5e69cac");
    }
}
