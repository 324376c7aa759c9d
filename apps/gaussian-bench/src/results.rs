//! `<out>/result.h5`: the timings in DosNa's layout, and everything chunkwise adds beside them.
//!
//! ```text
//! /<backend>/<nprocs>          float32 (n_data_sizes, n_chunk_sizes, 3, ntest): [..,0,:] load,
//!                              [..,1,:] 3D convolution, [..,2,:] three 1D convolutions (seconds;
//!                              skipped combinations stay 0), with DosNa's axis attributes
//! /<backend>/<nprocs>_delete   float32 (n_ds, n_cs, ntest): deleting the test's datasets
//! /<backend>/<nprocs>_verify   float64 (n_ds, n_cs, 2): max |3D − 3×1D|, max |3D − in-memory
//!                              gaussian_filter| (NaN where not checked)
//! /<backend>/<nprocs>_timers   float64 (n_ds, n_cs, ntest, 3 phases, nprocs, 6): per rank and
//!                              phase (load, 3D, 1D): read, compute, write, barrier seconds
//!                              (summed over the rank's threads), bytes read, bytes written
//! /<backend>/<nprocs>_run      group; attributes: engine, ranks, threads_per_rank, host,
//!                              version, generator (of the input data), command, sigma,
//!                              truncate, mode, dtype, seed, ntest, spare_files_mib and
//!                              top_directory (the hdf5 store's options),
//!                              configuration (every setting with its origin)
//! ```

use std::path::Path;

use anyhow::{bail, Context, Result};
use hdf5::types::VarLenUnicode;
use ndarray::{arr1, ArrayD, IxDyn};

/// Every figure of a sweep, held by rank 0.
#[derive(Debug, Clone)]
pub struct Results {
    pub data_sizes: Vec<usize>,
    pub chunk_sizes: Vec<usize>,
    pub ntest: usize,
    pub ranks: usize,
    /// (n_ds, n_cs, 3, ntest)
    pub times: ArrayD<f32>,
    /// (n_ds, n_cs, ntest)
    pub delete: ArrayD<f32>,
    /// (n_ds, n_cs, 2)
    pub verify: ArrayD<f64>,
    /// (n_ds, n_cs, ntest, 3, ranks, 6)
    pub timers: ArrayD<f64>,
}

/// Names of the six per-rank timer figures, in order.
pub const TIMER_FIGURES: [&str; 6] = [
    "read_s",
    "compute_s",
    "write_s",
    "barrier_s",
    "read_bytes",
    "write_bytes",
];

impl Results {
    pub fn new(data_sizes: &[usize], chunk_sizes: &[usize], ntest: usize, ranks: usize) -> Self {
        let (d, c) = (data_sizes.len(), chunk_sizes.len());
        Results {
            data_sizes: data_sizes.to_vec(),
            chunk_sizes: chunk_sizes.to_vec(),
            ntest,
            ranks,
            times: ArrayD::zeros(IxDyn(&[d, c, 3, ntest])),
            delete: ArrayD::zeros(IxDyn(&[d, c, ntest])),
            verify: ArrayD::from_elem(IxDyn(&[d, c, 2]), f64::NAN),
            timers: ArrayD::zeros(IxDyn(&[d, c, ntest, 3, ranks, 6])),
        }
    }
}

/// What the run was, stored as attributes.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub backend: String,
    pub engine: String,
    pub ranks: usize,
    pub threads_per_rank: usize,
    pub host: String,
    pub command: String,
    pub sigma: f64,
    pub truncate: f64,
    pub mode: String,
    pub dtype: String,
    pub seed: u64,
    /// The program version that made the figures.
    pub version: String,
    /// The data generator (`data::GENERATOR`) of the input; empty for files written before it
    /// was recorded.
    pub generator: String,
    /// MiB of spare chunk files the store kept (`--spare-files`); `None` in files written
    /// before it was recorded.
    pub spare_files_mib: Option<u64>,
    /// Whether the store root was marked a top directory (`--top-directory`); `None` in files
    /// written before it was recorded.
    pub top_directory: Option<bool>,
    /// The effective configuration, each value with its origin (`chunkwise config show`).
    pub configuration: String,
    /// Set when the figures are one cell of a sweep run with --cell.
    pub cell: Option<CellRecord>,
}

/// Which cell a cell file holds and the job that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct CellRecord {
    pub index: usize,
    pub uid: String,
    /// SLURM job id (`<array job>_<task>` in an array), or empty outside SLURM.
    pub job: String,
    /// The job's log file, or empty when unknown.
    pub log: String,
}

fn path_of(backend: &str, ranks: usize) -> String {
    format!("/{backend}/{ranks}")
}

/// Fails if `result.h5` in `out` already holds `/<backend>/<ranks>` with another shape (checked
/// before the sweep starts, so a long run never ends in a refusal).
pub fn check_existing(out: &Path, backend: &str, ranks: usize, shape: &[usize]) -> Result<()> {
    let file_path = out.join("result.h5");
    if !file_path.exists() {
        return Ok(());
    }
    let file = hdf5::File::open(&file_path)
        .with_context(|| format!("cannot open {}", file_path.display()))?;
    let path = path_of(backend, ranks);
    if file.link_exists(backend) && file.group(backend)?.link_exists(&ranks.to_string()) {
        let existing = file.dataset(&path)?.shape();
        if existing != shape {
            bail!(
                "{} already holds {path} with shape {existing:?}, but this sweep makes shape {shape:?}; \
                 use another --out or move the file away (it is never overwritten with another shape)",
                file_path.display()
            );
        }
    }
    Ok(())
}

fn text(value: &str) -> Result<VarLenUnicode> {
    value
        .parse::<VarLenUnicode>()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes (or replaces, same shape only) the run's datasets in `<out>/result.h5`.
/// Returns whether an earlier run's figures were replaced.
pub fn write(out: &Path, info: &RunInfo, results: &Results) -> Result<bool> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    check_existing(out, &info.backend, info.ranks, results.times.shape())?;
    // A copy is changed and renamed over the file: a failure (a full disk) leaves the earlier
    // result.h5 as it was.
    let path = out.join("result.h5");
    let mut replaced = false;
    crate::cells::replace_atomically(&path, |temp| {
        if path.exists() {
            std::fs::copy(&path, temp)
                .with_context(|| format!("cannot copy {}", path.display()))?;
        }
        replaced = write_file(temp, info, results)?;
        Ok(())
    })?;
    Ok(replaced)
}

/// Writes the run's datasets into the HDF5 file `file_path` (created if missing), replacing
/// `/<backend>/<ranks>` and its companions. Returns whether they existed.
pub fn write_file(file_path: &Path, info: &RunInfo, results: &Results) -> Result<bool> {
    let file = if file_path.exists() {
        hdf5::File::open_rw(file_path)
    } else {
        hdf5::File::create(file_path)
    }
    .with_context(|| format!("cannot open {} for writing", file_path.display()))?;
    let group = if file.link_exists(&info.backend) {
        file.group(&info.backend)?
    } else {
        file.create_group(&info.backend)?
    };
    let base = info.ranks.to_string();
    let names = [
        base.clone(),
        format!("{base}_delete"),
        format!("{base}_verify"),
        format!("{base}_timers"),
        format!("{base}_run"),
    ];
    let replaced = group.link_exists(&base);
    for name in &names {
        if group.link_exists(name) {
            group.unlink(name)?;
        }
    }

    let times = group
        .new_dataset_builder()
        .with_data(&results.times)
        .create(base.as_str())?;
    let ds: Vec<i64> = results.data_sizes.iter().map(|&v| v as i64).collect();
    let cs: Vec<i64> = results.chunk_sizes.iter().map(|&v| v as i64).collect();
    let tests: Vec<i64> = (0..results.ntest as i64).collect();
    for (attr, value) in [
        ("axis0_label", "Data Size"),
        ("axis1_label", "Chunk Size"),
        ("axis2_label", "Tests"),
        ("axis3_label", "# Tests"),
    ] {
        times
            .new_attr::<VarLenUnicode>()
            .create(attr)?
            .write_scalar(&text(value)?)?;
    }
    times
        .new_attr_builder()
        .with_data(&arr1(&ds))
        .create("axis0_value")?;
    times
        .new_attr_builder()
        .with_data(&arr1(&cs))
        .create("axis1_value")?;
    let kinds = arr1(&[text("DATA")?, text("3D")?, text("1D")?]);
    times
        .new_attr_builder()
        .with_data(&kinds)
        .create("axis2_value")?;
    times
        .new_attr_builder()
        .with_data(&arr1(&tests))
        .create("axis3_value")?;

    group
        .new_dataset_builder()
        .with_data(&results.delete)
        .create(names[1].as_str())?;
    group
        .new_dataset_builder()
        .with_data(&results.verify)
        .create(names[2].as_str())?;
    let timers = group
        .new_dataset_builder()
        .with_data(&results.timers)
        .create(names[3].as_str())?;
    let figures = arr1(&TIMER_FIGURES.map(|f| text(f).unwrap_or_default()));
    timers
        .new_attr_builder()
        .with_data(&figures)
        .create("figures")?;
    let phases = arr1(&[text("load")?, text("3D")?, text("1D")?]);
    timers
        .new_attr_builder()
        .with_data(&phases)
        .create("phases")?;

    let run = group.create_group(&names[4])?;
    for (attr, value) in [
        ("backend", info.backend.as_str()),
        ("engine", info.engine.as_str()),
        ("host", info.host.as_str()),
        ("version", info.version.as_str()),
        ("generator", info.generator.as_str()),
        ("command", info.command.as_str()),
        ("mode", info.mode.as_str()),
        ("dtype", info.dtype.as_str()),
        ("configuration", info.configuration.as_str()),
    ] {
        run.new_attr::<VarLenUnicode>()
            .create(attr)?
            .write_scalar(&text(value)?)?;
    }
    run.new_attr::<i64>()
        .create("ranks")?
        .write_scalar(&(info.ranks as i64))?;
    run.new_attr::<i64>()
        .create("threads_per_rank")?
        .write_scalar(&(info.threads_per_rank as i64))?;
    run.new_attr::<i64>()
        .create("ntest")?
        .write_scalar(&(results.ntest as i64))?;
    run.new_attr::<u64>()
        .create("seed")?
        .write_scalar(&info.seed)?;
    run.new_attr::<f64>()
        .create("sigma")?
        .write_scalar(&info.sigma)?;
    run.new_attr::<f64>()
        .create("truncate")?
        .write_scalar(&info.truncate)?;
    if let Some(mib) = info.spare_files_mib {
        run.new_attr::<u64>()
            .create("spare_files_mib")?
            .write_scalar(&mib)?;
    }
    if let Some(top) = info.top_directory {
        run.new_attr::<u8>()
            .create("top_directory")?
            .write_scalar(&u8::from(top))?;
    }
    if let Some(cell) = &info.cell {
        for (attr, value) in [
            ("cell_uid", cell.uid.as_str()),
            ("job", cell.job.as_str()),
            ("log", cell.log.as_str()),
        ] {
            run.new_attr::<VarLenUnicode>()
                .create(attr)?
                .write_scalar(&text(value)?)?;
        }
        run.new_attr::<i64>()
            .create("cell_index")?
            .write_scalar(&(cell.index as i64))?;
    }
    file.close()?;
    Ok(replaced)
}

/// The one run a file written by [`write_file`] holds (a cell file): its description and
/// figures.
pub fn read_file(file_path: &Path) -> Result<(RunInfo, Results)> {
    let context = || format!("cannot read {}", file_path.display());
    let file = hdf5::File::open(file_path).with_context(context)?;
    let backends = file.member_names().with_context(context)?;
    let [backend] = backends.as_slice() else {
        bail!(
            "{} holds {} backends; expected one run",
            file_path.display(),
            backends.len()
        );
    };
    let group = file.group(backend).with_context(context)?;
    let runs: Vec<usize> = group
        .member_names()?
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    let [ranks] = runs.as_slice() else {
        bail!(
            "{} holds {} runs; expected one",
            file_path.display(),
            runs.len()
        );
    };
    let base = ranks.to_string();
    let times = group.dataset(&base).with_context(context)?;
    let axis = |name: &str| -> Result<Vec<usize>> {
        Ok(times
            .attr(name)?
            .read_raw::<i64>()?
            .into_iter()
            .map(|v| v as usize)
            .collect())
    };
    let run = group.group(&format!("{base}_run"))?;
    let text_attr = |name: &str| -> Result<String> {
        Ok(run
            .attr(name)?
            .read_scalar::<VarLenUnicode>()?
            .as_str()
            .to_string())
    };
    let int_attr = |name: &str| -> Result<i64> { Ok(run.attr(name)?.read_scalar::<i64>()?) };
    let cell = if run.attr_names()?.iter().any(|n| n == "cell_uid") {
        Some(CellRecord {
            index: int_attr("cell_index")? as usize,
            uid: text_attr("cell_uid")?,
            job: text_attr("job")?,
            log: text_attr("log")?,
        })
    } else {
        None
    };
    let info = RunInfo {
        backend: backend.clone(),
        engine: text_attr("engine")?,
        ranks: *ranks,
        threads_per_rank: int_attr("threads_per_rank")? as usize,
        host: text_attr("host")?,
        command: text_attr("command")?,
        sigma: run.attr("sigma")?.read_scalar::<f64>()?,
        truncate: run.attr("truncate")?.read_scalar::<f64>()?,
        mode: text_attr("mode")?,
        dtype: text_attr("dtype")?,
        seed: run.attr("seed")?.read_scalar::<u64>()?,
        version: text_attr("version")?,
        generator: match run.attr_names()?.iter().any(|n| n == "generator") {
            true => text_attr("generator")?,
            false => String::new(),
        },
        spare_files_mib: match run.attr_names()?.iter().any(|n| n == "spare_files_mib") {
            true => Some(run.attr("spare_files_mib")?.read_scalar::<u64>()?),
            false => None,
        },
        top_directory: match run.attr_names()?.iter().any(|n| n == "top_directory") {
            true => Some(run.attr("top_directory")?.read_scalar::<u8>()? != 0),
            false => None,
        },
        configuration: text_attr("configuration")?,
        cell,
    };
    let results = Results {
        data_sizes: axis("axis0_value")?,
        chunk_sizes: axis("axis1_value")?,
        ntest: int_attr("ntest")? as usize,
        ranks: *ranks,
        times: times.read_dyn::<f32>()?,
        delete: group
            .dataset(&format!("{base}_delete"))?
            .read_dyn::<f32>()?,
        verify: group
            .dataset(&format!("{base}_verify"))?
            .read_dyn::<f64>()?,
        timers: group
            .dataset(&format!("{base}_timers"))?
            .read_dyn::<f64>()?,
    };
    Ok((info, results))
}
