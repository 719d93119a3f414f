//! Opaque page tokens (AIP-158): the last key of a page, bound to the list it came from, so a
//! token from one list (or a forged one) is refused with INVALID_ARGUMENT instead of paging
//! something else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use support_access_domain::validation::InvalidValue;

/// Encodes the key after which the next page starts, for the list `kind`.
pub fn encode(kind: &str, last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}\u{0}{last_key}"))
}

/// Decodes a token produced by [`encode`] for the same `kind`; an empty token is the first page.
pub fn decode(kind: &str, token: &str) -> Result<Option<String>, InvalidValue> {
    if token.is_empty() {
        return Ok(None);
    }
    let invalid = || InvalidValue("is not a page token returned by this list".into());
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match text.split_once('\u{0}') {
        Some((k, key)) if k == kind && !key.is_empty() => Ok(Some(key.to_owned())),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_bound_to_its_list() {
        let token = encode("domains", "reseller.example");
        assert_eq!(
            decode("domains", &token).unwrap().as_deref(),
            Some("reseller.example")
        );
        assert!(decode("staffMembers", &token).is_err());
        assert!(decode("domains", "not a token!").is_err());
        assert_eq!(decode("domains", "").unwrap(), None);
    }
}
