//! The REST adapter to Google.
