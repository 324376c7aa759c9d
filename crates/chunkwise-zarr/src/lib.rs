//! Zarr V3 arrays as a chunkwise store, on the `zarrs` crate: a store is a Zarr group (a
//! directory with a group `zarr.json`), a dataset an array in it (`<group>/<name>/zarr.json`,
//! chunks under `<name>/c/i/j/k`), readable by zarr-python, TensorStore and napari unchanged.
//!
//! Guarantees, as the store trait states them:
//! - a chunk write replaces the chunk's file atomically (a temporary file renamed over it): a
//!   reader sees the old chunk or the new one, never half of one (see `atomic_fs`);
//! - a sharded array's chunkwise chunk is a whole shard, so two writers never share a shard;
//! - a dataset begun with `begin_dataset` keeps its `zarr.json` under another name
//!   (`.chunkwise-incomplete.json`) until `finish_dataset` renames it into place: until then
//!   neither chunkwise nor any Zarr reader opens it as an array;
//! - `update_chunk` holds the chunk's exclusive lock from its read to its rename, and blind
//!   writes take it shared around their rename (`chunkwise::store::support::lock_chunk`), so
//!   no acknowledged write is lost to a concurrent update, between threads or processes;
//! - a deleted dataset's directory is first renamed away, then removed: it disappears at once,
//!   and a write through an old handle fails instead of bringing part of it back.

mod atomic_fs;
mod codecs;
mod handle;
mod metadata;
mod raw_writer;

pub use codecs::{Codecs, Compression};

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chunkwise::store::support::{mark_top_directory, sweep_dead, WorkArea, WORK_DIR};
use chunkwise::store::{
    check_dataset_name, Capabilities, ChunkUpdates, Coordination, DatasetHandle, DatasetMeta, Store,
};
use chunkwise::{Error, Result};
use zarrs::array::Array;

use crate::atomic_fs::{write_atomically, AtomicFs};
use crate::handle::ZarrDataset;

/// The name a begun dataset's `zarr.json` has until it is finished.
const INCOMPLETE: &str = ".chunkwise-incomplete.json";

/// The metadata file of a Zarr node.
const ZARR_JSON: &str = "zarr.json";

/// A Zarr V3 group of arrays on the local file system.
#[derive(Debug, Clone)]
pub struct ZarrStore {
    root: PathBuf,
    codecs: Codecs,
    /// Mark a root this store creates as a top directory.
    top_directory: bool,
    /// Tags this store value's hidden working entries (temporary chunks, arrays being deleted).
    work: Arc<WorkArea>,
}

impl ZarrStore {
    /// The group in directory `root` (made, with its `zarr.json`, by the first dataset created
    /// in it). New arrays are written uncompressed (the `bytes` codec, little-endian). What
    /// processes of this host that died left under `root` (temporary chunk files, arrays half
    /// deleted) is removed now.
    pub fn new(root: impl Into<PathBuf>) -> ZarrStore {
        let root = root.into();
        sweep_dead(&root);
        ZarrStore {
            work: Arc::new(WorkArea::new(&root)),
            root,
            codecs: Codecs::default(),
            top_directory: true,
        }
    }

    /// Whether the root, when this store creates it, is marked a "top directory" for ext2/3/4
    /// (`chattr +T`, on by default), as the DosNa store does: the file system then spreads the
    /// arrays over its block groups, so that workflows that delete and create thousands of
    /// chunk files find free inodes at once instead of scanning past the ones deleted minutes
    /// before. Best effort; it changes where inodes go, never what is stored (see
    /// `chunkwise::store::support::mark_top_directory`).
    #[must_use]
    pub fn with_top_directory(mut self, on: bool) -> Self {
        self.top_directory = on;
        self
    }

    /// This store writing new arrays with `codecs` (a compressor, and sharding); arrays that
    /// exist keep their own.
    pub fn with_codecs(mut self, codecs: Codecs) -> ZarrStore {
        self.codecs = codecs;
        self
    }

    /// The group's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn storage(&self) -> Result<Arc<AtomicFs>> {
        AtomicFs::new(&self.root, self.work.clone())
            .map(Arc::new)
            .map_err(|e| storage_error(&self.root, &e.to_string()))
    }

    /// Makes the group (its directory and `zarr.json`) when missing.
    fn ensure_group(&self) -> Result<()> {
        if !self.root.exists() {
            fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
            if self.top_directory {
                mark_top_directory(&self.root);
            }
        }
        let path = self.root.join(ZARR_JSON);
        if !path.exists() {
            let text = metadata::group_json().to_string();
            write_atomically(&self.work, &self.root, &path, text.as_bytes())
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// A handle of array `name` with `meta` (no storage touched).
    fn handle(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        let json = metadata::array_json(meta, &self.codecs.json(meta)?);
        let array_metadata = serde_json::from_value(json)
            .map_err(|e| storage_error(&self.dir(name), &format!("array metadata: {e}")))?;
        let array = Array::new_with_metadata(self.storage()?, &format!("/{name}"), array_metadata)
            .map_err(|e| storage_error(&self.dir(name), &e.to_string()))?;
        Ok(Arc::new(ZarrDataset::new(
            name,
            meta.clone(),
            self.root.clone(),
            array,
            self.work.clone(),
        )))
    }

    /// Makes the directory of a new dataset with its metadata as `file`: built under a hidden
    /// name of this store's work area and renamed into place (without replacing anything), so
    /// that the array appears whole or not at all, and so that ext2/3/4 place each new array
    /// directory by its unique hidden name: placed by the array's own name, every run's
    /// `input` would land in the same block group, among the inodes the last run freed, and
    /// creating its chunk files would scan past all of them (BENCHMARKS.md).
    fn make(&self, name: &str, meta: &DatasetMeta, file: &str) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        let codecs = self.codecs.json(meta)?;
        self.ensure_group()?;
        let dir = self.dir(name);
        if fs::symlink_metadata(&dir).is_ok() {
            return Err(Error::DatasetExists(name.to_string()));
        }
        let staging = self
            .work
            .sibling(&dir, "creating")
            .map_err(|e| Error::io(self.root.join(WORK_DIR), e))?;
        let text = metadata::array_json(meta, &codecs).to_string();
        let built = fs::create_dir(&staging)
            .and_then(|()| fs::write(staging.join(file), text.as_bytes()))
            .map_err(|e| Error::io(&dir, e))
            .and_then(|()| match rename_no_replace(&staging, &dir) {
                Ok(()) => Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) => {
                    Err(Error::DatasetExists(name.to_string()))
                }
                Err(e) => Err(Error::io(&dir, e)),
            });
        if let Err(error) = built {
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
        self.handle(name, meta)
    }

    fn is_complete(&self, name: &str) -> bool {
        self.dir(name).join(ZARR_JSON).is_file()
    }

    fn is_incomplete(&self, name: &str) -> bool {
        !self.is_complete(name) && self.dir(name).join(INCOMPLETE).is_file()
    }

    /// Names of the entries of the group that are datasets (complete or not).
    fn entries(&self, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
        let listing = match fs::read_dir(&self.root) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut names = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().is_dir() && keep(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

impl Store for ZarrStore {
    fn backend(&self) -> &'static str {
        "zarr"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared_between_processes: true,
            partial_reads: false,
            partial_writes: false,
            coordination: Coordination::Root,
            chunk_updates: ChunkUpdates::SharedLocks,
        }
    }

    fn create_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        // An incomplete dataset of the name (an interrupted job's output) is replaced.
        if self.is_incomplete(name) {
            self.delete_dataset(name)?;
        }
        self.make(name, meta, ZARR_JSON)
    }

    fn begin_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        if self.is_incomplete(name) {
            self.delete_dataset(name)?;
        }
        self.make(name, meta, INCOMPLETE)
    }

    fn open_dataset(&self, name: &str) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        if !self.is_complete(name) {
            return Err(if self.is_incomplete(name) {
                Error::DatasetIncomplete(name.to_string())
            } else {
                Error::DatasetNotFound(name.to_string())
            });
        }
        let array =
            Array::open(self.storage()?, &format!("/{name}")).map_err(|e| Error::Corrupt {
                path: self.dir(name).join(ZARR_JSON),
                problem: e.to_string(),
            })?;
        let meta = metadata::dataset_meta(&self.dir(name), &array)?;
        Ok(Arc::new(ZarrDataset::new(
            name,
            meta,
            self.root.clone(),
            array,
            self.work.clone(),
        )))
    }

    fn attach_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        self.handle(name, meta)
    }

    fn finish_dataset(&self, name: &str) -> Result<()> {
        check_dataset_name(name)?;
        if self.is_complete(name) {
            return Ok(());
        }
        let dir = self.dir(name);
        match fs::rename(dir.join(INCOMPLETE), dir.join(ZARR_JSON)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::DatasetNotFound(name.to_string()))
            }
            Err(e) => Err(Error::io(dir.join(INCOMPLETE), e)),
        }
    }

    fn delete_dataset(&self, name: &str) -> Result<()> {
        check_dataset_name(name)?;
        let dir = self.dir(name);
        if !dir.join(ZARR_JSON).is_file() && !dir.join(INCOMPLETE).is_file() {
            return Err(Error::DatasetNotFound(name.to_string()));
        }
        // Renamed away first: the dataset is gone at once, whatever removing its files takes.
        let away = self
            .work
            .sibling(&dir, "deleting")
            .map_err(|e| Error::io(self.root.join(WORK_DIR), e))?;
        match fs::rename(&dir, &away) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::DatasetNotFound(name.to_string()))
            }
            Err(e) => return Err(Error::io(&dir, e)),
        }
        fs::remove_dir_all(&away).map_err(|e| Error::io(&away, e))
    }

    fn has_dataset(&self, name: &str) -> Result<bool> {
        Ok(check_dataset_name(name).is_ok() && self.is_complete(name))
    }

    fn list_datasets(&self) -> Result<Vec<String>> {
        self.entries(|name| self.is_complete(name))
    }

    fn list_incomplete(&self) -> Result<Vec<String>> {
        self.entries(|name| self.is_incomplete(name))
    }
}

/// A storage error of the group at `path`.
fn storage_error(path: &Path, detail: &str) -> Error {
    Error::io(path, std::io::Error::other(detail.to_string()))
}

/// Renames `from` to `to` unless something is at `to` (`EEXIST`); where the file system cannot
/// say so atomically, a plain rename, which still never replaces a directory that has entries.
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let path = |p: &Path| {
            CString::new(p.as_os_str().as_bytes())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
        };
        let (old, new) = (path(from)?, path(to)?);
        // SAFETY: both are NUL-terminated strings that live across the call.
        let done = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                old.as_ptr(),
                libc::AT_FDCWD,
                new.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINVAL) {
            return Err(error);
        }
    }
    fs::rename(from, to)
}

#[cfg(all(test, target_os = "linux"))]
mod top_directory_tests {
    use super::*;
    use chunkwise::{DType, Layout};

    /// `FS_TOPDIR_FL` of linux/fs.h.
    const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

    fn top(dir: &Path) -> Option<bool> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(dir).ok()?;
        let mut flags: libc::c_int = 0;
        // SAFETY: FS_IOC_GETFLAGS writes one int at the address of a live local.
        let ok = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
        (ok == 0).then_some(flags & FS_TOPDIR_FL != 0)
    }

    #[test]
    fn a_root_the_store_creates_is_a_top_directory_unless_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let meta = DatasetMeta::zero_filled(Layout::new(&[4, 4], &[2, 2]).unwrap(), DType::F32);
        for on in [true, false] {
            let root = dir.path().join(format!("group-{on}.zarr"));
            let store = ZarrStore::new(&root).with_top_directory(on);
            store.create_dataset("a", &meta).unwrap();
            match top(&root) {
                // A file system with inode flags (ext4 here): marked exactly when asked, and
                // the array directories never (so their chunk directories stay beside them).
                Some(marked) => {
                    assert_eq!(marked, on);
                    assert_eq!(top(&root.join("a")), Some(false));
                }
                // Without them (tmpfs, overlayfs), nothing is marked and nothing fails.
                None => assert_eq!(top(&root.join("a")), None),
            }
        }
    }
}
