//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds `../../migrations` at
//! compile time, and cargo does not know that directory is an input unless told.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
