//! The DosNa directory store: a directory per dataset, an HDF5 file per chunk, in DosNa's layout.
//!
//! ```text
//! <root>/<dataset>/dataset.h5              attributes only: shape (int64[ndim]),
//!                                          dtype (numpy string, e.g. '<f4'), fillvalue (scalar
//!                                          of the dtype), chunk_grid, chunk_size (int64[ndim])
//! <root>/<dataset>/chunk_<i>_<j>_<k>.h5    one dataset "data" of the full chunk shape
//! ```
//! `<root>` is the connection directory. Files are written under a hidden temporary name
//! beside their place, tagged with their writer (see `chunkwise::store::support::WorkArea`), and renamed into
//! place, so a killed writer never leaves a partial chunk or a half-created dataset, and what
//! it left is removed by the next store opened on the directory; hidden names (starting with `.`)
//! are never listed. One file per chunk also means ranks and threads never share a file, which
//! serial HDF5 requires. Changes of one chunk are ordered by byte-range locks in one hidden lock
//! file of the store, `<root>/.chunkwise-locks` (see `chunkwise::store::support::lock_chunk`), so no
//! acknowledged write is lost.
//!
//! A dataset begun as an output (`begin_dataset`) keeps its attributes in a hidden
//! `.chunkwise-incomplete.h5` instead of `dataset.h5` until it is finished (one rename), so
//! neither chunkwise nor DosNa ever takes an interrupted job's output for a dataset.
//!
//! The DosNa layout has no checksums of its own: bit rot inside a chunk's elements is detected
//! only in chunk files written with [`DosnaStore::with_checksums`] (HDF5's Fletcher-32, verified
//! by every read of such a file). Files that are not regular files where chunks should be, and
//! chunk files of another element type, are refused with an error naming them.
//!
//! HDF5's own file locks are switched off for these files: the temporary-name-and-rename
//! protocol already keeps every reader off a file being written, and the locks do harm — they
//! fail on many NFS/Lustre mounts, and a child process forked while a chunk is open (HDF5 does not
//! open files close-on-exec) inherits the lock and keeps the chunk locked after it is written.
//!
//! A root the store creates is marked as a top directory, so that ext2/3/4 spread the datasets
//! over block groups ([`DosnaStore::with_top_directory`], on by default; see
//! `chunkwise::store::support::mark_top_directory`). Reusing the chunk files and directories of deleted datasets is an
//! option, off by default ([`DosnaStore::with_spare_files`]).
//!
//! Chunk files are written and read through a per-(chunk shape, dtype) template of their
//! header (see the `template` module), so the common case needs no HDF5 call; files of any other
//! structure go through the library, whose calls the `hdf5` crate serialises.

mod chunk_writer;
pub mod h5;
mod legacy;
mod meta_files;
mod spare_files;
mod template;

use std::collections::HashMap;
use std::fs;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hdf5::types::{FixedAscii, FixedUnicode, TypeDescriptor, VarLenAscii, VarLenUnicode};
use ndarray::ArrayView1;

use chunk_writer::FileChunkWriter;
use chunkwise::dtype::{ChunkData, DType, Element};
use chunkwise::error::{fmt_tuple, Error, Result};
use chunkwise::layout::Layout;
use chunkwise::region::Region;
use chunkwise::store::support::{
    self, check_chunk_data, check_run_pieces, read_run_from_whole_chunk,
};
use chunkwise::store::support::{sweep_dead, WorkArea, WORK_DIR};
use chunkwise::store::{
    check_dataset_name, BufferedChunkWriter, Capabilities, ChunkRead, ChunkUpdates, ChunkWrite,
    ChunkWriter, Coordination, DatasetHandle, DatasetMeta, Store,
};
use chunkwise::{with_chunk_data, with_element_type};
use meta_files::MetaFiles;
use spare_files::SpareFiles;
use template::Template;

/// Name of the attributes-only file of a dataset.
pub const DATASET_FILE: &str = "dataset.h5";
/// Name of the HDF5 dataset inside a chunk file.
pub const CHUNK_DATASET: &str = "data";
/// Name of the attributes-only file of a dataset that is not finished yet.
pub const INCOMPLETE_FILE: &str = ".chunkwise-incomplete.h5";

/// Templates by (dtype, chunk shape); `None` where the library's files do not fit the scheme.
type Templates = HashMap<(DType, Vec<usize>), Option<Arc<Template>>>;

/// A store in a directory of per-chunk HDF5 files (DosNa-compatible).
#[derive(Debug, Clone)]
pub struct DosnaStore {
    root: PathBuf,
    templates: Arc<Mutex<Templates>>,
    meta_files: Arc<MetaFiles>,
    spares: Option<Arc<SpareFiles>>,
    work: Arc<WorkArea>,
    /// Chunk files are written with a Fletcher-32 checksum (see [`DosnaStore::with_checksums`]).
    checksums: bool,
    /// A root this store creates is marked a top directory (see [`DosnaStore::with_top_directory`]).
    top_directory: bool,
}

/// The chunk index of a chunk file's name `chunk_<i>_<j>….h5` (as [`DosnaStore::chunk_path`]
/// names them), if it is one.
fn chunk_of_file_name(name: &str) -> Option<Vec<usize>> {
    let index = name.strip_prefix("chunk_")?.strip_suffix(".h5")?;
    index.split('_').map(|i| i.parse().ok()).collect()
}

/// Renames the finished chunk file `temp` to `path`, the chunk `flat` of dataset `name` of the
/// store in `root`, under the chunk's shared lock (see `support::lock_chunk`). On error
/// `temp` is removed.
///
/// # Errors
/// [`Error::DatasetNotFound`], or an I/O error naming `path`.
fn rename_chunk_into_place(
    root: &Path,
    name: &str,
    flat: usize,
    temp: &Path,
    path: &Path,
) -> Result<()> {
    let renamed =
        support::lock_chunk(root, name, flat, false).and_then(|_lock| fs::rename(temp, path));
    renamed.map_err(|e| {
        let _ = fs::remove_file(temp);
        missing_dataset_or(root, name, Error::io(path, e))
    })
}

/// [`Error::DatasetNotFound`] when the directory of dataset `name` is gone (chunk writes check
/// for the dataset this way, at no cost when it is there), else `error`.
fn missing_dataset_or(root: &Path, name: &str, error: Error) -> Error {
    if root.join(name).exists() {
        error
    } else {
        Error::DatasetNotFound(name.to_string())
    }
}

/// Whether a regular file (or a link to one) is at `path`: `false` when nothing is there.
///
/// # Errors
/// [`Error::Corrupt`] naming `path` when something else is there (a directory, a FIFO, a
/// device, a dangling link), or the I/O error of looking.
fn regular_file_at(path: &Path) -> Result<bool> {
    match fs::metadata(path) {
        Ok(found) if found.is_file() => Ok(true),
        Ok(found) => Err(not_a_chunk_file(path, &found.file_type())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match fs::symlink_metadata(path) {
            Ok(_) => Err(Error::Corrupt {
                path: path.to_path_buf(),
                problem: "a dangling symbolic link is where a file should be".into(),
            }),
            Err(_) => Ok(false),
        },
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The error for something other than a regular file where a file should be.
fn not_a_chunk_file(path: &Path, found: &fs::FileType) -> Error {
    use std::os::unix::fs::FileTypeExt;
    let what = if found.is_dir() {
        "a directory"
    } else if found.is_fifo() {
        "a FIFO"
    } else if found.is_socket() {
        "a socket"
    } else if found.is_block_device() || found.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Error::Corrupt {
        path: path.to_path_buf(),
        problem: format!("{what} is where a file should be"),
    }
}

impl DosnaStore {
    /// A store rooted at the connection directory `root`. Nothing is created until the first
    /// dataset is. What processes of this host that died left behind is removed: their
    /// temporary chunk files and half-created or half-deleted datasets, and spare chunk files
    /// more than a minute old.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        sweep_dead(&root);
        legacy::sweep_legacy(&root);
        // Spare chunk files a process that died left behind (see `with_spare_files`).
        spare_files::remove_older_than(&root, spare_files::STALE);
        let work = Arc::new(WorkArea::new(&root));
        DosnaStore {
            root,
            templates: Arc::default(),
            meta_files: Arc::default(),
            spares: None,
            work,
            checksums: false,
            top_directory: true,
        }
    }

    /// Whether the root, when this store creates it, is marked a "top directory" for ext2/3/4
    /// (`chattr +T`, on by default), so that the file system spreads the datasets over its
    /// block groups: workflows that delete and create thousands of chunk files then find free
    /// inodes at once (see `chunkwise::store::support::mark_top_directory`). On by default because without it such
    /// workloads can be several times slower (BENCHMARKS.md). Best effort; it changes where
    /// inodes go, never what is stored, and only on a directory the store creates.
    #[must_use]
    pub fn with_top_directory(mut self, on: bool) -> Self {
        self.top_directory = on;
        self
    }

    /// Writes chunk files with HDF5's Fletcher-32 checksum of their elements (one HDF5 chunk
    /// per file), so that bit rot is detected: reading a damaged chunk is an error naming the
    /// file. Reads verify the checksum of every file that has one, whether this is set or not.
    /// The files stay readable by h5py and DosNa (which verify it too); writing goes through
    /// the HDF5 library instead of the chunk-file template, so it is slower (BENCHMARKS.md).
    #[must_use]
    pub fn with_checksums(mut self, on: bool) -> Self {
        self.checksums = on;
        self
    }

    /// The chunk-file template to write chunks through: none when checksums are written.
    fn write_template(&self, meta: &DatasetMeta) -> Option<Arc<Template>> {
        if self.checksums {
            None
        } else {
            self.template(meta)
        }
    }

    /// A new hidden path beside `target`, tagged with this store's owner (see `WorkArea`),
    /// for an entry made for `purpose`.
    ///
    /// # Errors
    /// An I/O error of creating the work area.
    fn work_path(&self, target: &Path, purpose: &str) -> Result<PathBuf> {
        self.work
            .sibling(target, purpose)
            .map_err(|e| Error::io(self.root.join(WORK_DIR), e))
    }

    /// Keeps up to `bytes` of the chunk files of deleted datasets (in `<root>/.chunkwise-spare`)
    /// to write new chunk files of the same size over, instead of creating files anew: chunk
    /// writes after deletions take 53–85 % of the time (see the `spare_files` module). The
    /// emptied directories of deleted datasets of at most 128 entries are kept too (up to 32),
    /// to become the directories of new datasets instead of making new ones. The disk space of
    /// deleted datasets is then given back when the store (its last clone) is dropped. 0 keeps
    /// none, as [`DosnaStore::new`] does.
    #[must_use]
    pub fn with_spare_files(mut self, bytes: u64) -> Self {
        self.spares = (bytes > 0).then(|| Arc::new(SpareFiles::new(&self.root, bytes)));
        self
    }

    /// The chunk-file template of `meta`'s chunk shape and dtype, built on first use (scratch
    /// files in the work area).
    fn template(&self, meta: &DatasetMeta) -> Option<Arc<Template>> {
        let key = (meta.dtype, meta.layout.chunk_shape().to_vec());
        let mut templates = self.templates.lock().unwrap_or_else(|p| p.into_inner());
        templates
            .entry(key)
            .or_insert_with(|| {
                let shape = meta.layout.chunk_shape();
                let scratch = || self.work.path("template").ok();
                with_element_type!(meta.dtype, T => Template::build::<T>(scratch, shape))
                    .map(Arc::new)
            })
            .clone()
    }

    /// Writes the dataset file of `meta` at `path` (new): the bytes of an earlier file of the
    /// same metadata if there is one, else through the library (and remembered).
    fn write_meta(&self, path: &Path, meta: &DatasetMeta) -> Result<()> {
        if let Some(bytes) = self.meta_files.bytes_of(meta) {
            use std::io::Write;
            return fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .and_then(|mut file| file.write_all(&bytes))
                .map_err(|e| Error::io(path, e));
        }
        write_meta_file(path, meta).map_err(|e| crate::h5::error(path, e))?;
        if let Ok(bytes) = fs::read(path) {
            self.meta_files.remember(meta, bytes);
        }
        Ok(())
    }

    /// Reads the dataset file at `path`: from the bytes of a file seen before, else through the
    /// library (remembered when the file did not change meanwhile).
    fn read_meta(&self, path: &Path) -> Result<DatasetMeta> {
        let before = fs::read(path).ok();
        if let Some(meta) = before.as_deref().and_then(|b| self.meta_files.meta_of(b)) {
            return Ok(meta);
        }
        let meta = read_meta_file(path)?;
        if let (Some(before), Ok(after)) = (before, fs::read(path)) {
            if before == after {
                self.meta_files.remember(&meta, after);
            }
        }
        Ok(meta)
    }

    /// The connection directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of a dataset.
    pub fn dataset_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// File of one chunk: `chunk_<i>_<j>_<k>.h5`.
    pub fn chunk_path(&self, name: &str, chunk: &[usize]) -> PathBuf {
        let index: Vec<String> = chunk.iter().map(|i| i.to_string()).collect();
        self.dataset_dir(name)
            .join(format!("chunk_{}.h5", index.join("_")))
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.dataset_dir(name).join(DATASET_FILE)
    }

    fn incomplete_path(&self, name: &str) -> PathBuf {
        self.dataset_dir(name).join(INCOMPLETE_FILE)
    }

    /// What is stored under `name`.
    ///
    /// # Errors
    /// [`Error::InvalidName`], or an I/O error.
    fn state_of(&self, name: &str) -> Result<DatasetState> {
        check_dataset_name(name)?;
        self.check_root()?;
        if regular_file_at(&self.meta_path(name))? {
            Ok(DatasetState::Complete)
        } else if regular_file_at(&self.incomplete_path(name))? {
            Ok(DatasetState::Incomplete)
        } else if fs::symlink_metadata(self.dataset_dir(name)).is_ok() {
            Ok(DatasetState::Other)
        } else {
            Ok(DatasetState::Absent)
        }
    }

    /// Checks that the root, if it exists, is a directory.
    ///
    /// # Errors
    /// [`Error::Unsupported`] naming the root when it is something else.
    fn check_root(&self) -> Result<()> {
        match fs::metadata(&self.root) {
            Ok(found) if !found.is_dir() => Err(Error::Unsupported(format!(
                "the store {} is not a directory; expected a directory (made on the first create) or a path that does not exist yet",
                self.root.display()
            ))),
            _ => Ok(()),
        }
    }

    /// Checks that a dataset (complete or being written) of that name exists.
    fn require_dataset(&self, name: &str) -> Result<()> {
        check_dataset_name(name).map_err(|_| Error::DatasetNotFound(name.to_string()))?;
        if self.meta_path(name).is_file() || self.incomplete_path(name).is_file() {
            Ok(())
        } else {
            Err(Error::DatasetNotFound(name.to_string()))
        }
    }

    /// Creates dataset `name` with its attributes in `meta_file` (`dataset.h5`, or the
    /// incomplete marker); an incomplete dataset of the name is replaced.
    fn add_dataset(&self, name: &str, meta: &DatasetMeta, meta_file: &str) -> Result<()> {
        let target = self.dataset_dir(name);
        match self.state_of(name)? {
            DatasetState::Absent => {}
            DatasetState::Complete => return Err(Error::DatasetExists(name.to_string())),
            DatasetState::Incomplete => self.delete(name)?,
            DatasetState::Other => {
                return Err(Error::Corrupt {
                    path: target,
                    problem: format!(
                        "is in the way of dataset \"{name}\" and is not a dataset (it has no {DATASET_FILE}); remove it or choose another name"
                    ),
                })
            }
        }
        if !self.root.exists() {
            fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
            if self.top_directory {
                chunkwise::store::support::mark_top_directory(&self.root);
            }
        }
        // Build the dataset under a hidden tagged name and rename it into place: a dataset
        // either exists whole or not at all, and two creators of one name cannot both succeed.
        let staging = self.work_path(&target, "creating")?;
        let reused = self
            .spares
            .as_ref()
            .is_some_and(|spares| spares.take_dir(&staging));
        if !reused {
            fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        let result = self
            .write_meta(&staging.join(meta_file), meta)
            .and_then(|()| {
                if target.exists() {
                    return Err(Error::DatasetExists(name.to_string()));
                }
                fs::rename(&staging, &target).map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => {
                        Error::DatasetExists(name.to_string())
                    }
                    _ => Error::io(&target, e),
                })
            });
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }
}

/// What a name of the store holds.
enum DatasetState {
    Absent,
    Complete,
    /// Begun, not finished.
    Incomplete,
    /// Something that is not a dataset.
    Other,
}

/// Creates (truncates) an HDF5 file without HDF5 file locking.
fn create_file(path: &Path) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|fapl| fapl.file_locking(false))
        .create(path)
}

/// Opens an HDF5 file read-only without HDF5 file locking.
fn open_file(path: &Path) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|fapl| fapl.file_locking(false))
        .open(path)
}

fn write_meta_file(path: &Path, meta: &DatasetMeta) -> hdf5::Result<()> {
    let file = create_file(path)?;
    let as_i64 = |values: &[usize]| -> Vec<i64> { values.iter().map(|&v| v as i64).collect() };
    let layout = &meta.layout;
    for (attr, values) in [
        ("shape", as_i64(layout.shape())),
        ("chunk_grid", as_i64(layout.grid())),
        ("chunk_size", as_i64(layout.chunk_shape())),
    ] {
        file.new_attr_builder()
            .with_data(ArrayView1::from(&values[..]))
            .create(attr)?;
    }
    let dtype: VarLenUnicode = meta
        .dtype
        .numpy_name()
        .parse()
        .map_err(|e| hdf5::Error::from(format!("dtype name: {e}")))?;
    file.new_attr::<VarLenUnicode>()
        .create("dtype")?
        .write_scalar(&dtype)?;
    with_element_type!(meta.dtype, T => {
        let fill: T = T::from_scalar(meta.fill_value).unwrap_or_default();
        file.new_attr::<T>().create("fillvalue")?.write_scalar(&fill)?;
    });
    file.close()
}

fn read_string_attr(attr: &hdf5::Attribute) -> hdf5::Result<String> {
    let first = |mut values: Vec<String>| values.drain(..).next().unwrap_or_default();
    Ok(match attr.dtype()?.to_descriptor()? {
        TypeDescriptor::VarLenUnicode => first(
            attr.read_raw::<VarLenUnicode>()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TypeDescriptor::VarLenAscii => first(
            attr.read_raw::<VarLenAscii>()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TypeDescriptor::FixedAscii(_) => first(
            attr.read_raw::<FixedAscii<64>>()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TypeDescriptor::FixedUnicode(_) => first(
            attr.read_raw::<FixedUnicode<64>>()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        other => return Err(format!("expected a string, found {other}").into()),
    })
}

fn read_meta_file(path: &Path) -> Result<DatasetMeta> {
    let corrupt = |problem: String| Error::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let h5 = |e: hdf5::Error| crate::h5::error(path, e);
    let file = open_file(path).map_err(h5)?;
    let read_dims = |name: &str| -> Result<Vec<usize>> {
        let attr = file
            .attr(name)
            .map_err(|e| corrupt(format!("attribute {name}: {e}")))?;
        let values = attr.read_raw::<i64>().map_err(h5)?;
        values
            .iter()
            .map(|&v| {
                usize::try_from(v).map_err(|_| corrupt(format!("attribute {name} holds {v}")))
            })
            .collect()
    };
    let shape = read_dims("shape")?;
    let chunk_shape = read_dims("chunk_size")?;
    let layout = Layout::new(&shape, &chunk_shape).map_err(|e| corrupt(e.to_string()))?;
    if let Ok(grid) = read_dims("chunk_grid") {
        if grid != layout.grid() {
            return Err(corrupt(format!(
                "chunk_grid {} does not match shape {} and chunk_size {}",
                fmt_tuple(&grid),
                fmt_tuple(&shape),
                fmt_tuple(&chunk_shape)
            )));
        }
    }
    let dtype_attr = file
        .attr("dtype")
        .map_err(|e| corrupt(format!("attribute dtype: {e}")))?;
    let dtype_name =
        read_string_attr(&dtype_attr).map_err(|e| corrupt(format!("attribute dtype: {e}")))?;
    let dtype: DType = dtype_name
        .parse()
        .map_err(|e: Error| corrupt(e.to_string()))?;
    // A dataset without a fill value reads as zeros, as h5py's default.
    let fill_value = match file.attr("fillvalue") {
        Ok(attr) => with_element_type!(dtype, T => {
            let values = attr.read_raw::<T>().map_err(h5)?;
            values.first().copied().unwrap_or_default().to_scalar()
        }),
        Err(_) => chunkwise::dtype::Scalar::zero(dtype),
    };
    DatasetMeta::new(layout, dtype, fill_value)
}

/// Writes a chunk file through the library; with `checksum`, `data` is one HDF5 chunk with a
/// Fletcher-32 checksum, which the library verifies on every read (by chunkwise, h5py, DosNa).
fn write_chunk_file(
    path: &Path,
    meta: &DatasetMeta,
    data: &ChunkData,
    checksum: bool,
) -> hdf5::Result<()> {
    let file = create_file(path)?;
    let shape = meta.layout.chunk_shape();
    with_chunk_data!(data, values => write_typed(&file, shape, values, checksum))?;
    file.close()
}

fn write_typed<T: Element + hdf5::H5Type>(
    file: &hdf5::File,
    shape: &[usize],
    values: &[T],
    checksum: bool,
) -> hdf5::Result<()> {
    let builder = file.new_dataset::<T>().shape(shape.to_vec());
    let builder = if checksum {
        builder.chunk(shape.to_vec()).fletcher32()
    } else {
        builder
    };
    builder.create(CHUNK_DATASET)?.write_raw(values)
}

/// Checks that a chunk file's `data` has the chunk shape and exactly the dataset's element type
/// (the library would convert another type, clamping values that do not fit).
fn check_chunk_file_shape(path: &Path, dataset: &hdf5::Dataset, meta: &DatasetMeta) -> Result<()> {
    let stored_type = dataset
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| crate::h5::error(path, e))?;
    let expected = with_element_type!(meta.dtype, T => <T as hdf5::H5Type>::type_descriptor());
    if stored_type != expected {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            problem: format!(
                "chunk holds elements of type {stored_type}; expected {} ({}), the dataset's dtype",
                meta.dtype, expected
            ),
        });
    }
    let stored_shape = dataset.shape();
    if stored_shape != meta.layout.chunk_shape() {
        return Err(Error::Corrupt {
            path: path.to_path_buf(),
            problem: format!(
                "chunk has shape {}; expected the chunk shape {}",
                fmt_tuple(&stored_shape),
                fmt_tuple(meta.layout.chunk_shape())
            ),
        });
    }
    Ok(())
}

fn read_chunk_file(path: &Path, meta: &DatasetMeta) -> Result<ChunkData> {
    let h5 = |e: hdf5::Error| crate::h5::error(path, e);
    let file = open_file(path).map_err(h5)?;
    let dataset = file.dataset(CHUNK_DATASET).map_err(h5)?;
    check_chunk_file_shape(path, &dataset, meta)?;
    Ok(with_element_type!(meta.dtype, T => T::into_chunk(dataset.read_raw::<T>().map_err(h5)?)))
}

/// What a read through the chunk-file template found.
enum TemplateRead {
    Read(ChunkData),
    /// No chunk file (the dataset exists).
    Missing,
    /// No template, or a file of another structure: the library reads it.
    Library,
}

impl DosnaStore {
    /// Elements `first..first + len` (C order) of the chunk file at `path` through the
    /// template of `meta`.
    fn read_with_template(
        &self,
        name: &str,
        meta: &DatasetMeta,
        path: &Path,
        first: usize,
        len: usize,
    ) -> Result<TemplateRead> {
        let Some(template) = self.template(meta) else {
            return Ok(TemplateRead::Library);
        };
        let read = with_element_type!(meta.dtype, T => {
            template
                .read_run::<T>(path, first, len)
                .map(|values| values.map(T::into_chunk))
        });
        match read {
            Ok(Some(values)) => Ok(TemplateRead::Read(values)),
            Ok(None) => Ok(TemplateRead::Library),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.require_dataset(name)?;
                // A dangling link is not a missing chunk.
                regular_file_at(path)?;
                Ok(TemplateRead::Missing)
            }
            Err(e) => Err(template_error(path, e)),
        }
    }
}

impl DosnaStore {
    /// The hidden file at `temp` a chunk is written into through `template`: a spare of the
    /// template's length when there is one, else a new file.
    ///
    /// # Errors
    /// Any I/O error creating the file (`AlreadyExists` when `temp` exists).
    fn chunk_file_at(&self, template: &Template, temp: &Path) -> std::io::Result<fs::File> {
        let spare = self
            .spares
            .as_ref()
            .and_then(|spares| spares.take(template.file_bytes(), temp));
        match spare {
            Some(file) => Ok(file),
            None => fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(temp),
        }
    }
}

impl DosnaStore {
    /// Replaces the chunk file of `chunk`: written under a hidden tagged name beside it, renamed
    /// into place under the chunk's shared lock (`locked`: the caller holds the chunk's
    /// exclusive lock).
    fn replace_chunk(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        data: &ChunkData,
        locked: bool,
    ) -> Result<()> {
        let path = self.chunk_path(name, chunk);
        let temp = self.work_path(&path, "chunk")?;
        let written = match self.write_template(meta) {
            Some(template) => self
                .chunk_file_at(&template, &temp)
                .and_then(
                    |file| with_chunk_data!(data, values => template.write_over(&file, values)),
                )
                .map_err(|e| Error::io(&path, e)),
            None => write_chunk_file(&temp, meta, data, self.checksums)
                .map_err(|e| crate::h5::error(&path, e)),
        };
        if let Err(error) = written {
            let _ = fs::remove_file(&temp);
            return Err(missing_dataset_or(&self.root, name, error));
        }
        if locked {
            return fs::rename(&temp, &path).map_err(|e| {
                let _ = fs::remove_file(&temp);
                Error::io(&path, e)
            });
        }
        let flat = meta.layout.chunk_flat(chunk);
        rename_chunk_into_place(&self.root, name, flat, &temp, &path)
    }
}

/// The error of a read through a template: a file that is not a regular one is named as such.
fn template_error(path: &Path, error: std::io::Error) -> Error {
    match fs::metadata(path) {
        Ok(found) if !found.is_file() => not_a_chunk_file(path, &found.file_type()),
        _ => Error::io(path, error),
    }
}

impl DosnaStore {
    /// The metadata of the complete dataset `name`.
    fn open_meta(&self, name: &str) -> Result<DatasetMeta> {
        match self.state_of(name)? {
            DatasetState::Complete => self.read_meta(&self.meta_path(name)),
            DatasetState::Incomplete => Err(Error::DatasetIncomplete(name.to_string())),
            DatasetState::Absent | DatasetState::Other => {
                Err(Error::DatasetNotFound(name.to_string()))
            }
        }
    }

    fn read_chunk_of(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
    ) -> Result<Option<ChunkData>> {
        meta.layout.check_chunk(chunk)?;
        let path = self.chunk_path(name, chunk);
        match self.read_with_template(name, meta, &path, 0, meta.layout.chunk_len())? {
            TemplateRead::Read(values) => return Ok(Some(values)),
            TemplateRead::Missing => return Ok(None),
            TemplateRead::Library => {}
        }
        if !regular_file_at(&path)? {
            self.require_dataset(name)?;
            return Ok(None);
        }
        read_chunk_file(&path, meta).map(Some)
    }

    fn read_chunk_region_of(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        region: &Region,
    ) -> Result<Option<ChunkData>> {
        meta.layout.check_chunk(chunk)?;
        if region.is_full(meta.layout.chunk_shape()) {
            return self.read_chunk_of(name, meta, chunk);
        }
        let path = self.chunk_path(name, chunk);
        // Whole planes of axis 0 are one run of the file's elements: one read of their bytes.
        if let Some((first, len)) = region.c_order_run(meta.layout.chunk_shape()) {
            match self.read_with_template(name, meta, &path, first, len)? {
                TemplateRead::Read(values) => return Ok(Some(values)),
                TemplateRead::Missing => return Ok(None),
                TemplateRead::Library => {}
            }
        }
        if !regular_file_at(&path)? {
            self.require_dataset(name)?;
            return Ok(None);
        }
        // A hyperslab read moves only the region's bytes.
        let h5 = |e: hdf5::Error| crate::h5::error(&path, e);
        let file = open_file(&path).map_err(h5)?;
        let dataset = file.dataset(CHUNK_DATASET).map_err(h5)?;
        check_chunk_file_shape(&path, &dataset, meta)?;
        Ok(Some(with_element_type!(meta.dtype, T => {
            let values = dataset.read_slice::<T, _, ndarray::IxDyn>(crate::h5::hyperslab(region)).map_err(h5)?;
            T::into_chunk(chunkwise::store::support::into_c_vec(values))
        })))
    }

    /// [`ChunkRead::read_chunk_run_into`] through the template: `None` when the file has another
    /// structure (or there is no template), so the library must read it.
    fn read_run_with_template(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        first: usize,
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> Result<Option<bool>> {
        meta.layout.check_chunk(chunk)?;
        check_run_pieces(meta, first, pieces, target.len())?;
        let path = self.chunk_path(name, chunk);
        if let Some(template) = self.template(meta) {
            match template.read_run_into(&path, (first, meta.dtype.size()), pieces, target) {
                Ok(Some(())) => return Ok(Some(true)),
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.require_dataset(name)?;
                    regular_file_at(&path)?;
                    return Ok(Some(false));
                }
                Err(e) => return Err(template_error(&path, e)),
            }
        }
        Ok(None)
    }
}

impl DosnaStore {
    fn finish(&self, name: &str) -> Result<()> {
        self.require_dataset(name)?;
        match fs::rename(self.incomplete_path(name), self.meta_path(name)) {
            Ok(()) => Ok(()),
            // Finished already.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && self.meta_path(name).is_file() =>
            {
                Ok(())
            }
            Err(e) => Err(Error::io(self.incomplete_path(name), e)),
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_dataset_name(name)?;
        self.require_dataset(name)?;
        let target = self.dataset_dir(name);
        // Rename first so the dataset disappears at once, then remove the files.
        let doomed = self.work_path(&target, "deleting")?;
        fs::rename(&target, &doomed).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::DatasetNotFound(name.to_string()),
            _ => Error::io(&target, e),
        })?;
        if let Some(spares) = &self.spares {
            // Chunk files become spares, the other files (the dataset file, lock files) are
            // removed, and the emptied directory becomes a spare too.
            let mut files_only = true;
            let mut held = 0;
            if let Ok(entries) = fs::read_dir(&doomed) {
                for entry in entries.flatten() {
                    held += 1;
                    let path = entry.path();
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        files_only = false;
                    } else if !(chunk_of_file_name(&entry.file_name().to_string_lossy()).is_some()
                        && spares.keep(&path))
                    {
                        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                    }
                }
            }
            if files_only && spares.keep_dir(&doomed, held) {
                return Ok(());
            }
        }
        fs::remove_dir_all(&doomed).map_err(|e| Error::io(&doomed, e))
    }

    fn write_chunk_of(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        data: &ChunkData,
    ) -> Result<()> {
        check_chunk_data(name, meta, chunk, data)?;
        // A missing dataset shows when the chunk is renamed into place (no stat per write).
        self.replace_chunk(name, meta, chunk, data, false)
    }

    /// A writer of `chunk` in place (in its hidden file), or `None` when chunk files are
    /// written through the library (checksums), which the caller then buffers.
    fn file_chunk_writer(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
    ) -> Result<Option<FileChunkWriter>> {
        meta.layout.check_chunk(chunk)?;
        let Some(template) = self.write_template(meta) else {
            self.require_dataset(name)?;
            return Ok(None);
        };
        let path = self.chunk_path(name, chunk);
        let temp = self.work_path(&path, "chunk")?;
        let file = self
            .chunk_file_at(&template, &temp)
            .map_err(|e| missing_dataset_or(&self.root, name, Error::io(&path, e)))?;
        let place = chunk_writer::Place {
            root: self.root.clone(),
            flat: meta.layout.chunk_flat(chunk),
            path,
            temp,
        };
        FileChunkWriter::start(name, meta, chunk, template, place, file).map(Some)
    }

    fn update_chunk_of(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        update: &mut dyn FnMut(Option<ChunkData>) -> Result<ChunkData>,
    ) -> Result<()> {
        meta.layout.check_chunk(chunk)?;
        self.require_dataset(name)?;
        // The chunk's exclusive lock from the read to the rename: updates run one after
        // another, and blind writes land before the read or after the rename.
        let _lock = support::lock_chunk(&self.root, name, meta.layout.chunk_flat(chunk), true)
            .map_err(|e| Error::io(self.root.join(support::LOCK_FILE), e))?;
        let updated = self
            .read_chunk_of(name, meta, chunk)
            .and_then(&mut *update)?;
        check_chunk_data(name, meta, chunk, &updated)?;
        self.replace_chunk(name, meta, chunk, &updated, true)
    }

    fn delete_chunk_of(&self, name: &str, meta: &DatasetMeta, chunk: &[usize]) -> Result<bool> {
        meta.layout.check_chunk(chunk)?;
        let path = self.chunk_path(name, chunk);
        let flat = meta.layout.chunk_flat(chunk);
        let removed = support::lock_chunk(&self.root, name, flat, false)
            .and_then(|_lock| fs::remove_file(&path));
        match removed {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

impl DosnaStore {
    /// Names of the directories under the root holding `meta_file`, sorted.
    fn list_with(&self, meta_file: &str) -> Result<Vec<String>> {
        self.check_root()?;
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if check_dataset_name(&name).is_ok() && entry.path().join(meta_file).is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

impl DosnaStore {
    fn list_chunks_of(&self, name: &str, meta: &DatasetMeta) -> Result<Vec<Vec<usize>>> {
        self.require_dataset(name)?;
        let dir = self.dataset_dir(name);
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut chunks = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if let Some(chunk) = chunk_of_file_name(&entry.file_name().to_string_lossy()) {
                if meta.layout.check_chunk(&chunk).is_ok() {
                    let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
                    if !kind.is_file() && !regular_file_at(&entry.path())? {
                        continue;
                    }
                    chunks.push(chunk);
                }
            }
        }
        chunks.sort_by_key(|chunk| meta.layout.chunk_flat(chunk));
        Ok(chunks)
    }
}

impl DosnaStore {
    fn handle(&self, name: &str, meta: DatasetMeta) -> DatasetHandle {
        Arc::new(DosnaDataset {
            store: self.clone(),
            name: name.to_string(),
            meta,
        })
    }
}

impl Store for DosnaStore {
    fn backend(&self) -> &'static str {
        "dosna"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared_between_processes: true,
            partial_reads: true,
            partial_writes: !self.checksums,
            coordination: Coordination::Root,
            chunk_updates: ChunkUpdates::SharedLocks,
        }
    }

    fn create_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.add_dataset(name, meta, DATASET_FILE)?;
        Ok(self.handle(name, meta.clone()))
    }

    fn begin_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.add_dataset(name, meta, INCOMPLETE_FILE)?;
        Ok(self.handle(name, meta.clone()))
    }

    fn open_dataset(&self, name: &str) -> Result<DatasetHandle> {
        let meta = self.open_meta(name)?;
        Ok(self.handle(name, meta))
    }

    fn attach_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        Ok(self.handle(name, meta.clone()))
    }

    fn finish_dataset(&self, name: &str) -> Result<()> {
        self.finish(name)
    }

    fn delete_dataset(&self, name: &str) -> Result<()> {
        self.delete(name)
    }

    fn has_dataset(&self, name: &str) -> Result<bool> {
        Ok(check_dataset_name(name).is_ok() && self.meta_path(name).is_file())
    }

    fn list_datasets(&self) -> Result<Vec<String>> {
        self.list_with(DATASET_FILE)
    }

    fn list_incomplete(&self) -> Result<Vec<String>> {
        self.list_with(INCOMPLETE_FILE)
    }
}

/// The handle of a dataset of a [`DosnaStore`].
#[derive(Debug)]
struct DosnaDataset {
    store: DosnaStore,
    name: String,
    meta: DatasetMeta,
}

impl ChunkRead for DosnaDataset {
    fn name(&self) -> &str {
        &self.name
    }

    fn meta(&self) -> &DatasetMeta {
        &self.meta
    }

    fn read_chunk(&self, chunk: &[usize]) -> Result<Option<ChunkData>> {
        self.store.read_chunk_of(&self.name, &self.meta, chunk)
    }

    fn read_chunk_region(&self, chunk: &[usize], region: &Region) -> Result<Option<ChunkData>> {
        self.store
            .read_chunk_region_of(&self.name, &self.meta, chunk, region)
    }

    fn read_chunk_run_into(
        &self,
        chunk: &[usize],
        first: usize,
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> Result<bool> {
        let read = self
            .store
            .read_run_with_template(&self.name, &self.meta, chunk, first, pieces, target)?;
        match read {
            Some(read) => Ok(read),
            // A file of another structure: through the library.
            None => read_run_from_whole_chunk(self, chunk, first, pieces, target),
        }
    }

    fn has_chunk(&self, chunk: &[usize]) -> Result<bool> {
        regular_file_at(&self.store.chunk_path(&self.name, chunk))
    }

    fn list_chunks(&self) -> Result<Vec<Vec<usize>>> {
        self.store.list_chunks_of(&self.name, &self.meta)
    }
}

impl ChunkWrite for DosnaDataset {
    fn write_chunk(&self, chunk: &[usize], data: &ChunkData) -> Result<()> {
        self.store
            .write_chunk_of(&self.name, &self.meta, chunk, data)
    }

    fn chunk_writer<'a>(&'a self, chunk: &[usize]) -> Result<Box<dyn ChunkWriter + 'a>> {
        match self
            .store
            .file_chunk_writer(&self.name, &self.meta, chunk)?
        {
            Some(writer) => Ok(Box::new(writer)),
            None => Ok(Box::new(BufferedChunkWriter::new(self, chunk))),
        }
    }

    fn update_chunk(
        &self,
        chunk: &[usize],
        update: &mut dyn FnMut(Option<ChunkData>) -> Result<ChunkData>,
    ) -> Result<()> {
        self.store
            .update_chunk_of(&self.name, &self.meta, chunk, update)
    }

    fn delete_chunk(&self, chunk: &[usize]) -> Result<bool> {
        self.store.delete_chunk_of(&self.name, &self.meta, chunk)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod top_directory_tests {
    use super::*;
    use chunkwise::store::support::mark_top_directory;
    use chunkwise::{DType, Layout};

    /// `FS_TOPDIR_FL` of linux/fs.h.
    const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

    fn has_flag(dir: &Path) -> bool {
        use std::os::fd::AsRawFd;
        let Ok(file) = std::fs::File::open(dir) else {
            return false;
        };
        let mut flags: libc::c_int = 0;
        // SAFETY: FS_IOC_GETFLAGS writes one int to a live local.
        let ok = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
        ok == 0 && flags & FS_TOPDIR_FL != 0
    }

    #[test]
    fn the_store_marks_the_root_it_creates_unless_told_not_to() {
        let dir = tempfile::tempdir().unwrap();
        let supported = mark_top_directory(dir.path());
        let meta = DatasetMeta::zero_filled(Layout::new(&[2], &[2]).unwrap(), DType::U8);
        let plain = DosnaStore::new(dir.path().join("plain")).with_top_directory(false);
        plain.create_dataset("d", &meta).unwrap();
        let marked = DosnaStore::new(dir.path().join("marked"));
        marked.create_dataset("d", &meta).unwrap();
        // A child of a top directory is not one itself: the flag is never inherited.
        assert!(!has_flag(&dir.path().join("plain")));
        assert_eq!(has_flag(&dir.path().join("marked")), supported);
    }
}
