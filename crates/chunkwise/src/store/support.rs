//! Helpers for store implementations: checks of what a store is given, copies between stored
//! chunks and regions, and the facts about processes that stores' working entries depend on.
//!
//! Public so that a backend can live in its own crate and give the guarantees of
//! [`crate::store`] the same way the built-in stores do.

use std::mem::MaybeUninit;

pub use super::chunk_locks::{lock_chunk, ChunkLock, LOCK_FILE};
pub use super::chunk_writer::{check_part_dtype, Coverage};
pub use super::raw_file::{read_elements_at, read_scattered_at};
pub use super::top_directory::mark_top_directory;
pub use super::work_area::{sweep_dead, WorkArea, WORK_DIR};
pub use crate::array::into_c_vec;
pub use crate::dtype::element_bytes;
pub use crate::error::fmt_tuple;
pub use crate::process::{running, start_time};

use super::{ChunkRead, DatasetMeta};
use crate::dtype::{ChunkData, Element};
use crate::error::{Error, Result};
use crate::region::Region;

/// Checks that a run of `pieces` starting at element `first` lies in a chunk of `meta` and
/// every piece in a target of `target_bytes`.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming the run or piece that does not fit.
pub fn check_run_pieces(
    meta: &DatasetMeta,
    first: usize,
    pieces: &[(usize, usize)],
    target_bytes: usize,
) -> Result<()> {
    let size = meta.dtype.size();
    let len: usize = pieces.iter().map(|&(_, count)| count).sum();
    let chunk_len = meta.layout.chunk_len();
    if first.checked_add(len).is_none_or(|end| end > chunk_len) {
        return Err(Error::ShapeMismatch {
            context: "a run of a chunk's elements".into(),
            expected: format!("elements within 0..{chunk_len}"),
            got: format!("elements {first}..{}", first.saturating_add(len)),
        });
    }
    let target_len = target_bytes / size;
    if let Some(&(at, count)) = pieces
        .iter()
        .find(|&&(at, count)| at.checked_add(count).is_none_or(|end| end > target_len))
    {
        return Err(Error::ShapeMismatch {
            context: "a piece of a run read into place".into(),
            expected: format!("elements within the target's 0..{target_len}"),
            got: format!("elements {at}..{}", at.saturating_add(count)),
        });
    }
    Ok(())
}

/// [`ChunkRead::read_chunk_run_into`] by reading the whole chunk and copying the run (pieces
/// already checked with [`check_run_pieces`]).
///
/// # Errors
/// As [`ChunkRead::read_chunk`].
pub fn read_run_from_whole_chunk<S: ChunkRead + ?Sized>(
    store: &S,
    chunk: &[usize],
    first: usize,
    pieces: &[(usize, usize)],
    target: &mut [MaybeUninit<u8>],
) -> Result<bool> {
    let Some(data) = store.read_chunk(chunk)? else {
        return Ok(false);
    };
    copy_run_pieces(store.meta(), data.as_bytes(), first, pieces, target);
    Ok(true)
}

/// Copies the run of `pieces` starting at element `first` of a stored chunk's `bytes` into
/// `target` (pieces already checked with [`check_run_pieces`]).
pub fn copy_run_pieces(
    meta: &DatasetMeta,
    bytes: &[u8],
    first: usize,
    pieces: &[(usize, usize)],
    target: &mut [MaybeUninit<u8>],
) {
    let size = meta.dtype.size();
    let mut from = first * size;
    for &(at, count) in pieces {
        let n = count * size;
        for (slot, &byte) in target[at * size..][..n]
            .iter_mut()
            .zip(&bytes[from..from + n])
        {
            slot.write(byte);
        }
        from += n;
    }
}

/// The elements of `region` of a whole stored chunk.
pub fn extract_region(meta: &DatasetMeta, data: ChunkData, region: &Region) -> Result<ChunkData> {
    copy_region(meta, &data, region)
}

/// `region` of a stored chunk, copied (one slice copy when it is a run of C-order elements).
///
/// # Errors
/// [`Error::DTypeMismatch`] or [`Error::ShapeMismatch`] when `data` is not a chunk of `meta`.
pub fn copy_region(meta: &DatasetMeta, data: &ChunkData, region: &Region) -> Result<ChunkData> {
    crate::with_element_type!(meta.dtype, T => {
        let values = T::chunk_slice(data)
            .filter(|values| values.len() == meta.layout.chunk_len())
            .ok_or_else(|| Error::ShapeMismatch {
                context: "a stored chunk".into(),
                expected: format!("{} {} values", meta.layout.chunk_len(), meta.dtype),
                got: format!("{} {} values", data.len(), data.dtype()),
            })?;
        if let Some((first, len)) = region.c_order_run(meta.layout.chunk_shape()) {
            return Ok(T::into_chunk(values[first..first + len].to_vec()));
        }
        let full = ndarray::ArrayViewD::from_shape(ndarray::IxDyn(meta.layout.chunk_shape()), values)
            .map_err(|e| Error::ShapeMismatch {
                context: format!("a stored chunk ({e})"),
                expected: crate::error::fmt_tuple(meta.layout.chunk_shape()),
                got: "another number of elements".into(),
            })?;
        Ok(T::into_chunk(crate::array::into_c_vec(crate::array::owned(region.view_of(&full)))))
    })
}

/// Checks that a chunk buffer fits the dataset (used by every store's `write_chunk`).
pub fn check_chunk_data(
    name: &str,
    meta: &DatasetMeta,
    chunk: &[usize],
    data: &ChunkData,
) -> Result<()> {
    meta.layout.check_chunk(chunk)?;
    if data.dtype() != meta.dtype {
        return Err(Error::DTypeMismatch {
            context: format!("dataset \"{name}\""),
            stored: meta.dtype.to_string(),
            requested: data.dtype().to_string(),
        });
    }
    if data.len() != meta.layout.chunk_len() {
        return Err(Error::ShapeMismatch {
            context: format!("chunk buffer for dataset \"{name}\""),
            expected: format!("{} elements", meta.layout.chunk_len()),
            got: format!("{} elements", data.len()),
        });
    }
    Ok(())
}
