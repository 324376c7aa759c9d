//! Ordinary HDF5 files named as `FILE.h5:/path/in/file`: opening a source dataset, and writing a
//! new dataset so that a failure leaves nothing behind.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chunkwise::memory::BudgetArray;
use chunkwise::{DType, Element, Region};
use ndarray::{Axis, Slice};

/// A dataset inside an ordinary HDF5 file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H5Location {
    pub file: PathBuf,
    /// Absolute path inside the file, e.g. `/entry/data`.
    pub path: String,
}

impl std::fmt::Display for H5Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.path)
    }
}

impl H5Location {
    /// Parses `FILE.h5:/path/in/file`.
    pub fn parse(text: &str) -> Result<Self> {
        let malformed = |why: &str| {
            anyhow::anyhow!(
                "malformed HDF5 location \"{text}\": {why}; expected FILE.h5:/path/in/file"
            )
        };
        let Some((file, path)) = text.rsplit_once(':') else {
            return Err(malformed("there is no ':'"));
        };
        if file.is_empty() {
            return Err(malformed("the file name is empty"));
        }
        if !path.starts_with('/') || path.len() < 2 || path.ends_with('/') || path.contains("//") {
            return Err(malformed(&format!(
                "the path \"{path}\" is not an absolute dataset path"
            )));
        }
        Ok(H5Location {
            file: PathBuf::from(file),
            path: path.to_string(),
        })
    }

    /// Opens the file read-only and the dataset in it.
    pub fn open(&self) -> Result<(hdf5::File, hdf5::Dataset)> {
        if !self.file.is_file() {
            bail!("HDF5 file {} not found", self.file.display());
        }
        // Read-only, without HDF5's file lock: readers need none, and the lock breaks on many
        // network file systems and when another process inherited the file's descriptor.
        let file = hdf5::File::with_options()
            .with_fapl(|fapl| fapl.file_locking(false))
            .open(&self.file)
            .with_context(|| format!("cannot open {} as an HDF5 file", self.file.display()))?;
        if !link_exists(&file, &self.path) {
            bail!("{} has no dataset {}", self.file.display(), self.path);
        }
        let dataset = file
            .dataset(&self.path)
            .with_context(|| format!("{} is not a dataset", self))?;
        Ok((file, dataset))
    }
}

/// Whether every component of `path` exists (H5Lexists needs the parents to exist).
fn link_exists(group: &hdf5::Group, path: &str) -> bool {
    let mut prefix = String::new();
    for part in path.trim_start_matches('/').split('/') {
        prefix.push('/');
        prefix.push_str(part);
        if !group.link_exists(&prefix) {
            return false;
        }
    }
    true
}

/// The dtype of a source dataset, with the location in the error.
pub fn dtype_of(location: &H5Location, dataset: &hdf5::Dataset) -> Result<DType> {
    let datatype = dataset
        .dtype()
        .with_context(|| format!("cannot read the type of {location}"))?;
    chunkwise_dosna::h5::dtype_of(&datatype).with_context(|| format!("{location} cannot be used"))
}

/// Creates the dataset `location` holding `values`, written in pieces of about `piece_bytes` along
/// the first axis; the resident pages of a mapped array are released after each piece, so
/// exporting an array larger than memory stays within memory. A new file is written under a
/// temporary name and renamed into place; in an existing file a failed write removes the new
/// dataset again.
pub fn write_new<T: Element + hdf5::H5Type>(
    location: &H5Location,
    values: &BudgetArray<T>,
    piece_bytes: u64,
) -> Result<()> {
    if location.file.exists() {
        let file = hdf5::File::open_rw(&location.file)
            .with_context(|| format!("cannot open {} for writing", location.file.display()))?;
        if link_exists(&file, &location.path) {
            bail!("{location} already exists; choose another path or remove it first");
        }
        if let Err(error) = create_and_write(&file, &location.path, values, piece_bytes) {
            let _ = file.unlink(&location.path);
            return Err(error.context(format!("cannot write {location}")));
        }
        file.close()
            .with_context(|| format!("cannot close {}", location.file.display()))?;
        Ok(())
    } else {
        // Said here, not as HDF5's error about the hidden temporary file.
        let parent = match location.file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => std::path::Path::new("."),
        };
        if !parent.is_dir() {
            bail!(
                "cannot create {}: the directory {} does not exist",
                location.file.display(),
                parent.display()
            );
        }
        let temp = temp_name(&location.file);
        let written = hdf5::File::create(&temp)
            .with_context(|| format!("cannot create {}", location.file.display()))
            .and_then(|file| {
                create_and_write(&file, &location.path, values, piece_bytes)?;
                file.close()
                    .with_context(|| format!("cannot close {}", location.file.display()))
            })
            .and_then(|()| {
                std::fs::rename(&temp, &location.file).with_context(|| {
                    format!(
                        "cannot move the new file into place at {}",
                        location.file.display()
                    )
                })
            });
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }
}

fn create_and_write<T: Element + hdf5::H5Type>(
    file: &hdf5::File,
    path: &str,
    values: &BudgetArray<T>,
    piece_bytes: u64,
) -> Result<()> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (name, parents) = parts.split_last().context("empty dataset path")?;
    let mut group: hdf5::Group = file.as_group()?;
    for parent in parents {
        group = if group.link_exists(parent) {
            group.group(parent)?
        } else {
            group.create_group(parent)?
        };
    }
    let shape = values.shape().to_vec();
    let dataset = group
        .new_dataset::<T>()
        .shape(shape.clone())
        .create(*name)?;
    if shape.is_empty() {
        dataset.write_raw(values.view().as_slice().unwrap_or(&[]))?;
        return Ok(());
    }
    for (first, rows) in values.row_pieces(piece_bytes) {
        let piece = values.view();
        let piece = piece.slice_axis(Axis(0), Slice::from(first..first + rows));
        let region = Region::full(&shape).with_axis0_rows(first, rows);
        dataset.write_slice(&piece, chunkwise_dosna::h5::hyperslab(&region))?;
        values.release_resident();
    }
    Ok(())
}

fn temp_name(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    remove_dead_temps(target, &name);
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Removes the temporary files `.NAME.tmp-PID` beside `target` that processes no longer
/// running left (a killed export), so they do not pile up beside the user's files.
fn remove_dead_temps(target: &Path, name: &str) {
    let prefix = format!(".{name}.tmp-");
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !chunkwise::process::running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let loc = H5Location::parse("dir/in.h5:/a/b").unwrap();
        assert_eq!(loc.file, PathBuf::from("dir/in.h5"));
        assert_eq!(loc.path, "/a/b");
        for bad in [
            "in.h5",
            "in.h5:",
            "in.h5:data",
            ":/data",
            "in.h5:/",
            "in.h5:/a/",
        ] {
            let err = H5Location::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains(&format!("\"{bad}\"")) && err.contains("FILE.h5:/path"),
                "{err}"
            );
        }
    }
}
