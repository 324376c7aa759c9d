//! Helpers shared by the integration tests: a connection per engine on the ram store. (The
//! DosNa directory store runs the same operations against the ram store in its own crate's
//! tests.)
#![allow(dead_code)]

use std::sync::Arc;

use chunkwise::{Connection, Engine, RamStore, SequentialEngine, Store, ThreadsEngine};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// A connection and its label.
pub struct Setup {
    pub conn: Connection,
    pub label: String,
}

/// Every engine, each on a fresh ram store.
pub fn all_setups() -> Vec<Setup> {
    let mut setups = Vec::new();
    for backend in ["ram"] {
        for engine in ["sequential", "threads"] {
            let store: Arc<dyn Store> = Arc::new(RamStore::new());
            let engine: Arc<dyn Engine> = match engine {
                "sequential" => Arc::new(SequentialEngine),
                _ => Arc::new(ThreadsEngine::new(Some(3)).unwrap()),
            };
            let label = format!("{backend}/{}", engine.name());
            setups.push(Setup {
                conn: Connection::new(store, engine).unwrap(),
                label,
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
