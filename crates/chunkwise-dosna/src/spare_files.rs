//! Chunk files of deleted datasets, kept to be written over by new chunks of the same size,
//! and the emptied directories of deleted datasets, kept to become new datasets' directories.
//!
//! Why: a new file's pages are allocated in the page cache as it is written, while a file still
//! in the page cache is written over in place, which is faster (`scripts/page_cache_write.py`
//! measures both), and the deletion also freed every page again. Workflows that delete and create datasets of one chunk
//! shape over and over — benchmark repetitions, iterations, temporaries of a pipeline — pay that
//! on every chunk.
//!
//! A directory is the same story in the file system's metadata: making and removing a dataset
//! directory is on the critical path of every dataset created and deleted, where renaming a
//! kept one is a single cheap metadata change (figures: docs/perf-log/).
//!
//! Opt-in ([`super::DosnaStore::with_spare_files`]), because a deleted dataset's disk space is then
//! given back only when the store is dropped. Guarantees:
//! - spares live in `<root>/.chunkwise-spare/<bytes>/` (hidden: never a dataset), at most the
//!   configured number of bytes of them per process; emptied dataset directories that held at
//!   most [`MAX_DIR_ENTRIES`] entries in `<root>/.chunkwise-spare/dirs/`, at most [`MAX_DIRS`]
//!   per process;
//! - a spare is used only by the template path, which writes every byte of a file of that exact
//!   length (and cuts it to that length) under its temporary name before renaming it into
//!   place, so nothing of the deleted chunk can show through; a directory is kept only when
//!   empty, and taken only when still empty;
//! - processes share the spares (MPI ranks on one store): taking one is a rename, which only
//!   one taker wins;
//! - the spares this process knows of are removed when the store (its last clone) is dropped, and
//!   any left by a process that died are removed by the next store opened on the root (with
//!   spares or not), once they are a minute old.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The hidden directory of spares under a store root.
pub(super) const SPARE_DIR: &str = ".chunkwise-spare";

/// The directory of spare directories (length directories are named by numbers).
const DIRS: &str = "dirs";

/// Most emptied dataset directories one process keeps.
pub(super) const MAX_DIRS: usize = 32;

/// Most entries a kept directory held: about one 4 KiB block of ext4 entries. ext4 never
/// shrinks a directory, so reusing the emptied directory of a dataset of thousands of chunks
/// leaves the next dataset a large directory for good, where the `mkdir` it saves is one per
/// thousands of chunk files anyway.
pub(super) const MAX_DIR_ENTRIES: usize = 128;

/// A size's directory that held no spares is listed again at most this often.
const RESCAN: Duration = Duration::from_millis(50);

/// A process at its size limit checks for spares other processes took at most this often.
const FORGET: Duration = Duration::from_millis(100);

/// Spares older than this, left by a process that died, are removed.
pub(super) const STALE: Duration = Duration::from_secs(60);

static SPARE_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Default)]
struct Index {
    /// Spares known to this process, by file length.
    by_len: HashMap<u64, Vec<PathBuf>>,
    /// When each length's directory was last listed, and whether it held spares then.
    scanned: HashMap<u64, (Instant, bool)>,
    /// Bytes of the spares this process kept and still knows of.
    bytes: u64,
    /// When the spares were last checked for ones other processes took.
    checked: Option<Instant>,
    /// Spare directories this process kept and still knows of.
    dirs: Vec<PathBuf>,
}

/// The spare files of one store root.
#[derive(Debug)]
pub(super) struct SpareFiles {
    dir: PathBuf,
    capacity: u64,
    index: Mutex<Index>,
}

impl SpareFiles {
    /// Spares under `root`, at most `capacity` bytes of them kept by this process.
    pub(super) fn new(root: &Path, capacity: u64) -> SpareFiles {
        SpareFiles {
            dir: root.join(SPARE_DIR),
            capacity,
            index: Mutex::default(),
        }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn len_dir(&self, len: u64) -> PathBuf {
        self.dir.join(len.to_string())
    }

    /// Keeps the file at `path` (being deleted) as a spare if there is room; `false` when it was
    /// not kept (the caller removes it).
    pub(super) fn keep(&self, path: &Path) -> bool {
        let Ok(metadata) = fs::symlink_metadata(path) else {
            return false;
        };
        let len = metadata.len();
        if !metadata.is_file() || len == 0 {
            return false;
        }
        let mut index = self.index();
        if index.bytes + len > self.capacity {
            // Other processes may have taken some of ours: count only what is still there. At
            // most every `FORGET` (one check looks at every spare, and a deleted dataset offers
            // thousands of chunk files one after another).
            let now = Instant::now();
            if index
                .checked
                .is_none_or(|last| now.duration_since(last) >= FORGET)
            {
                forget_taken(&mut index);
                index.checked = Some(now);
            }
            if index.bytes + len > self.capacity {
                return false;
            }
        }
        let Some(spare) = move_into(&self.len_dir(len), path) else {
            return false;
        };
        index.bytes += len;
        index.by_len.entry(len).or_default().push(spare);
        true
    }

    /// A spare of exactly `len` bytes, renamed to `target` and opened for writing; `None` when
    /// there is none (or it could not be taken).
    pub(super) fn take(&self, len: u64, target: &Path) -> Option<File> {
        loop {
            let candidate = {
                let mut index = self.index();
                match index.by_len.get_mut(&len).and_then(Vec::pop) {
                    Some(path) => {
                        index.bytes = index.bytes.saturating_sub(len);
                        path
                    }
                    None => {
                        if !self.rescan(&mut index, len) {
                            return None;
                        }
                        continue;
                    }
                }
            };
            // Renamed and opened without the index locked: the threads writing a dataset's
            // chunks take their spares at once. Another process (or a thread that found the
            // same file in a rescan) may have taken it first: then try the next one.
            if fs::rename(&candidate, target).is_err() {
                if fs::symlink_metadata(&candidate).is_ok() {
                    // The spare is still there: the target's place is what failed (a dataset
                    // deleted under a writer). Keep the spare for the next chunk.
                    let mut index = self.index();
                    index.bytes = index.bytes.saturating_add(len);
                    index.by_len.entry(len).or_default().push(candidate);
                    return None;
                }
                continue;
            }
            return match fs::OpenOptions::new().write(true).open(target) {
                Ok(file) => Some(file),
                Err(_) => {
                    let _ = fs::remove_file(target);
                    None
                }
            };
        }
    }

    /// Keeps the empty directory at `path` (a deleted dataset's, which held `entries` entries)
    /// as a spare if there is room and it held at most [`MAX_DIR_ENTRIES`]; `false` when it was
    /// not kept (the caller removes it).
    pub(super) fn keep_dir(&self, path: &Path, entries: usize) -> bool {
        if entries > MAX_DIR_ENTRIES || !is_empty_dir(path) {
            return false;
        }
        let mut index = self.index();
        if index.dirs.len() >= MAX_DIRS {
            index.dirs.retain(|dir| dir.exists());
            if index.dirs.len() >= MAX_DIRS {
                return false;
            }
        }
        let Some(spare) = move_into(&self.dir.join(DIRS), path) else {
            return false;
        };
        index.dirs.push(spare);
        true
    }

    /// Renames a spare directory (empty) to `target`, which must not exist; `false` when there
    /// was none to take (the caller creates the directory). Spare directories other processes
    /// kept are not looked for: every rank of an MPI job creates datasets through rank 0.
    pub(super) fn take_dir(&self, target: &Path) -> bool {
        loop {
            // Popped under the lock, renamed without it, as files are (`take`).
            let Some(candidate) = self.index().dirs.pop() else {
                return false;
            };
            if fs::rename(&candidate, target).is_err() {
                // Taken by another process, or removed: try the next one.
                continue;
            }
            if is_empty_dir(target) {
                return true;
            }
            // Something was put into it meanwhile: never hand that out as a new dataset.
            let _ = fs::remove_dir_all(target);
        }
    }

    /// Lists `len`'s directory for spares (of other processes too), unless it was listed within
    /// [`RESCAN`] and held none then; `true` when it found any.
    fn rescan(&self, index: &mut Index, len: u64) -> bool {
        let now = Instant::now();
        if index
            .scanned
            .get(&len)
            .is_some_and(|&(last, found)| !found && now.duration_since(last) < RESCAN)
        {
            return false;
        }
        let found: Vec<PathBuf> = fs::read_dir(self.len_dir(len))
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        let any = !found.is_empty();
        index.scanned.insert(len, (now, any));
        index.by_len.entry(len).or_default().extend(found);
        any
    }
}

/// Removes the spares under store root `root` (of any process) that have been spares for longer
/// than `age`, and the spare directories left empty.
pub(super) fn remove_older_than(root: &Path, age: Duration) {
    let dir = root.join(SPARE_DIR);
    let Ok(lens) = fs::read_dir(&dir) else {
        return;
    };
    let now = SystemTime::now();
    for len_dir in lens.flatten() {
        let Ok(files) = fs::read_dir(len_dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            // A rename sets the file's change time: how long it has been a spare.
            let changed = file.metadata().ok().and_then(|m| {
                use std::os::unix::fs::MetadataExt;
                let seconds = u64::try_from(m.ctime()).ok()?;
                let nanos = u32::try_from(m.ctime_nsec()).ok()?;
                SystemTime::UNIX_EPOCH.checked_add(Duration::new(seconds, nanos))
            });
            if changed.is_some_and(|t| now.duration_since(t).unwrap_or_default() > age) {
                if file.file_type().is_ok_and(|t| t.is_dir()) {
                    // A spare directory: removed only while empty.
                    let _ = fs::remove_dir(file.path());
                } else {
                    let _ = fs::remove_file(file.path());
                }
            }
        }
        let _ = fs::remove_dir(len_dir.path());
    }
    let _ = fs::remove_dir(&dir);
}

/// Renames `path` to a name of this process's own in `dir` (made if missing); the new path, or
/// `None` when it could not be moved.
fn move_into(dir: &Path, path: &Path) -> Option<PathBuf> {
    let unique = SPARE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let spare = dir.join(format!("{}-{unique}", std::process::id()));
    fs::rename(path, &spare)
        .or_else(|_| {
            fs::create_dir_all(dir)?;
            fs::rename(path, &spare)
        })
        .ok()?;
    Some(spare)
}

/// Whether `path` is a directory with nothing in it.
fn is_empty_dir(path: &Path) -> bool {
    fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

/// Drops from `index` the spares no longer there (taken by another process).
fn forget_taken(index: &mut Index) {
    let mut bytes = 0;
    for (len, paths) in &mut index.by_len {
        paths.retain(|path| path.exists());
        bytes += len * paths.len() as u64;
    }
    index.bytes = bytes;
}

impl Drop for SpareFiles {
    fn drop(&mut self) {
        let index = self.index.get_mut().unwrap_or_else(|p| p.into_inner());
        for (len, paths) in index.by_len.drain() {
            for path in paths {
                let _ = fs::remove_file(path);
            }
            let _ = fs::remove_dir(self.dir.join(len.to_string()));
        }
        for dir in index.dirs.drain(..) {
            let _ = fs::remove_dir(dir);
        }
        let _ = fs::remove_dir(self.dir.join(DIRS));
        let _ = fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &Path, bytes: &[u8]) {
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_kept_file_is_taken_for_its_exact_length_once() {
        let root = tempfile::tempdir().unwrap();
        let spares = SpareFiles::new(root.path(), 1 << 20);
        let old = root.path().join("old");
        file(&old, &[7u8; 100]);
        assert!(spares.keep(&old));
        assert!(!old.exists());
        let target = root.path().join("new");
        assert!(spares.take(99, &target).is_none());
        let taken = spares.take(100, &target).unwrap();
        assert_eq!(taken.metadata().unwrap().len(), 100);
        assert!(target.exists());
        assert!(spares.take(100, &root.path().join("again")).is_none());
    }

    #[test]
    fn threads_taking_at_once_get_one_file_each() {
        let root = tempfile::tempdir().unwrap();
        let spares = SpareFiles::new(root.path(), 1 << 20);
        for k in 0..40 {
            let old = root.path().join(format!("old{k}"));
            file(&old, &[k as u8; 64]);
            assert!(spares.keep(&old));
        }
        let taken = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (spares, taken, root) = (&spares, &taken, root.path());
                scope.spawn(move || {
                    for k in 0..12 {
                        let target = root.join(format!("new{t}-{k}"));
                        if let Some(file) = spares.take(64, &target) {
                            assert_eq!(file.metadata().unwrap().len(), 64);
                            taken.lock().unwrap().push(fs::read(&target).unwrap()[0]);
                        }
                    }
                });
            }
        });
        // Every kept file went to exactly one taker; the takers beyond them got none.
        let mut taken = taken.into_inner().unwrap();
        taken.sort_unstable();
        assert_eq!(taken, (0..40).collect::<Vec<u8>>());
    }

    #[test]
    fn nothing_is_kept_beyond_the_capacity() {
        let root = tempfile::tempdir().unwrap();
        let spares = SpareFiles::new(root.path(), 250);
        for name in ["a", "b", "c"] {
            file(&root.path().join(name), &[1u8; 100]);
        }
        assert!(spares.keep(&root.path().join("a")));
        assert!(spares.keep(&root.path().join("b")));
        assert!(!spares.keep(&root.path().join("c")));
        assert!(root.path().join("c").exists());
        // Taking one makes room again.
        assert!(spares.take(100, &root.path().join("t")).is_some());
        assert!(spares.keep(&root.path().join("c")));
        // Room also comes back when another process takes one of ours.
        file(&root.path().join("f"), &[1u8; 100]);
        assert!(!spares.keep(&root.path().join("f")));
        let other = SpareFiles::new(root.path(), 1 << 20);
        assert!(other.take(100, &root.path().join("u")).is_some());
        // Checked at most every FORGET: not at once, then after it.
        assert!(!spares.keep(&root.path().join("f")));
        std::thread::sleep(FORGET);
        assert!(spares.keep(&root.path().join("f")));
        // Directories and empty files are never kept.
        fs::create_dir(root.path().join("d")).unwrap();
        assert!(!spares.keep(&root.path().join("d")));
        file(&root.path().join("e"), b"");
        assert!(!spares.keep(&root.path().join("e")));
    }

    #[test]
    fn an_empty_directory_is_kept_and_taken_once_a_full_one_never() {
        let root = tempfile::tempdir().unwrap();
        let spares = SpareFiles::new(root.path(), 1 << 20);
        let empty = root.path().join("empty");
        fs::create_dir(&empty).unwrap();
        let full = root.path().join("full");
        fs::create_dir(&full).unwrap();
        file(&full.join("f"), b"x");
        assert!(!spares.keep_dir(&full, 1));
        assert!(full.join("f").exists());
        assert!(!spares.keep_dir(&root.path().join("missing"), 0));
        // A directory that held many entries is not kept, empty or not.
        assert!(!spares.keep_dir(&empty, MAX_DIR_ENTRIES + 1));
        assert!(empty.exists());
        assert!(spares.keep_dir(&empty, MAX_DIR_ENTRIES));
        assert!(!empty.exists());
        let target = root.path().join("new");
        assert!(spares.take_dir(&target));
        assert!(is_empty_dir(&target));
        assert!(!spares.take_dir(&root.path().join("again")));
        assert!(!root.path().join("again").exists());
    }

    #[test]
    fn a_spare_directory_that_is_no_longer_empty_is_never_handed_out() {
        let root = tempfile::tempdir().unwrap();
        let spares = SpareFiles::new(root.path(), 1 << 20);
        let dir = root.path().join("d");
        fs::create_dir(&dir).unwrap();
        assert!(spares.keep_dir(&dir, 0));
        let kept = spares.index().dirs[0].clone();
        file(&kept.join("stray"), b"x");
        let target = root.path().join("new");
        assert!(!spares.take_dir(&target));
        assert!(!target.exists());
    }

    #[test]
    fn at_most_max_dirs_directories_are_kept_and_dropping_removes_them() {
        let root = tempfile::tempdir().unwrap();
        let spares = SpareFiles::new(root.path(), 1 << 20);
        for k in 0..=MAX_DIRS {
            let dir = root.path().join(format!("d{k}"));
            fs::create_dir(&dir).unwrap();
            assert_eq!(spares.keep_dir(&dir, 0), k < MAX_DIRS, "directory {k}");
        }
        assert!(root.path().join(format!("d{MAX_DIRS}")).exists());
        // Room comes back when one is taken.
        assert!(spares.take_dir(&root.path().join("t")));
        assert!(spares.keep_dir(&root.path().join(format!("d{MAX_DIRS}")), 0));
        drop(spares);
        assert!(!root.path().join(SPARE_DIR).exists());
    }

    #[test]
    fn another_processes_spares_are_found_and_dropping_removes_ours() {
        let root = tempfile::tempdir().unwrap();
        let keeper = SpareFiles::new(root.path(), 1 << 20);
        let taker = SpareFiles::new(root.path(), 1 << 20);
        for name in ["a", "b"] {
            file(&root.path().join(name), &[1u8; 64]);
            assert!(keeper.keep(&root.path().join(name)));
        }
        // `taker` never kept anything: it lists the directory.
        assert!(taker.take(64, &root.path().join("t1")).is_some());
        // The keeper's own list still names the taken file: it skips it and takes the other.
        assert!(keeper.take(64, &root.path().join("t2")).is_some());
        assert!(taker.take(64, &root.path().join("t3")).is_none());
        file(&root.path().join("c"), &[1u8; 64]);
        assert!(keeper.keep(&root.path().join("c")));
        drop(keeper);
        assert!(!root.path().join(SPARE_DIR).exists());
        drop(taker);
    }

    #[test]
    fn a_taker_lists_again_at_once_while_listing_finds_spares() {
        let root = tempfile::tempdir().unwrap();
        let keeper = SpareFiles::new(root.path(), 1 << 20);
        let taker = SpareFiles::new(root.path(), 1 << 20);
        let keep = |name: &str| {
            file(&root.path().join(name), &[1u8; 32]);
            assert!(keeper.keep(&root.path().join(name)));
        };
        let take = |name: &str| taker.take(32, &root.path().join(name)).is_some();
        keep("a");
        assert!(take("t1"));
        keep("b");
        assert!(take("t2"), "the last listing found spares: list again");
        assert!(!take("t3"));
        keep("c");
        assert!(
            !take("t4"),
            "the last listing found none: not again within RESCAN"
        );
        std::thread::sleep(RESCAN);
        assert!(take("t5"));
    }

    #[test]
    fn stale_spares_of_a_dead_process_are_removed_fresh_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(SPARE_DIR).join("10");
        fs::create_dir_all(&dir).unwrap();
        file(&dir.join("left"), &[0u8; 10]);
        let dirs = root.path().join(SPARE_DIR).join(DIRS);
        fs::create_dir_all(dirs.join("left-dir")).unwrap();
        // Fresh (a live process may still take it): left alone.
        remove_older_than(root.path(), STALE);
        assert!(dir.join("left").exists());
        assert!(dirs.join("left-dir").exists());
        std::thread::sleep(Duration::from_millis(20));
        remove_older_than(root.path(), Duration::from_millis(10));
        assert!(!dir.join("left").exists());
        assert!(!dirs.join("left-dir").exists());
        assert!(!root.path().join(SPARE_DIR).exists());
    }
}
