//! Operations that may cut chunks into slabs (`map_stencil`, `load_blocks_with`) give exactly
//! what the same work on whole chunks gives, on every backend × engine, and do cut them when a
//! rank has fewer than two chunks per worker.

mod common;

use std::sync::Mutex;

use chunkwise::{BlockLayout, Boundary, Connection, PipelineOptions, Region};
use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// The connection of `setup`, splitting chunks however small.
fn splitting(conn: &Connection) -> Connection {
    conn.clone().with_pipeline(PipelineOptions {
        min_slab_bytes: 1,
        ..Default::default()
    })
}

/// An asymmetric 3-D stencil of half-widths `d` at `p` of `block` (grown coordinates).
fn stencil(block: &ArrayViewD<'_, i64>, p: [usize; 3], d: [usize; 3]) -> i64 {
    let mut sum = 0;
    for a in 0..=2 * d[0] {
        for b in 0..=2 * d[1] {
            for c in 0..=2 * d[2] {
                let weight = (a + 1) * (b + 2) * (c + 3 * d[2] + 2);
                let q = [p[0] + a - d[0], p[1] + b - d[1], p[2] + c - d[2]];
                sum += weight as i64 * block[q];
            }
        }
    }
    sum
}

#[test]
fn map_stencil_in_slabs_equals_map_overlap_on_whole_chunks() {
    let shape = [24, 9, 10];
    let values = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        (i[0] * 10_000 + i[1] * 100 + i[2]) as i64
    });
    for setup in common::all_setups() {
        let conn = splitting(&setup.conn);
        let threads = setup.label.ends_with("threads");
        // One chunk; 2 × 1 × 2 chunks; 1 × 2 × 1 chunks (edge chunks on every axis but one);
        // one chunk whose planes are too few for slabs of 4 halo depths.
        for (chunks, depth) in [
            ([24, 9, 10], [2, 1, 4]),
            ([12, 9, 6], [1, 0, 3]),
            ([24, 5, 10], [0, 2, 1]),
            ([24, 9, 10], [7, 1, 1]),
        ] {
            let ds = conn.create::<i64>("x", &shape, &chunks, 5).unwrap();
            ds.load(values.view()).unwrap();
            let num_chunks = ds.layout().num_chunks();
            for mode in [Boundary::Reflect, Boundary::Constant(-3.0), Boundary::Wrap] {
                let apply = |block: ArrayViewD<'_, i64>| {
                    let valid: Vec<usize> =
                        (0..3).map(|a| block.shape()[a] - 2 * depth[a]).collect();
                    ArrayD::from_shape_fn(IxDyn(&valid), |i| {
                        stencil(&block, [0, 1, 2].map(|a| i[a] + depth[a]), depth)
                    })
                };
                let whole = ds
                    .map_overlap::<i64, _>("whole", &depth, mode, |_, block| Ok(apply(block)))
                    .unwrap();
                let planes_seen = Mutex::new(Vec::new());
                let slabbed = ds
                    .map_stencil::<i64, _>("slabbed", &depth, mode, |bounds, block| {
                        assert_eq!(
                            block.shape(),
                            bounds
                                .shape()
                                .iter()
                                .zip(depth)
                                .map(|(n, d)| n + 2 * d)
                                .collect::<Vec<_>>()
                        );
                        planes_seen
                            .lock()
                            .unwrap()
                            .push(block.shape()[0] - 2 * depth[0]);
                        Ok(apply(block))
                    })
                    .unwrap();
                let label = format!("{} {mode} chunks {chunks:?}", setup.label);
                assert_eq!(
                    slabbed.read_all::<i64>().unwrap(),
                    whole.read_all::<i64>().unwrap(),
                    "{label}"
                );
                // Chunks are cut when the rank has fewer than two per worker (3 threads; the
                // sequential engine has one worker) into slabs of at least 4 halo depths.
                let planes = planes_seen.into_inner().unwrap();
                let workers = if threads { 3 } else { 1 };
                let cut = planes.len() > num_chunks;
                let thick_enough = chunks[0] / (4 * depth[0]).max(1) >= 2;
                assert_eq!(
                    cut,
                    num_chunks < 2 * workers && thick_enough,
                    "{label}: {planes:?}"
                );
                assert!(
                    !cut || planes.iter().all(|&p| p >= 4 * depth[0]),
                    "{label}: {planes:?}"
                );
                let grid = ds.layout().grid();
                assert_eq!(
                    planes.iter().sum::<usize>(),
                    24 * grid[1] * grid[2],
                    "{label}"
                );
                whole.delete().unwrap();
                slabbed.delete().unwrap();
            }
            ds.delete().unwrap();
        }
    }
}

#[test]
fn slabs_of_planes_of_4_kib_are_spaced_apart_when_asked_and_give_the_same_result() {
    // Planes of 16 × 32 i64 (4 KiB): a stencil along axis 0 that asks for spaced planes gets them
    // with a gap after each (in slabs), one along the other axes gets them next to each other,
    // and map_overlap always gives standard layout; the results are those of the chunk read
    // whole in standard layout (`read_padded`).
    let shape = [24, 16, 32];
    let plane = 16 * 32;
    let values = ArrayD::from_shape_fn(IxDyn(&shape), |i| {
        (i[0] * 10_000 + i[1] * 100 + i[2]) as i64
    });
    for setup in common::all_setups() {
        let conn = splitting(&setup.conn);
        let ds = conn.create::<i64>("x", &shape, &shape, 5).unwrap();
        ds.load(values.view()).unwrap();
        for depth in [[2, 0, 0], [2, 1, 3], [0, 2, 0]] {
            let apply = |block: ArrayViewD<'_, i64>| {
                let valid: Vec<usize> = (0..3).map(|a| block.shape()[a] - 2 * depth[a]).collect();
                ArrayD::from_shape_fn(IxDyn(&valid), |i| {
                    stencil(&block, [0, 1, 2].map(|a| i[a] + depth[a]), depth)
                })
            };
            let mode = Boundary::Reflect;
            let padded = ds.read_padded::<i64>(&[0, 0, 0], &depth, mode).unwrap();
            assert!(padded.is_standard_layout());
            let expected = apply(padded.view());
            let whole_strides = Mutex::new(Vec::new());
            let whole = ds
                .map_overlap::<i64, _>("whole", &depth, mode, |_, block| {
                    assert!(block.is_standard_layout());
                    whole_strides
                        .lock()
                        .unwrap()
                        .push(block.strides()[0] as usize);
                    Ok(apply(block))
                })
                .unwrap();
            let strides = Mutex::new(Vec::new());
            let spaced = BlockLayout::SpacedPlanes { planes: 16 };
            let slabbed = ds
                .map_stencil_in::<i64, _>("slabbed", &depth, mode, spaced, |_, block| {
                    strides.lock().unwrap().push(block.strides()[0] as usize);
                    Ok(apply(block))
                })
                .unwrap();
            let label = format!("{} depth {depth:?}", setup.label);
            assert_eq!(slabbed.read_all::<i64>().unwrap(), expected, "{label}");
            assert_eq!(whole.read_all::<i64>().unwrap(), expected, "{label}");
            let strides = strides.into_inner().unwrap();
            assert!(strides.len() > 1, "{label}: slabs");
            let grown_plane = (16 + 2 * depth[1]) * (32 + 2 * depth[2]);
            let whole_strides = whole_strides.into_inner().unwrap();
            assert!(
                !whole_strides.is_empty() && whole_strides.iter().all(|&s| s == grown_plane),
                "{label}: {whole_strides:?}"
            );
            if depth == [2, 0, 0] {
                // 4 KiB planes along axis 0: 17 cache lines past the next 4 KiB.
                assert!(
                    strides.iter().all(|&s| s == plane + 17 * 8),
                    "{label}: {strides:?}"
                );
            }
            if depth[0] > 0 {
                // 16 consecutive planes start in 16 different 64-byte sets of a 4 KiB period.
                for &stride in &strides {
                    assert!(stride >= grown_plane, "{label}: {strides:?}");
                    let sets: std::collections::HashSet<usize> =
                        (0..16).map(|k| k * stride * 8 % 4096 / 64).collect();
                    assert_eq!(sets.len(), 16, "{label}: {strides:?}");
                }
            } else {
                assert!(
                    strides.iter().all(|&s| s == grown_plane),
                    "{label}: {strides:?}"
                );
            }
            whole.delete().unwrap();
            slabbed.delete().unwrap();
        }
        ds.delete().unwrap();
    }
}

#[test]
fn a_failing_stencil_leaves_no_output_and_names_the_chunk() {
    for setup in common::all_setups() {
        let conn = splitting(&setup.conn);
        let ds = conn.create::<i64>("x", &[8, 4, 4], &[8, 4, 4], 1).unwrap();
        let error = ds
            .map_stencil::<i64, _>("out", &[1, 1, 1], Boundary::Nearest, |_, block| {
                if block[[1, 1, 1]] == 1 && block.shape()[0] < 10 {
                    return Err("no slabs here".into());
                }
                Ok(block.to_owned())
            })
            .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("(0, 0, 0)") && text.contains("no slabs here"),
            "{}: {text}",
            setup.label
        );
        assert!(!conn.has_dataset("out").unwrap(), "{}", setup.label);
    }
}

#[test]
fn load_blocks_with_fills_every_chunk_as_load_with_does() {
    let shape = [9, 6, 5];
    let value = |i: &[usize]| (i[0] * 100 + i[1] * 10 + i[2]) as f32;
    for setup in common::all_setups() {
        let conn = splitting(&setup.conn);
        let expected = ArrayD::from_shape_fn(IxDyn(&shape), |i| value(&[i[0], i[1], i[2]]));
        for chunks in [[9, 6, 5], [4, 6, 5], [5, 4, 3]] {
            let ds = conn.create::<f32>("x", &shape, &chunks, -1.0).unwrap();
            let blocks = Mutex::new(Vec::new());
            ds.load_blocks_with::<f32, _>(|bounds: &Region| {
                blocks.lock().unwrap().push(bounds.clone());
                let start = bounds.start();
                Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
                    value(&[start[0] + i[0], start[1] + i[1], start[2] + i[2]])
                }))
            })
            .unwrap();
            let label = format!("{} chunks {chunks:?}", setup.label);
            assert_eq!(ds.read_all::<f32>().unwrap(), expected, "{label}");
            // Every chunk was written whole (padding included), and the blocks tile the data.
            assert_eq!(
                conn.store()
                    .open_dataset("x")
                    .unwrap()
                    .list_chunks()
                    .unwrap()
                    .len(),
                ds.layout().num_chunks(),
                "{label}"
            );
            let blocks = blocks.into_inner().unwrap();
            assert_eq!(
                blocks.iter().map(Region::len).sum::<usize>(),
                shape.iter().product::<usize>(),
                "{label}"
            );
            if ds.layout().num_chunks() == 1 {
                assert!(blocks.len() > 1, "{label}: one chunk is cut into slabs");
            }
            ds.delete().unwrap();
        }
    }
}

#[test]
fn load_blocks_with_makes_large_chunks_in_parts_and_a_failure_leaves_them_as_they_were() {
    // Chunks of 24 planes of 64 KiB (1.5 MiB): made at most 16 planes (1 MiB) at a time.
    let (shape, chunks) = ([48, 128, 128], [24, 128, 128]);
    let value = |i: &[usize], offset: f32| (i[0] * 1000 + i[1] * 7 + i[2]) as f32 + offset;
    let make = |bounds: &Region, offset: f32| {
        let start = bounds.start();
        ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
            value(&[start[0] + i[0], start[1] + i[1], start[2] + i[2]], offset)
        })
    };
    for setup in common::all_setups() {
        let label = setup.label.clone();
        let conn = &setup.conn;
        let ds = conn.create::<f32>("x", &shape, &chunks, -1.0).unwrap();
        let blocks = Mutex::new(Vec::new());
        ds.load_blocks_with::<f32, _>(|bounds: &Region| {
            blocks.lock().unwrap().push(bounds.clone());
            Ok(make(bounds, 0.0))
        })
        .unwrap();
        let old = ArrayD::from_shape_fn(IxDyn(&shape), |i| value(&[i[0], i[1], i[2]], 0.0));
        assert_eq!(ds.read_all::<f32>().unwrap(), old, "{label}");
        for bounds in blocks.into_inner().unwrap() {
            let planes = bounds.start()[0]..bounds.start()[0] + bounds.shape()[0];
            assert!(planes.len() <= 16, "{label}: a block of planes {planes:?}");
            assert_eq!(
                planes.start / 24,
                (planes.end - 1) / 24,
                "{label}: {planes:?}"
            );
        }
        // The block holding plane 45 (the last of chunk 1) fails after chunk 1's first planes
        // were made and written as parts: chunk 1 keeps its old values.
        let failed = ds.load_blocks_with::<f32, _>(|bounds: &Region| {
            let first = bounds.start()[0];
            if (first..first + bounds.shape()[0]).contains(&45) {
                return Err("no values for plane 45".into());
            }
            Ok(make(bounds, 0.5))
        });
        assert!(
            failed
                .as_ref()
                .is_err_and(|e| e.to_string().contains("plane 45")),
            "{label}: {failed:?}"
        );
        let now = ds.read_all::<f32>().unwrap();
        for chunk in 0..2 {
            let planes = ndarray::s![chunk * 24..(chunk + 1) * 24, .., ..];
            let (part, before) = (now.slice(planes), old.slice(planes));
            let after = before.mapv(|v| v + 0.5);
            assert!(
                part == before || (chunk == 0 && part == after),
                "{label}: chunk {chunk} is neither as it was nor wholly new"
            );
        }
        ds.delete().unwrap();
    }
}

#[test]
fn a_chunk_too_large_for_the_memory_budget_is_cut_into_slabs_that_fit() {
    // One chunk of 64 × 32 × 32 f64 (512 KiB): a grown block of it (610 KiB) several times over
    // does not fit 1 MiB; slabs of 8 planes do.
    let shape = [64, 32, 32];
    let values = ArrayD::from_shape_fn(IxDyn(&shape), |i| (i[0] * 1000 + i[1] * 31 + i[2]) as f64);
    let mean = |block: ArrayViewD<'_, f64>| {
        let valid: Vec<usize> = block.shape().iter().map(|n| n - 2).collect();
        ArrayD::from_shape_fn(IxDyn(&valid), |i| {
            (block[[i[0], i[1] + 1, i[2] + 1]] + block[[i[0] + 2, i[1] + 1, i[2] + 1]]) / 2.0
        })
    };
    let dir = tempfile::tempdir().unwrap();
    for setup in common::all_setups() {
        let unlimited = &setup.conn;
        let ds = unlimited.create::<f64>("x", &shape, &shape, 0.0).unwrap();
        ds.load(values.view()).unwrap();
        let expected = ds
            .map_overlap::<f64, _>("expected", &[1, 1, 1], Boundary::Reflect, |_, b| {
                Ok(mean(b))
            })
            .unwrap()
            .read_all::<f64>()
            .unwrap();
        let budget = chunkwise::memory::MemoryBudget::new(1 << 20, dir.path().to_path_buf(), None);
        let limited = unlimited.clone().with_memory_budget(budget);
        let ds = limited.dataset("x").unwrap();
        let whole =
            ds.map_overlap::<f64, _>("whole", &[1, 1, 1], Boundary::Reflect, |_, b| Ok(mean(b)));
        assert!(
            matches!(whole, Err(chunkwise::Error::BudgetTooSmall { .. })),
            "{}: {whole:?}",
            setup.label
        );
        let planes = Mutex::new(Vec::new());
        let slabbed = ds
            .map_stencil::<f64, _>("slabbed", &[1, 1, 1], Boundary::Reflect, |bounds, b| {
                planes.lock().unwrap().push(bounds.shape()[0]);
                Ok(mean(b))
            })
            .unwrap();
        assert_eq!(
            slabbed.read_all::<f64>().unwrap(),
            expected,
            "{}",
            setup.label
        );
        let planes = planes.into_inner().unwrap();
        assert!(planes.len() > 1, "{}: {planes:?}", setup.label);
        assert_eq!(planes.iter().sum::<usize>(), 64, "{}", setup.label);
        // With cutting switched off, the budget is refused as for whole chunks.
        let never = limited.clone().with_pipeline(PipelineOptions {
            min_slab_bytes: u64::MAX,
            ..Default::default()
        });
        let refused = never.dataset("x").unwrap().map_stencil::<f64, _>(
            "never",
            &[1, 1, 1],
            Boundary::Reflect,
            |_, b| Ok(mean(b)),
        );
        assert!(
            matches!(refused, Err(chunkwise::Error::BudgetTooSmall { .. })),
            "{}: {refused:?}",
            setup.label
        );
    }
}

#[test]
fn slabs_of_a_chunk_never_written_read_as_the_fill_value() {
    for setup in common::all_setups() {
        let conn = splitting(&setup.conn);
        let ds = conn
            .create::<i64>("x", &[16, 4, 4], &[16, 4, 4], 5)
            .unwrap();
        let sum = |bounds: &Region, block: ArrayViewD<'_, i64>| {
            Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
                block[[i[0], i[1] + 1, i[2] + 1]] + block[[i[0] + 1, i[1] + 1, i[2] + 1]]
                    - block[[i[0] + 2, i[1], i[2] + 2]]
            }))
        };
        let out = ds
            .map_stencil::<i64, _>("out", &[1, 1, 1], Boundary::Reflect, sum)
            .unwrap();
        assert_eq!(
            out.read_all::<i64>().unwrap(),
            ArrayD::from_elem(IxDyn(&[16, 4, 4]), 5),
            "{}",
            setup.label
        );
        let out = ds
            .map_stencil::<i64, _>("constant", &[1, 1, 1], Boundary::Constant(2.0), sum)
            .unwrap()
            .read_all::<i64>()
            .unwrap();
        // Inside: 5 + 5 − 5; at the first plane the plane before is the constant 2: 2 + 5 − 5
        // where the third term is inside too.
        assert_eq!(out[[8, 1, 1]], 5, "{}", setup.label);
        assert_eq!(out[[0, 1, 1]], 2, "{}", setup.label);
        assert_eq!(out[[15, 2, 2]], 5 + 5 - 2, "{}", setup.label);
    }
}
