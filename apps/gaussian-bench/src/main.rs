//! gaussian-bench: how chunk size and data size drive the cost of an exact distributed 3D
//! Gaussian on a store and a cluster. See `gaussian-bench --help`.

// The doc comments of the options are the `--help` text (clap), where `<out>` names a value.
#![allow(rustdoc::invalid_html_tags)]

mod build_id;
mod cells;
mod data;
mod fonts;
mod images;
mod merge;
mod options;
mod plots;
mod report;
mod results;
mod status;
mod sweep;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use chunkwise::config::{Config, Source};
use chunkwise::{Connection, Engine, Partition, RamStore, Store};
use chunkwise_frontend::{StoreLocation, StoreOptions};
use clap::CommandFactory;
use indicatif::{ProgressBar, ProgressStyle};

use crate::options::{Command, Dtype, Options};
use crate::results::{Results, RunInfo};
use crate::sweep::Sweep;

/// The configuration with the partition this run uses: `--partition`, else the configuration's
/// own if a file or the environment set it, else block — a stencil's halos then cross ranks
/// only where one rank's run of chunks meets the next (the library's default, cyclic, suits
/// work without neighbours). The result file's configuration shows which it was.
fn with_partition(mut config: Config, option: Option<Partition>) -> Config {
    const KEY: &str = "engine.partition";
    let (partition, source) = match option {
        Some(partition) => (partition, "gaussian-bench --partition"),
        None if config.sources.get(KEY) != Some(&Source::Default) => return config,
        None => (Partition::Block, "gaussian-bench's default"),
    };
    config.partition = partition;
    config
        .sources
        .insert(KEY, Source::Application(source.to_string()));
    config
}

fn engine(options: &Options, config: &Config) -> Result<Arc<dyn Engine>> {
    let choice = chunkwise_frontend::EngineChoice {
        kind: options.engine,
        threads: options.threads,
        // `with_partition` put the run's partition in the configuration.
        partition: None,
    };
    chunkwise_frontend::engine(choice, config)
}

/// The configuration with `--tmp`, when given, as its temp_dir (the result file's
/// configuration then shows it, and the memory budget spills there).
fn with_tmp(mut config: Config, tmp: Option<&std::path::Path>) -> Config {
    if let Some(tmp) = tmp {
        config.temp_dir = Some(tmp.to_path_buf());
        config.sources.insert(
            "resources.temp_dir",
            Source::Application("gaussian-bench --tmp".to_string()),
        );
    }
    config
}

/// Refuses data sizes whose datasets cannot fit the store's file system: a cell holds up to
/// five datasets of the data size at once (the input, the 3D result, and the three 1D passes).
fn check_store_room(options: &Options, dir: &std::path::Path) -> Result<()> {
    let Some(&largest) = options.data_sizes.iter().max() else {
        return Ok(());
    };
    let element = options.dtype.dtype().size() as u128;
    let needed = (largest as u128).pow(3) * element * 5;
    // The nearest existing directory: the store may not exist yet.
    let here = std::path::Path::new(".");
    let existing = dir
        .ancestors()
        .find(|d| !d.as_os_str().is_empty() && d.exists())
        .unwrap_or(here);
    let Some(free) = chunkwise::memory::free_disk_space(existing) else {
        return Ok(());
    };
    anyhow::ensure!(
        needed <= u128::from(free),
        "--data-sizes {largest} needs about {needed} bytes in the store (five datasets of {largest}³ {} at once), but {} has {free} bytes free; expected smaller data sizes or a larger --store",
        options.dtype.dtype(),
        existing.display()
    );
    Ok(())
}

/// The directory of the zarr backend's group: --store, else the configuration's, else one in
/// the temp directory.
fn zarr_dir(options: &Options, config: &Config) -> Result<PathBuf> {
    let configured = match &config.store_location {
        Some(text) => Some(text.parse::<StoreLocation>()?),
        None => None,
    };
    Ok(match options.store.as_ref().or(configured.as_ref()) {
        Some(StoreLocation::Zarr(dir) | StoreLocation::Dosna(dir)) => dir.clone(),
        Some(StoreLocation::Ram) => anyhow::bail!(
            "--store ram: the ram store is chosen with --backend ram; expected --store zarr:DIR or DIR"
        ),
        None => match &options.tmp {
            Some(tmp) => tmp.join("gaussian-bench-store.zarr"),
            None => std::env::temp_dir().join("gaussian-bench-store.zarr"),
        },
    })
}

/// The zarr backend's group writing new arrays with `--codec`, their chunks grouped into
/// shards of `shard_chunks` when given.
fn zarr_store(
    options: &Options,
    config: &Config,
    shard_chunks: Option<Vec<usize>>,
) -> Result<Arc<dyn Store>> {
    Ok(
        StoreLocation::Zarr(zarr_dir(options, config)?).open(StoreOptions {
            codecs: chunkwise_zarr::Codecs {
                compression: options.codec.parse()?,
                shard_chunks,
            },
            top_directory: !options.no_top_directory,
            ..StoreOptions::default()
        }),
    )
}

fn connect(options: &Options, config: &Config, engine: Arc<dyn Engine>) -> Result<Connection> {
    let store: Arc<dyn Store> = match options.backend {
        options::Backend::Zarr => {
            check_store_room(options, &zarr_dir(options, config)?)?;
            zarr_store(options, config, None)?
        }
        options::Backend::Hdf5 => {
            let configured = match &config.store_location {
                Some(text) => Some(text.parse::<StoreLocation>()?),
                None => None,
            };
            let dir = match options.store.as_ref().or(configured.as_ref()) {
                Some(StoreLocation::Dosna(dir)) => dir.clone(),
                Some(StoreLocation::Ram) => anyhow::bail!(
                    "--store ram: the ram store is chosen with --backend ram; expected --store dosna:DIR or DIR"
                ),
                Some(StoreLocation::Zarr(dir)) => anyhow::bail!(
                    "--store zarr:{}: the hdf5 backend runs on a DosNa directory; expected --store dosna:DIR or DIR",
                    dir.display()
                ),
                None => match &options.tmp {
                    Some(tmp) => tmp.join("gaussian-bench-store"),
                    None => std::env::temp_dir().join("gaussian-bench-store"),
                },
            };
            check_store_room(options, &dir)?;
            StoreLocation::Dosna(dir).open(StoreOptions {
                spare_file_bytes: options.spare_files << 20,
                top_directory: !options.no_top_directory,
                ..StoreOptions::default()
            })
        }
        options::Backend::Ram => Arc::new(RamStore::new()),
    };
    chunkwise_frontend::connect(store, config, engine)
}

/// Runs the sweep of `options` (with a progress bar on rank 0) and returns, on rank 0, what the
/// run was and its figures.
pub(crate) fn measure(
    options: &Options,
    config: &Config,
    conn: &Connection,
) -> Result<Option<(RunInfo, Results)>> {
    let root = conn.is_root();
    let mode = options.mode.boundary(0.0);
    let cells = cells::cells(options).len();
    let progress = (root && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new((cells * options.ntest) as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} ETA {eta} {msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let sharded = |cs: usize| zarr_store(options, config, Some(vec![cs; 3]));
    let sweep = Sweep {
        options,
        conn,
        mode,
        progress: progress.clone(),
        sharded_store: options.shard.is_some().then_some(&sharded as _),
    };
    let results = match options.dtype {
        Dtype::F32 => sweep.run::<f32>()?,
        Dtype::F64 => sweep.run::<f64>()?,
    };
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(results.map(|results| {
        let info = RunInfo {
            backend: options.backend.name().to_string(),
            engine: conn.engine().name().to_string(),
            ranks: conn.size(),
            threads_per_rank: conn.engine().threads(),
            host: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            sigma: options.sigma,
            truncate: options.truncate,
            mode: mode.to_string(),
            dtype: format!("{:?}", options.dtype).to_lowercase(),
            seed: options.seed,
            version: env!("CARGO_PKG_VERSION").to_string(),
            build: build_id::build_id().to_string(),
            codec: options.codec.clone(),
            shard: options.shard,
            generator: data::GENERATOR.to_string(),
            spare_files_mib: Some(options.spare_files),
            top_directory: Some(!options.no_top_directory),
            configuration: format!(
                "{}memory budget per rank: {} bytes ({} rank(s) on this node)\n",
                config.show(),
                conn.memory_budget().map_or(0, |b| b.limit()),
                conn.engine().ranks_on_node()
            ),
            cell: None,
        };
        (info, results)
    }))
}

/// The first line of the summary: what ran and how.
pub(crate) fn headline(info: &RunInfo, ntest: usize) -> String {
    format!(
        "gaussian-bench: {} backend, {} engine, {} rank(s) × {} thread(s), sigma {}, {} mode, {ntest} tests",
        info.backend, info.engine, info.ranks, info.threads_per_rank, info.sigma, info.mode
    )
}

/// The whole sweep in one run, into <out>/result.h5.
fn run_sweep(options: &Options, config: &Config, conn: &Connection) -> Result<()> {
    let ranks = conn.size();
    let backend = options.backend.name();
    // Refuse to run when result.h5 holds figures of another shape (agreed on by every rank).
    let shape = [
        options.data_sizes.len(),
        options.chunk_sizes.len(),
        3,
        options.ntest,
    ];
    sweep::on_root(conn, || {
        results::check_existing(&options.out, backend, ranks, &shape)
    })?;
    let Some((info, results)) = measure(options, config, conn)? else {
        return Ok(());
    };
    let replaced = results::write(&options.out, &info, &results)?;
    let plots = plots(&options.out, backend, &results)?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", headline(&info, options.ntest))?;
    write!(stdout, "{}", report::summary(&results))?;
    let result_path = options.out.join("result.h5");
    writeln!(
        stdout,
        "results: {}{}",
        result_path.display(),
        if replaced {
            format!(" (replaced the earlier /{backend}/{ranks})")
        } else {
            String::new()
        }
    )?;
    writeln!(
        stdout,
        "images:  {}/{{input,conv3d,conv3x1d,diff}}_{ranks}-<DS>-<CS>.png",
        options.out.display()
    )?;
    for plot in plots {
        writeln!(stdout, "plot:    {}", plot.display())?;
    }
    Ok(())
}

/// The plots of `results` (written after the figures, which are safe in result.h5 by then).
///
/// # Errors
/// Why a plot could not be written.
pub(crate) fn plots(
    out: &std::path::Path,
    backend: &str,
    results: &Results,
) -> Result<Vec<std::path::PathBuf>> {
    plots::write_plots(out, backend, results)
        .context("the figures are in result.h5, but the plots were not written")
}

fn run(options: &Options, config: &Config, conn: &Connection) -> Result<()> {
    if options.list_cells {
        return cells::list(options, conn);
    }
    match options.cell {
        Some(k) => cells::run_cell(options, config, conn, k),
        None => run_sweep(options, config, conn),
    }
}

/// Freed chunk buffers are kept for the next chunk (within the budget's room), instead of
/// being faulted in again page by page.
#[global_allocator]
static ALLOCATOR: chunkwise::tuning::KeepLargeBlocks = chunkwise::tuning::KeepLargeBlocks;

fn main() -> ExitCode {
    // --version names the build (git commit and binary hash), as result.h5 records it.
    let version: &'static str = Box::leak(
        format!(
            "{} (build {})",
            env!("CARGO_PKG_VERSION"),
            build_id::build_id()
        )
        .into_boxed_str(),
    );
    let options: Options =
        chunkwise_frontend::parse_args("gaussian-bench", Options::command().version(version));
    if let Some(command) = &options.command {
        // merge and status read files only: no engine, no store.
        let outcome = match command {
            Command::Merge { out } => merge::merge(out, &cells::cells_dir(out)),
            Command::Status { out, json } => status::status(out, *json),
        };
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("gaussian-bench: error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(error) = options.check() {
        eprintln!("gaussian-bench: error: {error:#}");
        return ExitCode::FAILURE;
    }
    // SIGINT/SIGTERM/SIGHUP fail the running phase, which then cleans up as on any error.
    if let Err(error) = chunkwise::interrupt::install() {
        eprintln!("gaussian-bench: error: {error}");
        return ExitCode::FAILURE;
    }
    let config = match Config::load(options.config.as_deref()) {
        Ok(config) => with_tmp(
            with_partition(config, options.partition.map(Partition::from)),
            options.tmp.as_deref(),
        ),
        Err(error) => {
            eprintln!("gaussian-bench: error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let engine = match engine(&options, &config).context("cannot start the engine") {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("gaussian-bench: error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let conn = match connect(&options, &config, engine.clone()) {
        Ok(conn) => conn,
        Err(error) => {
            // Every rank reaches the same verdict on the store: rank 0 reports it.
            if engine.is_root() {
                eprintln!("gaussian-bench: error: {error:#}");
            }
            return ExitCode::FAILURE;
        }
    };
    let outcome = run(&options, &config, &conn);
    drop(conn);
    chunkwise_frontend::exit_code("gaussian-bench", engine.as_ref(), outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_is_the_options_else_the_configurations_else_block() {
        let defaults = Config::load(None).unwrap();
        let line = |config: &Config| {
            config
                .show()
                .lines()
                .find(|l| l.starts_with("engine.partition"))
                .unwrap()
                .to_string()
        };
        let chosen = with_partition(defaults.clone(), None);
        assert_eq!(chosen.partition, Partition::Block);
        assert!(line(&chosen).contains("gaussian-bench's default"));
        let chosen = with_partition(defaults.clone(), Some(Partition::Cyclic));
        assert_eq!(chosen.partition, Partition::Cyclic);
        assert!(line(&chosen).contains("gaussian-bench --partition"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, "engine:\n  partition: cyclic\n").unwrap();
        let from_file = Config::load(Some(&file)).unwrap();
        let chosen = with_partition(from_file.clone(), None);
        assert_eq!(chosen, from_file);
        let chosen = with_partition(from_file, Some(Partition::Block));
        assert_eq!(chosen.partition, Partition::Block);
    }

    #[test]
    fn tmp_is_the_configurations_temp_dir_and_the_budgets() {
        let defaults = Config::load(None).unwrap();
        assert_eq!(with_tmp(defaults.clone(), None), defaults);
        let dir = tempfile::tempdir().unwrap();
        let config = with_tmp(defaults, Some(dir.path()));
        assert_eq!(config.temp_dir(), dir.path());
        let line = config
            .show()
            .lines()
            .find(|l| l.starts_with("resources.temp_dir"))
            .unwrap()
            .to_string();
        assert!(line.contains("gaussian-bench --tmp"), "{line}");
        let budget = chunkwise::memory::MemoryBudget::from_config_per_rank(&config, 1).unwrap();
        assert_eq!(budget.temp_dir(), dir.path());
    }
}
