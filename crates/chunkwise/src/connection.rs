//! A connection: one store used through one engine. Datasets are opened and created here.

use std::sync::Arc;

use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::engine::{guard_panics, Engine};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::memory::MemoryBudget;
use crate::pipeline::PipelineOptions;
use crate::progress::Progress;
use crate::store::{
    check_dataset_name, check_shared, Coordination, DatasetHandle, DatasetMeta, Store,
};
use crate::timers::Timers;

/// A store and the engine that parallelises collective work on it.
#[derive(Debug, Clone)]
pub struct Connection {
    store: Arc<dyn Store>,
    engine: Arc<dyn Engine>,
    timers: Arc<Timers>,
    pipeline: PipelineOptions,
    budget: Option<Arc<MemoryBudget>>,
    progress: Arc<Progress>,
}

impl Connection {
    /// Connects `engine` to `store`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the engine has several processes
    /// and the store is not shared between them (the ram store with more than one MPI rank).
    pub fn new(store: Arc<dyn Store>, engine: Arc<dyn Engine>) -> Result<Self> {
        check_shared(store.as_ref(), engine.size())?;
        Ok(Connection {
            store,
            engine,
            timers: Arc::new(Timers::new()),
            pipeline: PipelineOptions::default(),
            budget: None,
            progress: Arc::new(Progress::new()),
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

    /// What the running operation has done so far (shared by clones of this connection), for
    /// a progress bar; see [`crate::progress`].
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    /// This connection with other read-ahead and timeout bounds for collective operations.
    pub fn with_pipeline(mut self, options: PipelineOptions) -> Self {
        self.pipeline = options;
        self
    }

    /// The same engine, timers, progress, pipeline bounds and memory budget on another store
    /// (for example the same directory opened with other write options).
    ///
    /// # Errors
    /// As [`Connection::new`].
    pub fn with_store(&self, store: Arc<dyn Store>) -> Result<Self> {
        check_shared(store.as_ref(), self.engine.size())?;
        Ok(Connection {
            store,
            ..self.clone()
        })
    }

    /// The read-ahead and timeout bounds of collective operations.
    pub fn pipeline_options(&self) -> PipelineOptions {
        self.pipeline
    }

    /// This connection with a memory budget: collective operations reserve their blocks in
    /// flight and chunk caches from it, shrinking read-ahead, workers and caches to fit (and
    /// failing with [`Error::BudgetTooSmall`] before doing any work
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

    /// Creates a dataset (collective: as the store's [`Coordination`] says, rank 0 or every
    /// rank creates; every rank returns a handle).
    ///
    /// # Errors
    /// [`Error::DatasetExists`], [`Error::InvalidName`], or a storage error — on every rank.
    pub fn create_dataset(&self, name: &str, meta: DatasetMeta) -> Result<Dataset> {
        self.make_dataset(name, meta, false)
    }

    /// Creates a dataset that stays *incomplete* until [`Dataset::finish`] (collective, as
    /// [`Connection::create_dataset`]): for outputs that are filled by a job, so that a
    /// job interrupted before the end leaves nothing that reads as a complete dataset. Opening
    /// it by name fails with [`Error::DatasetIncomplete`]
    /// until then; [`Connection::list_incomplete`] lists it; creating or beginning its name
    /// again replaces it. The handle returned reads and writes its chunks as usual.
    ///
    /// # Errors
    /// As [`Connection::create_dataset`].
    pub fn begin_dataset(&self, name: &str, meta: DatasetMeta) -> Result<Dataset> {
        self.make_dataset(name, meta, true)
    }

    /// Creates (or begins, when `incomplete`) a dataset as the store coordinates it: under
    /// [`Coordination::Root`] rank 0 creates while the others attach, and all agree on the
    /// outcome in one step; under [`Coordination::Collective`] every rank creates and all agree.
    fn make_dataset(&self, name: &str, meta: DatasetMeta, incomplete: bool) -> Result<Dataset> {
        check_dataset_name(name)?;
        let make = || {
            if incomplete {
                self.store.begin_dataset(name, &meta)
            } else {
                self.store.create_dataset(name, &meta)
            }
        };
        let local = if self.changes_namespace() {
            guard_panics(make)
        } else {
            guard_panics(|| self.store.attach_dataset(name, &meta))
        };
        let handle = self.agree_on(local)?;
        Ok(Dataset::from_handle(self.clone(), handle))
    }

    /// Whether this rank makes the store's namespace changes (creation, finishing, deletion):
    /// rank 0 alone under [`Coordination::Root`], every rank under [`Coordination::Collective`].
    fn changes_namespace(&self) -> bool {
        match self.store.capabilities().coordination {
            Coordination::Root => self.is_root(),
            Coordination::Collective => true,
        }
    }

    /// Makes every rank agree on `local`: this rank's value when every rank succeeded, else the
    /// agreed error on every rank.
    fn agree_on(&self, local: Result<DatasetHandle>) -> Result<DatasetHandle> {
        let (handle, outcome) = match local {
            Ok(handle) => (Some(handle), Ok(())),
            Err(error) => (None, Err(error)),
        };
        self.engine.agree(outcome)?;
        handle.ok_or_else(|| {
            Error::Unsupported("the engine agreed on success although this rank failed".into())
        })
    }

    /// Runs a change of the store's namespace (finishing, deleting) as the store coordinates
    /// it: on rank 0 alone or on every rank, then every rank agrees on the outcome.
    ///
    /// # Errors
    /// The agreed error, on every rank.
    pub(crate) fn coordinated(&self, change: impl FnOnce() -> Result<()>) -> Result<()> {
        let local = if self.changes_namespace() {
            guard_panics(change)
        } else {
            Ok(())
        };
        // The agreement is a barrier too: no rank goes on before the change is made.
        self.engine.agree(local)
    }

    /// Creates a dataset of element type `T`, `shape`, `chunk_shape` and fill value `fill`
    /// (collective).
    ///
    /// # Errors
    /// As [`Connection::create_dataset`], and [`Error::InvalidLayout`].
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
    /// [`Error::DatasetNotFound`], or a storage error.
    pub fn dataset(&self, name: &str) -> Result<Dataset> {
        let handle = self.store.open_dataset(name)?;
        Ok(Dataset::from_handle(self.clone(), handle))
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

    /// Deletes a dataset (complete or incomplete) and its chunks (collective, coordinated as the
    /// store says).
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], or a storage error — on every rank.
    pub fn delete_dataset(&self, name: &str) -> Result<()> {
        self.coordinated(|| self.store.delete_dataset(name))
    }
}
