//! Storage backends: where datasets and their chunks live.
//!
//! A store knows storage, not parallelism: it is called from many threads (and, for stores that
//! share data between processes, from many ranks) and keeps each call atomic. A [`Store`] is a
//! namespace of datasets; creating or opening one gives a [`DatasetHandle`] that keeps the
//! backend's per-dataset state, and chunk operations ([`ChunkRead`], [`ChunkWrite`]) go through
//! it by chunk index. Each store declares its [`Capabilities`]: whether processes share it, what
//! it reads and writes partially, how a job coordinates creation, how chunk updates are ordered.
//!
//! Guarantees every store gives (checked by `chunkwise::conformance`, feature `testing`):
//! - `write_chunk` is atomic: a reader sees the old chunk, or no chunk, or the whole new one —
//!   never part of one, even if the writer is killed; so is a chunk written in parts through
//!   `chunk_writer`, which shows nothing before its commit;
//! - `read_chunk` of a chunk never written returns `None` and creates nothing;
//! - `create_dataset` fails with [`Error::DatasetExists`] when the name is taken, and
//!   `open_dataset`/`delete_dataset` with [`Error::DatasetNotFound`] when it is not;
//! - a write that returned success is never undone by another writer: `write_chunk`,
//!   `chunk_writer` commits, `delete_chunk` and `update_chunk` on one chunk are ordered, across
//!   threads and (for stores shared between processes) across processes, so a read-modify-write
//!   never puts back a stale copy over a newer write;
//! - a dataset made by `begin_dataset` is incomplete until `finish_dataset`: `open_dataset`
//!   refuses it with [`Error::DatasetIncomplete`], `has_dataset` and `list_datasets` leave it
//!   out (`list_incomplete` lists it), and `create_dataset`/`begin_dataset` of its name replace
//!   it — so an interrupted job's output is never read as complete;
//! - whatever is found where a chunk should be and is not a chunk of the dataset (a directory, a
//!   FIFO, a dangling link, a chunk of another element type) is an error naming it, never read
//!   as the fill value and never converted;
//! - dataset names are checked by [`check_dataset_name`] before anything touches storage;
//! - hidden working entries (temporary chunks, datasets being created or deleted) of a process
//!   that died are removed by the next store opened on the same location.

mod chunk_locks;
mod chunk_writer;
pub mod ram;
mod raw_file;
pub mod support;
mod top_directory;
mod work_area;

pub use chunk_writer::{BufferedChunkWriter, ChunkWriter};
use support::{check_run_pieces, extract_region, read_run_from_whole_chunk};

use std::fmt::Debug;
use std::mem::MaybeUninit;
use std::sync::Arc;

use crate::dtype::{ChunkData, DType, Scalar};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::region::Region;

/// What a store keeps about a dataset besides its chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetMeta {
    /// Shape, chunk shape and grid.
    pub layout: Layout,
    /// Element type.
    pub dtype: DType,
    /// Value of every element of a chunk that was never written (and of edge-chunk padding).
    pub fill_value: Scalar,
}

impl DatasetMeta {
    /// Metadata with a fill value of the dataset's dtype.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] when `fill_value` is of another dtype.
    pub fn new(layout: Layout, dtype: DType, fill_value: Scalar) -> Result<Self> {
        if fill_value.dtype() != dtype {
            return Err(Error::DTypeMismatch {
                context: format!("the fill value {fill_value}"),
                stored: fill_value.dtype().to_string(),
                requested: dtype.to_string(),
            });
        }
        Ok(DatasetMeta {
            layout,
            dtype,
            fill_value,
        })
    }

    /// Metadata with the default fill value, zero.
    pub fn zero_filled(layout: Layout, dtype: DType) -> Self {
        DatasetMeta {
            layout,
            dtype,
            fill_value: Scalar::zero(dtype),
        }
    }

    /// Bytes of one stored (full) chunk.
    pub fn chunk_bytes(&self) -> usize {
        self.layout.chunk_len() * self.dtype.size()
    }
}

/// What a store can do, and how a job of several processes must use it ([`Store::capabilities`]).
///
/// Engines and [`crate::Connection`] read these instead of knowing backends by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Separate processes opening the same location see the same datasets and chunks. A
    /// connection refuses an engine of several processes on a store that is not shared.
    pub shared_between_processes: bool,
    /// [`ChunkRead::read_chunk_region`] and [`ChunkRead::read_chunk_run_into`] move only the
    /// bytes asked for; without it they read the whole chunk and copy.
    pub partial_reads: bool,
    /// [`ChunkWrite::chunk_writer`] sends parts to storage as they come; without it the parts
    /// are gathered in memory and the chunk is written whole on commit.
    pub partial_writes: bool,
    /// Who creates, finishes and deletes datasets in a job of several processes.
    pub coordination: Coordination,
    /// How concurrent changes of one chunk are ordered, so that no acknowledged write is lost.
    pub chunk_updates: ChunkUpdates,
}

/// How a job of several processes creates, finishes and deletes a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coordination {
    /// One process (rank 0) makes the change; once every rank agrees it succeeded, the others
    /// [`Store::attach_dataset`]. Stores of independent files or objects work this way.
    Root,
    /// Every process makes the same call together (a single file opened by all ranks with
    /// MPI-IO, whose metadata changes are collective).
    Collective,
}

/// How a store orders concurrent writes, updates and deletions of one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkUpdates {
    /// Locks in this process's memory: safe between threads; the store is not shared between
    /// processes.
    InProcess,
    /// Locks every process using the store sees (byte-range locks on a file of the store).
    SharedLocks,
    /// Conditional writes checked by the storage service (compare-and-swap on a version).
    Conditional,
}

/// A store: a namespace of datasets. Creating or opening a dataset gives a handle
/// ([`DatasetHandle`]) that keeps what the backend needs about the dataset (its paths, a parsed
/// header, a codec chain, an object prefix), and every chunk operation goes through it.
pub trait Store: Send + Sync + Debug {
    /// Short name of the backend (`ram`, `dosna`, …).
    fn backend(&self) -> &'static str;

    /// What the store can do and how several processes must use it.
    fn capabilities(&self) -> Capabilities;

    /// Creates an empty dataset (no chunks) and returns its handle.
    ///
    /// # Errors
    /// [`Error::DatasetExists`], [`Error::InvalidName`], or a storage error; on error nothing
    /// is left behind.
    fn create_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle>;

    /// Creates an empty dataset that stays *incomplete* until [`Store::finish_dataset`]: its
    /// chunks are written and read through the handle as usual, but `open_dataset` refuses it
    /// ([`Error::DatasetIncomplete`]) and listings leave it out. An incomplete dataset of the
    /// same name (left by an interrupted job) is replaced.
    ///
    /// # Errors
    /// As [`Store::create_dataset`].
    fn begin_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle>;

    /// The handle of a complete dataset, with the metadata the store holds.
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], [`Error::DatasetIncomplete`], or a storage error.
    fn open_dataset(&self, name: &str) -> Result<DatasetHandle>;

    /// The handle of a dataset (complete or incomplete) that another process has just created
    /// with `meta` — the other ranks' side of [`Coordination::Root`]. It may trust `meta` and
    /// touch no storage.
    ///
    /// # Errors
    /// [`Error::InvalidName`], or a storage error.
    fn attach_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle>;

    /// Makes a dataset begun with [`Store::begin_dataset`] complete, atomically: it is then
    /// opened and listed like any other. Finishing a complete dataset does nothing.
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], or a storage error.
    fn finish_dataset(&self, name: &str) -> Result<()>;

    /// Deletes a dataset (complete or incomplete) and all its chunks. Handles of it then fail
    /// with [`Error::DatasetNotFound`] (or, once a dataset of the name is created again, may
    /// reach the new one).
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], or a storage error.
    fn delete_dataset(&self, name: &str) -> Result<()>;

    /// Whether a complete dataset of that name exists.
    ///
    /// # Errors
    /// A storage error.
    fn has_dataset(&self, name: &str) -> Result<bool>;

    /// Names of all complete datasets, sorted.
    ///
    /// # Errors
    /// A storage error.
    fn list_datasets(&self) -> Result<Vec<String>>;

    /// Names of the incomplete datasets (begun, never finished: interrupted jobs' outputs, or
    /// outputs being written now), sorted.
    ///
    /// # Errors
    /// A storage error.
    fn list_incomplete(&self) -> Result<Vec<String>>;
}

/// A dataset's handle, as stores give it: shared by every thread working on the dataset.
pub type DatasetHandle = Arc<dyn ChunkStore>;

/// Reading one dataset's chunks (through its handle).
pub trait ChunkRead: Send + Sync + Debug {
    /// The dataset's name.
    fn name(&self) -> &str;

    /// The dataset's metadata.
    fn meta(&self) -> &DatasetMeta;

    /// The whole stored chunk (padded to the chunk shape), or `None` if it was never written.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`], [`Error::DatasetNotFound`], [`Error::Corrupt`] when the
    /// stored chunk has the wrong shape or type, or a storage error.
    fn read_chunk(&self, chunk: &[usize]) -> Result<Option<ChunkData>>;

    /// A region of the stored chunk (coordinates relative to the chunk's first element, inside
    /// the chunk shape), in C order, or `None` if the chunk was never written. The default
    /// reads the whole chunk; stores that can read less override it.
    ///
    /// # Errors
    /// As [`ChunkRead::read_chunk`].
    fn read_chunk_region(&self, chunk: &[usize], region: &Region) -> Result<Option<ChunkData>> {
        let Some(data) = self.read_chunk(chunk)? else {
            return Ok(None);
        };
        Ok(Some(extract_region(self.meta(), data, region)?))
    }

    /// Reads elements `first..` of the stored chunk (C order, padding included) straight into
    /// `target` (bytes of elements of the dataset's dtype), scattered: `pieces` lists, in
    /// order, `(at, count)` ranges of `target`'s elements that the run's consecutive elements
    /// go to. Returns `false`, writing nothing, when the chunk was never written. The default
    /// reads the whole chunk and copies; stores that can read into place override it.
    ///
    /// # Errors
    /// As [`ChunkRead::read_chunk`], and [`Error::ShapeMismatch`] when the run goes past the
    /// chunk or a piece past `target`.
    fn read_chunk_run_into(
        &self,
        chunk: &[usize],
        first: usize,
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> Result<bool> {
        check_run_pieces(self.meta(), first, pieces, target.len())?;
        read_run_from_whole_chunk(self, chunk, first, pieces, target)
    }

    /// Whether the chunk has been written.
    ///
    /// # Errors
    /// A storage error.
    fn has_chunk(&self, chunk: &[usize]) -> Result<bool>;

    /// Indices of all written chunks, in C order.
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], or a storage error.
    fn list_chunks(&self) -> Result<Vec<Vec<usize>>>;

    /// Bytes the written chunks take in storage, when the store knows them (compressed chunks);
    /// `None` (the default) counts them as their elements' bytes.
    ///
    /// # Errors
    /// A storage error.
    fn stored_bytes(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    /// How the store encodes the chunks (e.g. `bytes, zstd:1`), when it has a choice.
    fn encoding(&self) -> Option<String> {
        None
    }
}

/// Writing and deleting one dataset's chunks (through its handle).
pub trait ChunkWrite: ChunkRead {
    /// Atomically replaces the whole chunk; `data` has `meta().layout.chunk_len()` elements of
    /// the dataset's dtype, padded with the fill value.
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], [`Error::ShapeMismatch`]/[`Error::DTypeMismatch`] for a
    /// buffer that does not fit, or a storage error.
    fn write_chunk(&self, chunk: &[usize], data: &ChunkData) -> Result<()>;

    /// Starts replacing a chunk in parts (see [`ChunkWriter`]): the parts can be written as they
    /// are computed, and the chunk is replaced atomically by [`ChunkWriter::commit`]. The
    /// default gathers the parts in memory ([`BufferedChunkWriter`]).
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`], [`Error::DatasetNotFound`], or a storage error (here, or
    /// when writing the parts or committing).
    fn chunk_writer<'a>(&'a self, chunk: &[usize]) -> Result<Box<dyn ChunkWriter + 'a>> {
        self.meta().layout.check_chunk(chunk)?;
        Ok(Box::new(BufferedChunkWriter::new(self, chunk)))
    }

    /// Atomically replaces a chunk with `update(current)`, where `current` is the stored chunk
    /// (`None` when it was never written). Concurrent `update_chunk` calls on one chunk — from
    /// threads, or from processes sharing the store — run one after another, and a
    /// `write_chunk`, committed `chunk_writer` or `delete_chunk` of the chunk lands either
    /// before the update reads or after it writes: no write is lost.
    ///
    /// # Errors
    /// The error `update` returns, or any error of `read_chunk` and `write_chunk`.
    fn update_chunk(
        &self,
        chunk: &[usize],
        update: &mut dyn FnMut(Option<ChunkData>) -> Result<ChunkData>,
    ) -> Result<()>;

    /// Deletes a chunk; deleting a missing chunk is not an error. Returns whether it existed.
    ///
    /// # Errors
    /// A storage error.
    fn delete_chunk(&self, chunk: &[usize]) -> Result<bool>;
}

/// A dataset's chunks, read and written: what a [`DatasetHandle`] is.
pub trait ChunkStore: ChunkRead + ChunkWrite {}

impl<T: ChunkRead + ChunkWrite + ?Sized> ChunkStore for T {}

/// Checks that `store` can serve an engine of `processes` processes.
///
/// # Errors
/// [`Error::Unsupported`] naming the backend when several processes would each see their own
/// data.
pub fn check_shared(store: &dyn Store, processes: usize) -> Result<()> {
    if processes > 1 && !store.capabilities().shared_between_processes {
        return Err(Error::Unsupported(format!(
            "the {} backend keeps data in each process's own memory, so {processes} processes would \
             each see a different dataset; use a store shared between processes (such as the DosNa \
             directory store), or run with one process",
            store.backend()
        )));
    }
    Ok(())
}

/// Checks that a dataset name can be stored by every backend: 1 to 255 characters from
/// `A-Z a-z 0-9 _ - .`, not starting with `.`.
///
/// # Errors
/// [`Error::InvalidName`] naming the value and what is allowed.
pub fn check_dataset_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("the name is empty")
    } else if name.len() > 255 {
        Some("the name is longer than 255 characters")
    } else if name.starts_with('.') {
        Some("the name starts with '.'")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        Some("the name has a character other than A-Z a-z 0-9 _ - .")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(Error::InvalidName {
            name: name.to_string(),
            expected: format!(
                "{problem}; expected 1 to 255 characters from A-Z a-z 0-9 _ - . not starting with '.'"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_names() {
        for good in ["data", "input_256", "a.b-c", "X"] {
            assert!(check_dataset_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "sp ace", "é"] {
            let err = check_dataset_name(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{bad}\"")), "{err}");
        }
    }
}
