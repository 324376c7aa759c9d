//! `write`: values from an HDF5 dataset, or one value, into a selection.

use anyhow::{bail, Context, Result};
use chunkwise::error::fmt_tuple;
use chunkwise::{with_element_type, Connection, Scalar, Selection};

use crate::agree::on_root;
use crate::h5file::{dtype_of, H5Location};

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
            with_element_type!(dataset.dtype(), T => {
                let values = source.read_dyn::<T>().with_context(|| format!("cannot read {location}"))?;
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
