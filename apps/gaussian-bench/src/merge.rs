//! `gaussian-bench merge`: one result.h5 from the cell files of a job array.
//!
//! Cells are grouped by backend and number of ranks, as a full run's figures are
//! (`/<backend>/<nprocs>`); within a group the data and chunk sizes of the cells found and of
//! the sweep's listing (`cells/sweep.txt`) make the axes (sorted), and combinations without a
//! cell are NaN (not measured), as skipped combinations of a full run are. Cells of one
//! group must agree on everything else that shapes the figures (ntest, sigma, truncate, mode,
//! dtype, seed, the data generator, the program version and build), else the merge refuses. result.h5
//! is written under a temporary name and renamed into place.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use ndarray::s;

use crate::results::{self, Results, RunInfo};

/// The cells of one `/<backend>/<nprocs>`.
struct Group {
    cells: Vec<(RunInfo, Results)>,
}

/// A number compared bit for bit (so NaN equals NaN) and shown as a number.
#[derive(PartialEq)]
struct Exactly(u64);

impl std::fmt::Debug for Exactly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", f64::from_bits(self.0))
    }
}

/// Checks that every cell of a group agrees with the first on `what`.
fn same<T: PartialEq + std::fmt::Debug>(
    group: &Group,
    what: &str,
    get: impl Fn(&RunInfo, &Results) -> T,
) -> Result<()> {
    let (first_info, first) = &group.cells[0];
    let expected = get(first_info, first);
    for (info, figures) in &group.cells[1..] {
        let got = get(info, figures);
        if got != expected {
            let uid = |i: &RunInfo| i.cell.as_ref().map_or("?".into(), |c| c.uid.clone());
            bail!(
                "cells {} and {} of /{}/{} differ in {what} ({expected:?} and {got:?}); \
                 merge cells of one sweep only (move the others to another directory)",
                uid(first_info),
                uid(info),
                first_info.backend,
                first_info.ranks
            );
        }
    }
    Ok(())
}

/// The merged figures and description of one group; the axes hold the sizes of the cells and
/// of `listed` (the sweep's cells), so cells not run yet are NaN.
fn merged(group: &Group, listed: &[(usize, usize)]) -> Result<(RunInfo, Results)> {
    same(group, "ntest", |_, r| r.ntest)?;
    same(group, "sigma", |i, _| Exactly(i.sigma.to_bits()))?;
    same(group, "truncate", |i, _| Exactly(i.truncate.to_bits()))?;
    same(group, "mode", |i, _| i.mode.clone())?;
    same(group, "dtype", |i, _| i.dtype.clone())?;
    same(group, "seed", |i, _| i.seed)?;
    same(group, "data generator", |i, _| i.generator.clone())?;
    same(group, "program version", |i, _| i.version.clone())?;
    same(group, "build (git commit and binary hash)", |i, _| {
        i.build.clone()
    })?;
    same(group, "codec", |i, _| i.codec.clone())?;
    same(group, "shard", |i, _| i.shard)?;
    let mut data_sizes: Vec<usize> = group
        .cells
        .iter()
        .flat_map(|(_, r)| r.data_sizes.clone())
        .chain(listed.iter().map(|&(ds, _)| ds))
        .collect();
    data_sizes.sort_unstable();
    data_sizes.dedup();
    let mut chunk_sizes: Vec<usize> = group
        .cells
        .iter()
        .flat_map(|(_, r)| r.chunk_sizes.clone())
        .chain(listed.iter().map(|&(_, cs)| cs))
        .collect();
    chunk_sizes.sort_unstable();
    chunk_sizes.dedup();
    let (first_info, first) = &group.cells[0];
    let mut out = Results::new(&data_sizes, &chunk_sizes, first.ntest, first.ranks);
    let mut seen = BTreeMap::new();
    for (info, cell) in &group.cells {
        let (Some(&ds), Some(&cs)) = (cell.data_sizes.first(), cell.chunk_sizes.first()) else {
            bail!(
                "a cell file of /{}/{} has no sizes",
                info.backend,
                info.ranks
            );
        };
        let uid = info.cell.as_ref().map_or(String::new(), |c| c.uid.clone());
        if let Some(other) = seen.insert((ds, cs), uid.clone()) {
            bail!(
                "cells {other} and {uid} both hold data size {ds}, chunk size {cs} of /{}/{}; \
                 remove one of them",
                info.backend,
                info.ranks
            );
        }
        let i = data_sizes.iter().position(|&d| d == ds).unwrap_or(0);
        let j = chunk_sizes.iter().position(|&c| c == cs).unwrap_or(0);
        out.times
            .slice_mut(s![i, j, .., ..])
            .assign(&cell.times.slice(s![0, 0, .., ..]));
        out.delete
            .slice_mut(s![i, j, ..])
            .assign(&cell.delete.slice(s![0, 0, ..]));
        out.verify
            .slice_mut(s![i, j, ..])
            .assign(&cell.verify.slice(s![0, 0, ..]));
        out.timers
            .slice_mut(s![i, j, .., .., .., ..])
            .assign(&cell.timers.slice(s![0, 0, .., .., .., ..]));
    }
    let mut hosts: Vec<String> = group.cells.iter().map(|(i, _)| i.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    let mut engines: Vec<String> = group.cells.iter().map(|(i, _)| i.engine.clone()).collect();
    engines.sort();
    engines.dedup();
    let info = RunInfo {
        engine: engines.join(","),
        host: hosts.join(","),
        command: format!("gaussian-bench merge ({} cells)", group.cells.len()),
        cell: None,
        ..first_info.clone()
    };
    Ok((info, out))
}

/// Builds `<out>/result.h5` and the plots from the cell files in `cells`.
pub fn merge(out: &Path, cells: &Path) -> Result<()> {
    if !cells.is_dir() {
        bail!(
            "{} does not exist: no cell has run into {} (gaussian-bench --cell K --out {})",
            cells.display(),
            out.display(),
            out.display()
        );
    }
    let mut groups: BTreeMap<(String, usize), Group> = BTreeMap::new();
    let mut count = 0;
    for uid in crate::status::uids_in(cells)? {
        let path = cells.join(format!("{uid}.h5"));
        if !path.is_file() {
            continue; // failed, never finished
        }
        let (info, figures) = results::read_file(&path)?;
        count += 1;
        groups
            .entry((info.backend.clone(), info.ranks))
            .or_insert_with(|| Group { cells: Vec::new() })
            .cells
            .push((info, figures));
    }
    if count == 0 {
        bail!("no finished cell in {}; nothing to merge", cells.display());
    }
    let listed: Vec<(usize, usize)> = crate::status::sweep_listing(cells)?
        .into_iter()
        .map(|(_, ds, cs, _)| (ds, cs))
        .collect();
    let target = out.join("result.h5");
    let mut merged_groups = Vec::new();
    crate::cells::replace_atomically(&target, |temp| {
        for group in groups.values() {
            let (info, figures) = merged(group, &listed)?;
            results::write_file(temp, &info, &figures)?;
            merged_groups.push((info, figures));
        }
        Ok(())
    })?;
    let mut stdout = std::io::stdout().lock();
    for (info, figures) in &merged_groups {
        writeln!(stdout, "{}", crate::headline(info, figures.ntest))?;
        write!(stdout, "{}", crate::report::summary(figures))?;
        for plot in crate::plots(out, &info.backend, figures)? {
            writeln!(stdout, "plot:    {}", plot.display())?;
        }
    }
    writeln!(
        stdout,
        "results: {} (merged from {count} cells in {})",
        target.display(),
        cells.display()
    )?;
    Ok(())
}
