//! Etags (AIP-154) of declared resources: derived from the row's revision and update time, so
//! an etag changes on every update and never repeats for a deleted and re-created resource.

use chrono::{DateTime, Utc};

/// The quoted etag of a row, for example `"3-1732530000123456"`.
pub(crate) fn format(revision: i64, update_time: DateTime<Utc>) -> String {
    format!("\"{}-{}\"", revision, update_time.timestamp_micros())
}

/// Reads back an etag made by [`format`]; the quotes are optional. `None` when it is not one of
/// ours, which callers treat as a mismatch.
pub(crate) fn parse(etag: &str) -> Option<(i64, DateTime<Utc>)> {
    let bare = etag
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag);
    let (revision, micros) = bare.split_once('-')?;
    let revision = revision.parse().ok()?;
    let update_time = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some((revision, update_time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_and_without_quotes() {
        let time = DateTime::from_timestamp_micros(1_732_530_000_123_456).unwrap();
        let etag = format(7, time);
        assert_eq!(etag, "\"7-1732530000123456\"");
        assert_eq!(parse(&etag), Some((7, time)));
        assert_eq!(parse("7-1732530000123456"), Some((7, time)));
    }

    #[test]
    fn refuses_foreign_etags() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("\"abc\""), None);
        assert_eq!(parse("\"1-\""), None);
        assert_eq!(parse("W/\"1-2\""), None);
    }
}
