//! Helpers shared by the integration tests: a connection per backend × engine.
#![allow(dead_code)]

use std::sync::Arc;

use chunkwise::{Connection, Engine, Hdf5Store, RamStore, SequentialEngine, Store, ThreadsEngine};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// A connection and whatever must live as long as it (the temp dir of the hdf5 store).
pub struct Setup {
    pub conn: Connection,
    pub label: String,
    _dir: Option<tempfile::TempDir>,
}

/// Every backend × engine combination, each on a fresh store.
pub fn all_setups() -> Vec<Setup> {
    let mut setups = Vec::new();
    for backend in ["ram", "hdf5"] {
        for engine in ["sequential", "threads"] {
            let (store, dir): (Arc<dyn Store>, _) = match backend {
                "ram" => (Arc::new(RamStore::new()), None),
                _ => {
                    let dir = tempfile::tempdir().unwrap();
                    (Arc::new(Hdf5Store::new(dir.path().join("conn"))), Some(dir))
                }
            };
            let engine: Arc<dyn Engine> = match engine {
                "sequential" => Arc::new(SequentialEngine),
                _ => Arc::new(ThreadsEngine::new(Some(3)).unwrap()),
            };
            let label = format!("{backend}/{}", engine.name());
            setups.push(Setup {
                conn: Connection::new(store, engine).unwrap(),
                label,
                _dir: dir,
            });
        }
    }
    setups
}

/// 100³ random integers in [0, 1000), seeded.
pub fn random_cube(seed: u64) -> ndarray::ArrayD<i32> {
    let mut rng = StdRng::seed_from_u64(seed);
    ndarray::ArrayD::from_shape_simple_fn(ndarray::IxDyn(&[100, 100, 100]), || {
        rng.random_range(0..1000)
    })
}
