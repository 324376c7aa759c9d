//! `import`: an ordinary HDF5 dataset into a new chunked dataset, chunk by chunk on the engine.

use anyhow::{bail, Context, Result};
use chunkwise::{with_element_type, Connection, DatasetMeta, Element, Layout, Region, Scalar};
use ndarray::{ArrayD, IxDyn};

use crate::h5file::{dtype_of, H5Location};
use crate::parse;
use chunkwise_frontend::agree;

/// Imports `source` as dataset `name`, visible only once complete; on failure (or a signal)
/// the new dataset is removed again.
pub fn import(
    conn: &Connection,
    source: &str,
    name: &str,
    chunks: Option<&str>,
    fill: Option<&str>,
) -> Result<()> {
    // Every rank opens the source (each reads its own chunks from it) and checks it alike.
    let (location, _file, dataset, meta) = agree(conn, open_source(source, chunks, fill))?;
    // Incomplete until every chunk is in: an interrupted import is never read as a dataset.
    let target = conn.begin_dataset(name, meta.clone())?;
    let loaded = with_element_type!(meta.dtype, T => {
        target.load_with::<T, _>(|_, bounds| Ok(read_block::<T>(&dataset, bounds)?))
    })
    .and_then(|()| target.finish());
    if let Err(error) = loaded {
        let _ = conn.delete_dataset(name);
        return Err(error).with_context(|| {
            format!("importing {location} into \"{name}\" failed; nothing was kept")
        });
    }
    Ok(())
}

/// The size of the chunks `import` picks for a source that is not chunked.
const DEFAULT_CHUNK_BYTES: usize = 1 << 20;

/// The source dataset and the metadata of the dataset made from it.
fn open_source(
    source: &str,
    chunks: Option<&str>,
    fill: Option<&str>,
) -> Result<(H5Location, hdf5::File, hdf5::Dataset, DatasetMeta)> {
    let location = H5Location::parse(source)?;
    let (file, dataset) = location.open()?;
    let dtype = dtype_of(&location, &dataset)?;
    let shape = dataset.shape();
    if shape.is_empty() || shape.contains(&0) {
        bail!("{location} has shape {shape:?}; expected an array with at least one element on every axis");
    }
    let chunks = match chunks {
        Some(text) => parse::shape("--chunks", text)?,
        // The source's own chunking when it has one, else about 1 MiB shaped like the array
        // (never one chunk the size of a large array, which no rank could hold).
        None => match dataset.chunk() {
            Some(chunks) if chunks.len() == shape.len() => chunks,
            _ => Layout::suggest_chunk_shape(&shape, dtype.size(), DEFAULT_CHUNK_BYTES),
        },
    };
    let fill = match fill {
        Some(text) => Scalar::parse(dtype, text)?,
        None => Scalar::zero(dtype),
    };
    let meta = DatasetMeta::new(Layout::new(&shape, &chunks)?, dtype, fill)?;
    Ok((location, file, dataset, meta))
}

/// One box of an HDF5 dataset.
fn read_block<T: Element + hdf5::H5Type>(
    dataset: &hdf5::Dataset,
    bounds: &Region,
) -> hdf5::Result<ArrayD<T>> {
    dataset.read_slice::<T, _, IxDyn>(chunkwise_dosna::h5::hyperslab(bounds))
}
