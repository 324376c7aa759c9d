//! `gaussian-bench status`: what is done, failed or missing among a sweep's cells.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cells::{cells_dir, state, State};

/// The cells listed in `<dir>/sweep.txt` as (index, ds, cs, uid).
pub fn sweep_listing(dir: &Path) -> Result<Vec<(usize, usize, usize, String)>> {
    let path = dir.join("sweep.txt");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                [k, ds, cs, uid] => Ok((k.parse()?, ds.parse()?, cs.parse()?, uid.to_string())),
                _ => bail!("malformed line in {}: {line:?}", path.display()),
            }
        })
        .collect()
}

/// Names (uids) of the cell files and failure records in `dir`.
pub fn uids_in(dir: &Path) -> Result<Vec<String>> {
    let mut uids: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .filter_map(|name| {
            name.strip_suffix(".h5")
                .or_else(|| name.strip_suffix(".failed"))
                .map(str::to_string)
        })
        .collect();
    uids.sort();
    uids.dedup();
    Ok(uids)
}

/// One cell's line of `status`.
struct Row {
    cell: Option<usize>,
    ds: Option<usize>,
    cs: Option<usize>,
    uid: String,
    state: &'static str,
    job: String,
    log: String,
    error: String,
}

/// `gaussian-bench status <out>`: every cell of the sweep (and any other cell file found) as
/// done, failed or missing, with its job and log, as a table or one JSON document.
///
/// # Errors
/// When a cell failed or is missing (after printing), or the directory cannot be read.
pub fn status(out: &Path, as_json: bool) -> Result<()> {
    let dir = cells_dir(out);
    if !dir.is_dir() {
        bail!(
            "{} does not exist: no cell of this output directory has run (gaussian-bench --cell K --out {})",
            dir.display(),
            out.display()
        );
    }
    let listed = sweep_listing(&dir)?;
    // (cell, data size, chunk size, uid); cell files not in the listing have only the uid.
    type Listed = (Option<usize>, Option<usize>, Option<usize>, String);
    let mut cells: Vec<Listed> = listed
        .iter()
        .map(|(k, ds, cs, uid)| (Some(*k), Some(*ds), Some(*cs), uid.clone()))
        .collect();
    for uid in uids_in(&dir)? {
        if !listed.iter().any(|(_, _, _, u)| *u == uid) {
            cells.push((None, None, None, uid));
        }
    }
    let mut rows = Vec::with_capacity(cells.len());
    for (cell, ds, cs, uid) in cells {
        let (state, job, log, error) = match state(&dir, &uid)? {
            State::Done { job, log } => ("done", job, log, String::new()),
            State::Failed { job, log, error } => ("failed", job, log, error),
            State::Missing => ("missing", String::new(), String::new(), String::new()),
        };
        rows.push(Row {
            cell,
            ds,
            cs,
            uid,
            state,
            job,
            log,
            error,
        });
    }
    let count = |state: &str| rows.iter().filter(|r| r.state == state).count();
    let (done, failed, missing) = (count("done"), count("failed"), count("missing"));
    if as_json {
        print_json(&dir, &rows, (done, failed, missing))?;
    } else {
        print_table(&dir, &rows, (done, failed, missing))?;
    }
    if failed + missing > 0 {
        bail!(
            "{failed} cell(s) failed and {missing} missing of {} in {}",
            rows.len(),
            dir.display()
        );
    }
    Ok(())
}

fn print_json(
    dir: &Path,
    rows: &[Row],
    (done, failed, missing): (usize, usize, usize),
) -> Result<()> {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let cells: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            serde_json::json!({
                "cell": row.cell,
                "data_size": row.ds,
                "chunk_size": row.cs,
                "uid": row.uid,
                "state": row.state,
                "job": text(&row.job),
                "log": text(&row.log),
                "error": text(&row.error),
            })
        })
        .collect();
    let document = serde_json::json!({
        "cells_dir": dir.display().to_string(),
        "cells": cells,
        "done": done,
        "failed": failed,
        "missing": missing,
    });
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

fn print_table(
    dir: &Path,
    rows: &[Row],
    (done, failed, missing): (usize, usize, usize),
) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{:>4} {:>6} {:>6}  {:<8} {:<14} {:<40} uid",
        "cell", "data", "chunk", "state", "job", "log"
    )?;
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    let number = |n: Option<usize>| n.map_or("-".to_string(), |n| n.to_string());
    for row in rows {
        writeln!(
            stdout,
            "{:>4} {:>6} {:>6}  {:<8} {:<14} {:<40} {}",
            number(row.cell),
            number(row.ds),
            number(row.cs),
            row.state,
            dash(&row.job),
            dash(&row.log),
            row.uid
        )?;
        if !row.error.is_empty() {
            writeln!(stdout, "{:>22}error: {}", "", row.error)?;
        }
    }
    writeln!(
        stdout,
        "{done} done, {failed} failed, {missing} missing (cells in {})",
        dir.display()
    )?;
    Ok(())
}
