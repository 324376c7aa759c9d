//! The ram store passes the store conformance suite (other stores run it in their own crates).

use std::sync::Arc;

use chunkwise::{conformance, RamStore};

#[test]
fn ram_store_conforms() {
    conformance::run_all(Arc::new(RamStore::new()));
}
