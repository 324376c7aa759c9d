//! `create` and `rm`.

use anyhow::Result;
use chunkwise::{Connection, DType, DatasetMeta, Layout, Scalar};

use crate::parse;
use chunkwise_frontend::agree;

/// Creates an empty dataset.
pub fn create(
    conn: &Connection,
    name: &str,
    shape: &str,
    chunks: Option<&str>,
    dtype: &str,
    fill: &str,
) -> Result<()> {
    let meta = agree(conn, describe(shape, chunks, dtype, fill))?;
    conn.create_dataset(name, meta)?;
    Ok(())
}

/// The metadata the options describe (computed alike on every rank).
fn describe(shape: &str, chunks: Option<&str>, dtype: &str, fill: &str) -> Result<DatasetMeta> {
    let shape = parse::shape("--shape", shape)?;
    let chunks = match chunks {
        Some(text) => parse::shape("--chunks", text)?,
        None => shape.clone(),
    };
    let dtype: DType = dtype.parse()?;
    let fill = Scalar::parse(dtype, fill)?;
    Ok(DatasetMeta::new(
        Layout::new(&shape, &chunks)?,
        dtype,
        fill,
    )?)
}

/// Deletes a dataset.
pub fn rm(conn: &Connection, name: &str) -> Result<()> {
    conn.delete_dataset(name)?;
    Ok(())
}
