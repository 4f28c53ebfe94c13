//! The checks of `fallbacks:` that need every role: each fallback names a role, that role
//! serves the same calls, and no chain of fallbacks leads back to where it started.

use std::collections::HashMap;

use crate::config::suggest::closest_str;
use crate::config::types::{Mode, Span};

/// One role's `fallbacks:` as written, with positions.
pub(crate) struct FallbackRefs {
    /// The role (or `defaults`).
    pub role: String,
    /// Its mode, if valid.
    pub mode: Option<Mode>,
    /// The fallback role names and where each is written.
    pub targets: Vec<(String, Span)>,
}

/// A problem found: where, what, and a hint.
pub(crate) type Found = (Span, String, Option<String>);

/// Whether a role of mode `fallback` can serve the calls of a role of mode `role`: the same
/// mode, or both chat (`chat` and `tool` have the same methods).
fn serves_same_calls(role: Mode, fallback: Mode) -> bool {
    role == fallback || (role.is_chat() && fallback.is_chat())
}

/// Checks every role's fallbacks against `roles` (each role's name and mode, if valid).
pub(crate) fn check(refs: &[FallbackRefs], roles: &[(&str, Option<Mode>)]) -> Vec<Found> {
    let mut found = Vec::new();
    let modes: HashMap<&str, Option<Mode>> = roles.iter().copied().collect();
    for entry in refs {
        for (target, span) in &entry.targets {
            match modes.get(target.as_str()) {
                None => {
                    let hint = closest_str(target, roles.iter().map(|(name, _)| *name))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| {
                            "a fallback is the name of another role under `roles:`".into()
                        });
                    found.push((
                        *span,
                        format!(
                            "role `{}` falls back to `{target}`, which is not under `roles:`",
                            entry.role
                        ),
                        Some(hint),
                    ));
                }
                Some(Some(theirs)) => {
                    if let Some(ours) = entry.mode
                        && !serves_same_calls(ours, *theirs)
                    {
                        found.push((
                            *span,
                            format!(
                                "role `{}` (mode `{ours}`) falls back to `{target}` (mode `{theirs}`), which cannot serve the same calls",
                                entry.role
                            ),
                            Some("a fallback has the role's mode (`chat` and `tool` are interchangeable)".into()),
                        ));
                    }
                }
                Some(None) => {}
            }
        }
    }
    found.extend(cycles(refs));
    found
}

/// Every cycle of fallbacks, each reported once, at the fallback that closes it.
fn cycles(refs: &[FallbackRefs]) -> Vec<Found> {
    #[derive(Clone, Copy, PartialEq)]
    enum Visit {
        New,
        Open,
        Done,
    }
    let index: HashMap<&str, usize> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.role.as_str(), i))
        .collect();
    let mut visit = vec![Visit::New; refs.len()];
    let mut found = Vec::new();
    for start in 0..refs.len() {
        if visit[start] != Visit::New {
            continue;
        }
        // An explicit stack of (role, next fallback to look at): no recursion, whatever the
        // length of a chain.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        visit[start] = Visit::Open;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let Some((target, span)) = refs[node].targets.get(*next) else {
                visit[node] = Visit::Done;
                stack.pop();
                continue;
            };
            *next += 1;
            let Some(&to) = index.get(target.as_str()) else {
                continue;
            };
            match visit[to] {
                Visit::New => {
                    visit[to] = Visit::Open;
                    stack.push((to, 0));
                }
                Visit::Open => {
                    let from = stack.iter().position(|(n, _)| *n == to).unwrap_or(0);
                    let mut path: Vec<&str> = stack[from..]
                        .iter()
                        .map(|(n, _)| refs[*n].role.as_str())
                        .collect();
                    path.push(&refs[to].role);
                    found.push((
                        *span,
                        format!("fallbacks form a cycle: {}", path.join(" → ")),
                        Some(format!(
                            "remove `{target}` from the fallbacks of `{}`",
                            refs[node].role
                        )),
                    ));
                }
                Visit::Done => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(role: &str, targets: &[&str], line: usize) -> FallbackRefs {
        FallbackRefs {
            role: role.into(),
            mode: Some(Mode::Chat),
            targets: targets
                .iter()
                .map(|t| {
                    (
                        (*t).to_owned(),
                        Span {
                            line,
                            column: 1,
                            len: 1,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_cycle_is_named_once() {
        let all = [
            refs("a", &["b"], 1),
            refs("b", &["c"], 2),
            refs("c", &["a"], 3),
            refs("d", &["d"], 4),
        ];
        let roles: Vec<(&str, Option<Mode>)> =
            ["a", "b", "c", "d"].map(|r| (r, Some(Mode::Chat))).to_vec();
        let found = check(&all, &roles);
        let messages: Vec<&str> = found.iter().map(|f| f.1.as_str()).collect();
        assert_eq!(
            messages,
            [
                "fallbacks form a cycle: a → b → c → a",
                "fallbacks form a cycle: d → d"
            ]
        );
        assert_eq!(found[0].0.line, 3);
    }

    #[test]
    fn chat_and_tool_serve_each_other() {
        assert!(serves_same_calls(Mode::Chat, Mode::Tool));
        assert!(!serves_same_calls(Mode::Chat, Mode::Embedding));
        assert!(serves_same_calls(Mode::Image, Mode::Image));
    }
}
