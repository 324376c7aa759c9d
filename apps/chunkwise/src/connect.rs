//! Opening the connection the global options describe (through the shared front end).

use std::sync::Arc;

use anyhow::{bail, Result};
use chunkwise::config::Config;
use chunkwise::{Connection, Engine, Partition};
use chunkwise_frontend::{EngineChoice, StoreLocation, StoreOptions};

use crate::cli::{Backend, Global};

/// Where the store is: `--store`, else the configuration's `store.location`, else
/// `./chunkwise-data`; `--backend ram` (the older spelling) means `ram`.
///
/// # Errors
/// A location that does not parse, or `--backend` naming another store than `--store`.
pub fn location(global: &Global, config: &Config) -> Result<StoreLocation> {
    let text = global
        .store
        .clone()
        .or_else(|| config.store_location.clone())
        .unwrap_or_else(|| "./chunkwise-data".to_string());
    let location: StoreLocation = text.parse()?;
    match (global.backend, &location) {
        (Some(Backend::Ram), StoreLocation::Dosna(_)) if global.store.is_some() => bail!(
            "--backend ram and --store {text} name different stores; expected --store ram alone"
        ),
        (Some(Backend::Ram), _) => Ok(StoreLocation::Ram),
        (Some(Backend::Hdf5), StoreLocation::Ram) => {
            bail!("--backend hdf5 and --store ram name different stores; expected --store DIR")
        }
        _ => Ok(location),
    }
}

/// The store of the global options on `engine`, with the configuration's read-ahead and memory
/// budget. `--codec` and `--shard-chunks` describe the new arrays of this store, unless the
/// command makes them elsewhere (`copy --to-store`: `new_arrays_elsewhere`).
pub fn connect(
    global: &Global,
    config: &Config,
    engine: Arc<dyn Engine>,
    new_arrays_elsewhere: bool,
) -> Result<Connection> {
    let location = location(global, config)?;
    let options = StoreOptions {
        checksums: global.checksums,
        codecs: match new_arrays_elsewhere {
            true => chunkwise_zarr::Codecs::default(),
            false => codecs(global, config, ("--store", &location))?,
        },
        ..StoreOptions::default()
    };
    let store = location.open(options);
    chunkwise_frontend::connect(store, config, engine)
}

/// The configuration of `--config` (or `CHUNKWISE_CONFIG`) and the environment.
pub fn config(global: &Global) -> Result<Config> {
    Ok(Config::load(global.config.as_deref())?)
}

/// The engine of the global options (under MPI: initialises MPI).
pub fn engine(global: &Global, config: &Config) -> Result<Arc<dyn Engine>> {
    let choice = EngineChoice {
        kind: global.engine,
        threads: global.threads,
        partition: global.partition.map(Partition::from),
    };
    chunkwise_frontend::engine(choice, config)
}

/// Another store at `location`, on `conn`'s engine, with the configuration (the destination of
/// `copy --to-store`): its new arrays take `--codec` and `--shard-chunks`, DosNa chunk files
/// `--checksums`.
///
/// # Errors
/// A location that does not parse, codec flags for a store that is not Zarr, or a store the
/// engine cannot use.
pub fn connect_to(
    location: &str,
    conn: &Connection,
    config: &Config,
    global: &Global,
) -> Result<Connection> {
    let location: StoreLocation = location.parse()?;
    let store = location.open(StoreOptions {
        checksums: global.checksums,
        codecs: codecs(global, config, ("--to-store", &location))?,
        ..StoreOptions::default()
    });
    chunkwise_frontend::connect(store, config, conn.engine().clone())
}

/// The Zarr codecs of `--codec` and `--shard-chunks` (else the configuration's `store.codec`
/// and `store.shard_chunks`); the flags are refused for other stores, the configuration keys
/// left to the stores that use them.
fn codecs(
    global: &Global,
    config: &Config,
    (flag, location): (&str, &StoreLocation),
) -> Result<chunkwise_zarr::Codecs> {
    let asked = global.codec.is_some() || global.shard_chunks.is_some();
    if asked && !matches!(location, StoreLocation::Zarr(_)) {
        bail!(
            "--codec and --shard-chunks apply to zarr stores; {flag} {location} is a {} store",
            location.backend()
        );
    }
    let codec = global.codec.as_ref().or(config.store_codec.as_ref());
    let shard = global
        .shard_chunks
        .as_ref()
        .or(config.store_shard_chunks.as_ref());
    Ok(chunkwise_zarr::Codecs {
        compression: match codec {
            Some(text) => text.parse()?,
            None => chunkwise_zarr::Compression::None,
        },
        shard_chunks: match shard {
            Some(text) => Some(crate::parse::shape("--shard-chunks", text)?),
            None => None,
        },
    })
}
