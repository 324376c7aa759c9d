//! Cells: one (data size, chunk size) of a sweep, run on its own (a task of a job array).
//!
//! A cell's figures go to `<out>/cells/<uid>.h5`, written under a temporary name and renamed
//! into place, so a file with that name is always complete. The uid is made of the parameters
//! that change the figures: readable (`ds=256,cs=64,sigma=1.5`) plus a short hash of all of
//! them (sizes, sigma, truncate, mode, dtype, seed, ntest, backend and the number of ranks).
//! A cell that fails leaves `<uid>.failed` (the error, the job id, the log file); a later
//! success removes it. `<out>/cells/sweep.txt` lists the sweep's cells so `status` knows which
//! are missing.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chunkwise::config::Config;
use chunkwise::Connection;
use sha2::{Digest, Sha256};

use crate::options::{CellMode, Options};
use crate::results::{self, CellRecord};
use crate::sweep::on_root;

/// Environment variable naming cells that fail on purpose (tests of the failure path; only in
/// builds with the `fault-injection` feature).
#[cfg(feature = "fault-injection")]
const FAIL_CELLS: &str = "GAUSSIAN_BENCH_FAIL_CELLS";

/// One (data size, chunk size) of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub index: usize,
    pub ds: usize,
    pub cs: usize,
}

/// The sweep's cells: data sizes in the order given, for each the chunk sizes ≤ it.
pub fn cells(options: &Options) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &ds in &options.data_sizes {
        for &cs in options.chunk_sizes.iter().filter(|&&cs| cs <= ds) {
            cells.push(Cell {
                index: cells.len(),
                ds,
                cs,
            });
        }
    }
    cells
}

/// The uid of `cell` run with `options` on `ranks` ranks by this build (see [`crate::build_id`]).
pub fn uid(options: &Options, cell: Cell, ranks: usize) -> String {
    let canonical = format!(
        "ds={};cs={};sigma={};truncate={};mode={};dtype={:?};seed={};ntest={};backend={};codec={};shard={:?};ranks={};build={}",
        cell.ds,
        cell.cs,
        options.sigma,
        options.truncate,
        options.mode,
        options.dtype,
        options.seed,
        options.ntest,
        options.backend.name(),
        options.codec,
        options.shard,
        ranks,
        crate::build_id::build_id()
    );
    let digest = Sha256::digest(canonical.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "ds={},cs={},sigma={}-{hash}",
        cell.ds, cell.cs, options.sigma
    )
}

/// Where the cell files of `out` live.
pub fn cells_dir(out: &Path) -> PathBuf {
    out.join("cells")
}

/// The SLURM job this process belongs to, and its log file, as far as they can be known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Job {
    /// `<array job>_<task>` in an array, the job id otherwise; empty outside SLURM.
    pub id: String,
    /// From GAUSSIAN_BENCH_LOG (set by the sbatch scripts), else `scontrol show job`.
    pub log: String,
}

impl Job {
    pub fn current() -> Job {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let id = match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
            (Some(job), Some(task)) => format!("{job}_{task}"),
            _ => var("SLURM_JOB_ID").unwrap_or_default(),
        };
        let log = var("GAUSSIAN_BENCH_LOG")
            .or_else(|| var("SLURM_JOB_ID").and_then(|job| log_from_scontrol(&job)))
            .unwrap_or_default();
        Job { id, log }
    }
}

/// `StdOut=` of `scontrol show job ID`, if scontrol answers.
fn log_from_scontrol(job: &str) -> Option<String> {
    let output = std::process::Command::new("scontrol")
        .args(["show", "job", job])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .find_map(|field| field.strip_prefix("StdOut=").map(str::to_string))
}

/// What is known of a cell in the cells directory.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Done {
        job: String,
        log: String,
    },
    Failed {
        job: String,
        log: String,
        error: String,
    },
    Missing,
}

fn done_path(dir: &Path, uid: &str) -> PathBuf {
    dir.join(format!("{uid}.h5"))
}

fn failed_path(dir: &Path, uid: &str) -> PathBuf {
    dir.join(format!("{uid}.failed"))
}

/// The `key: value` lines of a `.failed` file.
fn failed_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .unwrap_or_default()
        .to_string()
}

/// The state of cell `uid`: failed when its last attempt failed (even if an earlier one
/// finished), done when its file is there, else missing.
pub fn state(dir: &Path, uid: &str) -> Result<State> {
    let failed = failed_path(dir, uid);
    if failed.is_file() {
        let text = std::fs::read_to_string(&failed)
            .with_context(|| format!("cannot read {}", failed.display()))?;
        return Ok(State::Failed {
            job: failed_field(&text, "job"),
            log: failed_field(&text, "log"),
            error: failed_field(&text, "error"),
        });
    }
    let done = done_path(dir, uid);
    if done.is_file() {
        let (info, _) = results::read_file(&done)?;
        let cell = info.cell.unwrap_or(CellRecord {
            index: 0,
            uid: uid.to_string(),
            job: String::new(),
            log: String::new(),
        });
        return Ok(State::Done {
            job: cell.job,
            log: cell.log,
        });
    }
    Ok(State::Missing)
}

/// Makes `path` with `write`, which gets a hidden temporary name beside it (unique to this
/// process); the file is renamed into place only when `write` succeeded, else removed. So a
/// file under `path` is always complete.
pub fn replace_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The name stays last, so that writers choosing the format by extension (plots) see it.
    let temp = path.with_file_name(format!(".tmp-{}-{name}", std::process::id()));
    let written = write(&temp).and_then(|()| {
        std::fs::rename(&temp, path).context("cannot rename the temporary file into place")
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error.context(format!("cannot write {}", path.display())));
    }
    Ok(())
}

/// Writes `contents` to `path` atomically (see [`replace_atomically`]).
fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    replace_atomically(path, |temp| {
        let mut file = std::fs::File::create(temp)?;
        file.write_all(contents)?;
        Ok(file.sync_all()?)
    })
}

/// `--list-cells`: one line per cell, `K DS CS UID` (rank 0).
pub fn list(options: &Options, conn: &Connection) -> Result<()> {
    if conn.is_root() && options.json {
        let cells: Vec<serde_json::Value> = cells(options)
            .into_iter()
            .map(|cell| {
                serde_json::json!({
                    "cell": cell.index,
                    "data_size": cell.ds,
                    "chunk_size": cell.cs,
                    "uid": uid(options, cell, conn.size()),
                })
            })
            .collect();
        let document = serde_json::json!({ "ranks": conn.size(), "cells": cells });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else if conn.is_root() {
        let mut stdout = std::io::stdout().lock();
        for cell in cells(options) {
            let uid = uid(options, cell, conn.size());
            writeln!(stdout, "{}\t{}\t{}\t{uid}", cell.index, cell.ds, cell.cs)?;
        }
    }
    Ok(())
}

/// What to do with the requested cell, decided on rank 0.
enum Decision {
    Run,
    Skip(String),
}

/// `--cell K`: runs one cell into `<out>/cells/<uid>.h5`, or skips it when done; a failure
/// leaves `<uid>.failed`.
pub fn run_cell(options: &Options, config: &Config, conn: &Connection, k: usize) -> Result<()> {
    let all = cells(options);
    let Some(&cell) = all.get(k) else {
        bail!(
            "--cell {k} is out of range: this sweep has {} cells, 0 to {} (see --list-cells)",
            all.len(),
            all.len().saturating_sub(1)
        );
    };
    let ranks = conn.size();
    let uid = uid(options, cell, ranks);
    let dir = cells_dir(&options.out);
    let job = Job::current();
    // Rank 0 records the sweep's cells and decides; every rank learns the decision through
    // two agreements: a refusal is an error everywhere, a skip is the second one.
    let decision = on_root(conn, || {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let listing: String = all
            .iter()
            .map(|&c| {
                format!(
                    "{}\t{}\t{}\t{}\n",
                    c.index,
                    c.ds,
                    c.cs,
                    self::uid(options, c, ranks)
                )
            })
            .collect();
        write_atomically(&dir.join("sweep.txt"), listing.as_bytes())?;
        decide(options.cell_mode, &dir, k, &uid)
    })?;
    let skip_status = match &decision {
        Some(Decision::Skip(message)) => Err(chunkwise::Error::Unsupported(message.clone())),
        _ => Ok(()),
    };
    if let Err(skipped) = conn.engine().agree(skip_status) {
        if conn.is_root() {
            let message = match decision {
                Some(Decision::Skip(message)) => message,
                _ => skipped.to_string(),
            };
            println!("gaussian-bench: {message}");
        }
        return Ok(());
    }

    let outcome = run_cell_figures(options, config, conn, cell, &uid, &dir, &job);
    if let Err(error) = &outcome {
        if conn.is_root() || !(conn.size() == 1 || chunkwise_frontend::is_agreed(error)) {
            let record = format!(
                "cell: {k}\nuid: {uid}\njob: {}\nlog: {}\nhost: {}\nrank: {}\nerror: {}\n",
                job.id,
                job.log,
                hostname::get()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                conn.rank(),
                format!("{error:#}").replace('\n', " ")
            );
            if let Err(write_error) = write_atomically(&failed_path(&dir, &uid), record.as_bytes())
            {
                eprintln!("gaussian-bench: warning: {write_error:#}");
            }
        }
    }
    outcome
}

/// Rank 0's decision for cell `k` in `mode`; an error refuses to run it.
fn decide(mode: CellMode, dir: &Path, k: usize, uid: &str) -> Result<Decision> {
    Ok(match (mode, state(dir, uid)?) {
        (CellMode::Force, _) | (_, State::Missing) => Decision::Run,
        (CellMode::Cached | CellMode::Retry, State::Done { job, .. }) => Decision::Skip(format!(
            "cell {k} ({uid}) is already done{}; --cell-mode force reruns it",
            if job.is_empty() {
                String::new()
            } else {
                format!(" by job {job}")
            }
        )),
        (CellMode::Retry, State::Failed { .. }) => Decision::Run,
        (CellMode::Cached, State::Failed { job, log, error }) => bail!(
            "cell {k} ({uid}) failed before{}{}: {error}; --cell-mode retry reruns it",
            if job.is_empty() {
                String::new()
            } else {
                format!(" in job {job}")
            },
            if log.is_empty() {
                String::new()
            } else {
                format!(" (log {log})")
            }
        ),
    })
}

fn run_cell_figures(
    options: &Options,
    config: &Config,
    conn: &Connection,
    cell: Cell,
    uid: &str,
    dir: &Path,
    job: &Job,
) -> Result<()> {
    #[cfg(feature = "fault-injection")]
    let injected = std::env::var(FAIL_CELLS).unwrap_or_default();
    #[cfg(feature = "fault-injection")]
    if injected
        .split(',')
        .any(|k| k.trim().parse() == Ok(cell.index))
    {
        bail!(
            "cell {} failed on purpose ({FAIL_CELLS}={injected})",
            cell.index
        );
    }
    let mut one = options.clone();
    one.data_sizes = vec![cell.ds];
    one.chunk_sizes = vec![cell.cs];
    let Some((mut info, figures)) = crate::measure(&one, config, conn)? else {
        return Ok(());
    };
    info.cell = Some(CellRecord {
        index: cell.index,
        uid: uid.to_string(),
        job: job.id.clone(),
        log: job.log.clone(),
    });
    let path = done_path(dir, uid);
    replace_atomically(&path, |temp| {
        results::write_file(temp, &info, &figures).map(drop)
    })?;
    let failed = failed_path(dir, uid);
    if failed.exists() {
        std::fs::remove_file(&failed)
            .with_context(|| format!("cannot remove {}", failed.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{}", crate::headline(&info, options.ntest))?;
    write!(stdout, "{}", crate::report::summary(&figures))?;
    writeln!(stdout, "cell {} done: {}", cell.index, path.display())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn options(args: &[&str]) -> Options {
        Options::parse_from([&["gaussian-bench"], args].concat())
    }

    #[test]
    fn cells_skip_chunks_larger_than_the_data() {
        let o = options(&["--data-sizes", "64", "32", "--chunk-sizes", "16", "48"]);
        let got: Vec<(usize, usize, usize)> =
            cells(&o).iter().map(|c| (c.index, c.ds, c.cs)).collect();
        assert_eq!(got, vec![(0, 64, 16), (1, 64, 48), (2, 32, 16)]);
    }

    #[test]
    fn uids_are_readable_and_change_with_what_changes_the_figures() {
        let o = options(&["--data-sizes", "256", "--chunk-sizes", "64"]);
        let cell = cells(&o)[0];
        let a = uid(&o, cell, 2);
        assert!(a.starts_with("ds=256,cs=64,sigma=1.5-"), "{a}");
        assert_eq!(a.len(), "ds=256,cs=64,sigma=1.5-".len() + 8, "{a}");
        assert_eq!(a, uid(&o, cell, 2), "stable");
        assert_ne!(a, uid(&o, cell, 3), "ranks");
        for change in [
            &["--seed", "1"][..],
            &["--ntest", "3"],
            &["--mode", "wrap"],
            &["--dtype", "f64"],
            &["--truncate", "3"],
            &["--backend", "ram"],
        ] {
            let other =
                options(&[&["--data-sizes", "256", "--chunk-sizes", "64"], change].concat());
            assert_ne!(a, uid(&other, cell, 2), "{change:?}");
        }
        // Where the output goes does not change the figures.
        let elsewhere = options(&["--data-sizes", "256", "--chunk-sizes", "64", "--out", "x"]);
        assert_eq!(a, uid(&elsewhere, cell, 2));
    }
}
