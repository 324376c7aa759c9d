//! `export`: a dataset or a selection of it into an ordinary HDF5 file.

use anyhow::Result;
use chunkwise::{with_element_type, Connection, Selection};

use crate::agree::on_root;
use crate::h5file::{write_new, H5Location};

/// Exports `name` (or the selection) to `destination` (rank 0).
pub fn export(
    conn: &Connection,
    name: &str,
    destination: &str,
    select: Option<&str>,
) -> Result<()> {
    on_root(conn, || export_here(conn, name, destination, select))
}

fn export_here(
    conn: &Connection,
    name: &str,
    destination: &str,
    select: Option<&str>,
) -> Result<()> {
    let location = H5Location::parse(destination)?;
    let dataset = conn.dataset(name)?;
    let selection = match select {
        Some(text) => Selection::parse(text)?,
        None => Selection::all(),
    };
    dataset.resolve(&selection)?;
    with_element_type!(dataset.dtype(), T => {
        let values = dataset.read::<T>(&selection)?;
        write_new(&location, values.view())
    })
}
