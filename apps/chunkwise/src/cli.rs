//! Command-line arguments.

use std::path::PathBuf;

pub use chunkwise_frontend::{BoundaryMode, EngineKind, PartitionKind, ProgressMode};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// chunkwise: N-dimensional datasets stored as grids of chunks, processed in parallel.
///
/// A store (--store LOCATION) holds named datasets. Each dataset is split into chunks; in the
/// DosNa directory store every chunk is one HDF5 file in DosNa's layout (DIR/NAME/dataset.h5
/// plus DIR/NAME/chunk_i_j_k.h5), readable by h5py and h5dump.
#[derive(Debug, Parser)]
#[command(name = "chunkwise", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Where the datasets live: dosna:DIR (a directory of HDF5 files in DosNa's layout, made on
    /// the first `create`), zarr:DIR (a Zarr V3 group, each dataset an array), ram (in memory
    /// for the life of one command, useful with `demo`), or a plain DIR (dosna) [default:
    /// store.location of the configuration, else ./chunkwise-data].
    #[arg(long, value_name = "LOCATION", global = true)]
    pub store: Option<String>,

    /// The older spelling of the store's kind: `--backend ram` is `--store ram`, `--backend
    /// hdf5` the DosNa directory of --store.
    #[arg(long, value_enum, global = true)]
    pub backend: Option<Backend>,

    /// Zarr stores: how new arrays' chunks are compressed (with `copy --to-store`, the copy's):
    /// none, gzip[:LEVEL], zstd[:LEVEL] or blosc[:CNAME[:CLEVEL[:SHUFFLE]]] (e.g. zstd:3,
    /// blosc:lz4:5:shuffle) [default: none].
    #[arg(long, value_name = "CODEC", global = true)]
    pub codec: Option<String>,

    /// Zarr stores: write each chunk of new arrays as a shard of inner chunks of this shape
    /// (which divides the chunk shape; one number is that size on every axis), e.g. --chunks
    /// 256,256,256 --shard-chunks 32: the workers own whole shards, and readers fetch 32³
    /// pieces.
    #[arg(long, value_name = "N,N,…", global = true)]
    pub shard_chunks: Option<String>,

    /// Write chunk files with HDF5's Fletcher-32 checksum, so that damaged chunks are detected
    /// when read (reads always verify checksums that files have). Slower to write.
    #[arg(long, global = true)]
    pub checksums: bool,

    /// Who processes the chunks of collective operations (import, filter, demo): one thread,
    /// a thread pool, or MPI ranks (under mpiexec; the store must be shared between processes,
    /// so not ram).
    #[arg(long, value_enum, default_value_t = EngineKind::Threads, global = true)]
    pub engine: EngineKind,

    /// Worker threads of the threads engine, or per rank of the mpi engine [default: this
    /// node's cores shared among its ranks].
    #[arg(long, value_name = "N", global = true)]
    pub threads: Option<usize>,

    /// How the mpi engine deals chunks to ranks: cyclic over the C-order chunk index, or
    /// contiguous blocks [default: engine.partition of the configuration, cyclic].
    #[arg(long, value_enum, global = true)]
    pub partition: Option<PartitionKind>,

    /// When to show a progress bar (chunks done, bytes/s, time left) on stderr: auto on a
    /// terminal (not under the mpi engine, whose output goes through the launcher: ask with
    /// always), always (rank 0 alone under MPI), or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ProgressMode::Auto, global = true)]
    pub progress: ProgressMode,

    /// No progress bar (same as --progress never).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// Configuration file (YAML) [default: $CHUNKWISE_CONFIG, else the built-in defaults];
    /// CHUNKWISE_<SECTION>__<KEY> variables override it. See `chunkwise config show`.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Per-chunk HDF5 files in a directory (DosNa layout).
    Hdf5,
    /// In memory, gone when the command ends.
    Ram,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the datasets of the store (and outputs of jobs that did not finish).
    Ls {
        /// One JSON document: {"store": {"location", "backend"}, "datasets": [...],
        /// "incomplete": [...]}.
        #[arg(long)]
        json: bool,
    },

    /// Show a dataset: shape, dtype, chunk shape and grid, fill value, chunks present, logical
    /// and stored bytes, and the store.
    Info {
        /// Dataset name.
        name: String,
        /// One JSON document (fields in the README).
        #[arg(long)]
        json: bool,
    },

    /// What is in a dataset (or a selection): count, NaNs, sum, mean, std, variance, min and
    /// max with their indices, optionally a histogram. Sums are exact and rounded once, so
    /// every figure is the same to the bit on any engine, ranks, threads and chunk shapes.
    Stats {
        /// Dataset name.
        name: String,
        /// A numpy-like selection, e.g. "10:20, :, ::2" [default: the whole dataset].
        #[arg(long, value_name = "SEL")]
        select: Option<String>,
        /// Also count the values in BINS equal bins (numpy.histogram: the last bin closed,
        /// values outside the range and NaNs not counted).
        #[arg(long, value_name = "BINS", value_parser = clap::value_parser!(u32).range(1..))]
        histogram: Option<u32>,
        /// The histogram's range [default: the smallest and largest value, NaNs skipped].
        #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
        range: Option<String>,
        /// One JSON document (fields in the README).
        #[arg(long)]
        json: bool,
    },

    /// Create an empty dataset (every element reads as the fill value until written).
    Create {
        /// Dataset name: 1-255 characters from A-Z a-z 0-9 _ - . not starting with '.'.
        name: String,
        /// Shape, comma-separated: 100,100,100.
        #[arg(long, value_name = "N,N,…")]
        shape: String,
        /// Chunk shape, comma-separated [default: one chunk, the whole shape].
        #[arg(long, value_name = "N,N,…")]
        chunks: Option<String>,
        /// Element type: u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 (numpy names like <f4 work too).
        #[arg(long, default_value = "f32")]
        dtype: String,
        /// Fill value: what unwritten elements read as.
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        fill: String,
    },

    /// Delete a dataset and all its chunks.
    Rm {
        /// Dataset name.
        name: String,
    },

    /// Load a dataset of an ordinary HDF5 file into a new dataset, chunk by chunk, in parallel.
    Import {
        /// Source as FILE.h5:/path/in/file.
        source: String,
        /// Name of the new dataset.
        name: String,
        /// Chunk shape, comma-separated [default: the source's HDF5 chunks, else about 1 MiB
        /// shaped like the array].
        #[arg(long, value_name = "N,N,…")]
        chunks: Option<String>,
        /// Fill value of the new dataset [default: 0].
        #[arg(long, allow_hyphen_values = true)]
        fill: Option<String>,
    },

    /// Copy a dataset into a new one, chunk by chunk in parallel: with other chunks, another
    /// dtype or into another store. A conversion that can lose values (numpy's casting rules:
    /// f64 → f32, signed → unsigned, float → integer, narrowing) is refused unless
    /// --unsafe-cast.
    Copy {
        /// Dataset to copy.
        source: String,
        /// Name of the new dataset.
        destination: String,
        /// Chunk shape of the copy, comma-separated [default: the source's].
        #[arg(long, value_name = "N,N,…")]
        chunks: Option<String>,
        /// Element type of the copy: u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 [default: the
        /// source's].
        #[arg(long)]
        dtype: Option<String>,
        /// Convert even when values can be lost, as numpy's astype does (integers wrap,
        /// floats round toward zero; out-of-range floats saturate, NaN becomes 0).
        #[arg(long)]
        unsafe_cast: bool,
        /// Fill value of the copy [default: the source's, converted].
        #[arg(long, allow_hyphen_values = true)]
        fill: Option<String>,
        /// Store of the copy [default: the --store of the source].
        #[arg(long, value_name = "LOCATION")]
        to_store: Option<String>,
    },

    /// Write a dataset, or a selection of it, to an ordinary HDF5 file. Axes selected by an
    /// integer are dropped, as numpy does.
    Export {
        /// Dataset name.
        name: String,
        /// Destination as FILE.h5:/path/in/file (the file may exist; the path must not).
        destination: String,
        /// numpy-style selection, e.g. "10:50, :, -1" [default: everything].
        #[arg(long, value_name = "SEL", allow_hyphen_values = true)]
        select: Option<String>,
    },

    /// Write into a selection of a dataset, from an HDF5 dataset of the selected shape or a
    /// single value.
    Write {
        /// Dataset name.
        name: String,
        /// numpy-style selection, e.g. "0:10, :, 5".
        #[arg(long, value_name = "SEL", allow_hyphen_values = true)]
        select: String,
        /// Source of the values as FILE.h5:/path (same dtype, the selection's shape).
        #[arg(
            long,
            value_name = "FILE.h5:/path",
            conflicts_with = "value",
            required_unless_present = "value"
        )]
        from: Option<String>,
        /// One value for every selected element.
        #[arg(long, allow_hyphen_values = true)]
        value: Option<String>,
    },

    /// Filter a dataset into a new one (collective: chunk by chunk on the engine, exact).
    #[command(subcommand)]
    Filter(FilterCommand),

    /// The configuration in effect.
    #[command(subcommand)]
    Config(ConfigCommand),

    /// Print a shell completion script for bash, zsh, fish, elvish or powershell, e.g.
    /// `chunkwise completions bash > ~/.local/share/bash-completion/completions/chunkwise`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Write man pages (chunkwise.1 and one per command, chunkwise-import.1, …) into a
    /// directory, e.g. `chunkwise man ~/.local/share/man/man1`.
    Man {
        /// Where the pages go (made if missing).
        dir: PathBuf,
    },

    /// A short demonstration: create a dataset, load seeded random data chunk by chunk, apply
    /// x*2+1 to every chunk, check the result, print its info.
    Demo {
        /// Dataset name (replaced if it exists).
        #[arg(long, default_value = "demo")]
        name: String,
        /// Shape.
        #[arg(long, value_name = "N,N,…", default_value = "128,128,128")]
        shape: String,
        /// Chunk shape.
        #[arg(long, value_name = "N,N,…", default_value = "32,32,32")]
        chunks: String,
        /// Seed of the random data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum FilterCommand {
    /// Gaussian filter with scipy.ndimage's semantics. By default all axes, each output chunk
    /// computed from the chunk plus a halo of the kernel radius, so the result equals filtering
    /// the whole array; --axis K filters along one axis only. f32 and f64 datasets.
    Gaussian {
        /// Input dataset.
        source: String,
        /// Name of the new dataset.
        destination: String,
        /// Standard deviation: one value, or one per axis (comma-separated; 0 skips an axis).
        #[arg(long, value_name = "S[,S,…]", allow_hyphen_values = true)]
        sigma: String,
        /// Kernel radius in sigmas: radius = int(truncate·sigma + 0.5).
        #[arg(long, default_value_t = 4.0)]
        truncate: f64,
        /// Values beyond the array (scipy.ndimage's modes).
        #[arg(long, value_enum, default_value_t = BoundaryMode::Reflect)]
        mode: BoundaryMode,
        /// The constant of --mode constant.
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        cval: f64,
        /// Filter along this axis only.
        #[arg(long, value_name = "K")]
        axis: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print every setting, its value and where it came from (default, file or environment),
    /// and the memory budget (max_memory × memory_usage).
    Show {
        /// One JSON document: {"settings": {KEY: {"value", "source"}}, "memory_budget":
        /// {"bytes", "max_memory", "memory_usage"}}.
        #[arg(long)]
        json: bool,
    },
}
