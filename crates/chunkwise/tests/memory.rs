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

    use chunkwise::{Connection, Hdf5Store, Selection, ThreadsEngine};
    let dir = tempfile::tempdir().unwrap();
    let temp = dir.path().join("tmp");
    std::fs::create_dir(&temp).unwrap();
    let conn = Connection::new(
        Arc::new(Hdf5Store::new(dir.path().join("store"))),
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
