//! Helpers of the canary tests: a capture of everything `tracing` writes, the marker strings
//! searched for (as they are and hex-encoded, as bytea columns print), and a dump of every row of
//! the database.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tonic::Status;
use tracing_subscriber::fmt::MakeWriter;

/// Everything the subscriber wrote.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl CapturedLogs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

/// The marker strings, each searched for as it is and hex-encoded (as bytea columns print).
pub struct Canaries(pub Vec<(&'static str, String)>);

impl Canaries {
    /// Where in `haystack` (named `place`) a canary shows up.
    pub fn find_in(&self, place: &str, haystack: &str) -> Vec<String> {
        let haystack_lower = haystack.to_ascii_lowercase();
        let mut found = Vec::new();
        for (what, marker) in &self.0 {
            if haystack.contains(marker.as_str()) {
                found.push(format!("{what} in {place}"));
            }
            if haystack_lower.contains(&hex::encode(marker.as_bytes())) {
                found.push(format!("{what} (hex) in {place}"));
            }
        }
        found
    }
}

/// A status as a client sees it: code, message, metadata and details.
pub fn describe(status: &Status) -> String {
    format!(
        "{:?} {} {:?} {}",
        status.code(),
        status.message(),
        status.metadata(),
        String::from_utf8_lossy(status.details())
    )
}

/// Every row of every table of the database, as text.
pub async fn dump_database(database_url: &str) -> String {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("list tables")
    .iter()
    .map(|row| row.get(0))
    .collect();
    assert!(tables.iter().any(|t| t == "audit_events"), "{tables:?}");
    let mut dump = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t::text FROM \"{table}\" t"
        )))
        .fetch_all(&mut conn)
        .await
        .expect("dump table")
        .iter()
        .map(|row| row.get(0))
        .collect();
        dump.push_str(&format!("== {table}\n{}\n", rows.join("\n")));
    }
    dump
}
