//! Configuration: built-in defaults, a user YAML file, environment overrides — each value with
//! the place it came from, and every bad value refused with its key, value and source.
//!
//! Order (later wins, key by key): the embedded `default.yaml`; the file given to
//! [`Config::load`] or named by `CHUNKWISE_CONFIG`; variables `CHUNKWISE_<SECTION>__<KEY>`
//! (e.g. `CHUNKWISE_RESOURCES__MAX_MEMORY=4GiB`). Unknown keys, out-of-range values and
//! unparsable sizes are errors, never clamped. The memory budget is
//! `max_memory × memory_usage`, computed when asked, so changing one never drifts the other.

mod size;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
pub use size::parse_size;

use crate::engine::{IdleWait, Partition};
use crate::error::{Error, Result};

const DEFAULT_YAML: &str = include_str!("default.yaml");

/// Every key chunkwise reads, as `section.key`.
pub const KEYS: [&str; 15] = [
    "resources.memory_usage",
    "resources.max_memory",
    "resources.max_temp_storage",
    "resources.temp_dir",
    "engine.threads",
    "engine.partition",
    "engine.peer_timeout",
    "engine.idle_wait",
    "io.read_ahead",
    "io.min_slab",
    "io.write_behind",
    "io.stage_timeout",
    "store.location",
    "store.codec",
    "store.shard_chunks",
];

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// chunkwise's built-in default.yaml.
    Default,
    /// A user configuration file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// The application, by its own option or default (named here, e.g. `myapp --partition`).
    Application(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "environment {name}"),
            Source::Application(what) => f.write_str(what),
        }
    }
}

/// One setting of [`Config::settings`].
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// `section.key`, as in the file.
    pub key: &'static str,
    pub value: SettingValue,
    /// Where the value came from.
    pub source: Source,
}

/// The value of a [`Setting`]: sizes in bytes and durations in seconds are numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    /// Not set (the setting's own default applies, e.g. all memory).
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
}

impl fmt::Display for SettingValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Null => f.write_str("null"),
            SettingValue::Bool(b) => write!(f, "{b}"),
            SettingValue::Number(n) => write!(f, "{n}"),
            SettingValue::Text(t) => f.write_str(t),
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Fraction of `max_memory` that may be used, in (0, 1].
    pub memory_usage: f64,
    /// Bytes of memory; `None`: the machine's total.
    pub max_memory: Option<u64>,
    /// Bytes of temporary files; `None`: the free space of `temp_dir`.
    pub max_temp_storage: Option<u64>,
    /// Directory of temporary files; `None`: the system's.
    pub temp_dir: Option<PathBuf>,
    /// Worker threads; `None`: the cores.
    pub threads: Option<usize>,
    /// How chunks are dealt to ranks.
    pub partition: Partition,
    /// Chunks read ahead in collective operations (≥ 1).
    pub read_ahead: usize,
    /// Bytes of the smallest slab a rank with few chunks cuts them into (see
    /// [`crate::PipelineOptions::min_slab_bytes`]); `None`: chunks are never cut.
    pub min_slab: Option<u64>,
    /// Finished blocks go to writer threads instead of being written by the worker that
    /// computed them (see [`crate::PipelineOptions::write_behind`]).
    pub write_behind: bool,
    /// How long a pipeline stage may wait, or a read, computation or write of one block take,
    /// before the operation is reported stuck (see [`crate::PipelineOptions::stage_timeout`]).
    pub stage_timeout: std::time::Duration,
    /// How long an MPI rank waits for the others in a collective step before it reports them
    /// lost and ends the job; `None`: for ever.
    pub peer_timeout: Option<std::time::Duration>,
    /// How an MPI rank with none of an operation's chunks waits for the others.
    pub idle_wait: IdleWait,
    /// Where the store lives, as applications read it (`dosna:/path`, `ram`, a directory
    /// path; the core does not interpret it); `None`: the application's default.
    pub store_location: Option<String>,
    /// `store.codec`: how Zarr stores compress new arrays (text, as `--codec` takes it).
    pub store_codec: Option<String>,
    /// `store.shard_chunks`: the inner chunk shape of new Zarr arrays' shards (`N,N,…`).
    pub store_shard_chunks: Option<String>,
    /// Where each key's value came from.
    pub sources: BTreeMap<&'static str, Source>,
}

fn invalid(key: &str, value: &Value, source: &Source, expected: impl Into<String>) -> Error {
    let shown = serde_yaml::to_string(value)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| format!("{value:?}"));
    Error::Config {
        key: key.to_string(),
        value: shown,
        origin: source.to_string(),
        expected: expected.into(),
    }
}

/// Reads `section.key` entries of a YAML document into `into`, refusing unknown ones.
fn merge(
    document: &Value,
    source: &Source,
    into: &mut BTreeMap<&'static str, (Value, Source)>,
) -> Result<()> {
    let Value::Mapping(sections) = document else {
        if document.is_null() {
            return Ok(()); // an empty file
        }
        return Err(invalid(
            "(top level)",
            document,
            source,
            "expected sections resources, engine, io, store",
        ));
    };
    for (section, keys) in sections {
        let section_name = section.as_str().unwrap_or_default();
        let Value::Mapping(keys) = keys else {
            return Err(invalid(
                section_name,
                keys,
                source,
                "expected a mapping of keys",
            ));
        };
        for (key, value) in keys {
            let full = format!("{section_name}.{}", key.as_str().unwrap_or_default());
            let Some(known) = KEYS.iter().find(|k| **k == full) else {
                return Err(invalid(
                    &full,
                    value,
                    source,
                    format!("unknown key; expected one of {}", KEYS.join(", ")),
                ));
            };
            into.insert(known, (value.clone(), source.clone()));
        }
    }
    Ok(())
}

impl Config {
    /// The configuration from the defaults, `file` (or the file named by `CHUNKWISE_CONFIG`),
    /// and the process environment.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key, the value and where it came from; [`Error::Io`] for an
    /// unreadable file.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let named = std::env::var_os("CHUNKWISE_CONFIG").map(PathBuf::from);
        Config::load_from(file.or(named.as_deref()), std::env::vars())
    }

    /// [`Config::load`] with the environment given explicitly.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config> {
        let mut values = BTreeMap::new();
        let defaults: Value = serde_yaml::from_str(DEFAULT_YAML).map_err(|e| {
            Error::Unsupported(format!("the built-in default.yaml does not parse: {e}"))
        })?;
        merge(&defaults, &Source::Default, &mut values)?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let source = Source::File(path.to_path_buf());
            let document: Value = serde_yaml::from_str(&text).map_err(|e| Error::Config {
                key: "(file)".into(),
                value: path.display().to_string(),
                origin: source.to_string(),
                expected: format!("valid YAML ({e})"),
            })?;
            merge(&document, &source, &mut values)?;
        }
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("CHUNKWISE_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once("__") else {
                continue;
            };
            let full = format!(
                "{}.{}",
                section.to_ascii_lowercase(),
                key.to_ascii_lowercase()
            );
            let source = Source::Env(name.clone());
            let value: Value = serde_yaml::from_str(&raw).unwrap_or(Value::String(raw.clone()));
            let Some(known) = KEYS.iter().find(|k| **k == full) else {
                return Err(invalid(
                    &full,
                    &value,
                    &source,
                    format!("unknown key; expected one of {}", KEYS.join(", ")),
                ));
            };
            values.insert(known, (value, source));
        }
        Config::from_values(values)
    }

    fn from_values(values: BTreeMap<&'static str, (Value, Source)>) -> Result<Config> {
        let get = |key: &'static str| -> (&Value, &Source) {
            let (value, source) = &values[key];
            (value, source)
        };
        let size = |key: &'static str| -> Result<Option<u64>> {
            let (value, source) = get(key);
            match value {
                Value::Null => Ok(None),
                Value::Number(n) => n.as_u64().filter(|&b| b > 0).map(Some).ok_or_else(|| {
                    invalid(
                        key,
                        value,
                        source,
                        "expected a positive number of bytes, or null",
                    )
                }),
                Value::String(text) => parse_size(text)
                    .and_then(|b| {
                        if b > 0 {
                            Ok(Some(b))
                        } else {
                            Err("expected more than 0 bytes".into())
                        }
                    })
                    .map_err(|problem| invalid(key, value, source, problem)),
                _ => Err(invalid(
                    key,
                    value,
                    source,
                    "expected bytes (like 4GiB) or null",
                )),
            }
        };
        let (value, source) = get("resources.memory_usage");
        let memory_usage = value
            .as_f64()
            .filter(|u| *u > 0.0 && *u <= 1.0)
            .ok_or_else(|| {
                invalid(
                    "resources.memory_usage",
                    value,
                    source,
                    "expected a number with 0 < memory_usage ≤ 1",
                )
            })?;
        let (value, source) = get("resources.temp_dir");
        let temp_dir = match value {
            Value::Null => None,
            Value::String(path) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => {
                return Err(invalid(
                    "resources.temp_dir",
                    value,
                    source,
                    "expected a directory path or null",
                ))
            }
        };
        let (value, source) = get("store.location");
        let store_location = match value {
            Value::Null => None,
            Value::String(location) if !location.is_empty() => Some(location.clone()),
            _ => {
                return Err(invalid(
                    "store.location",
                    value,
                    source,
                    "expected a store location (dosna:PATH, ram, a directory path) or null",
                ))
            }
        };
        // Checked by the store that uses them (the front end parses them for Zarr stores).
        let text_or_null = |key: &'static str, expected: &str| -> Result<Option<String>> {
            let (value, source) = get(key);
            match value {
                Value::Null => Ok(None),
                Value::String(text) if !text.is_empty() => Ok(Some(text.clone())),
                Value::Number(n) => Ok(Some(n.to_string())),
                _ => Err(invalid(key, value, source, expected)),
            }
        };
        let store_codec = text_or_null(
            "store.codec",
            "expected a codec (none, gzip:LEVEL, zstd:LEVEL, blosc:CNAME:CLEVEL:SHUFFLE) or null",
        )?;
        let store_shard_chunks = text_or_null(
            "store.shard_chunks",
            "expected an inner chunk shape (N,N,…) or null",
        )?;
        let (value, source) = get("engine.threads");
        let threads = match value {
            Value::Null => None,
            _ => Some(
                value
                    .as_u64()
                    .filter(|&t| t >= 1)
                    .map(|t| t as usize)
                    .ok_or_else(|| {
                        invalid(
                            "engine.threads",
                            value,
                            source,
                            "expected a whole number ≥ 1, or null",
                        )
                    })?,
            ),
        };
        let (value, source) = get("engine.partition");
        let partition = value
            .as_str()
            .and_then(|p| p.parse::<Partition>().ok())
            .ok_or_else(|| {
                invalid(
                    "engine.partition",
                    value,
                    source,
                    "expected cyclic or block",
                )
            })?;
        let (value, source) = get("engine.idle_wait");
        let idle_wait = value
            .as_str()
            .and_then(|w| w.parse::<IdleWait>().ok())
            .ok_or_else(|| invalid("engine.idle_wait", value, source, "expected sleep or poll"))?;
        let (value, source) = get("io.read_ahead");
        let read_ahead = value
            .as_u64()
            .filter(|&r| r >= 1)
            .map(|r| r as usize)
            .ok_or_else(|| {
                invalid(
                    "io.read_ahead",
                    value,
                    source,
                    "expected a whole number ≥ 1",
                )
            })?;
        let seconds = |key: &'static str, value: &Value, source: &Source| {
            value
                .as_f64()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e12)
                .map(std::time::Duration::from_secs_f64)
                .ok_or_else(|| invalid(key, value, source, "expected seconds > 0"))
        };
        let (value, source) = get("io.stage_timeout");
        let stage_timeout = seconds("io.stage_timeout", value, source)?;
        let (value, source) = get("engine.peer_timeout");
        let peer_timeout = match value {
            Value::Null => None,
            _ => Some(seconds("engine.peer_timeout", value, source).map_err(|_| {
                invalid(
                    "engine.peer_timeout",
                    value,
                    source,
                    "expected seconds > 0, or null (wait for ever)",
                )
            })?),
        };
        let (value, source) = get("io.write_behind");
        let write_behind = value
            .as_bool()
            .ok_or_else(|| invalid("io.write_behind", value, source, "expected true or false"))?;
        Ok(Config {
            memory_usage,
            max_memory: size("resources.max_memory")?,
            max_temp_storage: size("resources.max_temp_storage")?,
            temp_dir,
            threads,
            partition,
            read_ahead,
            min_slab: size("io.min_slab")?,
            write_behind,
            stage_timeout,
            peer_timeout,
            idle_wait,
            store_location,
            store_codec,
            store_shard_chunks,
            sources: values.into_iter().map(|(k, (_, s))| (k, s)).collect(),
        })
    }

    /// `max_memory` in bytes, the machine's total memory when not set.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the total memory cannot be read.
    pub fn max_memory_bytes(&self) -> Result<u64> {
        match self.max_memory {
            Some(bytes) => Ok(bytes),
            None => {
                let mut system = sysinfo::System::new().map_err(|e| {
                    Error::Unsupported(format!("cannot read the machine's memory size: {e}"))
                })?;
                system.refresh_memory();
                Ok(system.total_memory())
            }
        }
    }

    /// The memory budget: `max_memory × memory_usage`, in bytes.
    ///
    /// # Errors
    /// As [`Config::max_memory_bytes`].
    pub fn budget_bytes(&self) -> Result<u64> {
        self.budget_bytes_per_rank(1)
    }

    /// The memory budget of one of `ranks_on_node` processes sharing a node: `max_memory ×
    /// memory_usage` when `max_memory` is set (a per-process figure), else the machine's memory
    /// × `memory_usage` divided among the ranks — so the default never promises each rank the
    /// whole node.
    ///
    /// # Errors
    /// As [`Config::max_memory_bytes`].
    pub fn budget_bytes_per_rank(&self, ranks_on_node: usize) -> Result<u64> {
        let share = match self.max_memory {
            Some(_) => 1,
            None => ranks_on_node.max(1) as u64,
        };
        Ok((self.max_memory_bytes()? as f64 * self.memory_usage) as u64 / share)
    }

    /// The pipeline options of this configuration (`io.read_ahead`, `io.min_slab`,
    /// `io.write_behind`), the rest left at their defaults.
    pub fn pipeline_options(&self) -> crate::PipelineOptions {
        crate::PipelineOptions {
            read_ahead: self.read_ahead,
            min_slab_bytes: self.min_slab.unwrap_or(u64::MAX),
            write_behind: self.write_behind,
            stage_timeout: self.stage_timeout,
            ..Default::default()
        }
    }

    /// The temporary directory in effect.
    pub fn temp_dir(&self) -> PathBuf {
        self.temp_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// Every setting in effect: its key, value and source, in the order of `show`.
    pub fn settings(&self) -> Vec<Setting> {
        use SettingValue::{Bool, Null, Number, Text};
        let bytes = |b: Option<u64>| b.map_or(Null, |b| Number(b as f64));
        let text = |t: Option<String>| t.map_or(Null, Text);
        let rows = [
            ("resources.memory_usage", Number(self.memory_usage)),
            ("resources.max_memory", bytes(self.max_memory)),
            ("resources.max_temp_storage", bytes(self.max_temp_storage)),
            (
                "resources.temp_dir",
                text(self.temp_dir.as_ref().map(|p| p.display().to_string())),
            ),
            (
                "engine.threads",
                self.threads.map_or(Null, |t| Number(t as f64)),
            ),
            ("store.location", text(self.store_location.clone())),
            ("store.codec", text(self.store_codec.clone())),
            ("store.shard_chunks", text(self.store_shard_chunks.clone())),
            (
                "engine.partition",
                Text(format!("{:?}", self.partition).to_lowercase()),
            ),
            (
                "engine.peer_timeout",
                self.peer_timeout.map_or(Null, |t| Number(t.as_secs_f64())),
            ),
            (
                "engine.idle_wait",
                Text(format!("{:?}", self.idle_wait).to_lowercase()),
            ),
            ("io.read_ahead", Number(self.read_ahead as f64)),
            ("io.min_slab", bytes(self.min_slab)),
            ("io.write_behind", Bool(self.write_behind)),
            ("io.stage_timeout", Number(self.stage_timeout.as_secs_f64())),
        ];
        rows.into_iter()
            .map(|(key, value)| Setting {
                key,
                value,
                source: self.sources.get(key).cloned().unwrap_or(Source::Default),
            })
            .collect()
    }

    /// One line per key: `section.key = value   (source)`.
    pub fn show(&self) -> String {
        self.settings()
            .iter()
            .map(|setting| {
                format!(
                    "{:<28} = {:<20} ({})\n",
                    setting.key,
                    setting.value.to_string(),
                    setting.source
                )
            })
            .collect()
    }
}
