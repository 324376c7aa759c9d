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

/// `gaussian-bench status <out>`: every cell of the sweep (and any other cell file found) as
/// done, failed or missing, with its job and log.
pub fn status(out: &Path) -> Result<()> {
    let dir = cells_dir(out);
    if !dir.is_dir() {
        bail!(
            "{} does not exist: no cell of this output directory has run (gaussian-bench --cell K --out {})",
            dir.display(),
            out.display()
        );
    }
    let listed = sweep_listing(&dir)?;
    let mut rows: Vec<(String, String, String, String)> = listed
        .iter()
        .map(|(k, ds, cs, uid)| (k.to_string(), ds.to_string(), cs.to_string(), uid.clone()))
        .collect();
    for uid in uids_in(&dir)? {
        if !listed.iter().any(|(_, _, _, u)| *u == uid) {
            rows.push(("-".into(), "-".into(), "-".into(), uid));
        }
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{:>4} {:>6} {:>6}  {:<8} {:<14} {:<40} uid",
        "cell", "data", "chunk", "state", "job", "log"
    )?;
    let (mut done, mut failed, mut missing) = (0, 0, 0);
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    for (k, ds, cs, uid) in rows {
        let (name, job, log, error) = match state(&dir, &uid)? {
            State::Done { job, log } => {
                done += 1;
                ("done", job, log, String::new())
            }
            State::Failed { job, log, error } => {
                failed += 1;
                ("failed", job, log, error)
            }
            State::Missing => {
                missing += 1;
                ("missing", String::new(), String::new(), String::new())
            }
        };
        writeln!(
            stdout,
            "{k:>4} {ds:>6} {cs:>6}  {name:<8} {:<14} {:<40} {uid}",
            dash(&job),
            dash(&log)
        )?;
        if !error.is_empty() {
            writeln!(stdout, "{:>22}error: {error}", "")?;
        }
    }
    writeln!(
        stdout,
        "{done} done, {failed} failed, {missing} missing (cells in {})",
        dir.display()
    )?;
    Ok(())
}
