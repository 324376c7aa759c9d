//! One module per command; `run` dispatches. Each command keeps the ranks in step (see
//! [`chunkwise_frontend::agree`]): collective API calls on every rank, local steps agreed on, and work that
//! must happen once (printing, plain reads and writes) on rank 0.

mod create;
mod demo;
mod export;
mod filter;
mod import;
mod info;
mod write;

use anyhow::Result;
use chunkwise::Connection;

use crate::cli::Command;

/// `config show`: every setting with its source, and the memory budget (no engine needed).
pub fn config_show(config: &chunkwise::config::Config) -> Result<()> {
    print!("{}", config.show());
    let budget = config.budget_bytes()?;
    println!(
        "memory budget: {budget} bytes ({:.2} GiB) = max_memory {} × memory_usage {}",
        budget as f64 / (1u64 << 30) as f64,
        config.max_memory_bytes()?,
        config.memory_usage
    );
    Ok(())
}

/// Runs the command on this rank.
pub fn run(conn: &Connection, config: &chunkwise::config::Config, command: Command) -> Result<()> {
    match command {
        Command::Ls => info::ls(conn),
        Command::Info { name } => info::info(conn, &name),
        Command::Create {
            name,
            shape,
            chunks,
            dtype,
            fill,
        } => create::create(conn, &name, &shape, chunks.as_deref(), &dtype, &fill),
        Command::Rm { name } => create::rm(conn, &name),
        Command::Import {
            source,
            name,
            chunks,
            fill,
        } => import::import(conn, &source, &name, chunks.as_deref(), fill.as_deref()),
        Command::Export {
            name,
            destination,
            select,
        } => export::export(conn, config, &name, &destination, select.as_deref()),
        Command::Write {
            name,
            select,
            from,
            value,
        } => write::write(conn, &name, &select, from.as_deref(), value.as_deref()),
        Command::Filter(filter) => filter::filter(conn, filter),
        Command::Config(_) => unreachable!("config commands run in main, before the engine starts"),
        Command::Demo {
            name,
            shape,
            chunks,
            seed,
        } => demo::demo(conn, &name, &shape, &chunks, seed),
    }
}
