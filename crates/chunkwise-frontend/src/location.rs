//! Where a store lives, as users write it: `dosna:/path`, `zarr:/path`, `ram`, or a plain
//! directory path (the DosNa directory store, the default). Later backends add their schemes
//! here (`s3://bucket/prefix`, `rados://pool`); until then they are refused by name.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{bail, Result};
use chunkwise::{RamStore, Store};
use chunkwise_dosna::DosnaStore;
use chunkwise_zarr::ZarrStore;

/// A store's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The DosNa directory store in this directory (`dosna:PATH`, or a plain path).
    Dosna(PathBuf),
    /// A Zarr V3 group in this directory, its arrays the datasets (`zarr:PATH`).
    Zarr(PathBuf),
    /// The ram store: datasets live as long as the process (`ram`).
    Ram,
}

/// Schemes of backends chunkwise names but does not have yet.
const PLANNED: [&str; 4] = ["s3", "rados", "ceph", "hdf5"];

const EXPECTED: &str = "expected dosna:PATH, zarr:PATH, ram, or a directory path";

impl FromStr for StoreLocation {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        if text.is_empty() {
            bail!("the store location is empty; {EXPECTED}");
        }
        if text == "ram" || text == "ram:" {
            return Ok(StoreLocation::Ram);
        }
        let Some((scheme, rest)) = text.split_once(':') else {
            return Ok(StoreLocation::Dosna(PathBuf::from(text)));
        };
        let is_scheme = scheme.len() >= 2
            && scheme
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+');
        if !is_scheme || scheme.contains('/') {
            // A path that happens to hold a colon (`./a:b`).
            return Ok(StoreLocation::Dosna(PathBuf::from(text)));
        }
        match scheme {
            "dosna" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    bail!("store location {text:?} has no directory; expected dosna:PATH");
                }
                Ok(StoreLocation::Dosna(PathBuf::from(path)))
            }
            "zarr" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    bail!("store location {text:?} has no directory; expected zarr:PATH");
                }
                Ok(StoreLocation::Zarr(PathBuf::from(path)))
            }
            "ram" => bail!("store location {text:?}: the ram store takes no path; expected ram"),
            planned if PLANNED.contains(&planned) => bail!(
                "store location {text:?}: the {planned} backend is not available yet; {EXPECTED}"
            ),
            other => bail!("store location {text:?}: unknown scheme {other:?}; {EXPECTED}"),
        }
    }
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Dosna(path) => write!(f, "dosna:{}", path.display()),
            StoreLocation::Zarr(path) => write!(f, "zarr:{}", path.display()),
            StoreLocation::Ram => f.write_str("ram"),
        }
    }
}

/// Options of the stores that have them (the others ignore them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// DosNa: chunk files with HDF5's Fletcher-32 checksum.
    pub checksums: bool,
    /// DosNa: bytes of deleted datasets' chunk files kept for reuse (0: none).
    pub spare_file_bytes: u64,
    /// DosNa and Zarr: a root the store creates is marked an ext2/3/4 top directory (on by
    /// default).
    pub top_directory: bool,
    /// Zarr: the codecs of new arrays (compressor, sharding).
    pub codecs: chunkwise_zarr::Codecs,
}

impl Default for StoreOptions {
    /// The stores' own defaults.
    fn default() -> Self {
        StoreOptions {
            checksums: false,
            spare_file_bytes: 0,
            top_directory: true,
            codecs: chunkwise_zarr::Codecs::default(),
        }
    }
}

impl StoreLocation {
    /// The backend's short name, as `Store::backend` gives it.
    pub fn backend(&self) -> &'static str {
        match self {
            StoreLocation::Dosna(_) => "dosna",
            StoreLocation::Zarr(_) => "zarr",
            StoreLocation::Ram => "ram",
        }
    }

    /// Opens the store (nothing is created before the first dataset is).
    pub fn open(&self, options: StoreOptions) -> Arc<dyn Store> {
        match self {
            StoreLocation::Dosna(path) => Arc::new(
                DosnaStore::new(path)
                    .with_checksums(options.checksums)
                    .with_spare_files(options.spare_file_bytes)
                    .with_top_directory(options.top_directory),
            ),
            StoreLocation::Zarr(path) => Arc::new(
                ZarrStore::new(path)
                    .with_codecs(options.codecs)
                    .with_top_directory(options.top_directory),
            ),
            StoreLocation::Ram => Arc::new(RamStore::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> StoreLocation {
        text.parse().unwrap()
    }

    #[test]
    fn locations_parse_by_scheme_and_plain_paths_are_dosna_directories() {
        assert_eq!(parse("ram"), StoreLocation::Ram);
        assert_eq!(
            parse("dosna:/data/x"),
            StoreLocation::Dosna("/data/x".into())
        );
        assert_eq!(
            parse("dosna://data/x"),
            StoreLocation::Dosna("data/x".into())
        );
        assert_eq!(parse("dosna:rel"), StoreLocation::Dosna("rel".into()));
        assert_eq!(
            parse("./chunkwise-data"),
            StoreLocation::Dosna("./chunkwise-data".into())
        );
        assert_eq!(parse("/abs/a:b"), StoreLocation::Dosna("/abs/a:b".into()));
        assert_eq!(parse("Data:1"), StoreLocation::Dosna("Data:1".into()));
        assert_eq!(parse("dosna:/x").to_string(), "dosna:/x");
        assert_eq!(
            parse("zarr:/d/x.zarr"),
            StoreLocation::Zarr("/d/x.zarr".into())
        );
        assert_eq!(parse("zarr:x.zarr").to_string(), "zarr:x.zarr");
    }

    #[test]
    fn planned_unknown_and_empty_locations_are_refused_by_name() {
        for (text, expected) in [
            ("s3://bucket/prefix", "the s3 backend is not available yet"),
            ("rados://pool", "the rados backend is not available yet"),
            ("ftp://host/x", "unknown scheme \"ftp\""),
            ("dosna:", "has no directory"),
            ("zarr:", "has no directory"),
            ("ram:/x", "takes no path"),
            ("", "is empty"),
        ] {
            let error = text.parse::<StoreLocation>().unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn an_opened_location_is_the_backend_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let dosna = StoreLocation::Dosna(dir.path().join("s"));
        assert_eq!(dosna.open(StoreOptions::default()).backend(), "dosna");
        assert_eq!(dosna.backend(), "dosna");
        assert_eq!(
            StoreLocation::Ram.open(StoreOptions::default()).backend(),
            "ram"
        );
        assert!(!dir.path().join("s").exists(), "opening creates nothing");
    }
}
