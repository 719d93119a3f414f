//! The AIP-160 subset the list RPCs accept: `key = value` and `key != value` conditions joined by
//! ` AND `. Each RPC reads the keys and values it knows from the terms this splits.

use support_access_domain::validation::InvalidValue;

/// One condition of a filter.
#[derive(Debug, PartialEq, Eq)]
pub struct Term<'a> {
    /// What is compared.
    pub key: &'a str,
    /// `!=` rather than `=`.
    pub negated: bool,
    /// What it is compared with.
    pub value: &'a str,
}

/// The terms of `filter` (none for an empty one); a term that is not `key = value` or
/// `key != value` is refused with `usage`, which says what the RPC accepts.
pub fn terms<'a>(filter: &'a str, usage: &str) -> Result<Vec<Term<'a>>, InvalidValue> {
    if filter.trim().is_empty() {
        return Ok(Vec::new());
    }
    filter
        .split(" AND ")
        .map(|term| {
            let term = term.trim();
            let (key, negated, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, false, v)
            } else {
                return Err(InvalidValue(format!(
                    "{term:?} is not a condition; {usage}"
                )));
            };
            Ok(Term {
                key: key.trim(),
                negated,
                value: value.trim(),
            })
        })
        .collect()
}
