//! The memory budget: arrays in RAM while they fit, in memory-mapped temporary files beyond,
//! files removed when dropped or left by a crashed process, and a clear error when neither fits.

use std::path::Path;

use chunkwise::memory::{remove_stale_temp_files, MemoryBudget};
use chunkwise::Error;
use ndarray::{ArrayD, IxDyn};

fn temp_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn arrays_spill_to_mapped_files_beyond_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let budget = MemoryBudget::new(1 << 20, dir.path().to_path_buf(), None);
    let expected = ArrayD::from_shape_fn(IxDyn(&[64, 64, 64]), |i| {
        (i[0] * 4096 + i[1] * 64 + i[2]) as f32
    });

    // 64³ f32 = 1 MiB fits exactly; a second one does not and is mapped.
    let mut in_ram = budget.alloc_array::<f32>(&[64, 64, 64]).unwrap();
    assert!(!in_ram.is_mapped());
    assert_eq!(budget.available(), 0);
    let mut mapped = budget.alloc_array::<f32>(&[64, 64, 64]).unwrap();
    assert!(mapped.is_mapped());
    let path = mapped.path().unwrap().to_path_buf();
    assert!(path.starts_with(dir.path()) && path.metadata().unwrap().len() == 1 << 20);
    assert!(
        mapped.view().iter().all(|&v| v == 0.0),
        "a new array is zeroed"
    );

    in_ram.view_mut().assign(&expected);
    mapped.view_mut().assign(&expected);
    assert_eq!(mapped.view(), expected.view());
    assert_eq!(in_ram.view(), mapped.view());

    drop(mapped);
    assert!(!path.exists(), "the temporary file outlived its array");
    drop(in_ram);
    assert_eq!(
        budget.available(),
        1 << 20,
        "the reservation was not returned"
    );
    assert!(!budget.alloc_array::<f64>(&[128, 128]).unwrap().is_mapped());
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn too_large_for_both_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let budget = MemoryBudget::new(1000, dir.path().to_path_buf(), Some(4000));
    let error = budget.alloc_array::<u8>(&[100, 50]).unwrap_err();
    assert!(
        matches!(
            error,
            Error::OutOfMemory {
                asked: 5000,
                memory_free: 1000,
                temp_free: 4000,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("5000 bytes") && message.contains("1000") && message.contains("4000"),
        "{message}"
    );
    // Temporary storage is accounted for too.
    let first = budget.alloc_array::<u8>(&[3000]).unwrap();
    assert!(first.is_mapped());
    assert!(matches!(
        budget.alloc_array::<u8>(&[2000]),
        Err(Error::OutOfMemory {
            temp_free: 1000,
            ..
        })
    ));
    drop(first);
    assert!(budget.alloc_array::<u8>(&[2000]).unwrap().is_mapped());
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn files_of_crashed_processes_are_removed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    // A pid that cannot be running (above the kernel's pid_max of 4194304).
    let stale = dir.path().join("chunkwise-mmap-4194305-0.tmp");
    std::fs::write(&stale, b"left by a crash").unwrap();
    let ours = dir
        .path()
        .join(format!("chunkwise-mmap-{}-999.tmp", std::process::id()));
    std::fs::write(&ours, b"still in use").unwrap();
    let unrelated = dir.path().join("notes.txt");
    std::fs::write(&unrelated, b"not ours").unwrap();
    assert_eq!(remove_stale_temp_files(dir.path()), 1);
    assert_eq!(
        temp_files(dir.path()),
        vec![
            ours.file_name().unwrap().to_string_lossy().into_owned(),
            "notes.txt".to_string()
        ]
    );
    std::fs::write(&stale, b"again").unwrap();
    let _budget = MemoryBudget::new(1, dir.path().to_path_buf(), None);
    assert!(!stale.exists(), "MemoryBudget::new cleans up too");
}

#[test]
fn the_budget_of_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        format!(
            "resources:\n  max_memory: 64MiB\n  memory_usage: 0.25\n  temp_dir: {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let config = chunkwise::config::Config::load_from(Some(&file), Vec::new()).unwrap();
    let budget = MemoryBudget::from_config(&config).unwrap();
    assert_eq!(budget.limit(), 16 << 20);
    let big = budget.alloc_array::<f32>(&[8 << 20]).unwrap();
    assert!(big.is_mapped() && big.path().unwrap().starts_with(dir.path()));
}

#[test]
fn reading_a_large_dataset_under_a_tiny_budget_goes_through_a_mapped_file() {
    use std::sync::Arc;

    use chunkwise::{Connection, RamStore, Selection, ThreadsEngine};
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join("tmp");
    std::fs::create_dir(&temp).unwrap();
    let conn = Connection::new(
        Arc::new(RamStore::new()),
        Arc::new(ThreadsEngine::new(Some(2)).unwrap()),
    )
    .unwrap();
    let ds = conn
        .create::<f32>("big", &[256, 256, 256], &[64, 64, 64], -1.0)
        .unwrap();
    ds.load_with::<f32, _>(|_, bounds| {
        let start = bounds.start();
        Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
            ((start[0] + i[0]) * 65536 + (start[1] + i[1]) * 256 + start[2] + i[2]) as f32
        }))
    })
    .unwrap();
    ds.delete_chunk(&[3, 3, 3]).unwrap(); // a missing chunk reads as the fill value
    let budget = MemoryBudget::new(1 << 20, temp.clone(), None);
    let mapped = ds.read_in::<f32>(&budget, &Selection::all()).unwrap();
    assert!(
        mapped.is_mapped(),
        "64 MiB under a 1 MiB budget must be mapped"
    );
    assert_eq!(mapped.view(), ds.read_all::<f32>().unwrap().view());
    assert_eq!(mapped.view()[[255, 255, 255]], -1.0);
    let plane = ds
        .read_in::<f32>(&budget, &Selection::parse("7, :, 100:").unwrap())
        .unwrap();
    assert_eq!(plane.shape(), &[256, 156]);
    assert!(!plane.is_mapped(), "160 KB fits the 1 MiB budget");
    assert_eq!(
        plane.view(),
        ds.read::<f32>(&Selection::parse("7, :, 100:").unwrap())
            .unwrap()
            .view()
    );
    drop((mapped, plane));
    assert!(temp_files(&temp).is_empty(), "temporary files left behind");
}

#[test]
fn strided_selections_read_in_mapped_slabs_equal_plain_reads() {
    use std::sync::Arc;

    use chunkwise::{Connection, RamStore, Selection, SequentialEngine};
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::new(Arc::new(RamStore::new()), Arc::new(SequentialEngine)).unwrap();
    let ds = conn
        .create::<f64>("d", &[90, 41, 37], &[8, 10, 16], 0.5)
        .unwrap();
    ds.load_with::<f64, _>(|_, bounds| {
        let start = bounds.start();
        Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
            ((start[0] + i[0]) * 10_000 + (start[1] + i[1]) * 100 + start[2] + i[2]) as f64
        }))
    })
    .unwrap();
    ds.delete_chunk(&[2, 1, 1]).unwrap(); // reads as the fill value
                                          // A 2 KiB budget: every selection below is mapped and read in many slabs.
    let budget = MemoryBudget::new(2048, dir.path().to_path_buf(), None);
    for text in [":", "3:88:7, :, 1::2", "5, ::3, 2:30", "-1, 4:"] {
        let selection = Selection::parse(text).unwrap();
        let mapped = ds.read_in::<f64>(&budget, &selection).unwrap();
        assert!(mapped.is_mapped(), "{text}");
        assert_eq!(
            mapped.view(),
            ds.read::<f64>(&selection).unwrap().view(),
            "{text}"
        );
    }
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn collective_operations_fit_their_blocks_in_flight_to_the_budget() {
    use std::sync::Arc;

    use chunkwise::{Boundary, Connection, RamStore, ThreadsEngine};
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(ThreadsEngine::new(Some(2)).unwrap());
    let unlimited = Connection::new(Arc::new(RamStore::new()), engine.clone()).unwrap();
    let make = |conn: &Connection| {
        let ds = conn
            .create::<f32>("in", &[40, 40, 40], &[16, 16, 16], 0.0)
            .unwrap();
        ds.load_with::<f32, _>(|_, bounds| {
            let start = bounds.start();
            Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
                ((start[0] + i[0]) * 7 + (start[1] + i[1]) * 3 + start[2] + i[2]) as f32
            }))
        })
        .unwrap();
        ds
    };
    let box_sum = |_: &[usize], block: ndarray::ArrayViewD<'_, f32>| {
        let s = block.shape().to_vec();
        Ok(ArrayD::from_shape_fn(
            IxDyn(&[s[0] - 4, s[1] - 4, s[2] - 4]),
            |i| block[[i[0], i[1], i[2]]] + block[[i[0] + 4, i[1] + 4, i[2] + 4]],
        ))
    };
    let expected = make(&unlimited)
        .map_overlap("out", &[2, 2, 2], Boundary::Reflect, box_sum)
        .unwrap()
        .read_all::<f32>()
        .unwrap();

    // A grown block is 20³ f32 = 32 000 bytes; one per stage and worker needs 4·32 000 +
    // 3·32 000 + 16 384 = 240 384 bytes.
    let tight = MemoryBudget::new(250_000, dir.path().to_path_buf(), None);
    let conn = Connection::new(Arc::new(RamStore::new()), engine.clone())
        .unwrap()
        .with_memory_budget(tight.clone());
    let got = make(&conn)
        .map_overlap("out", &[2, 2, 2], Boundary::Reflect, box_sum)
        .unwrap();
    // 256 000 bytes do not fit in RAM under this budget: read through a mapped file.
    let got_values = got
        .read_in::<f32>(&tight, &chunkwise::Selection::all())
        .unwrap();
    assert!(got_values.is_mapped());
    assert_eq!(got_values.view(), expected.view());
    drop(got_values);
    assert_eq!(
        tight.available(),
        250_000,
        "the operation kept its reservation"
    );

    let too_small = MemoryBudget::new(200_000, dir.path().to_path_buf(), None);
    let conn = Connection::new(Arc::new(RamStore::new()), engine)
        .unwrap()
        .with_memory_budget(too_small);
    let input = make(&conn);
    let error = input
        .map_overlap("out", &[2, 2, 2], Boundary::Reflect, box_sum)
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("map_overlap of dataset \"in\"")
            && text.contains("240384 bytes")
            && text.contains("200000 bytes"),
        "{text}"
    );
    assert!(
        !conn.has_dataset("out").unwrap(),
        "a failed map left its output"
    );
}

#[test]
fn plain_reads_beyond_the_budget_are_refused_with_the_sizes() {
    use std::sync::Arc;

    use chunkwise::{Connection, RamStore, Selection, SequentialEngine};
    let dir = tempfile::tempdir().unwrap();
    let budget = MemoryBudget::new(4000, dir.path().to_path_buf(), None);
    let conn = Connection::new(Arc::new(RamStore::new()), Arc::new(SequentialEngine))
        .unwrap()
        .with_memory_budget(budget.clone());
    let ds = conn.create::<f64>("d", &[30, 30], &[10, 10], 1.0).unwrap();
    // 10 rows of 30 f64 = 2 400 bytes fit; all 7 200 bytes do not.
    let rows = ds.read::<f64>(&Selection::parse(":10").unwrap()).unwrap();
    assert_eq!(rows.shape(), &[10, 30]);
    let error = ds.read_all::<f64>().unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(
            error,
            Error::BudgetTooSmall {
                needed: 7200,
                available: 4000,
                ..
            }
        ) && text.contains("dataset \"d\"")
            && text.contains("read_in"),
        "{text}"
    );
    // read_in is the way: the same selection through a mapped file.
    let mapped = ds.read_in::<f64>(&budget, &Selection::all()).unwrap();
    assert!(mapped.is_mapped() && mapped.view().iter().all(|&v| v == 1.0));
}

#[test]
fn work_proportional_to_user_input_is_checked_against_the_budget() {
    use std::sync::Arc;

    use chunkwise::{Connection, RamStore, Selection, SequentialEngine};
    let dir = tempfile::tempdir().unwrap();
    let budget = MemoryBudget::new(1 << 20, dir.path().to_path_buf(), None);
    let conn = Connection::new(Arc::new(RamStore::new()), Arc::new(SequentialEngine))
        .unwrap()
        .with_memory_budget(budget);
    // 10^12 chunks of one element: the list of a rank's chunks alone would be terabytes.
    let many = conn
        .create::<u8>("many", &[1_000_000, 1_000_000], &[1, 1], 0)
        .unwrap();
    for result in [
        many.apply::<u8, _>(|_, block| Ok(block.to_owned())),
        many.clear(),
        many.map::<u8, _>("copy", |_, block| Ok(block.to_owned()))
            .map(|_| ()),
    ] {
        let error = result.unwrap_err();
        assert!(
            matches!(error, Error::BudgetTooSmall { available, .. } if available <= 1 << 20)
                && error.to_string().contains("the list of this rank's"),
            "{error}"
        );
    }
    assert!(!conn.has_dataset("copy").unwrap());
    // A write into a chunk of 8 GB: two chunk buffers do not fit the 1 MiB budget.
    let huge = conn
        .create::<f64>("huge", &[1 << 30, 4], &[1 << 30, 1], 0.0)
        .unwrap();
    let error = huge
        .write_value::<f64>(&Selection::parse("0, 0").unwrap(), 1.0)
        .unwrap_err();
    assert!(
        matches!(error, Error::BudgetTooSmall { needed, .. } if needed == 2 * 8 * (1 << 30)),
        "{error}"
    );
}
