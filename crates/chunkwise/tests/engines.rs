//! The engine conformance suite on the engines of one process. (The MPI engine runs it under
//! `mpiexec -n 1..3` in its own crate.)

use chunkwise::conformance::engine;
use chunkwise::{SequentialEngine, ThreadsEngine};

#[test]
fn the_sequential_engine_conforms() {
    engine::run_all(&SequentialEngine);
}

#[test]
fn the_threads_engine_conforms() {
    for threads in [1, 2, 5] {
        engine::run_all(&ThreadsEngine::new(Some(threads)).unwrap());
    }
}
