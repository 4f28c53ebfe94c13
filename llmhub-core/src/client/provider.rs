//! [`Provider`]: one entry of `providers:`, ready to send. Everything that does not change
//! between calls is computed once when the hub is built: the URLs, the headers, the auth
//! value, the timeouts and the retry policy.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Method, Url};

use crate::client::kind::Payload;
use crate::client::params::MergedParams;
use crate::client::protocol::{Body, Routes, WireProtocol, wire};
use crate::client::settings::{DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, RetryPolicy, Settings};
use crate::client::status::redacted_url;
use crate::config::base_url::{check_base_url, is_loopback_host, without_userinfo};
use crate::config::{Protocol, ProviderConfig};
use crate::error::{Error, MissingEnvVar, Result};
use crate::secret::SecretString;

/// The shortest header value masked in errors.
pub(crate) const MIN_MASKED_LEN: usize = 8;

/// The header in which requests name their role for the test kit's mock.
#[cfg(feature = "testing")]
pub(crate) const ROLE_HEADER: &str = "x-llmhub-test-role";

/// A provider, ready to send.
pub(crate) struct Provider {
    pub id: Arc<str>,
    pub api: Protocol,
    pub wire: &'static dyn WireProtocol,
    routes: Routes,
    headers: HeaderMap,
    auth_header: HeaderName,
    /// Whether the key is a bearer token ([`WireProtocol::token_header`]).
    bearer: bool,
    env_key: Option<String>,
    /// The auth header value, once the key is known (marked sensitive: `Debug` hides it).
    auth: OnceLock<HeaderValue>,
    /// `headers` with the auth header added (see [`Provider::call_headers`]).
    authed_headers: OnceLock<HeaderMap>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub retry: RetryPolicy,
    pub max_response_bytes: usize,
    pub max_event_bytes: usize,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id)
            .field("api", &self.api)
            .field("base_url", &redacted_url(self.routes.base()))
            .field("headers", &self.headers)
            .field("env_key", &self.env_key)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Builds a provider. `key` is a key given to the builder; without one the key is read
    /// from `env_key` now, or at the first call if it is not set yet.
    pub fn new(
        config: &ProviderConfig,
        file: &str,
        key: Option<&SecretString>,
        settings: &Settings,
    ) -> Result<Provider> {
        let problem = |message: String, hint: &str| {
            Error::config_file(file, format!("provider `{}`: {message}", config.id), hint)
        };
        if let Some((message, hint)) = check_base_url(&config.base_url, config.allow_insecure_http)
        {
            return Err(problem(message, &hint));
        }
        let wire = wire(config);
        let routes = wire.routes(config).map_err(|err| {
            problem(
                format!(
                    "`base_url` {} is not a valid URL: {err}",
                    without_userinfo(&config.base_url)
                ),
                "write it as https://host/path",
            )
        })?;
        // The base URL rule again, on the host as the HTTP client parsed it, so that no
        // spelling of a remote host can pass for loopback.
        let host = routes.base().host_str().unwrap_or("");
        if routes.base().scheme() == "http"
            && !is_loopback_host(host)
            && !config.allow_insecure_http
        {
            return Err(problem(
                format!(
                    "`base_url` {} sends the API key in clear text to the non-loopback host `{host}`",
                    without_userinfo(&config.base_url)
                ),
                "use https://, or set `allow_insecure_http: true` on this provider if you must",
            ));
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // The `Accept` the client llmhub builds adds to a request that has none, here from the
        // start: added to each request, it would grow that request's copy of this map (a copy
        // is made at its exact size) by one reallocation per call. A client given to the
        // builder adds its own default instead, which this would override.
        if !settings.client_given {
            headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
        }
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("llmhub/", env!("CARGO_PKG_VERSION"))),
        );
        wire.fixed_headers(&mut headers);
        // The provider's own headers come last: they replace ours (a `User-Agent`, say).
        for (name, value) in &config.headers {
            let bad = |what: &str| {
                problem(
                    format!("header `{name}` has an invalid {what}"),
                    "header names are ASCII tokens; values are visible ASCII",
                )
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| bad("value"))?;
            // Config headers often carry a key: `Debug` of the map hides them, and
            // `secrets` lists them for masking.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        // The `Host` header, built here once: the HTTP client would otherwise format it for
        // every request. A `Host` from the config's `headers:` is left as it is. (Should a
        // connection speak HTTP/2, where `:authority` names the host, the same value travels
        // as `host` too, which HTTP/2 allows.)
        if !headers.contains_key(HOST)
            && let Some(host) = host_header(routes.base())
        {
            headers.insert(HOST, host);
        }
        let timeout = settings
            .timeout
            .or(config.timeout_ms.map(Duration::from_millis))
            .unwrap_or(DEFAULT_TIMEOUT);
        let bearer = settings.bearer_tokens.contains(&config.id);
        let provider = Provider {
            id: config.id.as_str().into(),
            api: config.api,
            wire,
            routes,
            headers,
            auth_header: if bearer {
                wire.token_header()
            } else {
                wire.auth_header()
            },
            bearer,
            env_key: config.env_key.clone(),
            auth: OnceLock::new(),
            authed_headers: OnceLock::new(),
            timeout,
            connect_timeout: settings.connect_timeout,
            idle_timeout: settings.stream_idle_timeout.unwrap_or(timeout),
            retry: RetryPolicy {
                max_retries: settings
                    .max_retries
                    .or(config.max_retries)
                    .unwrap_or(DEFAULT_MAX_RETRIES),
                base_delay: settings.retry_base_delay,
                max_delay: settings.retry_max_delay,
                ceiling: settings.retry_after_ceiling,
            },
            max_response_bytes: settings.max_response_bytes,
            max_event_bytes: settings.max_event_bytes,
        };
        let key = key.cloned().or_else(|| provider.key_from_env());
        if let Some(key) = key {
            let value = provider.auth_value(&key)?;
            let _ = provider.auth.set(value);
        }
        Ok(provider)
    }

    fn key_from_env(&self) -> Option<SecretString> {
        let var = self.env_key.as_deref()?;
        std::env::var(var)
            .ok()
            .filter(|key| !key.is_empty())
            .map(SecretString::from)
    }

    /// The environment variable this provider needs and lacks, if any.
    pub fn missing_key(&self) -> Option<MissingEnvVar> {
        match (&self.env_key, self.auth.get()) {
            (Some(var), None) if self.key_from_env().is_none() => Some(MissingEnvVar {
                provider: self.id.to_string(),
                var: var.clone(),
            }),
            _ => None,
        }
    }

    fn auth_value(&self, key: &SecretString) -> Result<HeaderValue> {
        let text = if self.bearer {
            self.wire.token_value(key.expose())
        } else {
            self.wire.auth_value(key.expose())
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| Error::Auth {
            provider: self.id.to_string(),
            status: 0,
            message:
                "the API key contains characters that cannot be sent in an HTTP header (a newline?)"
                    .into(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The headers of this provider's requests: its own, with the auth header when it sends
    /// one (see [`Provider::auth`]), built once with the first call that sends it, so that each
    /// request clones one finished map. A missing key fails here, before any request.
    pub fn call_headers(&self) -> Result<&HeaderMap> {
        Ok(match self.auth()? {
            Some(auth) => self.authed_headers.get_or_init(|| {
                let mut headers = self.headers.clone();
                headers.insert(self.auth_header.clone(), auth.clone());
                headers
            }),
            None => &self.headers,
        })
    }

    /// The auth header value: the key given or found at build time, else read from the
    /// environment now. A provider without `env_key` and key sends no auth header (local
    /// servers).
    fn auth(&self) -> Result<Option<&HeaderValue>> {
        if let Some(value) = self.auth.get() {
            return Ok(Some(value));
        }
        let Some(var) = &self.env_key else {
            return Ok(None);
        };
        let Some(key) = self.key_from_env() else {
            return Err(Error::EnvVarMissing {
                missing: vec![MissingEnvVar {
                    provider: self.id.to_string(),
                    var: var.clone(),
                }],
            });
        };
        let value = self.auth_value(&key)?;
        Ok(Some(self.auth.get_or_init(|| value)))
    }

    /// What this provider sends that must not come back in an error should a server echo it:
    /// the key, if known, and the values of the config's `headers:` (those shorter than
    /// [`MIN_MASKED_LEN`] excepted: such values are no secrets, and masking them would
    /// garble messages).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        let key = self.auth.get().and_then(|value| {
            let value = value.to_str().ok()?;
            Some(value.strip_prefix("Bearer ").unwrap_or(value))
        });
        let headers = self
            .headers
            .values()
            .filter(|value| value.is_sensitive())
            .filter_map(|value| value.to_str().ok());
        key.into_iter()
            .chain(headers.filter(|value| value.len() >= MIN_MASKED_LEN))
    }

    /// `err` with this provider's secrets replaced by `***` wherever a server echoed them.
    pub fn mask(&self, err: Error) -> Error {
        self.secrets().fold(err, Error::mask_secret)
    }

    /// The request of `payload`: its URL and body. An `Err` says why it cannot be sent.
    pub fn encode(
        &self,
        model: &str,
        payload: Payload<'_>,
        params: MergedParams<'_>,
    ) -> std::result::Result<Encoded<'_>, String> {
        let kind = payload.kind();
        let unserved = || {
            format!(
                "the {} protocol does not serve `{}` calls; bind this role to a provider whose protocol does",
                self.api,
                kind.name()
            )
        };
        let url = match (payload, &self.routes) {
            (Payload::Raw { path, .. }, _) => RequestUrl::Made(Box::new(self.raw_url(path)?)),
            (_, Routes::Fixed(endpoints)) => {
                RequestUrl::Provider(endpoints.url(kind).ok_or_else(unserved)?)
            }
            (_, Routes::PerModel(per_model)) => {
                let endpoints = per_model.endpoints(model)?;
                RequestUrl::Made(Box::new(endpoints.url(kind).ok_or_else(unserved)?.clone()))
            }
        };
        let body = self.wire.encode(model, payload, params)?;
        Ok(Encoded {
            url,
            body,
            #[cfg(feature = "testing")]
            role: None,
        })
    }

    /// `base_url` + `path`, refusing a path that would leave the provider's base URL (the key
    /// must only ever go there): a URL, a `.` or `..` segment however spelled (`%2e`, a `/`
    /// spelled `%2f`, which a server may decode), a backslash (`\`, `%5c`, which the URL
    /// parser and some servers take for `/`); then the joined URL must still be under the base
    /// path, on the same origin.
    fn raw_url(&self, path: &str) -> std::result::Result<Url, String> {
        let base = self.routes.base();
        let path = path.trim_start_matches('/');
        let refused = || {
            format!(
                "`{path}` is not a path under the provider's base URL; give a relative path such as `/moderations`"
            )
        };
        let path_part = path.split(['?', '#']).next().unwrap_or("");
        let decoded = path_part
            .replace("%2e", ".")
            .replace("%2E", ".")
            .replace("%2f", "/")
            .replace("%2F", "/");
        if path.contains("://")
            || path_part.contains('\\')
            || path_part.contains("%5c")
            || path_part.contains("%5C")
            || decoded
                .split('/')
                .any(|segment| segment == "." || segment == "..")
        {
            return Err(refused());
        }
        let joined = format!("{}/{path}", base.as_str().trim_end_matches('/'));
        let url = Url::parse(&joined).map_err(|_| refused())?;
        let base_path = base.path().trim_end_matches('/');
        let under = url
            .path()
            .strip_prefix(base_path)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if !under || url.origin() != base.origin() {
            return Err(refused());
        }
        Ok(url)
    }

    /// A POST of `encoded` with `headers` (its [`Provider::call_headers`]).
    pub fn request(&self, encoded: &Encoded<'_>, headers: &HeaderMap) -> reqwest::Request {
        let url = &*encoded.url;
        let mut request = reqwest::Request::new(Method::POST, url.clone());
        *request.headers_mut() = headers.clone();
        let base = self.routes.base();
        if url.host_str() != base.host_str() || url.port() != base.port() {
            // Not the base URL's host (no request goes elsewhere today): the HTTP client
            // names the host itself.
            request.headers_mut().remove(HOST);
        }
        if let Some(content_type) = &encoded.body.content_type {
            request
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::clone(content_type));
        }
        #[cfg(feature = "testing")]
        if let Some(role) = &encoded.role {
            request.headers_mut().insert(
                HeaderName::from_static(ROLE_HEADER),
                HeaderValue::clone(role),
            );
        }
        *request.body_mut() = Some(encoded.body.bytes.clone().into());
        request
    }
}

/// The `Host` header of requests to `url`: its host, with its port unless the scheme's own.
fn host_header(url: &Url) -> Option<HeaderValue> {
    let host = url.host_str()?;
    let value = match url.port() {
        Some(port) => HeaderValue::from_str(&format!("{host}:{port}")),
        None => HeaderValue::from_str(host),
    };
    value.ok()
}

/// A request ready to send: where (the provider's own URL, or a raw call's), and what.
pub(crate) struct Encoded<'p> {
    pub url: RequestUrl<'p>,
    pub body: Body,
    /// The role, sent in a header to the test kit's mock (boxed, as `Body`'s content type).
    #[cfg(feature = "testing")]
    pub role: Option<Box<HeaderValue>>,
}

/// Where a request goes: one of the provider's own URLs, or one made for the call (a raw
/// call's path, a route chosen by model). A made URL is boxed, so that an [`Encoded`], which
/// every call's future holds while the request is under way, stays small.
pub(crate) enum RequestUrl<'p> {
    Provider(&'p Url),
    Made(Box<Url>),
}

impl std::ops::Deref for RequestUrl<'_> {
    type Target = Url;

    fn deref(&self) -> &Url {
        match self {
            RequestUrl::Provider(url) => url,
            RequestUrl::Made(url) => url,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_names_the_port_unless_it_is_the_schemes_own() {
        for (url, expected) in [
            ("http://127.0.0.1:8080/v1", "127.0.0.1:8080"),
            ("https://api.openai.com/v1", "api.openai.com"),
            ("https://api.openai.com:443/v1", "api.openai.com"),
            ("http://example.com:443/", "example.com:443"),
            ("http://[::1]:9000/", "[::1]:9000"),
        ] {
            let host = host_header(&Url::parse(url).unwrap()).unwrap();
            assert_eq!(host.to_str().unwrap(), expected, "{url}");
        }
    }
}
