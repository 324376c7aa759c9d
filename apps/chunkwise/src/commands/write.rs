//! `write`: values from an HDF5 dataset, or one value, into a selection.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chunkwise::error::fmt_tuple;
use chunkwise::memory::{BudgetArray, MemoryBudget};
use chunkwise::{with_element_type, Connection, Element, Region, Scalar, Selection};
use ndarray::{Axis, IxDyn, Slice};

use crate::h5file::{dtype_of, H5Location};
use chunkwise_frontend::on_root;

/// The whole source dataset in the memory budget (a memory-mapped file when it does not fit),
/// read in slabs of a quarter of the budget with the resident pages released between them.
fn read_source<T: Element + hdf5::H5Type>(
    budget: &Arc<MemoryBudget>,
    location: &H5Location,
    source: &hdf5::Dataset,
) -> Result<BudgetArray<T>> {
    let shape = source.shape();
    let mut values = budget.alloc_array::<T>(&shape)?;
    if shape.is_empty() {
        let value = source
            .read_dyn::<T>()
            .with_context(|| format!("cannot read {location}"))?;
        values.view_mut().assign(&value);
        return Ok(values);
    }
    let pieces: Vec<(usize, usize)> = values.row_pieces(budget.limit() / 4).collect();
    for (first, rows) in pieces {
        let region = Region::full(&shape).with_axis0_rows(first, rows);
        let piece = source
            .read_slice::<T, _, IxDyn>(chunkwise_dosna::h5::hyperslab(&region))
            .with_context(|| format!("cannot read {location}"))?;
        values
            .view_mut()
            .slice_axis_mut(Axis(0), Slice::from(first..first + rows))
            .assign(&piece);
        values.release_resident();
    }
    Ok(values)
}

/// Writes into the selection of `name` (rank 0); everything is checked before anything is
/// written.
pub fn write(
    conn: &Connection,
    name: &str,
    select: &str,
    from: Option<&str>,
    value: Option<&str>,
) -> Result<()> {
    on_root(conn, || write_here(conn, name, select, from, value))
}

fn write_here(
    conn: &Connection,
    name: &str,
    select: &str,
    from: Option<&str>,
    value: Option<&str>,
) -> Result<()> {
    let dataset = conn.dataset(name)?;
    let selection = Selection::parse(select)?;
    let resolved = dataset.resolve(&selection)?;
    match (from, value) {
        (Some(source), _) => {
            let location = H5Location::parse(source)?;
            let (_file, source) = location.open()?;
            let source_dtype = dtype_of(&location, &source)?;
            if source_dtype != dataset.dtype() {
                bail!(
                    "{location} holds {source_dtype} but dataset \"{name}\" holds {}; expected the same dtype",
                    dataset.dtype()
                );
            }
            let expected = resolved.output_shape();
            if source.shape() != expected {
                bail!(
                    "shape mismatch: selection \"{select}\" of dataset \"{name}\" has shape {}, but {location} has shape {}",
                    fmt_tuple(&expected),
                    fmt_tuple(&source.shape())
                );
            }
            let budget = conn
                .memory_budget()
                .context("the connection has no memory budget")?;
            with_element_type!(dataset.dtype(), T => {
                let values = read_source::<T>(budget, &location, &source)?;
                dataset.write::<T>(&selection, values.view())?;
            });
        }
        (None, Some(text)) => {
            let scalar = Scalar::parse(dataset.dtype(), text)?;
            with_element_type!(dataset.dtype(), T => {
                let value: T = scalar.get::<T>().context("parsed value has the dataset's dtype")?;
                dataset.write_value::<T>(&selection, value)?;
            });
        }
        (None, None) => bail!("nothing to write: give --from FILE.h5:/path or --value V"),
    }
    Ok(())
}
