//! A connection creates, finishes and deletes datasets as the store's `Coordination` says: under
//! `Root` only rank 0 calls the store (the other ranks attach), under `Collective` every rank
//! does. Seen from rank 1 of a pretend two-rank engine over a store that counts its calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chunkwise::engine::Task;
use chunkwise::{
    Capabilities, ChunkUpdates, Connection, Coordination, DType, DatasetHandle, DatasetMeta,
    Engine, Layout, RamStore, Result, Store,
};

/// Rank `rank` of two; agreement is this rank's own outcome.
#[derive(Debug)]
struct PretendRank {
    rank: usize,
}

impl Engine for PretendRank {
    fn name(&self) -> &'static str {
        "pretend"
    }
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        2
    }
    fn threads(&self) -> usize {
        1
    }
    fn for_each_local(&self, n: usize, task: &Task<'_>) -> Result<()> {
        (0..n).try_for_each(task)
    }
}

/// A ram store that declares `coordination`, counts the namespace calls made on it, and shares
/// one map of datasets between its "ranks".
#[derive(Debug)]
struct Counting {
    inner: Arc<RamStore>,
    coordination: Coordination,
    creates: AtomicUsize,
    attaches: AtomicUsize,
    finishes: AtomicUsize,
    deletes: AtomicUsize,
}

impl Store for Counting {
    fn backend(&self) -> &'static str {
        "counting"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared_between_processes: true,
            coordination: self.coordination,
            chunk_updates: ChunkUpdates::SharedLocks,
            ..self.inner.capabilities()
        }
    }
    fn create_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.creates.fetch_add(1, Ordering::Relaxed);
        self.inner.create_dataset(name, meta)
    }
    fn begin_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.creates.fetch_add(1, Ordering::Relaxed);
        self.inner.begin_dataset(name, meta)
    }
    fn open_dataset(&self, name: &str) -> Result<DatasetHandle> {
        self.inner.open_dataset(name)
    }
    fn attach_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.attaches.fetch_add(1, Ordering::Relaxed);
        self.inner.attach_dataset(name, meta)
    }
    fn finish_dataset(&self, name: &str) -> Result<()> {
        self.finishes.fetch_add(1, Ordering::Relaxed);
        self.inner.finish_dataset(name)
    }
    fn delete_dataset(&self, name: &str) -> Result<()> {
        self.deletes.fetch_add(1, Ordering::Relaxed);
        self.inner.delete_dataset(name)
    }
    fn has_dataset(&self, name: &str) -> Result<bool> {
        self.inner.has_dataset(name)
    }
    fn list_datasets(&self) -> Result<Vec<String>> {
        self.inner.list_datasets()
    }
    fn list_incomplete(&self) -> Result<Vec<String>> {
        self.inner.list_incomplete()
    }
}

/// The calls rank 1 makes on a store of `coordination` for one dataset's life:
/// (creates, attaches, finishes, deletes).
fn calls_of_rank_1(coordination: Coordination) -> [usize; 4] {
    let shared = Arc::new(RamStore::new());
    let meta = DatasetMeta::zero_filled(Layout::new(&[4], &[2]).unwrap(), DType::U8);
    // Rank 0's part, where the store is shared: it made the dataset already, for `Root`.
    if coordination == Coordination::Root {
        shared.begin_dataset("out", &meta).unwrap();
    }
    let store = Arc::new(Counting {
        inner: shared,
        coordination,
        creates: AtomicUsize::new(0),
        attaches: AtomicUsize::new(0),
        finishes: AtomicUsize::new(0),
        deletes: AtomicUsize::new(0),
    });
    let conn = Connection::new(store.clone(), Arc::new(PretendRank { rank: 1 })).unwrap();
    let out = conn.begin_dataset("out", meta).unwrap();
    assert_eq!(out.name(), "out");
    out.finish().unwrap();
    out.delete().unwrap();
    [
        store.creates.load(Ordering::Relaxed),
        store.attaches.load(Ordering::Relaxed),
        store.finishes.load(Ordering::Relaxed),
        store.deletes.load(Ordering::Relaxed),
    ]
}

#[test]
fn under_root_coordination_other_ranks_attach_and_change_nothing() {
    assert_eq!(calls_of_rank_1(Coordination::Root), [0, 1, 0, 0]);
}

#[test]
fn under_collective_coordination_every_rank_makes_every_change() {
    assert_eq!(calls_of_rank_1(Coordination::Collective), [1, 0, 1, 1]);
}

#[test]
fn a_store_not_shared_between_processes_is_refused_for_two_ranks() {
    let error = Connection::new(Arc::new(RamStore::new()), Arc::new(PretendRank { rank: 0 }))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ram backend") && error.contains("2 processes"),
        "{error}"
    );
}
