//! "Did you mean" suggestions for misspelt names (keys, provider ids, modes, roles).

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a String>,
) -> Option<String> {
    closest_str(word, candidates.into_iter().map(String::as_str))
}

/// [`closest`] over string slices.
pub(crate) fn closest_str<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.to_owned())
}

/// `did you mean `x`?` for the closest candidate, if one is close.
pub(crate) fn did_you_mean(word: &str, candidates: &[&str]) -> Option<String> {
    closest_str(word, candidates.iter().copied()).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            did_you_mean("opneai", &["openai", "anthropic"]).as_deref(),
            Some("did you mean `openai`?")
        );
        assert_eq!(closest_str("zzz", ["openai", "anthropic"]), None);
    }
}
