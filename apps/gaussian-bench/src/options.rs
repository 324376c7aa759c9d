//! Command-line options of gaussian-bench.

use std::path::PathBuf;

pub use chunkwise_frontend::{BoundaryMode, EngineKind, PartitionKind};
use clap::{Parser, ValueEnum};

/// The chunkwise 3D Gaussian convolution benchmark.
///
/// For every data size DS, seeded random data is generated chunk by chunk straight into the
/// store; for every chunk size CS ≤ DS, --ntest repetitions time the load, the 3D Gaussian over
/// all axes per chunk with halo (exact), and three 1D passes along z, y, x (each a new
/// dataset). Timings go to <out>/result.h5 (DosNa's layout, plus per-rank timers, bytes moved,
/// verification and the run's configuration beside it), with images of the centre slices and
/// plots of time against chunk size. Run it with `mpiexec -n N gaussian-bench --engine mpi`.
///
/// On a cluster, one job can run the whole sweep, or a job array can run one cell (data size,
/// chunk size) per task: `--list-cells` numbers the cells, `--cell K` runs cell K into
/// <out>/cells/<uid>.h5, skipping cells already done; `gaussian-bench merge <out>` then builds
/// result.h5 from the cells and `gaussian-bench status <out>` shows what is done, failed or
/// missing. See slurm/ for sbatch scripts.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gaussian-bench",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
pub struct Options {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Storage backend (ram only with one process).
    #[arg(long, value_enum, default_value_t = Backend::Hdf5)]
    pub backend: Backend,
    /// With --backend zarr: how the arrays' chunks are compressed: none, gzip or gzip:LEVEL,
    /// zstd or zstd:LEVEL, blosc or blosc:CNAME:CLEVEL:SHUFFLE (recorded in result.h5: codec).
    #[arg(long, value_name = "CODEC", default_value = "none")]
    pub codec: String,
    /// With --backend zarr: group each cell's chunks into Zarr shards of N³ elements (the
    /// smaller of N and the data size, rounded up to a multiple of the cell's chunk size): a
    /// cell's chunks stay what readers fetch, the shard is the unit the workers write, one file
    /// per shard (recorded in result.h5: shard).
    #[arg(long, value_name = "N")]
    pub shard: Option<usize>,
    /// Engine: sequential, threads, or mpi (under mpiexec).
    #[arg(long, value_enum, default_value_t = EngineKind::Threads)]
    pub engine: EngineKind,
    /// How the mpi engine deals chunks to ranks: block (neighbouring chunks on one rank, so a
    /// rank reads only the halo planes of the chunks of other ranks) or cyclic (chunk k to rank
    /// k mod N) [default: engine.partition of the configuration if it sets one, else block].
    #[arg(long, value_enum)]
    pub partition: Option<PartitionKind>,
    /// Worker threads (per rank with mpi) [default: the node's cores shared among its ranks].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Where the hdf5 backend's datasets live: dosna:DIR or a plain DIR, the DosNa directory
    /// store [default: store.location of the configuration, else <tmp>/gaussian-bench-store].
    #[arg(long, value_name = "LOCATION")]
    pub store: Option<chunkwise_frontend::StoreLocation>,
    /// Where result.h5, images and plots go.
    #[arg(long, value_name = "DIR", default_value = "./gaussian-bench-out")]
    pub out: PathBuf,
    /// Directory for temporary data: the default store and the memory-mapped files of arrays
    /// beyond the memory budget [default: resources.temp_dir of the configuration].
    #[arg(long, value_name = "DIR")]
    pub tmp: Option<PathBuf>,
    /// Configuration file (YAML; see `chunkwise config show`) [default: $CHUNKWISE_CONFIG, else
    /// the built-in defaults]. Its memory budget (max_memory × memory_usage) bounds the blocks
    /// in flight and the chunk caches, and the whole-array reference goes to memory-mapped
    /// files when it does not fit; engine.threads and io.read_ahead apply too.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Edge lengths of the cubic datasets.
    #[arg(long, num_args = 1.., value_name = "DS", default_values_t = [128, 256, 512])]
    pub data_sizes: Vec<usize>,
    /// Edge lengths of the cubic chunks (combinations with CS > DS are skipped: NaN in result.h5).
    #[arg(long, num_args = 1.., value_name = "CS", default_values_t = [24, 36, 48, 60, 72, 96, 128])]
    pub chunk_sizes: Vec<usize>,
    /// Gaussian sigma, the same on every axis.
    #[arg(long, default_value_t = 1.5)]
    pub sigma: f64,
    /// Kernel radius in sigmas: radius = int(truncate·sigma + 0.5).
    #[arg(long, default_value_t = 4.0)]
    pub truncate: f64,
    /// Values beyond the array (scipy.ndimage's modes; constant pads with 0).
    #[arg(long, value_enum, default_value_t = BoundaryMode::Reflect)]
    pub mode: BoundaryMode,
    /// Element type of the data.
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// Repetitions of every (data size, chunk size) combination.
    #[arg(long, default_value_t = 10)]
    pub ntest: usize,
    /// Seed of the random data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Keep input_<DS>, gaussian_3d_<DS>_<CS> and gaussian_1d_<DS>_<CS> in the store.
    #[arg(long)]
    pub keep: bool,
    /// MiB of the chunk files of deleted datasets the hdf5 store keeps to write the next
    /// repetition's chunk files over (in <store>/.chunkwise-spare, removed at exit): a file
    /// still in the page cache is written over in 53–85 % of the time a new one takes; the
    /// emptied directories of deleted datasets are kept as well, for the next datasets. The
    /// default, 0, creates every chunk file and directory anew, as users' workloads do; the
    /// value is recorded in result.h5 (spare_files_mib).
    #[arg(long, value_name = "MIB", default_value_t = 0)]
    pub spare_files: u64,
    /// Do not mark the store directory the hdf5 or zarr store creates as an ext2/3/4 top
    /// directory (chattr +T, which spreads the datasets over block groups; recorded in
    /// result.h5: top_directory).
    #[arg(long)]
    pub no_top_directory: bool,
    /// Also compare with an in-memory gaussian_filter of the whole array for data sizes above
    /// 128 (always done up to 128).
    #[arg(long)]
    pub verify: bool,
    /// Print the sweep's cells (one per data size and chunk size ≤ it) as
    /// `K DS CS UID` and exit. The uid depends on the number of ranks: list under the same
    /// launcher as the run (without one, for 1 rank).
    #[arg(long, conflicts_with = "cell")]
    pub list_cells: bool,
    /// With --list-cells: one JSON document, {"ranks": N, "cells": [{"cell", "data_size",
    /// "chunk_size", "uid"}]}.
    #[arg(long, requires = "list_cells")]
    pub json: bool,
    /// Run only cell K of the sweep (numbered by --list-cells) and write its figures to
    /// <out>/cells/<uid>.h5 (atomically). For job arrays: `--cell $SLURM_ARRAY_TASK_ID`.
    /// A failed cell leaves <uid>.failed with the error, the job id and the log file.
    #[arg(long, value_name = "K")]
    pub cell: Option<usize>,
    /// With --cell: `cached` skips a cell already done and refuses to rerun a failed one;
    /// `retry` also reruns a failed cell; `force` reruns the cell whatever its state. (Named
    /// --cell-mode because --mode is the boundary mode.)
    #[arg(long, value_enum, default_value_t = CellMode::Cached, requires = "cell")]
    pub cell_mode: CellMode,
}

/// Work on an output directory's cells.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Build <out>/result.h5 (DosNa's layout, as a full run writes it) and the plots from
    /// every finished cell in <out>/cells. Cells of different ranks or backends go to their own
    /// /<backend>/<nprocs> datasets; missing cells are NaN. Replaces an earlier result.h5.
    Merge {
        /// The --out directory of the cell runs.
        out: PathBuf,
    },
    /// List the sweep's cells as done, failed or missing, with the job id and log file of each.
    /// Exits with status 1 when a cell failed or is missing.
    Status {
        /// The --out directory of the cell runs.
        out: PathBuf,
        /// One JSON document: {"cells_dir", "cells": [{"cell", "data_size", "chunk_size",
        /// "uid", "state", "job", "log", "error"}], "done", "failed", "missing"}.
        #[arg(long)]
        json: bool,
    },
}

/// What --cell does with a cell that already ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CellMode {
    Cached,
    Retry,
    Force,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The DosNa directory store: a directory per dataset, an HDF5 file per chunk.
    Hdf5,
    /// A Zarr V3 group: an array per dataset (--codec).
    Zarr,
    /// In memory (one process).
    Ram,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Hdf5 => "hdf5",
            Backend::Zarr => "zarr",
            Backend::Ram => "ram",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dtype {
    F32,
    F64,
}

impl Dtype {
    /// The core's element type.
    pub fn dtype(self) -> chunkwise::DType {
        match self {
            Dtype::F32 => chunkwise::DType::F32,
            Dtype::F64 => chunkwise::DType::F64,
        }
    }
}

impl Options {
    /// The side of the shards of the cell with data size `ds` and chunk size `cs` (`--shard`),
    /// or `None` when chunks are not sharded.
    pub fn shard_side(&self, ds: usize, cs: usize) -> Option<usize> {
        self.shard
            .map(|shard| shard.min(ds).max(cs).div_ceil(cs) * cs)
    }

    /// Checks what clap cannot: sizes, sigma, ntest.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.data_sizes.is_empty(),
            "--data-sizes is empty; expected at least one size"
        );
        anyhow::ensure!(
            !self.chunk_sizes.is_empty(),
            "--chunk-sizes is empty; expected at least one size"
        );
        if let Some(bad) = self
            .data_sizes
            .iter()
            .chain(&self.chunk_sizes)
            .find(|&&s| s == 0)
        {
            anyhow::bail!("size {bad} in --data-sizes/--chunk-sizes; expected sizes ≥ 1");
        }
        anyhow::ensure!(self.ntest >= 1, "--ntest 0; expected at least 1 repetition");
        if self.backend != Backend::Zarr && self.codec != "none" {
            anyhow::bail!(
                "--codec {} applies to --backend zarr; this run's backend is {}",
                self.codec,
                self.backend.name()
            );
        }
        self.codec.parse::<chunkwise_zarr::Compression>()?;
        if let Some(shard) = self.shard {
            anyhow::ensure!(
                self.backend == Backend::Zarr,
                "--shard {shard} applies to --backend zarr; this run's backend is {}",
                self.backend.name()
            );
            anyhow::ensure!(shard >= 1, "--shard 0; expected a shard side ≥ 1");
        }
        anyhow::ensure!(
            self.sigma.is_finite() && self.sigma > 0.0,
            "--sigma {}; expected a number > 0",
            self.sigma
        );
        anyhow::ensure!(
            self.truncate.is_finite() && self.truncate > 0.0,
            "--truncate {}; expected a number > 0",
            self.truncate
        );
        Ok(())
    }
}
