//! A redacting holder for secrets: API keys, and the values of a provider's `headers:`.

use std::fmt;

/// A secret: an API key, or the value of a header from a provider's `headers:` (an Azure
/// `api-key`, a gateway token). Its `Debug` and `Display` print `***`, so a secret never
/// reaches a log line, an error message or a `{:?}` of the hub or the config by accident.
///
/// ```
/// use llmhub_core::SecretString;
/// let key = SecretString::new("sk-very-secret");
/// assert_eq!(format!("{key:?}"), "***");
/// assert_eq!(key.expose(), "sk-very-secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Box<str>);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> SecretString {
        SecretString(secret.into().into_boxed_str())
    }

    /// The secret itself. Call it only where it is put on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(secret: String) -> SecretString {
        SecretString::new(secret)
    }
}

impl From<&str> for SecretString {
    fn from(secret: &str) -> SecretString {
        SecretString::new(secret)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
