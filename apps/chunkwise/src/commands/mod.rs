//! One module per command; `run` dispatches. Each command keeps the ranks in step (see
//! [`chunkwise_frontend::agree`]): collective API calls on every rank, local steps agreed on, and work that
//! must happen once (printing, plain reads and writes) on rank 0.

mod copy;
mod create;
mod demo;
pub mod docs;
mod export;
mod filter;
mod import;
mod info;
mod stats;
mod write;

use anyhow::Result;
use chunkwise::config::SettingValue;
use chunkwise::Connection;
use chunkwise_frontend::StoreLocation;

use crate::cli::Command;

/// `config show`: every setting with its source, and the memory budget (no engine needed).
pub fn config_show(config: &chunkwise::config::Config, as_json: bool) -> Result<()> {
    let budget = config.budget_bytes()?;
    if as_json {
        let settings: serde_json::Map<String, serde_json::Value> = config
            .settings()
            .into_iter()
            .map(|setting| {
                let value = match setting.value {
                    SettingValue::Null => serde_json::Value::Null,
                    SettingValue::Bool(b) => b.into(),
                    SettingValue::Number(n) => n.into(),
                    SettingValue::Text(t) => t.into(),
                };
                let source = setting.source.to_string();
                (
                    setting.key.to_string(),
                    serde_json::json!({ "value": value, "source": source }),
                )
            })
            .collect();
        let document = serde_json::json!({
            "settings": settings,
            "memory_budget": {
                "bytes": budget,
                "max_memory": config.max_memory_bytes()?,
                "memory_usage": config.memory_usage,
            },
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
        return Ok(());
    }
    print!("{}", config.show());
    println!(
        "memory budget: {budget} bytes ({:.2} GiB) = max_memory {} × memory_usage {}",
        budget as f64 / (1u64 << 30) as f64,
        config.max_memory_bytes()?,
        config.memory_usage
    );
    Ok(())
}

/// Runs the command on this rank.
pub fn run(
    conn: &Connection,
    config: &chunkwise::config::Config,
    global: &crate::cli::Global,
    location: &StoreLocation,
    command: Command,
) -> Result<()> {
    match command {
        Command::Ls { json } => info::ls(conn, location, json),
        Command::Info { name, json } => info::info(conn, location, &name, json),
        Command::Stats {
            name,
            select,
            histogram,
            range,
            json,
        } => stats::stats(
            conn,
            &stats::StatsRequest {
                name: &name,
                select: select.as_deref(),
                histogram: histogram.map(|bins| bins as usize),
                range: range.as_deref(),
                json,
            },
        ),
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
        Command::Copy {
            source,
            destination,
            chunks,
            dtype,
            unsafe_cast,
            fill,
            to_store,
        } => {
            let request = copy::CopyRequest {
                source: &source,
                destination: &destination,
                chunks: chunks.as_deref(),
                dtype: dtype.as_deref(),
                fill: fill.as_deref(),
                unsafe_cast,
            };
            match to_store {
                Some(location) => {
                    let target = crate::connect::connect_to(&location, conn, config, global)?;
                    copy::copy(conn, &target, &request)
                }
                None => copy::copy(conn, conn, &request),
            }
        }
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
        Command::Config(_) | Command::Completions { .. } | Command::Man { .. } => {
            unreachable!("run in main, before the engine starts")
        }
        Command::Demo {
            name,
            shape,
            chunks,
            seed,
        } => demo::demo(conn, location, &name, &shape, &chunks, seed),
    }
}
