//! The codecs new arrays are written with: a compressor (none, gzip, zstd, blosc) and optional
//! sharding, as Zarr V3 `codecs` metadata.
//!
//! With sharding, a chunkwise chunk is a whole shard, written (atomically) as one file holding
//! inner chunks of the given shape; the workers of a job own whole shards, so none ever
//! rewrites another's inner chunks.

use std::str::FromStr;

use chunkwise::{DType, DatasetMeta, Error, Result};
use serde_json::{json, Value};

/// The compressor of new arrays' chunks (or of a shard's inner chunks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Compression {
    /// The bytes as they are.
    #[default]
    None,
    /// gzip (deflate), level 0–9.
    Gzip { level: u32 },
    /// zstd, level −7–22.
    Zstd { level: i32 },
    /// Blosc with a compressor (`lz4`, `lz4hc`, `blosclz`, `zstd`, `zlib`), a level 0–9 and a
    /// shuffle (`noshuffle`, `shuffle`, `bitshuffle`).
    Blosc {
        cname: String,
        clevel: u32,
        shuffle: String,
    },
}

/// The codecs of new arrays.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Codecs {
    pub compression: Compression,
    /// With sharding: the shape of the inner chunks of each shard (a chunkwise chunk); one
    /// number is that size on every axis.
    pub shard_chunks: Option<Vec<usize>>,
}

const COMPRESSION_EXPECTED: &str = "expected none, gzip[:LEVEL], zstd[:LEVEL] or \
     blosc[:CNAME[:CLEVEL[:SHUFFLE]]] (e.g. zstd:3, blosc:lz4:5:shuffle)";

impl FromStr for Compression {
    type Err = Error;

    /// `none`, `gzip[:LEVEL]`, `zstd[:LEVEL]`, `blosc[:CNAME[:CLEVEL[:SHUFFLE]]]`.
    fn from_str(text: &str) -> Result<Compression> {
        let bad = |why: &str| Error::InvalidSetting {
            name: "codec".into(),
            value: text.into(),
            expected: format!("{why}; {COMPRESSION_EXPECTED}"),
        };
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let number =
            |part: Option<&&str>, default: i64, range: std::ops::RangeInclusive<i64>| match part {
                None => Ok(default),
                Some(text) => text
                    .parse::<i64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        bad(&format!(
                            "level {text} is not a whole number in {}..={}",
                            range.start(),
                            range.end()
                        ))
                    }),
            };
        let compression = match name {
            "none" if rest.is_empty() => Compression::None,
            "gzip" if rest.len() <= 1 => Compression::Gzip {
                level: number(rest.first(), 5, 0..=9)? as u32,
            },
            "zstd" if rest.len() <= 1 => Compression::Zstd {
                level: number(rest.first(), 1, -7..=22)? as i32,
            },
            "blosc" if rest.len() <= 3 => {
                let cname = rest.first().copied().unwrap_or("lz4").to_string();
                if !["lz4", "lz4hc", "blosclz", "zstd", "zlib"].contains(&cname.as_str()) {
                    return Err(bad(&format!("unknown blosc compressor {cname:?}")));
                }
                let shuffle = rest.get(2).copied().unwrap_or("shuffle").to_string();
                if !["noshuffle", "shuffle", "bitshuffle"].contains(&shuffle.as_str()) {
                    return Err(bad(&format!("unknown blosc shuffle {shuffle:?}")));
                }
                Compression::Blosc {
                    cname,
                    clevel: number(rest.get(1), 5, 0..=9)? as u32,
                    shuffle,
                }
            }
            _ => return Err(bad("unknown codec")),
        };
        Ok(compression)
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::None => f.write_str("none"),
            Compression::Gzip { level } => write!(f, "gzip:{level}"),
            Compression::Zstd { level } => write!(f, "zstd:{level}"),
            Compression::Blosc {
                cname,
                clevel,
                shuffle,
            } => write!(f, "blosc:{cname}:{clevel}:{shuffle}"),
        }
    }
}

fn bytes_codec() -> Value {
    json!({"name": "bytes", "configuration": {"endian": "little"}})
}

impl Compression {
    /// The bytes-to-bytes codecs of this compression for elements of `dtype`.
    fn json(&self, dtype: DType) -> Vec<Value> {
        match self {
            Compression::None => Vec::new(),
            Compression::Gzip { level } => {
                vec![json!({"name": "gzip", "configuration": {"level": level}})]
            }
            Compression::Zstd { level } => vec![json!({
                "name": "zstd",
                "configuration": {"level": level, "checksum": false}
            })],
            Compression::Blosc {
                cname,
                clevel,
                shuffle,
            } => vec![json!({
                "name": "blosc",
                "configuration": {
                    "cname": cname, "clevel": clevel, "shuffle": shuffle,
                    "typesize": dtype.size(), "blocksize": 0
                }
            })],
        }
    }
}

impl Codecs {
    /// The `codecs` metadata of an array with `meta`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when the shard chunk shape does not divide the chunk shape.
    pub fn json(&self, meta: &DatasetMeta) -> Result<Value> {
        let mut chain = vec![bytes_codec()];
        chain.extend(self.compression.json(meta.dtype));
        let Some(inner) = &self.shard_chunks else {
            return Ok(Value::Array(chain));
        };
        let outer = meta.layout.chunk_shape();
        let inner = match inner.as_slice() {
            [side] => &vec![*side; outer.len()],
            _ => inner,
        };
        let fits = inner.len() == outer.len()
            && inner.iter().zip(outer).all(|(&i, &o)| i > 0 && o % i == 0);
        if !fits {
            return Err(Error::InvalidSetting {
                name: "shard chunks".into(),
                value: chunkwise::error::fmt_tuple(inner),
                expected: format!(
                    "expected a shape that divides the chunk (shard) shape {} on every axis",
                    chunkwise::error::fmt_tuple(outer)
                ),
            });
        }
        Ok(json!([{
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": inner,
                "codecs": chain,
                "index_codecs": [bytes_codec(), {"name": "crc32c"}],
                "index_location": "end"
            }
        }]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_parse_with_defaults_and_refuse_by_name() {
        assert_eq!("none".parse::<Compression>().unwrap(), Compression::None);
        assert_eq!(
            "zstd".parse::<Compression>().unwrap(),
            Compression::Zstd { level: 1 }
        );
        assert_eq!(
            "gzip:9".parse::<Compression>().unwrap(),
            Compression::Gzip { level: 9 }
        );
        let blosc: Compression = "blosc:zstd:3:bitshuffle".parse().unwrap();
        assert_eq!(blosc.to_string(), "blosc:zstd:3:bitshuffle");
        for (text, expected) in [
            ("lzma", "unknown codec"),
            ("gzip:12", "level 12 is not a whole number in 0..=9"),
            ("blosc:snappy", "unknown blosc compressor"),
            ("zstd:1:2", "unknown codec"),
        ] {
            let error = text.parse::<Compression>().unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains(text), "{error}");
        }
    }
}
