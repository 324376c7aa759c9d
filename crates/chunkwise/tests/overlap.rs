//! `read_padded` and `map_overlap` equal the same stencil over the whole array, for every
//! boundary mode, chunks thinner than the halo, non-divisible shapes, on every backend × engine.

mod common;

use chunkwise::{Boundary, Error};
use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};

const MODES: [Boundary; 5] = [
    Boundary::Reflect,
    Boundary::Mirror,
    Boundary::Nearest,
    Boundary::Constant(-3.0),
    Boundary::Wrap,
];

fn data(shape: &[usize]) -> ArrayD<i64> {
    ArrayD::from_shape_fn(IxDyn(shape), |i| (i[0] * 1000 + i[1] * 7 + 3) as i64)
}

/// The value at any (possibly outside) position, straight from the boundary definition.
fn at(x: &ArrayD<i64>, i: isize, j: isize, mode: Boundary) -> i64 {
    let (n0, n1) = (x.shape()[0], x.shape()[1]);
    match (mode.source(i, n0), mode.source(j, n1)) {
        (Some(a), Some(b)) => x[[a, b]],
        _ => match mode {
            Boundary::Constant(c) => c as i64,
            _ => unreachable!(),
        },
    }
}

/// An asymmetric 2-D stencil of half-widths `d`, so a flipped or shifted halo shows.
fn stencil_at(get: impl Fn(isize, isize) -> i64, i: isize, j: isize, d: [usize; 2]) -> i64 {
    let (d0, d1) = (d[0] as isize, d[1] as isize);
    let mut sum = 0;
    for a in -d0..=d0 {
        for b in -d1..=d1 {
            sum += (a + d0 + 1) as i64 * (b + 2 * d1 + 1) as i64 * get(i + a, j + b);
        }
    }
    sum
}

#[test]
fn read_padded_matches_the_boundary_definition() {
    let shape = [13, 11];
    let x = data(&shape);
    for setup in common::all_setups() {
        let ds = setup.conn.create::<i64>("x", &shape, &[2, 4], 0).unwrap();
        ds.load(x.view()).unwrap();
        for mode in MODES {
            for chunk in ds.layout().chunk_indices() {
                let depth = [5, 3];
                let padded = ds.read_padded::<i64>(&chunk, &depth, mode).unwrap();
                let origin = ds.layout().chunk_bounds(&chunk).start();
                let valid = ds.layout().chunk_valid_shape(&chunk);
                assert_eq!(padded.shape(), &[valid[0] + 10, valid[1] + 6]);
                for ((p, q), &v) in padded.indexed_iter().map(|(i, v)| ((i[0], i[1]), v)) {
                    let i = origin[0] as isize + p as isize - 5;
                    let j = origin[1] as isize + q as isize - 3;
                    assert_eq!(
                        v,
                        at(&x, i, j, mode),
                        "{} {mode} chunk {chunk:?} at ({i}, {j})",
                        setup.label
                    );
                }
            }
        }
    }
}

#[test]
fn map_overlap_equals_the_whole_array_stencil() {
    let shape = [17, 9];
    let x = data(&shape);
    for setup in common::all_setups() {
        let conn = &setup.conn;
        for (chunks, depth) in [
            ([3, 2], [4, 3]),
            ([17, 9], [2, 2]),
            ([5, 4], [1, 0]),
            ([1, 1], [2, 3]),
        ] {
            let ds = conn.create::<i64>("x", &shape, &chunks, 0).unwrap();
            ds.load(x.view()).unwrap();
            for mode in MODES {
                let expected = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                    stencil_at(
                        |a, b| at(&x, a, b, mode),
                        i[0] as isize,
                        i[1] as isize,
                        depth,
                    )
                });
                // The callback computes the valid part only from the grown block.
                let out = ds
                    .map_overlap::<i64, _>("out", &depth, mode, |_, block: ArrayViewD<i64>| {
                        let valid = [
                            block.shape()[0] - 2 * depth[0],
                            block.shape()[1] - 2 * depth[1],
                        ];
                        Ok(ArrayD::from_shape_fn(IxDyn(&valid), |i| {
                            stencil_at(
                                |a, b| block[[a as usize, b as usize]],
                                (i[0] + depth[0]) as isize,
                                (i[1] + depth[1]) as isize,
                                depth,
                            )
                        }))
                    })
                    .unwrap();
                assert_eq!(
                    out.read_all::<i64>().unwrap(),
                    expected,
                    "{} {mode} chunks {chunks:?}",
                    setup.label
                );
                out.delete().unwrap();
            }
            ds.delete().unwrap();
        }
    }
}

#[test]
fn map_overlap_trims_grown_results_and_rejects_other_shapes() {
    for setup in common::all_setups() {
        let x = data(&[8, 8]);
        let ds = setup.conn.create::<i64>("x", &[8, 8], &[3, 3], 0).unwrap();
        ds.load(x.view()).unwrap();
        // Returning the grown block unchanged gives back the input.
        let same = ds
            .map_overlap::<i64, _>("same", &[2, 1], Boundary::Wrap, |_, b| Ok(b.to_owned()))
            .unwrap();
        assert_eq!(same.read_all::<i64>().unwrap(), x);
        let error = ds
            .map_overlap::<i64, _>("bad", &[2, 1], Boundary::Wrap, |_, _| {
                Ok(ArrayD::zeros(IxDyn(&[1, 1])))
            })
            .unwrap_err();
        assert!(matches!(error, Error::ShapeMismatch { .. }), "{error:?}");
        assert!(
            !setup.conn.has_dataset("bad").unwrap(),
            "a failed map_overlap left its output"
        );
        let error = ds
            .map_overlap::<i64, _>("bad", &[2], Boundary::Wrap, |_, b| Ok(b.to_owned()))
            .unwrap_err();
        assert!(error.to_string().contains("one depth per axis"), "{error}");
    }
}

/// The value at any (possibly outside) position of a 3-D array, from the boundary definition.
fn at3(x: &ArrayD<i64>, p: [isize; 3], mode: Boundary) -> i64 {
    let sources: Vec<Option<usize>> = (0..3).map(|a| mode.source(p[a], x.shape()[a])).collect();
    match (sources[0], sources[1], sources[2]) {
        (Some(a), Some(b), Some(c)) => x[[a, b, c]],
        _ => match mode {
            Boundary::Constant(c) => c as i64,
            _ => unreachable!(),
        },
    }
}

/// An asymmetric 3-D stencil of half-widths `d`, so a flipped or shifted halo shows.
fn stencil3_at(get: impl Fn([isize; 3]) -> i64, p: [isize; 3], d: [usize; 3]) -> i64 {
    let d = d.map(|v| v as isize);
    let mut sum = 0;
    for a in -d[0]..=d[0] {
        for b in -d[1]..=d[1] {
            for c in -d[2]..=d[2] {
                let weight = (a + d[0] + 1) * (b + 2 * d[1] + 1) * (c + 3 * d[2] + 2);
                sum += weight as i64 * get([p[0] + a, p[1] + b, p[2] + c]);
            }
        }
    }
    sum
}

#[test]
fn map_overlap_in_3d_equals_the_whole_array_stencil_with_unwritten_chunks() {
    let shape = [7, 9, 10];
    let values = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        (i[0] * 10_000 + i[1] * 100 + i[2]) as i64
    });
    for setup in common::all_setups() {
        let conn = &setup.conn;
        for (chunks, depth) in [
            ([3, 4, 3], [2, 1, 4]),
            ([7, 9, 10], [1, 2, 0]),
            ([2, 5, 4], [0, 3, 1]),
        ] {
            let ds = conn.create::<i64>("x", &shape, &chunks, 5).unwrap();
            // Everything but the first z-slab of chunks: those chunks stay unwritten (fill 5).
            let written = chunkwise::Selection::parse(&format!("{}:, :, :", chunks[0])).unwrap();
            let part = values.slice(ndarray::s![chunks[0].., .., ..]).into_dyn();
            ds.write(&written, part).unwrap();
            let x = ds.read_all::<i64>().unwrap();
            assert!(x.iter().any(|&v| v == 5) || chunks[0] == shape[0]);
            for mode in MODES {
                let expected = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
                    let p = [i[0] as isize, i[1] as isize, i[2] as isize];
                    stencil3_at(|q| at3(&x, q, mode), p, depth)
                });
                let out = ds
                    .map_overlap::<i64, _>("out", &depth, mode, |_, block: ArrayViewD<i64>| {
                        let valid: Vec<usize> =
                            (0..3).map(|a| block.shape()[a] - 2 * depth[a]).collect();
                        Ok(ArrayD::from_shape_fn(IxDyn(&valid), |i| {
                            let p = [0, 1, 2].map(|a| (i[a] + depth[a]) as isize);
                            stencil3_at(
                                |q| block[[q[0] as usize, q[1] as usize, q[2] as usize]],
                                p,
                                depth,
                            )
                        }))
                    })
                    .unwrap();
                assert_eq!(
                    out.read_all::<i64>().unwrap(),
                    expected,
                    "{} {mode} chunks {chunks:?} depth {depth:?}",
                    setup.label
                );
                out.delete().unwrap();
            }
            ds.delete().unwrap();
        }
    }
}

/// `map_overlap` and `map_stencil` hand callbacks standard-layout blocks, also for a halo along
/// axis 0 on planes of 16 KiB (which a kernel may ask to have spaced, through
/// `map_stencil_in`): through whole chunks (many chunks) and through slabs (one chunk, several
/// workers). The spaced blocks hold the same values.
#[test]
fn stencil_callbacks_get_standard_layout_blocks_unless_they_ask_for_spaced_planes() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use chunkwise::{BlockLayout, Connection, RamStore, ThreadsEngine};
    let conn = Connection::new(
        Arc::new(RamStore::new()),
        Arc::new(ThreadsEngine::new(Some(3)).unwrap()),
    )
    .unwrap();
    let depth = [2, 1, 1];
    // The grown plane of the one-chunk dataset is 64 × 64 f32: 16 KiB.
    for (name, shape, chunks) in [
        ("many", [24, 62, 62], [8, 62, 62]),
        ("one", [40, 62, 62], [40, 62, 62]),
    ] {
        let ds = conn.create::<f32>(name, &shape, &chunks, 0.0).unwrap();
        ds.load_with::<f32, _>(|_, bounds| {
            let start = bounds.start();
            Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
                ((start[0] + i[0]) * 10_000 + (start[1] + i[1]) * 100 + start[2] + i[2]) as f32
            }))
        })
        .unwrap();
        let standard = AtomicUsize::new(0);
        let other = AtomicUsize::new(0);
        let count = |block: &ndarray::ArrayViewD<'_, f32>| {
            match block.is_standard_layout() {
                true => &standard,
                false => &other,
            }
            .fetch_add(1, Ordering::Relaxed);
        };
        let overlap = ds
            .map_overlap::<f32, _>(
                &format!("{name}_overlap"),
                &depth,
                Boundary::Reflect,
                |_, b| {
                    count(&b);
                    Ok(b.to_owned())
                },
            )
            .unwrap();
        let stencil = ds
            .map_stencil::<f32, _>(
                &format!("{name}_stencil"),
                &depth,
                Boundary::Reflect,
                |_, b| {
                    count(&b);
                    Ok(b.to_owned())
                },
            )
            .unwrap();
        assert!(standard.load(Ordering::Relaxed) > 0);
        assert_eq!(
            other.load(Ordering::Relaxed),
            0,
            "{name}: a non-standard block"
        );
        let spaced = ds
            .map_stencil_in::<f32, _>(
                &format!("{name}_spaced"),
                &depth,
                Boundary::Reflect,
                BlockLayout::SpacedPlanes { planes: 16 },
                |_, b| {
                    count(&b);
                    Ok(b.to_owned())
                },
            )
            .unwrap();
        assert!(
            other.load(Ordering::Relaxed) > 0,
            "{name}: spaced planes were asked for"
        );
        let want = ds.read_all::<f32>().unwrap();
        for out in [overlap, stencil, spaced] {
            assert_eq!(out.read_all::<f32>().unwrap(), want, "{}", out.name());
        }
    }
}

/// `read_padded` of 1-D and 4-D datasets equals the boundary definition element by element
/// (the gather of grown blocks has one path for every number of axes).
#[test]
fn read_padded_in_1d_and_4d_matches_the_boundary_definition() {
    for (shape, chunks, depth) in [
        (vec![17], vec![4], vec![6]),
        (vec![5, 4, 6, 7], vec![2, 3, 4, 3], vec![2, 1, 0, 3]),
    ] {
        let x = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
            i.as_array_view()
                .iter()
                .fold(7i64, |v, &k| v * 31 + k as i64)
        });
        for setup in common::all_setups() {
            let ds = setup.conn.create::<i64>("x", &shape, &chunks, 0).unwrap();
            ds.load(x.view()).unwrap();
            for mode in MODES {
                for chunk in ds.layout().chunk_indices() {
                    let padded = ds.read_padded::<i64>(&chunk, &depth, mode).unwrap();
                    let origin = ds.layout().chunk_bounds(&chunk).start();
                    for (p, &v) in padded.indexed_iter() {
                        let p = p.as_array_view().to_vec();
                        let source: Option<Vec<usize>> = (0..shape.len())
                            .map(|a| {
                                let i = origin[a] as isize + p[a] as isize - depth[a] as isize;
                                mode.source(i, shape[a])
                            })
                            .collect();
                        let expected = match (source, mode) {
                            (Some(source), _) => x[IxDyn(&source)],
                            (None, Boundary::Constant(c)) => c as i64,
                            (None, _) => unreachable!("only constant has outside values"),
                        };
                        assert_eq!(
                            v, expected,
                            "{} {mode} {shape:?} {chunk:?} {p:?}",
                            setup.label
                        );
                    }
                }
            }
            ds.delete().unwrap();
        }
    }
}
