//! The Zarr store passes the core's conformance suite, through the public API only.

use std::sync::Arc;

use chunkwise::conformance;
use chunkwise_zarr::{Codecs, Compression, ZarrStore};

#[test]
fn zarr_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(Arc::new(ZarrStore::new(dir.path().join("group.zarr"))));
}

#[test]
fn compressed_zarr_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let codecs = Codecs {
        compression: Compression::Zstd { level: 1 },
        shard_chunks: None,
    };
    conformance::run_all(Arc::new(
        ZarrStore::new(dir.path().join("group.zarr")).with_codecs(codecs),
    ));
}

/// Shards of one-element inner chunks: every chunk shape of the suite is a whole number of
/// them, and every region read is a partial decode of the shard.
#[test]
fn sharded_zarr_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let codecs = Codecs {
        compression: Compression::Gzip { level: 1 },
        shard_chunks: Some(vec![1]),
    };
    conformance::run_all(Arc::new(
        ZarrStore::new(dir.path().join("group.zarr")).with_codecs(codecs),
    ));
}
