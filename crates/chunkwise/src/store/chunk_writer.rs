//! Writing one chunk in parts, atomically.
//!
//! A pass over a dataset whose rank has fewer chunks than workers would leave workers idle and
//! run each chunk's read, compute and write one after the other. Written in parts (runs of its
//! C-order elements, e.g. planes of axis 0), a chunk is computed and written as the parts come,
//! while it stays atomic: nothing of it is visible before [`ChunkWriter::commit`], and a writer
//! dropped without committing leaves the chunk as it was.
//!
//! Every store can do this: [`BufferedChunkWriter`], the default, gathers the parts in memory
//! and writes the chunk with `write_chunk` on commit. Stores that can write parts in place (the
//! DosNa directory store writes them into the hidden file it renames into place) override
//! [`crate::ChunkWrite::chunk_writer`].

use std::sync::Mutex;

use super::{ChunkWrite, DatasetMeta};
use crate::dtype::{ChunkData, Element};
use crate::error::{Error, Result};

/// A chunk being written in parts ([`crate::ChunkWrite::chunk_writer`]).
///
/// Guarantees: readers see the chunk as it was until `commit` returns `Ok`, then the whole new
/// chunk; dropping the writer without committing (or a failed commit) leaves the chunk as it
/// was and nothing else behind.
pub trait ChunkWriter: Send + Sync {
    /// Writes `part` at element `first` of the stored chunk (C order, padding included). Parts
    /// may come in any order and from several threads at once, but may not overlap.
    ///
    /// # Errors
    /// [`Error::DTypeMismatch`] for a part of another dtype, [`Error::ShapeMismatch`] for a
    /// part past the chunk's end or over one already written, or a storage error.
    fn write_part(&self, first: usize, part: &ChunkData) -> Result<()>;

    /// Replaces the chunk with the parts written, atomically.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming the first element no part wrote (the chunk is left as it
    /// was), or a storage error.
    fn commit(self: Box<Self>) -> Result<()>;
}

/// Which runs of a chunk's elements have been written.
#[derive(Debug)]
pub struct Coverage {
    context: String,
    len: usize,
    runs: Mutex<Vec<(usize, usize)>>,
}

impl Coverage {
    /// Nothing written yet of `len` elements; `context` names the chunk in errors.
    pub fn new(context: String, len: usize) -> Self {
        Coverage {
            context,
            len,
            runs: Mutex::new(Vec::new()),
        }
    }

    /// Records elements `first..first + count` as written.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when they go past the end or overlap a run already recorded.
    pub fn claim(&self, first: usize, count: usize) -> Result<()> {
        let end = first.checked_add(count).filter(|&end| end <= self.len);
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let overlaps = |end: usize| {
            runs.iter()
                .any(|&(start, n)| first < start + n && start < end)
        };
        match end {
            Some(end) if !overlaps(end) => {
                runs.push((first, count));
                Ok(())
            }
            _ => Err(Error::ShapeMismatch {
                context: format!("a part of {}", self.context),
                expected: format!("elements within 0..{} not written before", self.len),
                got: format!("elements {first}..{}", first.saturating_add(count)),
            }),
        }
    }

    /// Checks that the runs recorded cover every element.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming the first element not written.
    pub fn check_complete(&self) -> Result<()> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        runs.sort_unstable();
        let mut next = 0;
        for (start, n) in runs {
            if start != next {
                break;
            }
            next = start + n;
        }
        if next == self.len {
            return Ok(());
        }
        Err(Error::ShapeMismatch {
            context: format!("the parts written of {}", self.context),
            expected: format!("elements 0..{}", self.len),
            got: format!("no part writing element {next}"),
        })
    }
}

/// Checks that a part has the dataset's dtype.
pub fn check_part_dtype(name: &str, meta: &DatasetMeta, part: &ChunkData) -> Result<()> {
    if part.dtype() == meta.dtype {
        return Ok(());
    }
    Err(Error::DTypeMismatch {
        context: format!("a chunk part for dataset \"{name}\""),
        stored: meta.dtype.to_string(),
        requested: part.dtype().to_string(),
    })
}

/// The default [`ChunkWriter`]: gathers the parts in a chunk-sized buffer and writes the chunk
/// with [`ChunkWrite::write_chunk`] on commit.
#[derive(Debug)]
pub struct BufferedChunkWriter<'a, S: ChunkWrite + ?Sized> {
    store: &'a S,
    chunk: Vec<usize>,
    buffer: Mutex<ChunkData>,
    coverage: Coverage,
}

impl<'a, S: ChunkWrite + ?Sized> BufferedChunkWriter<'a, S> {
    /// A writer of chunk `chunk` of the dataset of `store` (checked when committed).
    pub fn new(store: &'a S, chunk: &[usize]) -> Self {
        let meta = store.meta();
        let name = store.name();
        let len = meta.layout.chunk_len();
        BufferedChunkWriter {
            store,
            chunk: chunk.to_vec(),
            buffer: Mutex::new(ChunkData::filled(meta.fill_value, len)),
            coverage: Coverage::new(
                format!(
                    "chunk {} of dataset \"{name}\"",
                    crate::error::fmt_tuple(chunk)
                ),
                len,
            ),
        }
    }
}

/// Copies `part` (of `T`) into `target` from element `first` (bounds already checked).
fn copy_typed<T: Element>(target: &mut [T], first: usize, part: &ChunkData) {
    if let Some(values) = T::chunk_slice(part) {
        target[first..first + values.len()].copy_from_slice(values);
    }
}

impl<S: ChunkWrite + ?Sized> ChunkWriter for BufferedChunkWriter<'_, S> {
    fn write_part(&self, first: usize, part: &ChunkData) -> Result<()> {
        check_part_dtype(self.store.name(), self.store.meta(), part)?;
        self.coverage.claim(first, part.len())?;
        let mut buffer = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        crate::with_chunk_data!(&mut *buffer, values => copy_typed(values, first, part));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.coverage.check_complete()?;
        let data = self.buffer.into_inner().unwrap_or_else(|p| p.into_inner());
        self.store.write_chunk(&self.chunk, &data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_refuses_overlaps_and_runs_past_the_end_and_names_the_gap() {
        let coverage = Coverage::new("chunk (0)".into(), 10);
        coverage.claim(4, 3).unwrap();
        assert!(coverage.claim(6, 2).is_err());
        assert!(coverage.claim(2, 3).is_err());
        assert!(coverage.claim(8, 3).is_err());
        assert!(coverage.claim(usize::MAX, 2).is_err());
        coverage.claim(7, 3).unwrap();
        let gap = coverage.check_complete().unwrap_err().to_string();
        assert!(gap.contains("element 0"), "{gap}");
        coverage.claim(0, 4).unwrap();
        coverage.check_complete().unwrap();
    }
}
