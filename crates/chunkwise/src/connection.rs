//! A connection: one store used through one engine. Datasets are opened and created here.

use std::sync::Arc;

use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::engine::{on_root, Engine};
use crate::error::Result;
use crate::layout::Layout;
use crate::memory::MemoryBudget;
use crate::pipeline::PipelineOptions;
use crate::store::{check_dataset_name, DatasetMeta, Store};
use crate::timers::Timers;

/// A store and the engine that parallelises collective work on it.
#[derive(Debug, Clone)]
pub struct Connection {
    store: Arc<dyn Store>,
    engine: Arc<dyn Engine>,
    timers: Arc<Timers>,
    pipeline: PipelineOptions,
    budget: Option<Arc<MemoryBudget>>,
}

impl Connection {
    /// Connects `engine` to `store`.
    ///
    /// # Errors
    /// [`Error::Unsupported`](crate::Error::Unsupported) when the engine cannot use the store (e.g. the ram store with more
    /// than one MPI rank).
    pub fn new(store: Arc<dyn Store>, engine: Arc<dyn Engine>) -> Result<Self> {
        engine.check_store(store.as_ref())?;
        Ok(Connection {
            store,
            engine,
            timers: Arc::new(Timers::new()),
            pipeline: PipelineOptions::default(),
            budget: None,
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The timers every dataset of this connection records into: `read` and `write` (with
    /// bytes) for chunk I/O, `compute` for user callbacks, `barrier` for waiting on other ranks.
    pub fn timers(&self) -> &Arc<Timers> {
        &self.timers
    }

    /// This connection with other read-ahead and timeout bounds for collective operations.
    pub fn with_pipeline(mut self, options: PipelineOptions) -> Self {
        self.pipeline = options;
        self
    }

    /// The read-ahead and timeout bounds of collective operations.
    pub fn pipeline_options(&self) -> PipelineOptions {
        self.pipeline
    }

    /// This connection with a memory budget: collective operations reserve their blocks in
    /// flight and chunk caches from it, shrinking read-ahead, workers and caches to fit (and
    /// failing with [`Error::BudgetTooSmall`](crate::Error::BudgetTooSmall) before doing any work
    /// when one block per stage does not fit). The budget is per process: under MPI every rank
    /// has its own.
    pub fn with_memory_budget(mut self, budget: Arc<MemoryBudget>) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The memory budget, if any.
    pub fn memory_budget(&self) -> Option<&Arc<MemoryBudget>> {
        self.budget.as_ref()
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.engine.rank()
    }

    /// Number of processes.
    pub fn size(&self) -> usize {
        self.engine.size()
    }

    /// True on rank 0.
    pub fn is_root(&self) -> bool {
        self.engine.is_root()
    }

    /// Creates a dataset (collective: rank 0 creates, every rank returns a handle).
    ///
    /// # Errors
    /// [`Error::DatasetExists`](crate::Error::DatasetExists), [`Error::InvalidName`](crate::Error::InvalidName), or a storage error — on every rank.
    pub fn create_dataset(&self, name: &str, meta: DatasetMeta) -> Result<Dataset> {
        check_dataset_name(name)?;
        on_root(self.engine.as_ref(), || {
            self.store.create_dataset(name, &meta)
        })?;
        Ok(Dataset::from_parts(self.clone(), name.to_string(), meta))
    }

    /// Creates a dataset that stays *incomplete* until [`Dataset::finish`] (collective: rank 0
    /// creates, every rank returns a handle): for outputs that are filled by a job, so that a
    /// job interrupted before the end leaves nothing that reads as a complete dataset. Opening
    /// it by name fails with [`Error::DatasetIncomplete`](crate::Error::DatasetIncomplete)
    /// until then; [`Connection::list_incomplete`] lists it; creating or beginning its name
    /// again replaces it. The handle returned reads and writes its chunks as usual.
    ///
    /// # Errors
    /// As [`Connection::create_dataset`].
    pub fn begin_dataset(&self, name: &str, meta: DatasetMeta) -> Result<Dataset> {
        check_dataset_name(name)?;
        on_root(self.engine.as_ref(), || {
            self.store.begin_dataset(name, &meta)
        })?;
        Ok(Dataset::from_parts(self.clone(), name.to_string(), meta))
    }

    /// Creates a dataset of element type `T`, `shape`, `chunk_shape` and fill value `fill`
    /// (collective).
    ///
    /// # Errors
    /// As [`Connection::create_dataset`], and [`Error::InvalidLayout`](crate::Error::InvalidLayout).
    pub fn create<T: Element>(
        &self,
        name: &str,
        shape: &[usize],
        chunk_shape: &[usize],
        fill: T,
    ) -> Result<Dataset> {
        let layout = Layout::new(shape, chunk_shape)?;
        self.create_dataset(name, DatasetMeta::new(layout, T::DTYPE, fill.to_scalar())?)
    }

    /// Opens an existing dataset.
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`](crate::Error::DatasetNotFound), or a storage error.
    pub fn dataset(&self, name: &str) -> Result<Dataset> {
        let meta = self.store.open_dataset(name)?;
        Ok(Dataset::from_parts(self.clone(), name.to_string(), meta))
    }

    /// Whether a dataset exists.
    ///
    /// # Errors
    /// A storage error.
    pub fn has_dataset(&self, name: &str) -> Result<bool> {
        self.store.has_dataset(name)
    }

    /// Names of all complete datasets, sorted.
    ///
    /// # Errors
    /// A storage error.
    pub fn list_datasets(&self) -> Result<Vec<String>> {
        self.store.list_datasets()
    }

    /// Names of the incomplete datasets (see [`Connection::begin_dataset`]), sorted.
    ///
    /// # Errors
    /// A storage error.
    pub fn list_incomplete(&self) -> Result<Vec<String>> {
        self.store.list_incomplete()
    }

    /// Deletes a dataset (complete or incomplete) and its chunks (collective: rank 0 deletes).
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`](crate::Error::DatasetNotFound), or a storage error — on every rank.
    pub fn delete_dataset(&self, name: &str) -> Result<()> {
        on_root(self.engine.as_ref(), || self.store.delete_dataset(name))
    }
}
