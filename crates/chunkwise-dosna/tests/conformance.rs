//! The DosNa directory store passes the core's conformance suite, through the public API only,
//! and keeps its own promises (checksums, working entries of dead writers, foreign files).

use std::sync::Arc;

use chunkwise::conformance;
use chunkwise_dosna::DosnaStore;

#[test]
fn hdf5_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(Arc::new(DosnaStore::new(dir.path().join("conn"))));
}

#[test]
fn hdf5_store_with_checksums_conforms_and_detects_bit_rot() {
    use chunkwise::{DType, DatasetMeta, Layout, Store};
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(Arc::new(
        DosnaStore::new(dir.path().join("conn")).with_checksums(true),
    ));
    let store = DosnaStore::new(dir.path().join("rot")).with_checksums(true);
    let meta = DatasetMeta::zero_filled(Layout::new(&[8, 8], &[8, 8]).unwrap(), DType::F64);
    let d = store.create_dataset("d", &meta).unwrap();
    let data = chunkwise::ChunkData::F64((0..64).map(f64::from).collect());
    d.write_chunk(&[0, 0], &data).unwrap();
    assert_eq!(d.read_chunk(&[0, 0]).unwrap(), Some(data.clone()));
    // A store without the option reads (and verifies) the same file.
    let plain = DosnaStore::new(dir.path().join("rot"));
    assert_eq!(
        plain
            .open_dataset("d")
            .unwrap()
            .read_chunk(&[0, 0])
            .unwrap(),
        Some(data)
    );
    // One flipped bit in element 10 (found by its bytes, followed by element 11's).
    let path = store.chunk_path("d", &[0, 0]);
    let mut bytes = std::fs::read(&path).unwrap();
    let pattern: Vec<u8> = [10.0f64, 11.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = bytes
        .windows(pattern.len())
        .position(|w| w == pattern.as_slice())
        .expect("the elements are stored as they are");
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    for reader in [&store, &plain] {
        let error = reader
            .open_dataset("d")
            .unwrap()
            .read_chunk(&[0, 0])
            .unwrap_err()
            .to_string();
        assert!(error.contains("chunk_0_0.h5"), "{error}");
    }
}

/// The environment variable that makes `hdf5_dead_writer` the dying writer.
const DEAD_WRITER_ROOT: &str = "CHUNKWISE_TEST_DEAD_WRITER_ROOT";

/// The dying writer of `hdf5_store_removes_what_dead_writers_left`, run as a child process:
/// it begins a dataset, writes a chunk, starts another in parts and exits without any cleanup.
#[test]
fn hdf5_dead_writer() {
    use chunkwise::{DType, DatasetMeta, Layout, Store};
    let Some(root) = std::env::var_os(DEAD_WRITER_ROOT) else {
        return; // only as the child
    };
    let store = DosnaStore::new(std::path::PathBuf::from(root));
    let meta = DatasetMeta::zero_filled(Layout::new(&[4, 4], &[2, 2]).unwrap(), DType::F32);
    let dead = store.begin_dataset("dead", &meta).unwrap();
    let data = chunkwise::ChunkData::F32(vec![1.0; 4]);
    dead.write_chunk(&[0, 0], &data).unwrap();
    let writer = dead.chunk_writer(&[0, 1]).unwrap();
    writer
        .write_part(0, &chunkwise::ChunkData::F32(vec![2.0; 2]))
        .unwrap();
    // Dies here: no destructor runs, as after kill -9.
    // SAFETY: ends the process at once; nothing runs afterwards.
    unsafe { libc::_exit(0) };
}

#[test]
fn hdf5_store_removes_what_dead_writers_left() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("conn");
    let store = DosnaStore::new(&root);
    let die_writing = |name: &str| {
        assert_eq!(name, "dead");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "hdf5_dead_writer"])
            .env(DEAD_WRITER_ROOT, &root)
            .status()
            .unwrap();
        assert!(status.success(), "{status:?}");
    };
    // Hidden working entries beside the datasets and in them (not the store's lock file, the
    // markers of incomplete datasets, or the owners' directories, checked below).
    let hidden = || {
        let relative: Vec<String> = walk(&root)
            .into_iter()
            .map(|p| p[root.display().to_string().len()..].to_string())
            .collect();
        relative
            .into_iter()
            .filter(|p| {
                p.contains("/.")
                    && p != "/.chunkwise-locks"
                    && !p.starts_with("/.chunkwise-tmp")
                    && !p.ends_with("/.chunkwise-incomplete.h5")
            })
            .collect::<Vec<_>>()
    };
    conformance::leftovers_of_dead_writers_are_removed(
        &store,
        die_writing,
        || Arc::new(DosnaStore::new(&root)),
        hidden,
    );
    // The dead writer's owner directory went too; only this process's may stay.
    let ours = format!("{}-", std::process::id());
    for owner in std::fs::read_dir(root.join(".chunkwise-tmp"))
        .into_iter()
        .flatten()
    {
        let name = owner.unwrap().file_name().to_string_lossy().into_owned();
        assert!(name.starts_with(&ours), "{name} was left");
    }
}

#[test]
fn hdf5_store_refuses_foreign_chunks() {
    use conformance::Foreign;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = DosnaStore::new(root.join("conn"));
    let planter = store.clone();
    let plant = move |name: &str, chunk: &[usize], kind: Foreign| {
        let store = &planter;
        let path = store.chunk_path(name, chunk);
        match kind {
            Foreign::NotAnObject if chunk == [0, 0] => std::fs::create_dir(&path).unwrap(),
            Foreign::NotAnObject => {
                let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
            }
            Foreign::Dangling => {
                std::os::unix::fs::symlink(root.join("nowhere.h5"), &path).unwrap()
            }
            Foreign::OtherType => {
                // A chunk file of f64 elements in an f32 dataset, as h5py would write one.
                let file = hdf5::File::create(&path).unwrap();
                file.new_dataset::<f64>()
                    .shape([2, 2])
                    .create("data")
                    .unwrap()
                    .write_raw(&[1e300, f64::NAN, 1.0, 2.0])
                    .unwrap();
            }
        }
    };
    let kinds = [
        Foreign::NotAnObject,
        Foreign::NotAnObject,
        Foreign::Dangling,
        Foreign::OtherType,
    ];
    // A FIFO must not hang the reader: the test runs under a deadline.
    let (done, finished) = std::sync::mpsc::channel();
    let checks = std::thread::spawn(move || {
        conformance::foreign_chunks_are_refused(&store, &kinds, plant);
        done.send(()).unwrap();
    });
    match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(()) => checks.join().unwrap(),
        Err(_) if checks.is_finished() => std::panic::resume_unwind(checks.join().unwrap_err()),
        Err(_) => panic!("reading foreign chunks hung"),
    }
}

#[test]
fn hdf5_store_with_spare_files_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("conn");
    conformance::run_all(Arc::new(DosnaStore::new(&root).with_spare_files(1 << 30)));
    // The store is dropped: its spares are gone with it, and nothing else hidden stays.
    assert!(!root.join(".chunkwise-spare").exists());
    // Only the store's lock file, in its root, stays.
    let lock_file = root.join(".chunkwise-locks").display().to_string();
    let leftovers: Vec<_> = walk(&root)
        .into_iter()
        .filter(|p| p.contains("/.") && *p != lock_file)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// An hdf5 store with spare files (in a directory that lives as long as the first value), and
/// the metadata of an 8×8 f32 dataset in 4×4 chunks with fill value `fill`.
fn store_with_spares(fill: f32) -> (tempfile::TempDir, DosnaStore, chunkwise::DatasetMeta) {
    use chunkwise::{DType, DatasetMeta, Layout, Scalar};
    let dir = tempfile::tempdir().unwrap();
    let store = DosnaStore::new(dir.path().join("conn")).with_spare_files(1 << 30);
    let meta = DatasetMeta::new(
        Layout::new(&[8, 8], &[4, 4]).unwrap(),
        DType::F32,
        Scalar::F32(fill),
    )
    .unwrap();
    (dir, store, meta)
}

#[test]
fn spare_files_are_written_over_by_the_next_dataset() {
    use chunkwise::Store;
    use std::os::unix::fs::MetadataExt;
    let (_dir, store, meta) = store_with_spares(0.0);
    let old = store.create_dataset("old", &meta).unwrap();
    let data = chunkwise::ChunkData::F32(vec![1.5; 16]);
    old.write_chunk(&[1, 1], &data).unwrap();
    let inode = std::fs::metadata(store.chunk_path("old", &[1, 1]))
        .unwrap()
        .ino();
    store.delete_dataset("old").unwrap();
    let new = store.create_dataset("new", &meta).unwrap();
    let data = chunkwise::ChunkData::F32(vec![-2.0; 16]);
    new.write_chunk(&[0, 1], &data).unwrap();
    let path = store.chunk_path("new", &[0, 1]);
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
    assert_eq!(new.read_chunk(&[0, 1]).unwrap(), Some(data));
}

#[test]
fn a_deleted_datasets_directory_becomes_the_next_one_empty() {
    use chunkwise::{DType, DatasetMeta, Layout, Scalar, Store};
    use std::os::unix::fs::MetadataExt;
    let (_dir, store, meta) = store_with_spares(3.0);
    let old = store.create_dataset("old", &meta).unwrap();
    let data = chunkwise::ChunkData::F32(vec![1.5; 16]);
    for chunk in [[0, 0], [1, 1]] {
        old.write_chunk(&chunk, &data).unwrap();
    }
    // A file that is neither a chunk nor the dataset file goes too.
    std::fs::write(store.dataset_dir("old").join(".note"), b"x").unwrap();
    let inode = std::fs::metadata(store.dataset_dir("old")).unwrap().ino();
    store.delete_dataset("old").unwrap();
    assert!(!store.dataset_dir("old").exists());
    let new = store.create_dataset("new", &meta).unwrap();
    let new_dir = store.dataset_dir("new");
    assert_eq!(std::fs::metadata(&new_dir).unwrap().ino(), inode);
    let names = entries(&new_dir);
    assert_eq!(names, vec!["dataset.h5".to_string()]);
    for chunk in [[0, 0], [1, 1]] {
        assert_eq!(new.read_chunk(&chunk).unwrap(), None);
    }
    // A dataset whose directory holds a directory is removed whole, never kept.
    std::fs::create_dir(new_dir.join("sub")).unwrap();
    store.delete_dataset("new").unwrap();
    store.create_dataset("third", &meta).unwrap();
    let names = entries(&store.dataset_dir("third"));
    assert_eq!(names, vec!["dataset.h5".to_string()]);

    // The directory of a dataset of many chunks (a large directory for good) is not kept.
    let many = DatasetMeta::new(
        Layout::new(&[200], &[1]).unwrap(),
        DType::F32,
        Scalar::F32(0.0),
    )
    .unwrap();
    let many_handle = store.create_dataset("many", &many).unwrap();
    for chunk in 0..200 {
        let one = chunkwise::ChunkData::F32(vec![1.0]);
        many_handle.write_chunk(&[chunk], &one).unwrap();
    }
    // Told apart by birth time: the file system may give a new directory a freed inode.
    let born = |dir: std::path::PathBuf| std::fs::metadata(dir).unwrap().created().unwrap();
    let large = born(store.dataset_dir("many"));
    store.delete_dataset("many").unwrap();
    store.create_dataset("after_many", &many).unwrap();
    assert_ne!(born(store.dataset_dir("after_many")), large);
}

#[test]
fn hdf5_store_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("conn");
    conformance::run_all(Arc::new(DosnaStore::new(&root)));
    // Only the store's lock file, in its root, stays.
    let lock_file = root.join(".chunkwise-locks").display().to_string();
    let leftovers: Vec<_> = walk(&root)
        .into_iter()
        .filter(|p| p.contains("/.") && *p != lock_file)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The names in `dir`, sorted.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.display().to_string());
            if path.is_dir() {
                out.extend(walk(&path));
            }
        }
    }
    out
}

#[test]
fn hdf5_chunks_written_in_parts_are_hdf5_files_and_dropped_ones_leave_nothing() {
    use chunkwise::{DType, DatasetMeta, Layout, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = DosnaStore::new(dir.path().join("conn"));
    let meta = DatasetMeta::zero_filled(Layout::new(&[4, 6], &[4, 3]).unwrap(), DType::I32);
    let d = store.create_dataset("d", &meta).unwrap();
    let writer = d.chunk_writer(&[0, 1]).unwrap();
    writer
        .write_part(6, &chunkwise::ChunkData::I32(vec![7, 8, 9, 10, 11, 12]))
        .unwrap();
    writer
        .write_part(0, &chunkwise::ChunkData::I32(vec![1, 2, 3, 4, 5, 6]))
        .unwrap();
    writer.commit().unwrap();
    let file = hdf5::File::open(store.chunk_path("d", &[0, 1])).unwrap();
    let data = file.dataset("data").unwrap();
    assert_eq!(data.shape(), vec![4, 3]);
    assert_eq!(
        data.read_raw::<i32>().unwrap(),
        (1..=12).collect::<Vec<_>>()
    );

    let writer = d.chunk_writer(&[0, 0]).unwrap();
    writer
        .write_part(0, &chunkwise::ChunkData::I32(vec![0; 3]))
        .unwrap();
    drop(writer);
    let mut names: Vec<String> = std::fs::read_dir(store.dataset_dir("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // The chunks alone: no temporary, no lock file (the store has one, in its root).
    assert_eq!(names, vec!["chunk_0_1.h5", "dataset.h5"]);
}
