//! `create` and `rm`.

use anyhow::Result;
use chunkwise::{Connection, DType, DatasetMeta, Layout, Scalar};

use crate::parse;

/// Creates an empty dataset.
pub fn create(
    conn: &Connection,
    name: &str,
    shape: &str,
    chunks: Option<&str>,
    dtype: &str,
    fill: &str,
) -> Result<()> {
    let shape = parse::shape("--shape", shape)?;
    let chunks = match chunks {
        Some(text) => parse::shape("--chunks", text)?,
        None => shape.clone(),
    };
    let dtype: DType = dtype.parse()?;
    let fill = Scalar::parse(dtype, fill)?;
    let meta = DatasetMeta::new(Layout::new(&shape, &chunks)?, dtype, fill)?;
    conn.create_dataset(name, meta)?;
    Ok(())
}

/// Deletes a dataset.
pub fn rm(conn: &Connection, name: &str) -> Result<()> {
    conn.delete_dataset(name)?;
    Ok(())
}
