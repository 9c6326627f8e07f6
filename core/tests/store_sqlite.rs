//! The shared `PostStore` conformance suite on the embedded SQLite store.
#![cfg(feature = "embedded")]

#[path = "conformance/suite.rs"]
mod suite;

use std::sync::Arc;

use postagram_core::sqlite::SqliteStore;

async fn make() -> (suite::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("p.db")).expect("open");
    (Arc::new(store), dir)
}

conformance_suite!(make, suite::Caps { text_search: true });
