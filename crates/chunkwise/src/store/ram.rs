//! The in-memory store: datasets in a map, chunks as shared buffers.
//!
//! Fast and useful for tests and single-process pipelines. It lives in one process: ranks of an
//! MPI job would each see their own copy, so it declares itself not shared between processes.

use std::collections::{BTreeMap, HashMap};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::support::{check_chunk_data, check_run_pieces, copy_region, copy_run_pieces};
use super::{
    check_dataset_name, Capabilities, ChunkRead, ChunkUpdates, ChunkWrite, Coordination,
    DatasetHandle, DatasetMeta, Store,
};
use crate::dtype::ChunkData;
use crate::error::{Error, Result};
use crate::region::Region;

type Chunks = RwLock<HashMap<Vec<usize>, Arc<ChunkData>>>;

#[derive(Debug)]
struct RamDataset {
    meta: DatasetMeta,
    chunks: Chunks,
    /// False from `begin_dataset` to `finish_dataset`.
    complete: AtomicBool,
}

type Datasets = Arc<RwLock<BTreeMap<String, Arc<RamDataset>>>>;

/// A store that keeps everything in this process's memory.
#[derive(Debug, Default)]
pub struct RamStore {
    datasets: Datasets,
}

/// The handle of a dataset of a [`RamStore`]: it finds the dataset by name on every call, so a
/// handle of a deleted dataset fails with [`Error::DatasetNotFound`] (as on shared stores, where
/// another process may delete it).
#[derive(Debug)]
struct RamHandle {
    datasets: Datasets,
    name: String,
    meta: DatasetMeta,
}

/// The dataset `name` of `datasets`.
fn dataset(datasets: &Datasets, name: &str) -> Result<Arc<RamDataset>> {
    let datasets = datasets
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    datasets
        .get(name)
        .cloned()
        .ok_or_else(|| Error::DatasetNotFound(name.to_string()))
}

impl RamStore {
    /// An empty store.
    pub fn new() -> Self {
        RamStore::default()
    }

    fn handle(&self, name: &str, meta: &DatasetMeta) -> DatasetHandle {
        Arc::new(RamHandle {
            datasets: Arc::clone(&self.datasets),
            name: name.to_string(),
            meta: meta.clone(),
        })
    }

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
    fn add_dataset(&self, name: &str, meta: &DatasetMeta, complete: bool) -> Result<DatasetHandle> {
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
        Ok(self.handle(name, meta))
    }
}

impl Store for RamStore {
    fn backend(&self) -> &'static str {
        "ram"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            shared_between_processes: false,
            partial_reads: true,
            partial_writes: false,
            coordination: Coordination::Root,
            chunk_updates: ChunkUpdates::InProcess,
        }
    }

    fn create_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.add_dataset(name, meta, true)
    }

    fn begin_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        self.add_dataset(name, meta, false)
    }

    fn open_dataset(&self, name: &str) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        let found = dataset(&self.datasets, name)?;
        if !found.complete.load(Ordering::Acquire) {
            return Err(Error::DatasetIncomplete(name.to_string()));
        }
        Ok(self.handle(name, &found.meta))
    }

    fn attach_dataset(&self, name: &str, meta: &DatasetMeta) -> Result<DatasetHandle> {
        check_dataset_name(name)?;
        Ok(self.handle(name, meta))
    }

    fn finish_dataset(&self, name: &str) -> Result<()> {
        dataset(&self.datasets, name)?
            .complete
            .store(true, Ordering::Release);
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

    fn has_dataset(&self, name: &str) -> Result<bool> {
        let datasets = self
            .datasets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(datasets
            .get(name)
            .is_some_and(|dataset| dataset.complete.load(Ordering::Acquire)))
    }

    fn list_datasets(&self) -> Result<Vec<String>> {
        Ok(self.names(true))
    }

    fn list_incomplete(&self) -> Result<Vec<String>> {
        Ok(self.names(false))
    }
}

impl RamHandle {
    /// The dataset, if it is still the one of this handle (a dataset of the name created
    /// again with other metadata is not).
    fn dataset(&self) -> Result<Arc<RamDataset>> {
        let found = dataset(&self.datasets, &self.name)?;
        if found.meta != self.meta {
            return Err(Error::DatasetNotFound(self.name.clone()));
        }
        Ok(found)
    }

    /// The shared buffer of a stored chunk (`None`: never written), without copying it.
    fn stored(&self, chunk: &[usize]) -> Result<Option<Arc<ChunkData>>> {
        self.meta.layout.check_chunk(chunk)?;
        let dataset = self.dataset()?;
        let chunks = dataset
            .chunks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(chunks.get(chunk).cloned())
    }
}

impl ChunkRead for RamHandle {
    fn name(&self) -> &str {
        &self.name
    }

    fn meta(&self) -> &DatasetMeta {
        &self.meta
    }

    fn read_chunk(&self, chunk: &[usize]) -> Result<Option<ChunkData>> {
        Ok(self.stored(chunk)?.map(|data| ChunkData::clone(&data)))
    }

    fn read_chunk_region(&self, chunk: &[usize], region: &Region) -> Result<Option<ChunkData>> {
        let stored = self.stored(chunk)?;
        // Only the region is copied, not the whole chunk.
        stored
            .map(|data| copy_region(&self.meta, &data, region))
            .transpose()
    }

    fn read_chunk_run_into(
        &self,
        chunk: &[usize],
        first: usize,
        pieces: &[(usize, usize)],
        target: &mut [MaybeUninit<u8>],
    ) -> Result<bool> {
        check_run_pieces(&self.meta, first, pieces, target.len())?;
        let Some(data) = self.stored(chunk)? else {
            return Ok(false);
        };
        copy_run_pieces(&self.meta, data.as_bytes(), first, pieces, target);
        Ok(true)
    }

    fn has_chunk(&self, chunk: &[usize]) -> Result<bool> {
        let dataset = self.dataset()?;
        let chunks = dataset
            .chunks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(chunks.contains_key(chunk))
    }

    fn list_chunks(&self) -> Result<Vec<Vec<usize>>> {
        let dataset = self.dataset()?;
        let chunks = dataset
            .chunks
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut indices: Vec<Vec<usize>> = chunks.keys().cloned().collect();
        indices.sort_by_key(|index| self.meta.layout.chunk_flat(index));
        Ok(indices)
    }
}

impl ChunkWrite for RamHandle {
    fn write_chunk(&self, chunk: &[usize], data: &ChunkData) -> Result<()> {
        check_chunk_data(&self.name, &self.meta, chunk, data)?;
        let dataset = self.dataset()?;
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
        chunk: &[usize],
        update: &mut dyn FnMut(Option<ChunkData>) -> Result<ChunkData>,
    ) -> Result<()> {
        self.meta.layout.check_chunk(chunk)?;
        let dataset = self.dataset()?;
        // The write lock is held from the read to the write: updates run one after another.
        let mut chunks = dataset
            .chunks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = chunks.get(chunk).map(|data| ChunkData::clone(data));
        let updated = update(current)?;
        check_chunk_data(&self.name, &self.meta, chunk, &updated)?;
        chunks.insert(chunk.to_vec(), Arc::new(updated));
        Ok(())
    }

    fn delete_chunk(&self, chunk: &[usize]) -> Result<bool> {
        self.meta.layout.check_chunk(chunk)?;
        let dataset = self.dataset()?;
        let mut chunks = dataset
            .chunks
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(chunks.remove(chunk).is_some())
    }
}
