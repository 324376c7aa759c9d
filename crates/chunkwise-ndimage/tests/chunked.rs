//! The chunked filters equal the whole-array filters bit for bit: every chunk shape (thinner
//! than the halo, non-divisible, one chunk), every mode, f32 and f64, per-axis sigmas, on the
//! sequential and threads engines and both backends, with chunks whole and cut into slabs.

use std::sync::Arc;

use chunkwise::{
    Boundary, Connection, Engine, PipelineOptions, RamStore, SequentialEngine, Store, ThreadsEngine,
};
use chunkwise_dosna::DosnaStore;
use chunkwise_ndimage::{
    gaussian_filter, gaussian_filter1d, gaussian_filter1d_dataset, gaussian_filter_dataset,
    FilterFloat, NdimageError,
};
use ndarray::{ArrayD, IxDyn};

const MODES: [Boundary; 5] = [
    Boundary::Reflect,
    Boundary::Mirror,
    Boundary::Nearest,
    Boundary::Constant(0.25),
    Boundary::Wrap,
];

fn connections(dir: &std::path::Path) -> Vec<(String, Connection)> {
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("ram", Arc::new(RamStore::new())),
        ("hdf5", Arc::new(DosnaStore::new(dir.join("store")))),
    ];
    let mut out = Vec::new();
    for (backend, store) in stores {
        let engines: Vec<Arc<dyn Engine>> = vec![
            Arc::new(SequentialEngine),
            Arc::new(ThreadsEngine::new(Some(3)).unwrap()),
        ];
        for engine in engines {
            let label = format!("{backend}/{}", engine.name());
            let conn = Connection::new(Arc::clone(&store), engine).unwrap();
            // The same, cutting chunks into slabs however small (as large chunks are cut).
            let slabs = conn.clone().with_pipeline(PipelineOptions {
                min_slab_bytes: 1,
                ..Default::default()
            });
            out.push((label.clone(), conn));
            out.push((format!("{label} in slabs"), slabs));
        }
    }
    out
}

fn volume<T: FilterFloat>(shape: &[usize]) -> ArrayD<T> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| {
        let v = ((i[0] * 7919 + i[1] * 104729 + i[2] * 1299709) % 1000) as f64 / 997.0;
        T::from_f64(v)
    })
}

fn check_dtype<T: FilterFloat>(
    conn: &Connection,
    label: &str,
    (shape, chunk_shapes): ([usize; 3], &[[usize; 3]]),
    modes: &[Boundary],
) {
    let x = volume::<T>(&shape);
    for chunks in chunk_shapes {
        let ds = conn.create::<T>("x", &shape, chunks, T::ZERO).unwrap();
        ds.load(x.view()).unwrap();
        for &mode in modes {
            for sigma in [vec![1.5, 1.5, 1.5], vec![2.2, 0.0, 0.7]] {
                let whole = gaussian_filter(x.view(), sigma.clone(), mode, 4.0).unwrap();
                let out = gaussian_filter_dataset(&ds, "g", sigma.clone(), mode, 4.0).unwrap();
                assert_eq!(
                    out.read_all::<T>().unwrap(),
                    whole,
                    "{label} chunks {chunks:?} {mode} sigma {sigma:?}"
                );
                out.delete().unwrap();
            }
            for axis in 0..3 {
                let whole = gaussian_filter1d(x.view(), 1.2, axis, mode, 3.0).unwrap();
                let out = gaussian_filter1d_dataset(&ds, "g1", 1.2, axis, mode, 3.0).unwrap();
                assert_eq!(
                    out.read_all::<T>().unwrap(),
                    whole,
                    "{label} chunks {chunks:?} {mode} axis {axis}"
                );
                out.delete().unwrap();
            }
        }
        ds.delete().unwrap();
    }
}

#[test]
fn chunked_equals_whole_array_on_every_engine_and_backend() {
    let dir = tempfile::tempdir().unwrap();
    for (label, conn) in connections(dir.path()) {
        let in_memory = label.starts_with("ram");
        // Thin chunks (1 and 2 elements against a radius of up to 9), uneven, and one chunk;
        // in slabs (of at least 4 radii along axis 0): one chunk, two, and eight (not cut).
        let cases: ([usize; 3], &[[usize; 3]]) = if label.ends_with("in slabs") {
            ([80, 6, 7], &[[80, 6, 7], [40, 6, 7], [20, 3, 7]])
        } else if in_memory {
            (
                [7, 9, 11],
                &[[4, 5, 6], [1, 2, 3], [7, 9, 11], [2, 9, 1], [3, 4, 5]],
            )
        } else {
            ([7, 9, 11], &[[2, 4, 5]])
        };
        let modes: &[Boundary] = if in_memory || label.ends_with("in slabs") {
            &MODES
        } else {
            &[Boundary::Reflect, Boundary::Wrap]
        };
        check_dtype::<f32>(&conn, &label, cases, modes);
        check_dtype::<f64>(&conn, &label, cases, modes);
    }
}

#[test]
fn integer_datasets_are_refused() {
    let conn = Connection::new(Arc::new(RamStore::new()), Arc::new(SequentialEngine)).unwrap();
    let ds = conn.create::<u8>("x", &[4, 4], &[2, 2], 0).unwrap();
    let error = gaussian_filter_dataset(&ds, "g", 1.0, Boundary::Reflect, 4.0).unwrap_err();
    assert!(
        matches!(error, NdimageError::UnsupportedDType(chunkwise::DType::U8)),
        "{error:?}"
    );
    assert!(error.to_string().contains("f32 and f64"), "{error}");
    assert!(!conn.has_dataset("g").unwrap());
    let error = gaussian_filter1d_dataset(&ds, "g", 1.0, 2, Boundary::Reflect, 4.0).unwrap_err();
    assert!(error.to_string().contains("axis 2"), "{error}");
}
