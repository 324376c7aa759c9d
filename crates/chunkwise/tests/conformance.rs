//! Every store passes the one conformance suite.

use std::sync::Arc;

use chunkwise::{conformance, Hdf5Store, RamStore};

#[test]
fn ram_store_conforms() {
    conformance::run_all(Arc::new(RamStore::new()));
}

#[test]
fn hdf5_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(Arc::new(Hdf5Store::new(dir.path().join("conn"))));
}

#[test]
fn hdf5_store_leaves_no_temporary_files() {
    // Only the (empty, hidden) lock files of updated chunks stay, inside their datasets.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("conn");
    conformance::run_all(Arc::new(Hdf5Store::new(&root)));
    let leftovers: Vec<_> = walk(&root)
        .into_iter()
        .filter(|p| p.contains("/."))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.display().to_string());
            if path.is_dir() {
                out.extend(walk(&path));
            }
        }
    }
    out
}
