//! The Zarr store passes the core's conformance suite, through the public API only.

use std::sync::Arc;

use chunkwise::conformance;
use chunkwise_zarr::ZarrStore;

#[test]
fn zarr_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(Arc::new(ZarrStore::new(dir.path().join("group.zarr"))));
}
