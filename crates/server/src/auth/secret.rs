//! A redacting wrapper for credentials held by the auth layer (a presented bearer token, the TLS
//! private key while it is loaded): `Debug` prints `[redacted]` and there is no `Display`, so a
//! credential cannot reach a log line or an error message by accident.

use std::fmt;

/// A value that must never be printed; read it with the deliberately named [`Redacted::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Redacted(value)
    }

    /// Reads the secret. Callers must not log or format what they get.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let token = Redacted::new("canary-token-value".to_owned());
        let printed = format!("{token:?} {:?}", Some(&token));
        assert!(!printed.contains("canary"), "{printed}");
        assert_eq!(token.expose(), "canary-token-value");
    }
}
