//! `ls` and `info`, as text or as one JSON document (`--json`, field names in the README).

use anyhow::Result;
use chunkwise::error::fmt_tuple;
use chunkwise::{Connection, DatasetInfo, Scalar};
use serde_json::{json, Value};

use chunkwise_frontend::{on_root, StoreLocation};

/// Prints the store's datasets (rank 0): one name per line, or JSON.
pub fn ls(conn: &Connection, location: &StoreLocation, as_json: bool) -> Result<()> {
    on_root(conn, || {
        let datasets = conn.list_datasets()?;
        // Outputs of jobs that did not finish: never opened as datasets, shown so they can be
        // rerun or removed.
        let incomplete = conn.list_incomplete()?;
        if as_json {
            let document = json!({
                "store": store_json(conn, location),
                "datasets": datasets,
                "incomplete": incomplete,
            });
            println!("{}", serde_json::to_string_pretty(&document)?);
            return Ok(());
        }
        for name in datasets {
            println!("{name}");
        }
        for name in incomplete {
            println!(
                "{name} (incomplete: its job did not finish; rerun it, or chunkwise rm {name})"
            );
        }
        Ok(())
    })
}

/// Prints a dataset's summary (rank 0).
pub fn info(conn: &Connection, location: &StoreLocation, name: &str, as_json: bool) -> Result<()> {
    on_root(conn, || {
        let info = conn.dataset(name)?.info()?;
        if as_json {
            let document = info_json(&info, store_json(conn, location));
            println!("{}", serde_json::to_string_pretty(&document)?);
        } else {
            print_info(&info, conn, location);
        }
        Ok(())
    })
}

/// A dataset's summary as text.
pub fn print_info(info: &DatasetInfo, conn: &Connection, location: &StoreLocation) {
    println!("name:        {}", info.name);
    println!("shape:       {}", fmt_tuple(&info.shape));
    println!("dtype:       {} ({})", info.dtype, info.dtype.numpy_name());
    println!("chunk shape: {}", fmt_tuple(&info.chunk_shape));
    println!("chunk grid:  {}", fmt_tuple(&info.grid));
    println!("fill value:  {}", info.fill_value);
    println!(
        "chunks:      {} of {} present",
        info.chunks_present, info.chunks_total
    );
    if let Some(encoding) = &info.encoding {
        println!("codecs:      {encoding}");
    }
    match ratio(info) {
        Some(ratio) => println!(
            "bytes:       {} logical, {} stored (ratio {ratio:.2}: the chunks' bytes over their stored size)",
            info.logical_bytes, info.stored_bytes
        ),
        None => println!(
            "bytes:       {} logical, {} stored",
            info.logical_bytes, info.stored_bytes
        ),
    }
    println!(
        "store:       {} ({} backend)",
        absolute(location),
        conn.store().backend()
    );
}

/// The `store` object of the JSON documents.
fn store_json(conn: &Connection, location: &StoreLocation) -> Value {
    json!({
        "location": absolute(location),
        "backend": conn.store().backend(),
    })
}

/// The JSON document of `info --json`.
fn info_json(info: &DatasetInfo, store: Value) -> Value {
    json!({
        "name": info.name,
        "shape": info.shape,
        "dtype": info.dtype.to_string(),
        "numpy_dtype": info.dtype.numpy_name(),
        "chunk_shape": info.chunk_shape,
        "chunk_grid": info.grid,
        "fill_value": scalar_json(&info.fill_value),
        "chunks_present": info.chunks_present,
        "chunks_total": info.chunks_total,
        "logical_bytes": info.logical_bytes,
        "stored_bytes": info.stored_bytes,
        "codecs": info.encoding,
        "compression_ratio": ratio(info),
        "store": store,
    })
}

/// A value as a JSON number (integers exactly), or `"nan"`, `"inf"`, `"-inf"`, which JSON
/// numbers cannot hold.
pub fn scalar_json(value: &Scalar) -> Value {
    let text = value.to_string();
    if value.dtype().is_float() {
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => json!(x),
            _ => json!(text.to_lowercase()),
        }
    } else if let Ok(n) = text.parse::<i64>() {
        json!(n)
    } else if let Ok(n) = text.parse::<u64>() {
        json!(n)
    } else {
        json!(text)
    }
}

/// The location with an absolute path, as other processes (a job on another node) would use it.
fn absolute(location: &StoreLocation) -> String {
    match location {
        StoreLocation::Dosna(path) => {
            StoreLocation::Dosna(std::path::absolute(path).unwrap_or_else(|_| path.clone()))
                .to_string()
        }
        StoreLocation::Zarr(path) => {
            StoreLocation::Zarr(std::path::absolute(path).unwrap_or_else(|_| path.clone()))
                .to_string()
        }
        other => other.to_string(),
    }
}

/// The present chunks' element bytes over their stored size; `None` without chunks.
fn ratio(info: &DatasetInfo) -> Option<f64> {
    let chunk_bytes = info.chunk_shape.iter().product::<usize>() * info.dtype.size();
    let raw = (info.chunks_present * chunk_bytes) as f64;
    (info.stored_bytes > 0).then(|| raw / info.stored_bytes as f64)
}
