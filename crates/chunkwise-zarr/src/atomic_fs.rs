//! The file system under a Zarr group, as zarrs' storage: reads and listings are zarrs'
//! `FilesystemStore`'s; every write goes to a temporary file beside its key (hidden, tagged with
//! its writer's `WorkArea`, so the next store opened removes a dead writer's) and is renamed
//! over it, so a reader sees a chunk (or a shard) whole, old or new, and a crash leaves no half
//! chunk. zarrs' own file system store writes in place.
//!
//! A write never makes a dataset's directory: only the directories below it (`c/0/1`), one at
//! a time, so a write through the handle of a dataset deleted meanwhile fails instead of
//! bringing back part of it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chunkwise::store::support::WorkArea;

use zarrs::filesystem::FilesystemStore;
use zarrs::storage::{
    byte_range::ByteRangeIterator, Bytes, ListableStorageTraits, MaybeBytesIterator,
    OffsetBytesIterator, ReadableStorageTraits, StorageError, StoreKey, StoreKeys,
    StoreKeysPrefixes, StorePrefix, WritableStorageTraits,
};

/// zarrs storage over the directory of a Zarr group, with atomic writes.
#[derive(Debug)]
pub(crate) struct AtomicFs {
    root: PathBuf,
    inner: FilesystemStore,
    /// Tags the temporary files with their writer, for the sweep of a dead one's.
    work: Arc<WorkArea>,
}

impl AtomicFs {
    /// The storage of the group in `root` (which must exist), its temporary files tagged by
    /// `work`.
    pub(crate) fn new(root: &Path, work: Arc<WorkArea>) -> Result<AtomicFs, StorageError> {
        let inner = FilesystemStore::new(root)
            .map_err(|e| StorageError::Other(format!("{}: {e}", root.display())))?;
        Ok(AtomicFs {
            root: root.to_path_buf(),
            inner,
            work,
        })
    }

    /// The file of `key`.
    pub(crate) fn path(&self, key: &StoreKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, tagged with
/// `work`'s owner, renamed over `path`. Directories between `base` (which must exist) and the
/// file are made one at a time.
pub(crate) fn write_atomically(
    work: &WorkArea,
    base: &Path,
    path: &Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other(format!("{} has no directory", path.display())))?;
    make_below(base, parent)?;
    let temp = work.sibling(path, "chunk")?;
    let written = fs::File::create(&temp)
        .and_then(|mut file| file.write_all(bytes))
        .and_then(|()| fs::rename(&temp, path));
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Makes the directories from `base` (which must exist) down to `dir`, one at a time.
pub(crate) fn make_below(base: &Path, dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if !base.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} does not exist", base.display()),
        ));
    }
    let below = dir.strip_prefix(base).map_err(|_| {
        std::io::Error::other(format!("{} is not under {}", dir.display(), base.display()))
    })?;
    let mut current = base.to_path_buf();
    for part in below.components() {
        current.push(part);
        match fs::create_dir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The dataset directory a key lies in (its first component).
fn dataset_dir(root: &Path, key: &StoreKey) -> PathBuf {
    let first = key.as_str().split('/').next().unwrap_or_default();
    root.join(first)
}

impl ReadableStorageTraits for AtomicFs {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        self.inner.get_partial_many(key, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.inner.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.inner.supports_get_partial()
    }
}

impl ListableStorageTraits for AtomicFs {
    fn list(&self) -> Result<StoreKeys, StorageError> {
        self.inner.list()
    }

    fn list_prefix(&self, prefix: &StorePrefix) -> Result<StoreKeys, StorageError> {
        self.inner.list_prefix(prefix)
    }

    fn list_dir(&self, prefix: &StorePrefix) -> Result<StoreKeysPrefixes, StorageError> {
        self.inner.list_dir(prefix)
    }

    fn size_prefix(&self, prefix: &StorePrefix) -> Result<u64, StorageError> {
        self.inner.size_prefix(prefix)
    }
}

impl WritableStorageTraits for AtomicFs {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        let base = dataset_dir(&self.root, key);
        write_atomically(&self.work, &base, &self.path(key), &value)
            .map_err(|e| StorageError::IOError(std::sync::Arc::new(e)))
    }

    /// Partial writes would change a file in place; chunkwise writes whole chunks (and whole
    /// shards), so none is ever asked for.
    fn set_partial_many(
        &self,
        key: &StoreKey,
        _offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        Err(StorageError::Unsupported(format!(
            "partial writes of {key} (chunkwise writes whole chunks)"
        )))
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        match fs::remove_file(self.path(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StorageError::IOError(std::sync::Arc::new(e))),
        }
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.inner.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        false
    }
}
