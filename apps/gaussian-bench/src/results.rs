//! `<out>/result.h5`: the timings in DosNa's layout, and everything chunkwise adds beside them.
//!
//! ```text
//! /<backend>/<nprocs>   float32 (data size, chunk size, kind, test), seconds: kind 0 load, 1 the
//!                       3D convolution, 2 three 1D convolutions; NaN where not measured (a
//!                       chunk larger than the data, a cell of a sweep that has not run). As
//!                       DosNa writes it: attributes axis0_label "Data Size", axis1_label
//!                       "Chunk Size", axis2_label "Tests", axis3_label "# Tests", axis0_value
//!                       and axis1_value (int64 sizes), axis2_value ([DATA, 3D, 1D], fixed-length
//!                       S4), axis3_value (int64 0..ntest); plus units "seconds". So
//!                       `for n in f['hdf5']: int(n)` lists the numbers of ranks, as with DosNa.
//! /chunkwise/<backend>/<nprocs>/        group: the run (attributes: format, backend, engine,
//!                       ranks, threads_per_rank, host, version, build, codec, shard (the
//!                       zarr shards' side, 0: unsharded), generator, command, sigma,
//!                       truncate, mode, dtype, seed, ntest, spare_files_mib, top_directory,
//!                       configuration; a cell's cell_uid, cell_index, job, log)
//!     delete            float32 (data size, chunk size, test), seconds: deleting a test's datasets
//!     verify            float64 (data size, chunk size, check), the data's units: max |3D − 3×1D|
//!                       and max |3D − in-memory gaussian_filter| (NaN where not checked)
//!     timer_seconds     float64 (data size, chunk size, test, phase, rank, figure), seconds:
//!                       per rank and phase (load, 3D, 1D), read, compute, write and barrier time
//!                       summed over the rank's threads
//!     timer_bytes       float64 (…, figure), bytes: bytes read, bytes written
//! ```
//! Every chunkwise dataset names its axes like DosNa's (axisK_label, axisK_value) and its
//! units (units).

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

impl Results {
    pub fn new(data_sizes: &[usize], chunk_sizes: &[usize], ntest: usize, ranks: usize) -> Self {
        let (d, c) = (data_sizes.len(), chunk_sizes.len());
        Results {
            data_sizes: data_sizes.to_vec(),
            chunk_sizes: chunk_sizes.to_vec(),
            ntest,
            ranks,
            // NaN until measured: a cell that did not run is not a time of 0.
            times: ArrayD::from_elem(IxDyn(&[d, c, 3, ntest]), f32::NAN),
            delete: ArrayD::from_elem(IxDyn(&[d, c, ntest]), f32::NAN),
            verify: ArrayD::from_elem(IxDyn(&[d, c, 2]), f64::NAN),
            timers: ArrayD::from_elem(IxDyn(&[d, c, ntest, 3, ranks, 6]), f64::NAN),
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
    /// The build that made them (`crate::build_id`): git commit and a hash of the binary.
    pub build: String,
    /// The codec of the zarr backend's arrays (`none` otherwise).
    pub codec: String,
    /// The side of the zarr backend's shards (`--shard`), `None` when unsharded.
    pub shard: Option<usize>,
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

/// The version of the layout in the module docs, stored as the run group's `format`.
pub const FORMAT: &str = "chunkwise gaussian-bench results 2";

/// Names of the per-rank timer figures: four in seconds, then two in bytes (the last axis of
/// [`Results::timers`]).
const SECONDS_FIGURES: [&str; 4] = ["read", "compute", "write", "barrier"];
const BYTES_FIGURES: [&str; 2] = ["read", "write"];

/// Writes the run's datasets into the HDF5 file `file_path` (created if missing), replacing
/// `/<backend>/<ranks>` and `/chunkwise/<backend>/<ranks>`. Returns whether they existed.
pub fn write_file(file_path: &Path, info: &RunInfo, results: &Results) -> Result<bool> {
    let file = if file_path.exists() {
        hdf5::File::open_rw(file_path)
    } else {
        hdf5::File::create(file_path)
    }
    .with_context(|| format!("cannot open {} for writing", file_path.display()))?;
    let group = group_in(&file, &info.backend)?;
    let base = info.ranks.to_string();
    let replaced = group.link_exists(&base);
    // The companions of layout 1 sat beside the DosNa dataset; they go too.
    for name in [
        base.clone(),
        format!("{base}_delete"),
        format!("{base}_verify"),
        format!("{base}_timers"),
        format!("{base}_run"),
    ] {
        if group.link_exists(&name) {
            group.unlink(&name)?;
        }
    }
    let ours = group_in(&group_in(&file, "chunkwise")?, &info.backend)?;
    if ours.link_exists(&base) {
        ours.unlink(&base)?;
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
        ("units", "seconds"),
    ] {
        text_attr_to(&times, attr, value)?;
    }
    int_axis(&times, "axis0_value", &ds)?;
    int_axis(&times, "axis1_value", &cs)?;
    // DosNa's numpy array of b'DATA', b'3D', b'1D': fixed-length strings of 4 bytes (S4).
    let kinds = arr1(&[fixed("DATA")?, fixed("3D")?, fixed("1D")?]);
    times
        .new_attr_builder()
        .with_data(&kinds)
        .create("axis2_value")?;
    int_axis(&times, "axis3_value", &tests)?;

    let run = ours.create_group(&base)?;
    let size_axes = |dataset: &hdf5::Dataset| -> Result<()> {
        text_attr_to(dataset, "axis0_label", "Data Size")?;
        int_axis(dataset, "axis0_value", &ds)?;
        text_attr_to(dataset, "axis1_label", "Chunk Size")?;
        int_axis(dataset, "axis1_value", &cs)
    };
    let delete = run
        .new_dataset_builder()
        .with_data(&results.delete)
        .create("delete")?;
    size_axes(&delete)?;
    text_attr_to(&delete, "axis2_label", "Test")?;
    int_axis(&delete, "axis2_value", &tests)?;
    text_attr_to(&delete, "units", "seconds")?;

    let verify = run
        .new_dataset_builder()
        .with_data(&results.verify)
        .create("verify")?;
    size_axes(&verify)?;
    text_attr_to(&verify, "axis2_label", "Check")?;
    text_axis(
        &verify,
        "axis2_value",
        &["max |3D - 3x1D|", "max |3D - reference|"],
    )?;
    text_attr_to(&verify, "units", "the data's units (NaN: not checked)")?;

    let ranks: Vec<i64> = (0..results.ranks as i64).collect();
    let figures = results.timers.shape()[5];
    for (name, range, names, units) in [
        ("timer_seconds", 0..4, &SECONDS_FIGURES[..], "seconds"),
        ("timer_bytes", 4..figures, &BYTES_FIGURES[..], "bytes"),
    ] {
        let part = results.timers.slice(ndarray::s![.., .., .., .., .., range]);
        let timers = run
            .new_dataset_builder()
            .with_data(&part.as_standard_layout())
            .create(name)?;
        size_axes(&timers)?;
        text_attr_to(&timers, "axis2_label", "Test")?;
        int_axis(&timers, "axis2_value", &tests)?;
        text_attr_to(&timers, "axis3_label", "Phase")?;
        text_axis(&timers, "axis3_value", &["load", "3D", "1D"])?;
        text_attr_to(&timers, "axis4_label", "Rank")?;
        int_axis(&timers, "axis4_value", &ranks)?;
        text_attr_to(&timers, "axis5_label", "Figure")?;
        text_axis(&timers, "axis5_value", names)?;
        text_attr_to(&timers, "units", units)?;
    }

    for (attr, value) in [
        ("format", FORMAT),
        ("backend", info.backend.as_str()),
        ("engine", info.engine.as_str()),
        ("host", info.host.as_str()),
        ("version", info.version.as_str()),
        ("build", info.build.as_str()),
        ("codec", info.codec.as_str()),
        ("generator", info.generator.as_str()),
        ("command", info.command.as_str()),
        ("mode", info.mode.as_str()),
        ("dtype", info.dtype.as_str()),
        ("configuration", info.configuration.as_str()),
    ] {
        text_attr_to(&run, attr, value)?;
    }
    run.new_attr::<i64>()
        .create("ranks")?
        .write_scalar(&(info.ranks as i64))?;
    // 0: chunks not sharded.
    run.new_attr::<i64>()
        .create("shard")?
        .write_scalar(&(info.shard.unwrap_or(0) as i64))?;
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
            text_attr_to(&run, attr, value)?;
        }
        run.new_attr::<i64>()
            .create("cell_index")?
            .write_scalar(&(cell.index as i64))?;
    }
    file.close()?;
    Ok(replaced)
}

/// The group `name` of `parent`, made if missing.
fn group_in(parent: &hdf5::Group, name: &str) -> Result<hdf5::Group> {
    Ok(if parent.link_exists(name) {
        parent.group(name)?
    } else {
        parent.create_group(name)?
    })
}

fn text_attr_to(location: &hdf5::Location, name: &str, value: &str) -> Result<()> {
    location
        .new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&text(value)?)?;
    Ok(())
}

fn int_axis(location: &hdf5::Location, name: &str, values: &[i64]) -> Result<()> {
    location
        .new_attr_builder()
        .with_data(&arr1(values))
        .create(name)?;
    Ok(())
}

fn text_axis(location: &hdf5::Location, name: &str, values: &[&str]) -> Result<()> {
    let values = values.iter().map(|v| text(v)).collect::<Result<Vec<_>>>()?;
    location
        .new_attr_builder()
        .with_data(&arr1(&values))
        .create(name)?;
    Ok(())
}

/// A fixed-length ASCII string of 4 bytes, as numpy's `S4`.
fn fixed(value: &str) -> Result<hdf5::types::FixedAscii<4>> {
    hdf5::types::FixedAscii::<4>::from_ascii(value).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The one run a file written by [`write_file`] holds (a cell file): its description and
/// figures.
pub fn read_file(file_path: &Path) -> Result<(RunInfo, Results)> {
    let context = || format!("cannot read {}", file_path.display());
    let file = hdf5::File::open(file_path).with_context(context)?;
    let backends: Vec<String> = file
        .member_names()
        .with_context(context)?
        .into_iter()
        .filter(|name| name != "chunkwise")
        .collect();
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
    let ours = format!("chunkwise/{backend}/{base}");
    if !file.link_exists("chunkwise")
        || !file.group("chunkwise")?.link_exists(backend)
        || !file
            .group(&format!("chunkwise/{backend}"))?
            .link_exists(&base)
    {
        bail!(
            "{} has no /{ours}: it was written by an older gaussian-bench (layout 1); rerun its cell",
            file_path.display()
        );
    }
    let times = group.dataset(&base).with_context(context)?;
    let axis = |name: &str| -> Result<Vec<usize>> {
        Ok(times
            .attr(name)?
            .read_raw::<i64>()?
            .into_iter()
            .map(|v| v as usize)
            .collect())
    };
    let run = file.group(&ours)?;
    let text_attr = |name: &str| -> Result<String> {
        Ok(run
            .attr(name)?
            .read_scalar::<VarLenUnicode>()?
            .as_str()
            .to_string())
    };
    let has = |name: &str| -> Result<bool> { Ok(run.attr_names()?.iter().any(|n| n == name)) };
    let format = text_attr("format")?;
    if format != FORMAT {
        bail!(
            "{} is in the format {format:?}; this gaussian-bench reads {FORMAT:?}",
            file_path.display()
        );
    }
    let int_attr = |name: &str| -> Result<i64> { Ok(run.attr(name)?.read_scalar::<i64>()?) };
    let cell = if has("cell_uid")? {
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
        build: text_attr("build")?,
        codec: text_attr("codec")?,
        shard: match has("shard")? {
            true => Some(int_attr("shard")? as usize).filter(|&side| side > 0),
            false => None,
        },
        generator: text_attr("generator")?,
        spare_files_mib: match has("spare_files_mib")? {
            true => Some(run.attr("spare_files_mib")?.read_scalar::<u64>()?),
            false => None,
        },
        top_directory: match has("top_directory")? {
            true => Some(run.attr("top_directory")?.read_scalar::<u8>()? != 0),
            false => None,
        },
        configuration: text_attr("configuration")?,
        cell,
    };
    let seconds = run.dataset("timer_seconds")?.read_dyn::<f64>()?;
    let bytes = run.dataset("timer_bytes")?.read_dyn::<f64>()?;
    let timers = ndarray::concatenate(ndarray::Axis(5), &[seconds.view(), bytes.view()])?;
    let results = Results {
        data_sizes: axis("axis0_value")?,
        chunk_sizes: axis("axis1_value")?,
        ntest: int_attr("ntest")? as usize,
        ranks: *ranks,
        times: times.read_dyn::<f32>()?,
        delete: run.dataset("delete")?.read_dyn::<f32>()?,
        verify: run.dataset("verify")?.read_dyn::<f64>()?,
        timers,
    };
    Ok((info, results))
}
