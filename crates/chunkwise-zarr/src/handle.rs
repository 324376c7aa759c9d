//! One Zarr array's chunks through zarrs: the codec chain encodes and decodes, the storage
//! (`atomic_fs`) writes each chunk file atomically.

use std::path::PathBuf;

use chunkwise::store::support::{
    check_chunk_data, extract_region, fmt_tuple, lock_chunk, LOCK_FILE,
};
use chunkwise::store::{ChunkRead, ChunkWrite, DatasetMeta};
use chunkwise::{with_element_type, ChunkData, Element, Error, Region, Result};
use zarrs::array::{Array, ArraySubset, CodecOptions};

use crate::atomic_fs::AtomicFs;

/// A dataset's handle: its name, metadata, and the zarrs array over the group's storage.
pub(crate) struct ZarrDataset {
    name: String,
    meta: DatasetMeta,
    root: PathBuf,
    array: Array<AtomicFs>,
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
    ) -> ZarrDataset {
        ZarrDataset {
            name: name.to_string(),
            meta,
            root,
            array,
        }
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
