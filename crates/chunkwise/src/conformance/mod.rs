//! The conformance suites every store and every engine must pass (enabled by the `testing`
//! feature).
//!
//! Each store function takes a fresh, empty store and panics on the first broken guarantee; a
//! backend's tests call [`run_all`]. Engines are held to [`engine::run_all`]. New guarantees go
//! here, so every backend and engine is held to them.

pub mod engine;

use std::sync::Arc;

use crate::dtype::{ChunkData, DType, Element, Scalar};
use crate::error::Error;
use crate::layout::Layout;
use crate::store::{DatasetMeta, Store};

fn meta(shape: &[usize], chunks: &[usize], dtype: DType) -> DatasetMeta {
    DatasetMeta::zero_filled(Layout::new(shape, chunks).expect("valid layout"), dtype)
}

fn ramp<T: Element>(len: usize, convert: impl Fn(usize) -> T) -> ChunkData {
    T::into_chunk((0..len).map(convert).collect())
}

/// Runs every check, each on its own dataset names of `store` (which must start empty).
pub fn run_all(store: Arc<dyn Store>) {
    capabilities_are_consistent(store.as_ref());
    datasets_lifecycle(store.as_ref());
    names_are_checked(store.as_ref());
    missing_chunks_read_as_none_and_create_nothing(store.as_ref());
    chunks_round_trip(store.as_ref());
    a_new_dataset_shows_nothing_of_a_deleted_one(store.as_ref());
    every_dtype_round_trips(store.as_ref());
    bad_chunk_buffers_are_rejected(store.as_ref());
    concurrent_updates_lose_nothing(store.as_ref());
    chunk_regions_read_exactly(store.as_ref());
    chunks_written_in_parts(store.as_ref());
    chunk_runs_read_into_place(store.as_ref());
    whole_writes_are_never_undone_by_updates(store.as_ref());
    incomplete_datasets_never_read_as_complete(store.as_ref());
    handles_are_shared_and_outlive_nothing(store.as_ref());
    concurrent_writes_to_distinct_chunks(store);
}

/// A store shared between processes orders chunk updates across processes, not only in memory.
pub fn capabilities_are_consistent(store: &dyn Store) {
    let capabilities = store.capabilities();
    assert!(
        !(capabilities.shared_between_processes
            && capabilities.chunk_updates == crate::store::ChunkUpdates::InProcess),
        "{}: shared between processes, but chunk updates are ordered in one process only: {capabilities:?}",
        store.backend()
    );
}

/// Handles of one dataset — the creator's, an attached one, an opened one — see the same
/// chunks; after the dataset is deleted every handle fails with [`Error::DatasetNotFound`]
/// and writes through them create nothing.
pub fn handles_are_shared_and_outlive_nothing(store: &dyn Store) {
    let m = meta(&[4, 6], &[2, 3], DType::I32);
    let created = store.create_dataset("shared", &m).unwrap();
    let attached = store.attach_dataset("shared", &m).unwrap();
    let opened = store.open_dataset("shared").unwrap();
    assert_eq!((created.name(), opened.name()), ("shared", "shared"));
    assert_eq!(attached.meta(), &m);
    let data = ramp::<i32>(6, |i| i as i32 - 3);
    attached.write_chunk(&[1, 0], &data).unwrap();
    assert_eq!(created.read_chunk(&[1, 0]).unwrap(), Some(data.clone()));
    assert_eq!(opened.list_chunks().unwrap(), vec![vec![1, 0]]);
    opened
        .update_chunk(&[0, 1], &mut |current| {
            assert_eq!(current, None);
            Ok(data.clone())
        })
        .unwrap();
    assert!(created.has_chunk(&[0, 1]).unwrap());
    store.delete_dataset("shared").unwrap();
    for handle in [&created, &attached, &opened] {
        let read = handle.read_chunk(&[1, 0]);
        assert!(matches!(read, Err(Error::DatasetNotFound(_))), "{read:?}");
        let written = handle.write_chunk(&[0, 0], &data);
        assert!(
            matches!(written, Err(Error::DatasetNotFound(_))),
            "{written:?}"
        );
        let updated = handle.update_chunk(&[0, 0], &mut |_| Ok(data.clone()));
        assert!(
            matches!(updated, Err(Error::DatasetNotFound(_))),
            "{updated:?}"
        );
    }
    assert!(!store.has_dataset("shared").unwrap());
    assert!(!store
        .list_incomplete()
        .unwrap()
        .contains(&"shared".to_string()));
}

/// Whole-chunk writes, chunk writers and deletions racing with read-modify-write updates of the
/// same chunk, from several threads: a write that returned is never undone by an update that
/// read the chunk before it (the update's slow callback widens the window).
pub fn whole_writes_are_never_undone_by_updates(store: &dyn Store) {
    let m = meta(&[8], &[8], DType::U32);
    let h = store.create_dataset("race", &m).unwrap();
    let rounds = 20u32;
    // Elements 0 and 1 belong to the updaters; 2.. hold the whole writer's round.
    let whole = |round: u32| ChunkData::U32([0, 0].into_iter().chain([round; 6]).collect());
    let round_of = |data: Option<ChunkData>| match data {
        Some(ChunkData::U32(values)) => values[2],
        None => 0,
        Some(other) => panic!("wrong chunk type {:?}", other.dtype()),
    };
    std::thread::scope(|scope| {
        for updater in 0..2usize {
            let h = &h;
            scope.spawn(move || {
                for _ in 0..rounds {
                    h.update_chunk(&[0], &mut |current| {
                        let mut values = match current {
                            Some(ChunkData::U32(values)) => values,
                            _ => vec![0; 8],
                        };
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        values[updater] += 1;
                        Ok(ChunkData::U32(values))
                    })
                    .unwrap();
                }
            });
        }
        let h = &h;
        scope.spawn(move || {
            for round in 1..=rounds {
                if round % 2 == 0 {
                    let writer = h.chunk_writer(&[0]).unwrap();
                    writer.write_part(0, &whole(round)).unwrap();
                    writer.commit().unwrap();
                } else {
                    h.write_chunk(&[0], &whole(round)).unwrap();
                }
                std::thread::sleep(std::time::Duration::from_millis(3));
                let seen = round_of(h.read_chunk(&[0]).unwrap());
                assert!(
                    seen >= round,
                    "the write of round {round} was undone: the chunk holds round {seen}"
                );
            }
            assert!(h.delete_chunk(&[0]).unwrap());
            std::thread::sleep(std::time::Duration::from_millis(5));
            // An update that read the chunk before the deletion may write after it (it then
            // starts from nothing), but never puts back the deleted rounds.
            let seen = round_of(h.read_chunk(&[0]).unwrap());
            assert!(
                seen == 0,
                "the deletion was undone: the chunk holds round {seen}"
            );
        });
    });
    store.delete_dataset("race").unwrap();
}

/// A dataset begun and not finished is never opened or listed as a complete one; beginning or
/// creating its name again replaces it; finishing makes it an ordinary dataset.
pub fn incomplete_datasets_never_read_as_complete(store: &dyn Store) {
    let m = meta(&[4, 4], &[2, 2], DType::F64);
    let h = store.begin_dataset("half", &m).unwrap();
    let data = ramp(4, |i| i as f64);
    h.write_chunk(&[0, 0], &data).unwrap();
    assert_eq!(h.read_chunk(&[0, 0]).unwrap(), Some(data.clone()));
    assert!(matches!(store.open_dataset("half"), Err(Error::DatasetIncomplete(n)) if n == "half"));
    assert!(!store.has_dataset("half").unwrap());
    assert!(!store.list_datasets().unwrap().contains(&"half".to_string()));
    assert_eq!(store.list_incomplete().unwrap(), vec!["half".to_string()]);
    // A rerun replaces it: nothing of the interrupted run's chunks is left.
    let h = store.begin_dataset("half", &m).unwrap();
    assert_eq!(h.read_chunk(&[0, 0]).unwrap(), None);
    h.write_chunk(&[1, 1], &data).unwrap();
    store.finish_dataset("half").unwrap();
    store.finish_dataset("half").unwrap();
    assert_eq!(store.open_dataset("half").unwrap().meta(), &m);
    assert!(store.list_datasets().unwrap().contains(&"half".to_string()));
    assert!(store.list_incomplete().unwrap().is_empty());
    assert_eq!(h.list_chunks().unwrap(), vec![vec![1, 1]]);
    // A complete dataset is not replaced.
    assert!(matches!(
        store.begin_dataset("half", &m),
        Err(Error::DatasetExists(_))
    ));
    assert!(matches!(
        store.create_dataset("half", &m),
        Err(Error::DatasetExists(_))
    ));
    store.delete_dataset("half").unwrap();
    // Creating over an incomplete dataset replaces it too; an incomplete one can be deleted.
    let h = store.begin_dataset("again", &m).unwrap();
    h.write_chunk(&[0, 1], &data).unwrap();
    let h = store.create_dataset("again", &m).unwrap();
    assert!(h.list_chunks().unwrap().is_empty());
    store.delete_dataset("again").unwrap();
    store.begin_dataset("gone", &m).unwrap();
    store.delete_dataset("gone").unwrap();
    assert!(store.list_incomplete().unwrap().is_empty());
    assert!(matches!(
        store.finish_dataset("gone"),
        Err(Error::DatasetNotFound(_))
    ));
}

/// What a writer that died mid-way left behind is removed by the next store opened on the
/// same location, and nothing else is. `die_writing(name)` runs, in another process, a writer
/// that begins dataset `name`, writes one chunk whole, starts another in parts and dies
/// without cleaning up; `reopen` opens the store anew; `hidden` lists the working entries the
/// medium holds (temporary objects, half-made datasets), none expected of a store at rest.
pub fn leftovers_of_dead_writers_are_removed(
    store: &dyn Store,
    die_writing: impl FnOnce(&str),
    reopen: impl FnOnce() -> Arc<dyn Store>,
    hidden: impl Fn() -> Vec<String>,
) {
    let m = meta(&[4, 4], &[2, 2], DType::F32);
    let h = store.create_dataset("kept", &m).unwrap();
    assert_eq!(h.name(), "kept");
    let data = ramp(4, |i| i as f32);
    h.write_chunk(&[1, 0], &data).unwrap();
    assert!(
        hidden().is_empty(),
        "working entries at rest: {:?}",
        hidden()
    );
    die_writing("dead");
    assert!(
        !hidden().is_empty(),
        "the dead writer left nothing behind: the case tests nothing"
    );
    let store = reopen();
    assert!(hidden().is_empty(), "left after the reopen: {:?}", hidden());
    // The dead writer's dataset is incomplete (never read as complete), the other intact.
    assert!(matches!(
        store.open_dataset("dead"),
        Err(Error::DatasetIncomplete(_))
    ));
    let kept = store.open_dataset("kept").unwrap();
    assert_eq!(kept.meta(), &m);
    assert_eq!(kept.read_chunk(&[1, 0]).unwrap(), Some(data));
    assert_eq!(store.list_datasets().unwrap(), vec!["kept".to_string()]);
    store.delete_dataset("dead").unwrap();
    store.delete_dataset("kept").unwrap();
}

/// What a store finds where a chunk should be and that is not one of the dataset's chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// A directory, a FIFO or another entry that is not a stored object.
    NotAnObject,
    /// A reference to nothing (a dangling link), where the medium has such things.
    Dangling,
    /// A chunk holding elements of another type than the dataset's.
    OtherType,
}

/// Foreign things where chunks should be are refused with an error naming them, never read as
/// the fill value or converted, and never hang a reader. `plant` puts `Foreign` at the chunk of
/// a dataset (`f32`, shape (4, 4), chunks (2, 2)); a backend passes the kinds its medium can
/// hold.
pub fn foreign_chunks_are_refused(
    store: &dyn Store,
    kinds: &[Foreign],
    plant: impl Fn(&str, &[usize], Foreign),
) {
    let m = meta(&[4, 4], &[2, 2], DType::F32);
    let h = store.create_dataset("foreign", &m).unwrap();
    for (i, &kind) in kinds.iter().enumerate() {
        let chunk = [i / 2, i % 2];
        plant("foreign", &chunk, kind);
        let read = h.read_chunk(&chunk);
        assert!(
            matches!(read, Err(Error::Corrupt { .. })),
            "{kind:?}: read gave {read:?}"
        );
        let region = crate::region::Region::from_bounds(&[0, 0], &[1, 2]);
        let read = h.read_chunk_region(&chunk, &region);
        assert!(read.is_err(), "{kind:?}: region read gave {read:?}");
        if kind != Foreign::OtherType {
            assert!(h.has_chunk(&chunk).is_err(), "{kind:?}: has_chunk");
            assert!(h.list_chunks().is_err(), "{kind:?}: list_chunks");
        }
        let mut target = vec![std::mem::MaybeUninit::new(0u8); 16];
        let read = h.read_chunk_run_into(&chunk, 0, &[(0, 4)], &mut target);
        assert!(read.is_err(), "{kind:?}: run read gave {read:?}");
        assert!(h.delete_chunk(&chunk).is_ok() || kind == Foreign::NotAnObject);
    }
}

/// Create, open, list, delete, and the errors of each.
pub fn datasets_lifecycle(store: &dyn Store) {
    let m = meta(&[10, 20], &[4, 8], DType::F32);
    assert!(!store.has_dataset("life").unwrap());
    assert!(matches!(store.open_dataset("life"), Err(Error::DatasetNotFound(n)) if n == "life"));
    store.create_dataset("life", &m).unwrap();
    assert!(store.has_dataset("life").unwrap());
    assert_eq!(store.open_dataset("life").unwrap().meta(), &m);
    assert!(
        matches!(store.create_dataset("life", &m), Err(Error::DatasetExists(n)) if n == "life")
    );
    assert!(store.list_datasets().unwrap().contains(&"life".to_string()));
    store.delete_dataset("life").unwrap();
    assert!(!store.has_dataset("life").unwrap());
    assert!(!store.list_datasets().unwrap().contains(&"life".to_string()));
    assert!(matches!(
        store.delete_dataset("life"),
        Err(Error::DatasetNotFound(_))
    ));
}

/// Bad names are refused before anything is stored.
pub fn names_are_checked(store: &dyn Store) {
    let before = store.list_datasets().unwrap();
    for bad in ["", "a/b", "../up", ".hidden", "x y", "new\nline", ".."] {
        let result = store.create_dataset(bad, &meta(&[4], &[2], DType::U8));
        assert!(
            matches!(result, Err(Error::InvalidName { .. })),
            "{bad:?}: {result:?}"
        );
        // Opening or deleting an invalid name says it is invalid, not that it is missing.
        let opened = store.open_dataset(bad);
        assert!(
            matches!(opened, Err(Error::InvalidName { .. })),
            "{bad:?}: {opened:?}"
        );
        let deleted = store.delete_dataset(bad);
        assert!(
            matches!(deleted, Err(Error::InvalidName { .. })),
            "{bad:?}: {deleted:?}"
        );
        assert!(!store.has_dataset(bad).unwrap());
    }
    // The longest name allowed works end to end (no working entry may lengthen it).
    let longest = "n".repeat(255);
    let m = meta(&[4], &[2], DType::U8);
    let h = store.create_dataset(&longest, &m).unwrap();
    h.write_chunk(&[1], &ChunkData::U8(vec![7, 8])).unwrap();
    h.update_chunk(&[0], &mut |_| Ok(ChunkData::U8(vec![1, 2])))
        .unwrap();
    assert_eq!(h.list_chunks().unwrap(), vec![vec![0], vec![1]]);
    store.delete_dataset(&longest).unwrap();
    store.begin_dataset(&longest, &m).unwrap();
    store.finish_dataset(&longest).unwrap();
    store.delete_dataset(&longest).unwrap();
    // The message stays on one line, whatever the name holds.
    let message = store
        .create_dataset("a\nb", &meta(&[4], &[2], DType::U8))
        .unwrap_err()
        .to_string();
    assert!(
        !message.contains('\n') && message.contains("a\\nb"),
        "{message}"
    );
    assert_eq!(store.list_datasets().unwrap(), before);
}

/// Reading a chunk never written gives `None` and leaves no trace.
pub fn missing_chunks_read_as_none_and_create_nothing(store: &dyn Store) {
    let m = meta(&[6, 6], &[3, 3], DType::I32);
    let h = store.create_dataset("sparse", &m).unwrap();
    assert_eq!(h.read_chunk(&[1, 1]).unwrap(), None);
    assert!(!h.has_chunk(&[1, 1]).unwrap());
    assert!(h.list_chunks().unwrap().is_empty());
    assert!(!h.delete_chunk(&[0, 0]).unwrap());
    let nothing = store.attach_dataset("nothing", &m).unwrap();
    assert!(matches!(
        nothing.read_chunk(&[0, 0]),
        Err(Error::DatasetNotFound(_))
    ));
    store.delete_dataset("sparse").unwrap();
}

/// Written chunks read back exactly; overwrites replace; deletes remove; listing is C order.
pub fn chunks_round_trip(store: &dyn Store) {
    let m = meta(&[5, 7], &[2, 3], DType::F64);
    let h = store.create_dataset("trip", &m).unwrap();
    let len = m.layout.chunk_len();
    for chunk in [[2, 2], [0, 1], [1, 0]] {
        let data = ramp::<f64>(len, |i| (i + 10 * chunk[0] + 100 * chunk[1]) as f64);
        h.write_chunk(&chunk, &data).unwrap();
        assert_eq!(h.read_chunk(&chunk).unwrap(), Some(data));
        assert!(h.has_chunk(&chunk).unwrap());
    }
    assert_eq!(
        h.list_chunks().unwrap(),
        vec![vec![0, 1], vec![1, 0], vec![2, 2]]
    );
    let replacement = ChunkData::filled(Scalar::F64(-1.0), len);
    h.write_chunk(&[0, 1], &replacement).unwrap();
    assert_eq!(h.read_chunk(&[0, 1]).unwrap(), Some(replacement));
    assert!(h.delete_chunk(&[0, 1]).unwrap());
    assert_eq!(h.read_chunk(&[0, 1]).unwrap(), None);
    assert_eq!(h.list_chunks().unwrap().len(), 2);
    store.delete_dataset("trip").unwrap();
}

/// A dataset created after one of the same metadata was deleted holds only what is written to
/// it: the chunks written read back exactly, the others are missing, whatever the store does
/// with the deleted dataset's chunk files.
pub fn a_new_dataset_shows_nothing_of_a_deleted_one(store: &dyn Store) {
    let m = meta(&[6, 6], &[3, 3], DType::F32);
    let len = m.layout.chunk_len();
    for round in 0..3 {
        let name = format!("again{}", round % 2);
        let h = store.create_dataset(&name, &m).unwrap();
        // Round 0 writes every chunk; later rounds write one chunk fewer each time.
        let written: Vec<Vec<usize>> = m.layout.chunk_indices().skip(round).collect();
        for chunk in &written {
            let data = ramp::<f32>(len, |i| (i + 10 * round) as f32 + 0.5);
            h.write_chunk(chunk, &data).unwrap();
        }
        for chunk in m.layout.chunk_indices() {
            let expected = written
                .contains(&chunk)
                .then(|| ramp::<f32>(len, |i| (i + 10 * round) as f32 + 0.5));
            assert_eq!(h.read_chunk(&chunk).unwrap(), expected);
        }
        assert_eq!(h.list_chunks().unwrap(), written);
        store.delete_dataset(&name).unwrap();
    }
}

/// Every dtype keeps its values and its fill value.
pub fn every_dtype_round_trips(store: &dyn Store) {
    for dtype in DType::ALL {
        let name = format!("dtype_{dtype}");
        let fill = Scalar::parse(dtype, "7").unwrap();
        let m = DatasetMeta::new(Layout::new(&[3, 4], &[2, 2]).unwrap(), dtype, fill).unwrap();
        let h = store.create_dataset(&name, &m).unwrap();
        assert_eq!(store.open_dataset(&name).unwrap().meta(), &m, "{dtype}");
        let data = crate::with_element_type!(dtype, T => {
            ramp::<T>(4, |i| Scalar::parse(dtype, &(i + 1).to_string()).unwrap().get::<T>().unwrap())
        });
        h.write_chunk(&[1, 1], &data).unwrap();
        assert_eq!(h.read_chunk(&[1, 1]).unwrap(), Some(data), "{dtype}");
        store.delete_dataset(&name).unwrap();
    }
}

/// Buffers of the wrong length or dtype, and chunks outside the grid, are refused.
pub fn bad_chunk_buffers_are_rejected(store: &dyn Store) {
    let m = meta(&[4, 4], &[2, 2], DType::U16);
    let h = store.create_dataset("strict", &m).unwrap();
    let short = ChunkData::U16(vec![1; 3]);
    assert!(matches!(
        h.write_chunk(&[0, 0], &short),
        Err(Error::ShapeMismatch { .. })
    ));
    let wrong_type = ChunkData::F32(vec![1.0; 4]);
    assert!(matches!(
        h.write_chunk(&[0, 0], &wrong_type),
        Err(Error::DTypeMismatch { .. })
    ));
    let good = ChunkData::U16(vec![1; 4]);
    assert!(matches!(
        h.write_chunk(&[2, 0], &good),
        Err(Error::ChunkOutOfRange { .. })
    ));
    assert!(matches!(
        h.read_chunk(&[0, 2]),
        Err(Error::ChunkOutOfRange { .. })
    ));
    assert!(h.list_chunks().unwrap().is_empty());
    store.delete_dataset("strict").unwrap();
}

/// Many threads incrementing elements of one chunk through `update_chunk` lose no increment.
pub fn concurrent_updates_lose_nothing(store: &dyn Store) {
    let m = meta(&[8], &[4], DType::U32);
    let h = store.create_dataset("counter", &m).unwrap();
    let (threads, rounds) = (4usize, 25u32);
    std::thread::scope(|scope| {
        for worker in 0..threads {
            let h = &h;
            scope.spawn(move || {
                for _ in 0..rounds {
                    h.update_chunk(&[1], &mut |current| {
                        let mut values = match current {
                            Some(ChunkData::U32(values)) => values,
                            Some(other) => panic!("wrong chunk type {:?}", other.dtype()),
                            None => vec![0; 4],
                        };
                        values[worker] += 1;
                        values[0] += 1000;
                        Ok(ChunkData::U32(values))
                    })
                    .unwrap();
                }
            });
        }
    });
    let expected_first = 1000 * rounds * threads as u32 + rounds;
    assert_eq!(
        h.read_chunk(&[1]).unwrap(),
        Some(ChunkData::U32(vec![expected_first, rounds, rounds, rounds]))
    );
    let failed = h.update_chunk(&[0], &mut |_| Err(Error::Unsupported("refused".into())));
    assert!(matches!(failed, Err(Error::Unsupported(_))));
    assert_eq!(
        h.read_chunk(&[0]).unwrap(),
        None,
        "a failed update wrote something"
    );
    store.delete_dataset("counter").unwrap();
}

/// A region of a chunk reads as the same region of the whole chunk; a missing chunk as `None`.
pub fn chunk_regions_read_exactly(store: &dyn Store) {
    let m = meta(&[12, 10, 9], &[6, 5, 9], DType::I16);
    let h = store.create_dataset("regions", &m).unwrap();
    let data = ramp::<i16>(m.layout.chunk_len(), |i| i as i16 - 100);
    h.write_chunk(&[1, 0, 0], &data).unwrap();
    let region = crate::Region::new(vec![
        crate::AxisSlice {
            start: 1,
            step: 2,
            count: 3,
        },
        crate::AxisSlice {
            start: 4,
            step: 1,
            count: 1,
        },
        crate::AxisSlice {
            start: 0,
            step: 4,
            count: 3,
        },
    ]);
    let expected: Vec<i16> = {
        let full = ndarray::ArrayD::from_shape_vec(
            ndarray::IxDyn(&[6, 5, 9]),
            i16::from_chunk(data.clone()).unwrap(),
        )
        .unwrap();
        region.view_of(&full).iter().copied().collect()
    };
    let got = h.read_chunk_region(&[1, 0, 0], &region).unwrap();
    assert_eq!(got, Some(ChunkData::I16(expected)));
    let whole = crate::Region::full(&[6, 5, 9]);
    assert_eq!(
        h.read_chunk_region(&[1, 0, 0], &whole).unwrap(),
        Some(data.clone())
    );
    // Whole planes of axis 0 (one run of the chunk's elements), and a missing chunk's.
    let planes = crate::Region::new(vec![
        crate::AxisSlice::range(2, 5),
        crate::AxisSlice::range(0, 5),
        crate::AxisSlice::range(0, 9),
    ]);
    assert_eq!(
        h.read_chunk_region(&[1, 0, 0], &planes).unwrap(),
        Some(ChunkData::I16(
            i16::from_chunk(data.clone()).unwrap()[2 * 45..5 * 45].to_vec()
        ))
    );
    assert_eq!(h.read_chunk_region(&[0, 1, 0], &planes).unwrap(), None);
    assert_eq!(h.read_chunk_region(&[0, 1, 0], &region).unwrap(), None);
    store.delete_dataset("regions").unwrap();
}

/// A chunk written in parts (in any order, from several threads) shows nothing before its
/// commit, then all of it; a writer dropped or failing to commit leaves the chunk as it was.
pub fn chunks_written_in_parts(store: &dyn Store) {
    // Chunks of 4 × 8 in a 6 × 8 dataset: chunk (1, 0) is an edge chunk, stored padded.
    let m = meta(&[6, 8], &[4, 8], DType::F64);
    let h = store.create_dataset("parts", &m).unwrap();
    let old = ramp::<f64>(32, |i| i as f64);
    h.write_chunk(&[0, 0], &old).unwrap();
    let new: Vec<f64> = (0..32).map(|i| -0.5 * i as f64).collect();

    let writer = h.chunk_writer(&[0, 0]).unwrap();
    std::thread::scope(|scope| {
        for plane in [3usize, 1, 2, 0] {
            let (writer, new) = (&writer, &new);
            scope.spawn(move || {
                let part = ChunkData::F64(new[plane * 8..][..8].to_vec());
                writer.write_part(plane * 8, &part).unwrap();
            });
        }
    });
    assert_eq!(h.read_chunk(&[0, 0]).unwrap(), Some(old));
    assert_eq!(h.list_chunks().unwrap(), vec![vec![0, 0]]);
    writer.commit().unwrap();
    assert_eq!(
        h.read_chunk(&[0, 0]).unwrap(),
        Some(ChunkData::F64(new.clone()))
    );

    // Bad parts are refused and change nothing; the writer goes on.
    let writer = h.chunk_writer(&[1, 0]).unwrap();
    let planes = |values: &[f64]| ChunkData::F64(values.to_vec());
    writer.write_part(0, &planes(&new[..16])).unwrap();
    for (first, part) in [
        (8, planes(&new[..8])),              // over elements already written
        (24, planes(&new[..16])),            // past the end
        (16, ChunkData::F32(vec![1.0; 16])), // another dtype
    ] {
        let refused = writer.write_part(first, &part);
        assert!(
            matches!(
                refused,
                Err(Error::ShapeMismatch { .. } | Error::DTypeMismatch { .. })
            ),
            "{refused:?}"
        );
    }
    // A commit with elements missing fails and shows nothing.
    let missing = writer.commit().unwrap_err();
    assert!(missing.to_string().contains("element 16"), "{missing}");
    assert_eq!(h.read_chunk(&[1, 0]).unwrap(), None);
    assert!(!h.has_chunk(&[1, 0]).unwrap());

    // A writer dropped halfway leaves nothing.
    let writer = h.chunk_writer(&[1, 0]).unwrap();
    writer.write_part(16, &planes(&new[16..])).unwrap();
    drop(writer);
    assert_eq!(h.read_chunk(&[1, 0]).unwrap(), None);
    assert_eq!(h.list_chunks().unwrap(), vec![vec![0, 0]]);

    assert!(matches!(
        h.chunk_writer(&[2, 0]).map(|_| ()),
        Err(Error::ChunkOutOfRange { .. })
    ));
    // A missing dataset is found out when the writer starts or, at the latest, on commit.
    let orphan = store.attach_dataset("no-such-dataset", &m).unwrap();
    let orphan = orphan.chunk_writer(&[0, 0]).and_then(|writer| {
        writer.write_part(0, &planes(&new))?;
        writer.commit()
    });
    assert!(
        matches!(orphan, Err(Error::DatasetNotFound(_))),
        "{orphan:?}"
    );
    store.delete_dataset("parts").unwrap();
}

/// A run of a chunk's elements read into place lands in the pieces asked for, in order, and
/// nothing else of the target is written; a missing chunk writes nothing.
pub fn chunk_runs_read_into_place(store: &dyn Store) {
    use std::mem::MaybeUninit;
    let m = meta(&[6, 8], &[4, 8], DType::I32);
    let h = store.create_dataset("runs", &m).unwrap();
    h.write_chunk(&[0, 0], &ramp::<i32>(32, |i| i as i32 * 3))
        .unwrap();
    let sentinel = MaybeUninit::new(0xAB_u8);
    let mut target = vec![sentinel; 40 * 4];
    // Elements 8..24 (planes 1 and 2) into target elements 30..38, 2..7 and 20..23.
    let pieces = [(30, 8), (2, 5), (20, 3)];
    assert!(h
        .read_chunk_run_into(&[0, 0], 8, &pieces, &mut target)
        .unwrap());
    // SAFETY: every byte was initialised (the sentinel, or read).
    let bytes: Vec<u8> = target.iter().map(|b| unsafe { b.assume_init() }).collect();
    let element = |k: usize| i32::from_ne_bytes(bytes[k * 4..k * 4 + 4].try_into().unwrap());
    let untouched = i32::from_ne_bytes([0xAB; 4]);
    let mut expected = vec![untouched; 40];
    for (k, at) in (30..38).chain(2..7).chain(20..23).enumerate() {
        expected[at] = (8 + k) as i32 * 3;
    }
    assert_eq!((0..40).map(element).collect::<Vec<_>>(), expected);

    let mut target = vec![sentinel; 8 * 4];
    assert!(!h
        .read_chunk_run_into(&[1, 0], 0, &[(0, 8)], &mut target)
        .unwrap());
    assert!(target.iter().all(|b| unsafe { b.assume_init() } == 0xAB));
    for (first, pieces) in [(30, [(0, 4)]), (0, [(6, 4)])] {
        let refused = h.read_chunk_run_into(&[0, 0], first, &pieces, &mut target);
        assert!(
            matches!(refused, Err(Error::ShapeMismatch { .. })),
            "{refused:?}"
        );
    }
    store.delete_dataset("runs").unwrap();
}

/// Threads writing different chunks at once all land.
pub fn concurrent_writes_to_distinct_chunks(store: Arc<dyn Store>) {
    let m = meta(&[16, 16], &[4, 4], DType::I64);
    let h = store.create_dataset("busy", &m).unwrap();
    std::thread::scope(|scope| {
        for worker in 0..4usize {
            let h = &h;
            scope.spawn(move || {
                for j in 0..4usize {
                    let data = ChunkData::I64(vec![(worker * 4 + j) as i64; 16]);
                    h.write_chunk(&[worker, j], &data).unwrap();
                }
            });
        }
    });
    for (flat, chunk) in m.layout.chunk_indices().enumerate() {
        assert_eq!(
            h.read_chunk(&chunk).unwrap(),
            Some(ChunkData::I64(vec![flat as i64; 16]))
        );
    }
    store.delete_dataset("busy").unwrap();
}
