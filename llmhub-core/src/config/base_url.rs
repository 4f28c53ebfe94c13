//! The one rule for a provider's `base_url`: http or https only, and plain `http://` only to a
//! loopback host unless the provider allows it (an API key would travel in clear text).
//!
//! Validation applies it to the text of the file; the runtime applies [`is_loopback_host`]
//! again to the host as the HTTP client parsed it, so that no spelling of a remote host can
//! pass for loopback.

/// Checks a base URL's scheme, and refuses plain `http://` to a non-loopback host unless
/// allowed. Returns the problem and a hint.
pub(crate) fn check_base_url(url: &str, allow_insecure_http: bool) -> Option<(String, String)> {
    let shown = without_userinfo(url);
    let url = &*shown;
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some((
            format!("`base_url` `{url}` is not a URL"),
            "write it as https://host/path".into(),
        ));
    };
    match scheme {
        "https" => None,
        "http" if allow_insecure_http || is_loopback_host(host_of(rest)) => None,
        "http" => Some((
            format!("`base_url` {url} sends the API key in clear text to a non-loopback host"),
            "use https://, or set `allow_insecure_http: true` on this provider if you must".into(),
        )),
        other => Some((
            format!("`base_url` {url} has scheme `{other}`; only http and https are supported"),
            "write the URL as https://host/path".into(),
        )),
    }
}

/// `url` without the user info of its authority (`user:password@`), for messages and `Debug`.
pub(crate) fn without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    match authority_of(rest).rsplit_once('@') {
        Some((userinfo, _)) => format!("{scheme}://{}", &rest[userinfo.len() + 1..]).into(),
        None => url.into(),
    }
}

/// The authority of a URL, given what follows `://`.
fn authority_of(after_scheme: &str) -> &str {
    // `\` ends the authority too, as in the WHATWG URL parser that sends the request: with
    // `http://evil.com\@127.0.0.1/` the host is `evil.com`, not the loopback after the `@`.
    after_scheme
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or("")
}

fn host_of(after_scheme: &str) -> &str {
    let authority = authority_of(after_scheme);
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// Whether `host` (a URL's host, IPv6 with or without brackets) is this machine:
/// `localhost`, `::1` or an address in 127.0.0.0/8.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.3.2.1",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1", "[::2]", "localhost.evil.com"] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn http_only_to_loopback_unless_allowed() {
        assert!(check_base_url("https://api.example.com/v1", false).is_none());
        assert!(check_base_url("http://127.0.0.1:8080/v1", false).is_none());
        assert!(check_base_url("http://example.com/v1", false).is_some());
        assert!(check_base_url("http://example.com/v1", true).is_none());
        assert!(check_base_url("http://evil.com\\@127.0.0.1/", false).is_some());
        assert!(check_base_url("ftp://example.com", true).is_some());
        assert!(check_base_url("example.com", true).is_some());
        let (message, _) = check_base_url("http://u:pw@example.com/v1", false).unwrap();
        assert!(!message.contains("pw"), "{message}");
    }

    #[test]
    fn user_info_is_dropped() {
        assert_eq!(
            without_userinfo("https://u:p@w@host:1/v1?q=a@b"),
            "https://host:1/v1?q=a@b"
        );
        assert_eq!(without_userinfo("http://host/a@b"), "http://host/a@b");
        assert_eq!(without_userinfo("no scheme@x"), "no scheme@x");
    }
}
