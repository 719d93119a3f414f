//! Postgres state.
