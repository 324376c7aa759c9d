//! One Zarr array's chunks through zarrs: the codec chain encodes and decodes, the storage
//! (`atomic_fs`) writes each chunk file atomically.
//!
//! An array whose only codec is `bytes` (little-endian, on a little-endian machine) and that has
//! no storage transformer keeps each chunk as a file of its elements as they lie in memory:
//! those chunk files are written from the chunk's own buffer and read straight into place
//! (`read_chunk_run_into`), as the DosNa store does, instead of through zarrs' encoded copies.
//! Guarantees of that fast path:
//! - the file is the one zarrs would write: the full (padded) chunk, C order, little-endian,
//!   written atomically (temporary file and rename) as every other chunk;
//! - a file of another length, or anything but a regular file, is an error naming it, never
//!   read as elements.

use std::fs::File;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chunkwise::store::support::{
    check_chunk_data, check_run_pieces, element_bytes, extract_region, fmt_tuple, lock_chunk,
    read_elements_at, read_run_from_whole_chunk, read_scattered_at, WorkArea, LOCK_FILE,
};
use chunkwise::store::{BufferedChunkWriter, ChunkRead, ChunkWrite, ChunkWriter, DatasetMeta};
use chunkwise::{with_element_type, ChunkData, Element, Error, Region, Result};
use zarrs::array::{Array, ArraySubset, CodecOptions};

use crate::atomic_fs::{write_atomically, AtomicFs};
use crate::raw_writer::RawChunkWriter;

/// A dataset's handle: its name, metadata, and the zarrs array over the group's storage.
pub(crate) struct ZarrDataset {
    name: String,
    meta: DatasetMeta,
    root: PathBuf,
    array: Array<AtomicFs>,
    /// Tags this store's temporary files.
    work: Arc<WorkArea>,
    /// Chunk files are the chunks' elements as they lie in memory (see the module docs).
    raw: bool,
}

impl std::fmt::Debug for ZarrDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZarrDataset")
            .field("name", &self.name)
            .field("root", &self.root)
            .finish()
    }
}

impl ZarrDataset {
    pub(crate) fn new(
        name: &str,
        meta: DatasetMeta,
        root: PathBuf,
        array: Array<AtomicFs>,
        work: Arc<WorkArea>,
    ) -> ZarrDataset {
        let raw = raw_chunk_files(&array);
        ZarrDataset {
            name: name.to_string(),
            meta,
            root,
            array,
            work,
            raw,
        }
    }

    /// The open chunk file of a raw array, checked to be a regular file of the chunk's bytes;
    /// `None` when the chunk was never written.
    fn open_raw(&self, indices: &[u64]) -> Result<Option<File>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.chunk_path(indices);
        // Non-blocking, so that a FIFO where a chunk should be cannot stall the open.
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.check_exists()?;
                return Ok(None);
            }
            Err(e) => return Err(self.chunk_error(indices, e)),
        };
        let found = file.metadata().map_err(|e| Error::io(&path, e))?;
        let expected = self.meta.chunk_bytes() as u64;
        if !found.is_file() || found.len() != expected {
            return Err(Error::Corrupt {
                path,
                problem: format!(
                    "chunk {indices:?} of array \"{}\" is {}, expected a file of {expected} bytes (the chunk's elements, uncompressed)",
                    self.name,
                    if found.is_file() {
                        format!("a file of {} bytes", found.len())
                    } else {
                        "not a regular file".to_string()
                    }
                ),
            });
        }
        Ok(Some(file))
    }

    fn dir(&self) -> PathBuf {
        self.root.join(&self.name)
    }

    /// Fails with [`Error::DatasetNotFound`] when the dataset was deleted.
    fn check_exists(&self) -> Result<()> {
        if self.dir().is_dir() {
            Ok(())
        } else {
            Err(Error::DatasetNotFound(self.name.clone()))
        }
    }

    fn indices(&self, chunk: &[usize]) -> Result<Vec<u64>> {
        self.meta.layout.check_chunk(chunk)?;
        Ok(chunk.iter().map(|&i| i as u64).collect())
    }

    /// The file of a chunk.
    fn chunk_path(&self, indices: &[u64]) -> PathBuf {
        self.root.join(self.array.chunk_key(indices).as_str())
    }

    /// The error of a failed zarrs call on a chunk: the dataset gone, or the chunk's file.
    fn chunk_error(&self, indices: &[u64], error: impl std::fmt::Display) -> Error {
        if !self.dir().is_dir() {
            return Error::DatasetNotFound(self.name.clone());
        }
        Error::Corrupt {
            path: self.chunk_path(indices),
            problem: error.to_string(),
        }
    }

    fn lock(
        &self,
        chunk: &[usize],
        exclusive: bool,
    ) -> Result<chunkwise::store::support::ChunkLock> {
        let flat = self.meta.layout.chunk_flat(chunk);
        lock_chunk(&self.root, &self.name, flat, exclusive)
            .map_err(|e| Error::io(self.root.join(LOCK_FILE), e))
    }

    fn read(&self, indices: &[u64]) -> Result<Option<ChunkData>> {
        if self.raw {
            let Some(file) = self.open_raw(indices)? else {
                return Ok(None);
            };
            let len = self.meta.layout.chunk_len();
            return with_element_type!(self.meta.dtype, T => {
                read_elements_at::<T>(&file, 0, len)
                    .map(|values| Some(T::into_chunk(values)))
                    .map_err(|e| self.chunk_error(indices, e))
            });
        }
        with_element_type!(self.meta.dtype, T => {
            let values = self
                .array
                .retrieve_chunk_if_exists::<Vec<T>>(indices)
                .map_err(|e| self.chunk_error(indices, e))?;
            Ok(values.map(T::into_chunk))
        })
    }

    fn write(&self, indices: &[u64], data: &ChunkData) -> Result<()> {
        // Written even when every element is the fill value, so that the chunk counts as
        // written (zarrs would erase it).
        let options = CodecOptions::default().with_store_empty_chunks(true);
        with_element_type!(self.meta.dtype, T => {
            let values = T::chunk_slice(data).ok_or_else(|| Error::DTypeMismatch {
                context: format!("a chunk of dataset \"{}\"", self.name),
                stored: self.meta.dtype.to_string(),
                requested: data.dtype().to_string(),
            })?;
            if self.raw {
                return write_atomically(&self.work, &self.dir(), &self.chunk_path(indices), element_bytes(values))
                    .map_err(|e| self.chunk_error(indices, e));
            }
            self.array
                .store_chunk_opt(indices, values, &options)
                .map_err(|e| self.chunk_error(indices, e))
        })
    }
}

impl ChunkRead for ZarrDataset {
    fn name(&self) -> &str {
        &self.name
    }

    fn meta(&self) -> &DatasetMeta {
        &self.meta
    }

    fn read_chunk(&self, chunk: &[usize]) -> Result<Option<ChunkData>> {
        let indices = self.indices(chunk)?;
        self.check_exists()?;
        self.read(&indices)
    }

    /// A box (step 1) is decoded alone: a shard's index and the inner chunks it touches, or
    /// the byte ranges of an uncompressed chunk; other regions are cut from the whole chunk.
    fn read_chunk_region(&self, chunk: &[usize], region: &Region) -> Result<Option<ChunkData>> {
        let indices = self.indices(chunk)?;
        self.check_exists()?;
        let shape = self.meta.layout.chunk_shape();
        if !region.fits(shape) {
            return Err(Error::ShapeMismatch {
                context: format!("a region of chunk {chunk:?} of dataset \"{}\"", self.name),
                expected: format!("a region inside {}", fmt_tuple(shape)),
                got: format!("{region:?}"),
            });
        }
        if region.is_full(shape) || region.axes().iter().any(|axis| axis.step != 1) {
            return self
                .read(&indices)?
                .map(|data| extract_region(&self.meta, data, region))
                .transpose();
        }
        if !self.chunk_path(&indices).is_file() {
            return Ok(None);
        }
        let ranges: Vec<std::ops::Range<u64>> = region
            .axes()
            .iter()
            .map(|axis| axis.start as u64..axis.end() as u64)
            .collect();
        let subset = ArraySubset::new_with_ranges(&ranges);
        with_element_type!(self.meta.dtype, T => {
            let values = self
                .array
                .retrieve_chunk_subset::<Vec<T>>(&indices, &subset)
                .map_err(|e| self.chunk_error(&indices, e))?;
            Ok(Some(T::into_chunk(values)))
        })
    }

    fn read_chunk_run_into(
        &self,
        chunk: &[usize],
        first: usize,
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> Result<bool> {
        let indices = self.indices(chunk)?;
        check_run_pieces(&self.meta, first, pieces, target.len())?;
        if !self.raw {
            return read_run_from_whole_chunk(self, chunk, first, pieces, target);
        }
        let Some(file) = self.open_raw(&indices)? else {
            return Ok(false);
        };
        let size = self.meta.dtype.size();
        read_scattered_at(&file, (first * size) as u64, size, pieces, target)
            .map_err(|e| self.chunk_error(&indices, e))?;
        Ok(true)
    }

    fn has_chunk(&self, chunk: &[usize]) -> Result<bool> {
        let indices = self.indices(chunk)?;
        Ok(self.chunk_path(&indices).is_file())
    }

    fn stored_bytes(&self) -> Result<Option<u64>> {
        let mut total = 0;
        for chunk in self.list_chunks()? {
            let indices: Vec<u64> = chunk.iter().map(|&i| i as u64).collect();
            let path = self.chunk_path(&indices);
            total += std::fs::metadata(&path)
                .map_err(|e| Error::io(&path, e))?
                .len();
        }
        Ok(Some(total))
    }

    /// The codec names of the array's chain (sharding with its inner codecs), e.g.
    /// `sharding_indexed(8×8 chunks: bytes, zstd)`.
    fn encoding(&self) -> Option<String> {
        let metadata = serde_json::to_value(self.array.metadata()).ok()?;
        Some(describe(&metadata["codecs"]))
    }

    fn list_chunks(&self) -> Result<Vec<Vec<usize>>> {
        self.check_exists()?;
        let mut chunks: Vec<Vec<usize>> = self
            .meta
            .layout
            .chunk_indices()
            .filter(|chunk| {
                let indices: Vec<u64> = chunk.iter().map(|&i| i as u64).collect();
                self.chunk_path(&indices).is_file()
            })
            .collect();
        chunks.sort();
        Ok(chunks)
    }
}

impl ChunkWrite for ZarrDataset {
    fn write_chunk(&self, chunk: &[usize], data: &ChunkData) -> Result<()> {
        let indices = self.indices(chunk)?;
        check_chunk_data(&self.name, &self.meta, chunk, data)?;
        self.check_exists()?;
        let _lock = self.lock(chunk, false)?;
        self.write(&indices, data)
    }

    /// Uncompressed chunks are written in parts straight into their temporary file
    /// ([`RawChunkWriter`]); encoded ones are gathered and written whole.
    fn chunk_writer<'a>(&'a self, chunk: &[usize]) -> Result<Box<dyn ChunkWriter + 'a>> {
        let indices = self.indices(chunk)?;
        if !self.raw {
            return Ok(Box::new(BufferedChunkWriter::new(self, chunk)));
        }
        let path = self.chunk_path(&indices);
        let owned = chunk.to_vec();
        let publish = Box::new(move |temp: &Path, path: &Path| {
            let _lock = self.lock(&owned, false)?;
            std::fs::rename(temp, path).map_err(|e| self.chunk_error(&indices, e))
        });
        let writer = RawChunkWriter::start(
            &self.name,
            &self.meta,
            chunk,
            (&self.work, &self.dir(), path),
            publish,
        )
        .map_err(|e| match self.check_exists() {
            Ok(()) => e,
            Err(missing) => missing,
        })?;
        Ok(Box::new(writer))
    }

    fn update_chunk(
        &self,
        chunk: &[usize],
        update: &mut dyn FnMut(Option<ChunkData>) -> Result<ChunkData>,
    ) -> Result<()> {
        let indices = self.indices(chunk)?;
        self.check_exists()?;
        let _lock = self.lock(chunk, true)?;
        let current = self.read(&indices)?;
        let next = update(current)?;
        check_chunk_data(&self.name, &self.meta, chunk, &next)?;
        self.write(&indices, &next)
    }

    fn delete_chunk(&self, chunk: &[usize]) -> Result<bool> {
        let indices = self.indices(chunk)?;
        self.check_exists()?;
        let _lock = self.lock(chunk, false)?;
        let path = self.chunk_path(&indices);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&path, e)),
        }
    }
}

/// A codec chain as text: names with their main setting.
fn describe(codecs: &serde_json::Value) -> String {
    let Some(list) = codecs.as_array() else {
        return codecs.to_string();
    };
    list.iter()
        .map(|codec| {
            let name = codec["name"].as_str().unwrap_or("?");
            let configuration = &codec["configuration"];
            match name {
                "sharding_indexed" => {
                    let inner = configuration["chunk_shape"]
                        .as_array()
                        .map(|dims| {
                            dims.iter()
                                .map(|d| d.to_string())
                                .collect::<Vec<_>>()
                                .join("×")
                        })
                        .unwrap_or_default();
                    format!(
                        "sharding ({inner} chunks: {})",
                        describe(&configuration["codecs"])
                    )
                }
                "gzip" | "zstd" => format!("{name}:{}", configuration["level"]),
                "blosc" => format!(
                    "blosc:{}:{}:{}",
                    configuration["cname"].as_str().unwrap_or("?"),
                    configuration["clevel"],
                    configuration["shuffle"].as_str().unwrap_or("?")
                ),
                other => other.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `array`'s chunk files are its chunks' elements as they lie in memory: the `bytes`
/// codec alone, little-endian (or without endianness, for one-byte types), on a little-endian
/// machine, and no storage transformer.
fn raw_chunk_files(array: &Array<AtomicFs>) -> bool {
    let Ok(metadata) = serde_json::to_value(array.metadata()) else {
        return false;
    };
    let transformers = metadata["storage_transformers"]
        .as_array()
        .is_none_or(|list| list.is_empty());
    let only_bytes = match metadata["codecs"].as_array().map(Vec::as_slice) {
        Some([codec]) => {
            codec["name"] == "bytes"
                && matches!(
                    codec["configuration"]["endian"].as_str(),
                    None | Some("little")
                )
        }
        _ => false,
    };
    cfg!(target_endian = "little") && transformers && only_bytes
}
