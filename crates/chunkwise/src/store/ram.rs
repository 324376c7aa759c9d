//! The in-memory store: datasets in a map, chunks as shared buffers.
//!
//! Fast and useful for tests and single-process pipelines. It lives in one process: ranks of an
//! MPI job would each see their own copy, so it reports `shared_between_processes() == false`.

use std::collections::{BTreeMap, HashMap};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::support::{check_chunk_data, check_run_pieces, copy_region, copy_run_pieces};
use super::{check_dataset_name, DatasetMeta, Store, StoreList, StoreRead, StoreWrite};
use crate::dtype::ChunkData;
use crate::error::{Error, Result};
use crate::region::Region;

#[derive(Debug)]
struct RamDataset {
    meta: DatasetMeta,
    chunks: RwLock<HashMap<Vec<usize>, Arc<ChunkData>>>,
    /// False from `begin_dataset` to `finish_dataset`.
    complete: AtomicBool,
}

/// A store that keeps everything in this process's memory.
#[derive(Debug, Default)]
pub struct RamStore {
    datasets: RwLock<BTreeMap<String, Arc<RamDataset>>>,
}

impl RamStore {
    /// An empty store.
    pub fn new() -> Self {
        RamStore::default()
    }

    fn dataset(&self, name: &str) -> Result<Arc<RamDataset>> {
        let datasets = self
            .datasets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        datasets
            .get(name)
            .cloned()
            .ok_or_else(|| Error::DatasetNotFound(name.to_string()))
    }
}

impl RamStore {
    /// The shared buffer of a stored chunk (`None`: never written), without copying it.
    fn stored(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
    ) -> Result<Option<Arc<ChunkData>>> {
        meta.layout.check_chunk(chunk)?;
        let dataset = self.dataset(name)?;
        let chunks = dataset
            .chunks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(chunks.get(chunk).cloned())
    }
}

impl RamStore {
    /// Names of the datasets that are (`complete`) or are not complete.
    fn names(&self, complete: bool) -> Vec<String> {
        let datasets = self
            .datasets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        datasets
            .iter()
            .filter(|(_, dataset)| dataset.complete.load(Ordering::Acquire) == complete)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Adds a dataset; one of the name that is incomplete is replaced, a complete one is not.
    fn add_dataset(&self, name: &str, meta: &DatasetMeta, complete: bool) -> Result<()> {
        check_dataset_name(name)?;
        let mut datasets = self
            .datasets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if datasets
            .get(name)
            .is_some_and(|dataset| dataset.complete.load(Ordering::Acquire))
        {
            return Err(Error::DatasetExists(name.to_string()));
        }
        let dataset = RamDataset {
            meta: meta.clone(),
            chunks: RwLock::new(HashMap::new()),
            complete: AtomicBool::new(complete),
        };
        datasets.insert(name.to_string(), Arc::new(dataset));
        Ok(())
    }
}

impl StoreRead for RamStore {
    fn open_dataset(&self, name: &str) -> Result<DatasetMeta> {
        check_dataset_name(name)?;
        let dataset = self.dataset(name)?;
        if !dataset.complete.load(Ordering::Acquire) {
            return Err(Error::DatasetIncomplete(name.to_string()));
        }
        Ok(dataset.meta.clone())
    }

    fn has_dataset(&self, name: &str) -> Result<bool> {
        let datasets = self
            .datasets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(datasets
            .get(name)
            .is_some_and(|dataset| dataset.complete.load(Ordering::Acquire)))
    }

    fn read_chunk(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
    ) -> Result<Option<ChunkData>> {
        Ok(self
            .stored(name, meta, chunk)?
            .map(|data| ChunkData::clone(&data)))
    }

    fn read_chunk_region(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        region: &Region,
    ) -> Result<Option<ChunkData>> {
        let stored = self.stored(name, meta, chunk)?;
        // Only the region is copied, not the whole chunk.
        stored
            .map(|data| copy_region(meta, &data, region))
            .transpose()
    }

    fn read_chunk_run_into(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        first: usize,
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> Result<bool> {
        check_run_pieces(meta, first, pieces, target.len())?;
        let stored = self.stored(name, meta, chunk)?;
        let Some(data) = stored else {
            return Ok(false);
        };
        copy_run_pieces(meta, data.as_bytes(), first, pieces, target);
        Ok(true)
    }

    fn has_chunk(&self, name: &str, chunk: &[usize]) -> Result<bool> {
        let dataset = self.dataset(name)?;
        let chunks = dataset
            .chunks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(chunks.contains_key(chunk))
    }
}

impl StoreWrite for RamStore {
    fn create_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<()> {
        self.add_dataset(name, meta, true)
    }

    fn begin_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<()> {
        self.add_dataset(name, meta, false)
    }

    fn finish_dataset(&self, name: &str) -> Result<()> {
        self.dataset(name)?.complete.store(true, Ordering::Release);
        Ok(())
    }

    fn delete_dataset(&self, name: &str) -> Result<()> {
        check_dataset_name(name)?;
        let mut datasets = self
            .datasets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        datasets
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| Error::DatasetNotFound(name.to_string()))
    }

    fn write_chunk(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        data: &ChunkData,
    ) -> Result<()> {
        check_chunk_data(name, meta, chunk, data)?;
        let dataset = self.dataset(name)?;
        let stored = Arc::new(data.clone());
        let mut chunks = dataset
            .chunks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        chunks.insert(chunk.to_vec(), stored);
        Ok(())
    }

    fn update_chunk(
        &self,
        name: &str,
        meta: &DatasetMeta,
        chunk: &[usize],
        update: &mut dyn FnMut(Option<ChunkData>) -> Result<ChunkData>,
    ) -> Result<()> {
        meta.layout.check_chunk(chunk)?;
        let dataset = self.dataset(name)?;
        // The write lock is held from the read to the write: updates run one after another.
        let mut chunks = dataset
            .chunks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = chunks.get(chunk).map(|data| ChunkData::clone(data));
        let updated = update(current)?;
        check_chunk_data(name, meta, chunk, &updated)?;
        chunks.insert(chunk.to_vec(), Arc::new(updated));
        Ok(())
    }

    fn delete_chunk(&self, name: &str, meta: &DatasetMeta, chunk: &[usize]) -> Result<bool> {
        meta.layout.check_chunk(chunk)?;
        let dataset = self.dataset(name)?;
        let mut chunks = dataset
            .chunks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(chunks.remove(chunk).is_some())
    }
}

impl StoreList for RamStore {
    fn list_datasets(&self) -> Result<Vec<String>> {
        Ok(self.names(true))
    }

    fn list_incomplete(&self) -> Result<Vec<String>> {
        Ok(self.names(false))
    }

    fn list_chunks(&self, name: &str, meta: &DatasetMeta) -> Result<Vec<Vec<usize>>> {
        let dataset = self.dataset(name)?;
        let chunks = dataset
            .chunks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut indices: Vec<Vec<usize>> = chunks.keys().cloned().collect();
        indices.sort_by_key(|index| meta.layout.chunk_flat(index));
        Ok(indices)
    }
}

impl Store for RamStore {
    fn backend(&self) -> &'static str {
        "ram"
    }

    fn shared_between_processes(&self) -> bool {
        false
    }
}
