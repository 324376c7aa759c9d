//! A dataset handle: metadata plus region reads and writes.
//!
//! Reads and writes of a region are plain (not collective): the calling process reads or writes
//! exactly the chunks the region touches. Missing chunks read as the fill value and reading never
//! creates anything. Collective operations are in the private `collective` module.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};

use crate::array::{check_dtype, check_shape, chunk_array, into_c_vec, padded_chunk};
use crate::connection::Connection;
use crate::dtype::{DType, Element, Scalar};
use crate::error::{fmt_tuple, Error, Result};
use crate::layout::{ChunkPart, Layout};
use crate::region::Region;
use crate::selection::{Resolved, Selection};
use crate::store::{DatasetHandle, DatasetMeta};

/// An N-d array stored as a grid of chunks.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub(crate) connection: Connection,
    /// The store's handle: every chunk read and write goes through it.
    pub(crate) handle: DatasetHandle,
}

/// A summary of a dataset, as `chunkwise info` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub chunk_shape: Vec<usize>,
    pub grid: Vec<usize>,
    pub fill_value: Scalar,
    /// Chunks written so far.
    pub chunks_present: usize,
    /// Chunks in the grid.
    pub chunks_total: usize,
    /// Bytes of the whole array (shape × element size).
    pub logical_bytes: u64,
    /// Bytes of the chunks present, as stored: what the store reports (compressed chunks'
    /// sizes), else the chunks' element bytes (full chunk shape).
    pub stored_bytes: u64,
    /// How the store encodes chunks (codecs), when it says.
    pub encoding: Option<String>,
}

impl Dataset {
    pub(crate) fn from_handle(connection: Connection, handle: DatasetHandle) -> Self {
        Dataset { connection, handle }
    }

    /// The store's handle of this dataset, for calling the store directly (chunk by chunk,
    /// without the engine).
    pub fn handle(&self) -> &DatasetHandle {
        &self.handle
    }

    /// The dataset's name.
    pub fn name(&self) -> &str {
        self.handle.name()
    }

    /// Shape, chunk shape and grid.
    pub fn layout(&self) -> &Layout {
        &self.meta().layout
    }

    /// All stored metadata.
    pub fn meta(&self) -> &DatasetMeta {
        self.handle.meta()
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.meta().layout.shape()
    }

    /// The chunk shape.
    pub fn chunk_shape(&self) -> &[usize] {
        self.meta().layout.chunk_shape()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.meta().dtype
    }

    /// The fill value.
    pub fn fill_value(&self) -> Scalar {
        self.meta().fill_value
    }

    /// The connection this dataset was opened through.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.connection.rank()
    }

    /// Number of processes.
    pub fn size(&self) -> usize {
        self.connection.size()
    }

    /// True on rank 0.
    pub fn is_root(&self) -> bool {
        self.connection.is_root()
    }

    pub(crate) fn fill<T: Element>(&self) -> T {
        T::from_scalar(self.meta().fill_value).unwrap_or_default()
    }

    pub(crate) fn check_type<T: Element>(&self) -> Result<()> {
        check_dtype::<T>(self.meta().dtype, || format!("dataset \"{}\"", self.name()))
    }

    /// Summary: shape, dtype, chunks, fill value, chunks present, bytes.
    ///
    /// # Errors
    /// A storage error.
    pub fn info(&self) -> Result<DatasetInfo> {
        let layout = &self.meta().layout;
        let present = self.handle.list_chunks()?.len();
        Ok(DatasetInfo {
            name: self.name().to_string(),
            shape: layout.shape().to_vec(),
            dtype: self.meta().dtype,
            chunk_shape: layout.chunk_shape().to_vec(),
            grid: layout.grid().to_vec(),
            fill_value: self.meta().fill_value,
            chunks_present: present,
            chunks_total: layout.num_chunks(),
            logical_bytes: (layout.len() * self.meta().dtype.size()) as u64,
            stored_bytes: match self.handle.stored_bytes()? {
                Some(bytes) => bytes,
                None => (present * self.meta().chunk_bytes()) as u64,
            },
            encoding: self.handle.encoding(),
        })
    }

    /// Resolves a selection against this dataset's shape.
    ///
    /// # Errors
    /// [`Error::Selection`].
    pub fn resolve(&self, selection: &Selection) -> Result<Resolved> {
        selection.resolve(self.shape())
    }

    /// Reads a selection into RAM; integer-selected axes are dropped, as numpy does. For
    /// selections that may not fit in memory use [`Dataset::read_in`].
    ///
    /// # Errors
    /// [`Error::Selection`], [`Error::DTypeMismatch`] when `T` is not the dataset's type,
    /// [`Error::BudgetTooSmall`] when the connection has a memory budget and the result does not
    /// fit what is free of it, or a storage error.
    pub fn read<T: Element>(&self, selection: &Selection) -> Result<ArrayD<T>> {
        let resolved = self.resolve(selection)?;
        let block = self.read_region::<T>(&resolved.region)?;
        let out_shape = resolved.output_shape();
        let values = into_c_vec(block);
        ArrayD::from_shape_vec(IxDyn(&out_shape), values).map_err(|e| Error::ShapeMismatch {
            context: format!("reshaping the selection \"{selection}\" ({e})"),
            expected: fmt_tuple(&out_shape),
            got: fmt_tuple(&resolved.region.shape()),
        })
    }

    /// Reads everything.
    ///
    /// # Errors
    /// As [`Dataset::read`].
    pub fn read_all<T: Element>(&self) -> Result<ArrayD<T>> {
        self.read_region(&Region::full(self.shape()))
    }

    /// Reads a region (no axes dropped; the result has the region's shape).
    ///
    /// # Errors
    /// [`Error::Selection`] when the region does not fit the shape, [`Error::DTypeMismatch`], or
    /// a storage error.
    pub fn read_region<T: Element>(&self, region: &Region) -> Result<ArrayD<T>> {
        self.check_type::<T>()?;
        self.check_region(region)?;
        if let Some(budget) = self.connection.memory_budget() {
            let needed = (region.len() * std::mem::size_of::<T>()) as u64;
            let available = budget.available();
            if needed > available {
                return Err(Error::BudgetTooSmall {
                    operation: format!("reading {} of dataset \"{}\"", region, self.name()),
                    what: "the array in RAM (Dataset::read_in can use a memory-mapped file)"
                        .to_string(),
                    needed,
                    available,
                });
            }
        }
        let mut out = ArrayD::from_elem(IxDyn(&region.shape()), self.fill::<T>());
        self.read_region_into(region, out.view_mut(), None)?;
        Ok(out)
    }

    /// The elements of `region` in C order, in the dataset's dtype chosen at run time (for
    /// code that handles every dtype alike, e.g. converting with [`ChunkData::cast`]).
    ///
    /// # Errors
    /// As [`Dataset::read_region`].
    ///
    /// [`ChunkData::cast`]: crate::ChunkData::cast
    pub fn read_region_data(&self, region: &Region) -> Result<crate::ChunkData> {
        crate::with_element_type!(self.dtype(), T => {
            Ok(T::into_chunk(into_c_vec(self.read_region::<T>(region)?)))
        })
    }

    /// Reads a selection into an array of `budget`: in RAM while it fits the budget, else in a
    /// memory-mapped temporary file (integer-selected axes dropped, as [`Dataset::read`]).
    ///
    /// # Errors
    /// As [`Dataset::read`], and [`Error::OutOfMemory`] when the result fits neither.
    pub fn read_in<T: Element>(
        &self,
        budget: &std::sync::Arc<crate::memory::MemoryBudget>,
        selection: &Selection,
    ) -> Result<crate::memory::BudgetArray<T>> {
        self.check_type::<T>()?;
        let resolved = self.resolve(selection)?;
        let mut out = budget.alloc_array::<T>(&resolved.output_shape())?;
        let region = &resolved.region;
        let progress = self.connection.progress();
        progress.begin(
            format!("read \"{}\"", self.name()),
            self.meta().layout.chunks_touched(region) as u64,
            (region.len() * T::DTYPE.size()) as u64,
        );
        let read = self.read_in_slabs(budget, selection, &resolved, &mut out, progress);
        progress.end(read.is_ok());
        read.map(|()| out)
    }

    /// The body of [`Dataset::read_in`]: `out` filled slab by slab, each chunk read counted in
    /// `progress`.
    fn read_in_slabs<T: Element>(
        &self,
        budget: &std::sync::Arc<crate::memory::MemoryBudget>,
        selection: &Selection,
        resolved: &Resolved,
        out: &mut crate::memory::BudgetArray<T>,
        progress: &crate::progress::Progress,
    ) -> Result<()> {
        let region = &resolved.region;
        // A mapped array is filled in slabs of whole chunk rows along the first axis, releasing
        // the resident pages after each, so memory stays near a quarter of the budget.
        let slabs = match (out.is_mapped(), region.axes().first()) {
            (true, Some(&first)) => {
                let row_bytes = (region.len() / first.count.max(1)) * std::mem::size_of::<T>();
                let rows = (budget.limit() / 4 / row_bytes.max(1) as u64).max(1) as usize;
                self.layout().chunk_row_slabs(first, rows)
            }
            _ => vec![(0, region.axes().first().map_or(1, |a| a.count))],
        };
        for (first_row, rows) in slabs {
            let block_shape = region.shape();
            let block = out
                .view_mut()
                .into_shape_with_order(IxDyn(&block_shape))
                .map_err(|e| Error::ShapeMismatch {
                    context: format!("reading the selection \"{selection}\" ({e})"),
                    expected: fmt_tuple(&block_shape),
                    got: fmt_tuple(&resolved.output_shape()),
                })?;
            let (slab, mut rows_view) = if region.ndim() == 0 {
                (region.clone(), block)
            } else {
                let rows_view = block.slice_axis_move(
                    ndarray::Axis(0),
                    ndarray::Slice::from(first_row..first_row + rows),
                );
                (region.with_axis0_rows(first_row, rows), rows_view)
            };
            rows_view.fill(self.fill::<T>());
            self.read_region_into(&slab, rows_view, Some(progress))?;
            out.release_resident();
        }
        Ok(())
    }

    /// Copies the stored elements of `region` into `out` (of the region's shape); elements of
    /// missing chunks are left as they are.
    fn read_region_into<T: Element>(
        &self,
        region: &Region,
        mut out: ndarray::ArrayViewMutD<'_, T>,
        progress: Option<&crate::progress::Progress>,
    ) -> Result<()> {
        for part in self.meta().layout.chunk_parts(region) {
            if let Some(data) = self.read_stored_region(&part.chunk, &part.in_chunk)? {
                let values = T::from_chunk(data).map_err(|other| Error::DTypeMismatch {
                    context: format!("a stored chunk of dataset \"{}\"", self.name()),
                    stored: other.dtype().to_string(),
                    requested: T::DTYPE.to_string(),
                })?;
                let shape = part.in_chunk.shape();
                let block =
                    ndarray::ArrayViewD::from_shape(IxDyn(&shape), &values).map_err(|e| {
                        Error::ShapeMismatch {
                            context: format!(
                                "a region read from dataset \"{}\" ({e})",
                                self.name()
                            ),
                            expected: fmt_tuple(&shape),
                            got: format!("{} elements", values.len()),
                        }
                    })?;
                crate::array::copy_into(part.in_output.view_mut_of(&mut out), block);
            }
            if let Some(progress) = progress {
                progress.add(1, (part.in_chunk.len() * T::DTYPE.size()) as u64);
            }
        }
        Ok(())
    }

    /// Writes an array of the selection's output shape into the selection.
    ///
    /// # Errors
    /// [`Error::Selection`], [`Error::ShapeMismatch`] when `values` does not have the selected
    /// shape, [`Error::DTypeMismatch`], or a storage error. Shape and type are checked before
    /// anything is written.
    pub fn write<T: Element>(
        &self,
        selection: &Selection,
        values: ArrayViewD<'_, T>,
    ) -> Result<()> {
        self.check_type::<T>()?;
        let resolved = self.resolve(selection)?;
        check_shape(&resolved.output_shape(), values.shape(), || {
            format!(
                "writing to selection \"{selection}\" of dataset \"{}\"",
                self.name()
            )
        })?;
        let block_shape = resolved.region.shape();
        let block = values
            .to_shape(IxDyn(&block_shape))
            .map_err(|e| Error::ShapeMismatch {
                context: format!("writing to selection \"{selection}\" ({e})"),
                expected: fmt_tuple(&block_shape),
                got: fmt_tuple(values.shape()),
            })?;
        self.modify_region::<T>(&resolved.region, |part, mut target| {
            target.assign(&part.in_output.view_of(&block));
        })
    }

    /// Writes an array of the region's shape into the region.
    ///
    /// # Errors
    /// As [`Dataset::write`].
    pub fn write_region<T: Element>(
        &self,
        region: &Region,
        values: ArrayViewD<'_, T>,
    ) -> Result<()> {
        self.check_type::<T>()?;
        self.check_region(region)?;
        check_shape(&region.shape(), values.shape(), || {
            format!("writing to region {region} of dataset \"{}\"", self.name())
        })?;
        let block = values.into_dyn();
        self.modify_region::<T>(region, |part, mut target| {
            target.assign(&part.in_output.view_of(&block));
        })
    }

    /// Sets every element of the selection to `value`.
    ///
    /// # Errors
    /// [`Error::Selection`], [`Error::DTypeMismatch`], or a storage error.
    pub fn write_value<T: Element>(&self, selection: &Selection, value: T) -> Result<()> {
        self.check_type::<T>()?;
        let resolved = self.resolve(selection)?;
        self.modify_region::<T>(&resolved.region, |_, mut target| target.fill(value))
    }

    fn check_region(&self, region: &Region) -> Result<()> {
        if region.fits(self.shape()) {
            Ok(())
        } else {
            Err(Error::Selection {
                selection: region.to_string(),
                problem: format!(
                    "does not fit the shape {} of dataset \"{}\"",
                    fmt_tuple(self.shape()),
                    self.name()
                ),
            })
        }
    }

    pub(crate) fn read_stored(&self, chunk: &[usize]) -> Result<Option<crate::ChunkData>> {
        let mut timer = self.connection.timers().start("read");
        let stored = self.handle.read_chunk(chunk)?;
        if stored.is_some() {
            timer.add_bytes(self.meta().chunk_bytes() as u64);
        }
        Ok(stored)
    }

    pub(crate) fn read_stored_region(
        &self,
        chunk: &[usize],
        region: &Region,
    ) -> Result<Option<crate::ChunkData>> {
        let mut timer = self.connection.timers().start("read");
        let stored = self.handle.read_chunk_region(chunk, region)?;
        if stored.is_some() {
            timer.add_bytes((region.len() * self.meta().dtype.size()) as u64);
        }
        Ok(stored)
    }

    pub(crate) fn write_stored(&self, chunk: &[usize], data: &crate::ChunkData) -> Result<()> {
        let mut timer = self.connection.timers().start("write");
        self.handle.write_chunk(chunk, data)?;
        timer.add_bytes(self.meta().chunk_bytes() as u64);
        Ok(())
    }

    /// Replaces a chunk atomically with `update(current)` (see [`crate::ChunkWrite::update_chunk`]).
    pub(crate) fn update_stored(
        &self,
        chunk: &[usize],
        update: &mut dyn FnMut(Option<crate::ChunkData>) -> Result<crate::ChunkData>,
    ) -> Result<()> {
        let mut timer = self.connection.timers().start("write");
        self.handle.update_chunk(chunk, update)?;
        timer.add_bytes(self.meta().chunk_bytes() as u64);
        Ok(())
    }

    /// For each chunk the region touches: get the chunk (stored, or fill when missing — skipped
    /// when the region covers the chunk's whole valid part), let `put` fill the touched part,
    /// write the chunk back.
    fn modify_region<T: Element>(
        &self,
        region: &Region,
        put: impl Fn(&ChunkPart, ArrayViewMutD<'_, T>),
    ) -> Result<()> {
        let layout = &self.meta().layout;
        self.check_chunk_buffers("writing", 2)?;
        let progress = self.connection.progress();
        progress.begin(
            format!("write \"{}\"", self.name()),
            layout.chunks_touched(region) as u64,
            (region.len() * T::DTYPE.size()) as u64,
        );
        let written = self.modify_parts(region, put);
        progress.end(written.is_ok());
        written
    }

    /// [`Dataset::modify_region`] without the checks, each chunk counted in the progress.
    fn modify_parts<T: Element>(
        &self,
        region: &Region,
        put: impl Fn(&ChunkPart, ArrayViewMutD<'_, T>),
    ) -> Result<()> {
        let layout = &self.meta().layout;
        let fill = self.fill::<T>();
        let progress = self.connection.progress();
        for part in layout.chunk_parts(region) {
            let valid_shape = layout.chunk_valid_shape(&part.chunk);
            if part.in_chunk.is_full(&valid_shape) {
                // The whole chunk is replaced: no need to read it.
                let mut full = ArrayD::from_elem(IxDyn(layout.chunk_shape()), fill);
                put(&part, part.in_chunk.view_mut_of(&mut full));
                self.write_stored(&part.chunk, &T::into_chunk(into_c_vec(full)))?;
            } else {
                // Part of the chunk: read-modify-write, atomic against other writers of it.
                self.update_stored(&part.chunk, &mut |current| {
                    let mut full = match current {
                        Some(data) => chunk_array::<T>(layout, data)?,
                        None => ArrayD::from_elem(IxDyn(layout.chunk_shape()), fill),
                    };
                    put(&part, part.in_chunk.view_mut_of(&mut full));
                    Ok(T::into_chunk(into_c_vec(full)))
                })?;
            }
            progress.add(1, (part.in_chunk.len() * T::DTYPE.size()) as u64);
        }
        Ok(())
    }

    /// Checks that `count` buffers of one whole chunk can be allocated: against the memory
    /// budget when the connection has one, else by asking the allocator (and giving the memory
    /// back), so a dataset of huge chunks is an error instead of an abort.
    ///
    /// # Errors
    /// [`Error::BudgetTooSmall`] naming the bytes.
    fn check_chunk_buffers(&self, operation: &str, count: u64) -> Result<()> {
        let needed = (self.meta().chunk_bytes() as u64).saturating_mul(count);
        let budget = self.connection.memory_budget().map(|b| b.as_ref());
        crate::memory::room_for(budget, needed).map_err(|available| Error::BudgetTooSmall {
            operation: format!("{operation} dataset \"{}\"", self.name()),
            what: format!(
                "{count} buffers of its chunk shape {}",
                fmt_tuple(self.chunk_shape())
            ),
            needed,
            available,
        })
    }

    /// A handle on one chunk.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`].
    pub fn chunk(&self, index: &[usize]) -> Result<crate::chunk::Chunk<'_>> {
        self.meta().layout.check_chunk(index)?;
        Ok(crate::chunk::Chunk::new(self, index.to_vec()))
    }

    /// Whether a chunk has been written.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`], or a storage error.
    pub fn has_chunk(&self, index: &[usize]) -> Result<bool> {
        self.chunk(index)?.exists()
    }

    /// Indices of the chunks written so far, in C order.
    ///
    /// # Errors
    /// A storage error.
    pub fn list_chunks(&self) -> Result<Vec<Vec<usize>>> {
        self.handle.list_chunks()
    }

    /// Writes a chunk filled with the fill value if it does not exist yet, and returns it.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`], or a storage error.
    pub fn create_chunk(&self, index: &[usize]) -> Result<crate::chunk::Chunk<'_>> {
        let chunk = self.chunk(index)?;
        if !chunk.exists()? {
            let data =
                crate::ChunkData::filled(self.meta().fill_value, self.meta().layout.chunk_len());
            self.write_stored(index, &data)?;
        }
        Ok(chunk)
    }

    /// Deletes a chunk (it then reads as the fill value). Returns whether it existed.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`], or a storage error.
    pub fn delete_chunk(&self, index: &[usize]) -> Result<bool> {
        self.chunk(index)?.delete()
    }

    pub(crate) fn padded<T: Element>(&self, valid: ArrayD<T>) -> crate::ChunkData {
        padded_chunk(&self.meta().layout, valid, self.fill::<T>())
    }
}
