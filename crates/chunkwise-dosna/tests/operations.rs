//! The core's operations on the DosNa directory store give what they give on the ram store (the
//! core tests them against whole-array references there): loads, partial writes, maps, stencils
//! with halos along every axis, slab reads under a tiny memory budget, clones, on every engine.
//! Exercises the store's direct reads into place and its chunk writers, which the ram store
//! does not have in the same form.

use std::sync::Arc;

use chunkwise::memory::MemoryBudget;
use chunkwise::{
    Boundary, Connection, Dataset, Engine, RamStore, Selection, SequentialEngine, Store,
    ThreadsEngine,
};
use chunkwise_dosna::DosnaStore;
use ndarray::{ArrayD, IxDyn};

fn engines() -> Vec<Arc<dyn Engine>> {
    vec![
        Arc::new(SequentialEngine),
        Arc::new(ThreadsEngine::new(Some(3)).unwrap()),
    ]
}

/// The same steps on one connection; returns the datasets to compare.
fn steps(conn: &Connection) -> Vec<Dataset> {
    let input = conn
        .create::<f32>("input", &[37, 29, 23], &[8, 16, 7], -1.5)
        .unwrap();
    input
        .load_with::<f32, _>(|_, bounds| {
            let start = bounds.start();
            Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
                ((start[0] + i[0]) * 1000 + (start[1] + i[1]) * 31 + (start[2] + i[2])) as f32
                    * 0.25
            }))
        })
        .unwrap();
    input.delete_chunk(&[1, 1, 1]).unwrap(); // reads as the fill value
    input
        .write_value(&Selection::parse("3:30:4, 5, ::3").unwrap(), 7.0f32)
        .unwrap();
    let doubled = input
        .map::<f32, _>("doubled", |_, block| Ok(block.mapv(|x| 2.0 * x + 1.0)))
        .unwrap();
    let smoothed = input
        .map_overlap::<f32, _>("smoothed", &[2, 1, 3], Boundary::Reflect, |_, block| {
            // A sum over an asymmetric neighbourhood, so a misplaced halo shows.
            let s = block.shape().to_vec();
            Ok(ArrayD::from_shape_fn(
                IxDyn(&[s[0] - 4, s[1] - 2, s[2] - 6]),
                |i| {
                    let mut sum = 0.0;
                    for a in 0..5 {
                        for c in 0..7 {
                            sum += (a * 7 + c + 1) as f32 * block[[i[0] + a, i[1] + 1, i[2] + c]];
                        }
                    }
                    sum + block[[i[0] + 2, i[1], i[2] + 3]]
                },
            ))
        })
        .unwrap();
    smoothed
        .apply::<f32, _>(|_, block| Ok(block.mapv(|x| x - 0.5)))
        .unwrap();
    let copy = smoothed.clone_as("copy", true).unwrap();
    vec![input, doubled, smoothed, copy]
}

#[test]
fn operations_on_the_dosna_store_equal_those_on_the_ram_store() {
    for engine in engines() {
        let dir = tempfile::tempdir().unwrap();
        let stores: [Arc<dyn Store>; 2] = [
            Arc::new(RamStore::new()),
            Arc::new(DosnaStore::new(dir.path().join("store"))),
        ];
        let [ram, dosna] =
            stores.map(|store| steps(&Connection::new(store, engine.clone()).unwrap()));
        let temp = tempfile::tempdir().unwrap();
        let tiny = MemoryBudget::new(64 << 10, temp.path().to_path_buf(), None);
        for (want, got) in ram.iter().zip(&dosna) {
            let label = format!("{} on {}", got.name(), engine.name());
            let want_all = want.read_all::<f32>().unwrap();
            assert_eq!(want_all, got.read_all::<f32>().unwrap(), "{label}");
            for selection in ["::2, 3:, 1::5", "17", "..., 4:20:3"] {
                let selection = Selection::parse(selection).unwrap();
                assert_eq!(
                    want.read::<f32>(&selection).unwrap(),
                    got.read::<f32>(&selection).unwrap(),
                    "{label} {selection:?}"
                );
            }
            let slabs = got.read_in::<f32>(&tiny, &Selection::all()).unwrap();
            assert_eq!(slabs.view(), want_all.view(), "{label} through slabs");
        }
        assert_eq!(
            dosna[0]
                .read::<f32>(&Selection::parse("10, 20, 9").unwrap())
                .unwrap()
                .into_iter()
                .next(),
            Some(-1.5),
            "a deleted chunk reads as the fill value"
        );
    }
}
