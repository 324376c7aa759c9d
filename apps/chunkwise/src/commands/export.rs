//! `export`: a dataset or a selection of it into an ordinary HDF5 file.

use anyhow::Result;
use chunkwise::config::Config;
use chunkwise::memory::MemoryBudget;
use chunkwise::{with_element_type, Connection, Selection};

use crate::h5file::{write_new, H5Location};
use chunkwise_frontend::on_root;

/// Exports `name` (or the selection) to `destination` (rank 0).
/// The selection is read into the memory budget of the configuration: in RAM while it fits,
/// else through a memory-mapped temporary file, read and written in pieces of a quarter of the
/// budget so the process's resident memory stays within it.
pub fn export(
    conn: &Connection,
    config: &Config,
    name: &str,
    destination: &str,
    select: Option<&str>,
) -> Result<()> {
    on_root(conn, || {
        export_here(conn, config, name, destination, select)
    })
}

fn export_here(
    conn: &Connection,
    config: &Config,
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
    let budget = match conn.memory_budget() {
        Some(budget) => budget.clone(),
        None => MemoryBudget::from_config(config)?,
    };
    with_element_type!(dataset.dtype(), T => {
        let values = dataset.read_in::<T>(&budget, &selection)?;
        write_new(&location, &values, budget.limit() / 4)
    })
}
