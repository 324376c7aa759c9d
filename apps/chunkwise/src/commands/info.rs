//! `ls` and `info`.

use anyhow::Result;
use chunkwise::error::fmt_tuple;
use chunkwise::Connection;

use chunkwise_frontend::on_root;

/// Prints one dataset name per line (rank 0).
pub fn ls(conn: &Connection) -> Result<()> {
    on_root(conn, || {
        for name in conn.list_datasets()? {
            println!("{name}");
        }
        // Outputs of jobs that did not finish: never opened as datasets, shown so they can be
        // rerun or removed.
        for name in conn.list_incomplete()? {
            println!(
                "{name} (incomplete: its job did not finish; rerun it, or chunkwise rm {name})"
            );
        }
        Ok(())
    })
}

/// Prints a dataset's summary (rank 0).
pub fn info(conn: &Connection, name: &str) -> Result<()> {
    on_root(conn, || print_info(conn, name))
}

/// Prints a dataset's summary from this rank.
pub fn print_info(conn: &Connection, name: &str) -> Result<()> {
    let info = conn.dataset(name)?.info()?;
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
    println!(
        "bytes:       {} logical, {} stored",
        info.logical_bytes, info.stored_bytes
    );
    Ok(())
}
