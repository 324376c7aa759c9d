//! chunkwise's dataset metadata as a Zarr V3 array's `zarr.json`, and back.
//!
//! Every chunkwise dtype has a Zarr data type of the same name (`uint8` … `float64`), the shape
//! and the (regular) chunk shape map one to one, and the fill value is a JSON number (or
//! `"NaN"`, `"Infinity"`, `"-Infinity"`). Arrays chunkwise writes use the default chunk key
//! encoding (`c/i/j/k`) and the codecs the store was given.

use std::path::Path;

use chunkwise::{DType, DatasetMeta, Error, Layout, Result, Scalar};
use serde_json::{json, Value};
use zarrs::array::Array;

/// The Zarr name of a chunkwise dtype.
pub(crate) fn zarr_data_type(dtype: DType) -> &'static str {
    match dtype {
        DType::U8 => "uint8",
        DType::U16 => "uint16",
        DType::U32 => "uint32",
        DType::U64 => "uint64",
        DType::I8 => "int8",
        DType::I16 => "int16",
        DType::I32 => "int32",
        DType::I64 => "int64",
        DType::F32 => "float32",
        DType::F64 => "float64",
    }
}

/// The fill value as Zarr V3 writes it.
fn fill_json(value: &Scalar) -> Value {
    let float = |x: f64| {
        if x.is_nan() {
            json!("NaN")
        } else if x == f64::INFINITY {
            json!("Infinity")
        } else if x == f64::NEG_INFINITY {
            json!("-Infinity")
        } else {
            json!(x)
        }
    };
    match *value {
        Scalar::U8(v) => json!(v),
        Scalar::U16(v) => json!(v),
        Scalar::U32(v) => json!(v),
        Scalar::U64(v) => json!(v),
        Scalar::I8(v) => json!(v),
        Scalar::I16(v) => json!(v),
        Scalar::I32(v) => json!(v),
        Scalar::I64(v) => json!(v),
        Scalar::F32(v) => float(f64::from(v)),
        Scalar::F64(v) => float(v),
    }
}

/// The `zarr.json` of an array with `meta` and `codecs` (a JSON list of codec objects).
pub(crate) fn array_json(meta: &DatasetMeta, codecs: &Value) -> Value {
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": meta.layout.shape(),
        "data_type": zarr_data_type(meta.dtype),
        "chunk_grid": {
            "name": "regular",
            "configuration": {"chunk_shape": meta.layout.chunk_shape()}
        },
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_json(&meta.fill_value),
        "codecs": codecs,
        "attributes": {}
    })
}

/// The `zarr.json` of a group.
pub(crate) fn group_json() -> Value {
    json!({"zarr_format": 3, "node_type": "group", "attributes": {}})
}

/// chunkwise's metadata of the Zarr array in directory `name`: its shape, regular chunk shape (for a sharded
/// array, the shard shape), dtype and fill value.
///
/// # Errors
/// [`Error::Corrupt`] naming the array when its data type, chunk grid or fill value is not one
/// chunkwise handles.
pub(crate) fn dataset_meta<S: ?Sized>(name: &Path, array: &Array<S>) -> Result<DatasetMeta> {
    let metadata = serde_json::to_value(array.metadata())
        .map_err(|e| unsupported(name, &format!("its metadata does not serialise: {e}")))?;
    let data_type = metadata["data_type"].as_str().unwrap_or_default();
    let dtype = DType::ALL
        .into_iter()
        .find(|&d| zarr_data_type(d) == data_type)
        .ok_or_else(|| {
            unsupported(
                name,
                &format!(
                    "data type {} (expected one of uint8 … uint64, int8 … int64, float32, float64)",
                    metadata["data_type"]
                ),
            )
        })?;
    let grid = &metadata["chunk_grid"];
    if grid["name"] != "regular" {
        return Err(unsupported(
            name,
            &format!("chunk grid {} (expected regular)", grid["name"]),
        ));
    }
    let sizes = |value: &Value| -> Option<Vec<usize>> {
        value
            .as_array()?
            .iter()
            .map(|n| n.as_u64().and_then(|n| usize::try_from(n).ok()))
            .collect()
    };
    let shape = sizes(&metadata["shape"]).ok_or_else(|| unsupported(name, "a shape"))?;
    let chunks = sizes(&grid["configuration"]["chunk_shape"])
        .ok_or_else(|| unsupported(name, "a chunk shape"))?;
    let fill = parse_fill(dtype, &metadata["fill_value"])
        .ok_or_else(|| unsupported(name, &format!("fill value {}", metadata["fill_value"])))?;
    DatasetMeta::new(Layout::new(&shape, &chunks)?, dtype, fill)
}

/// A fill value of `dtype` from its JSON form.
fn parse_fill(dtype: DType, value: &Value) -> Option<Scalar> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => match s.as_str() {
            "NaN" => "nan".to_string(),
            "Infinity" => "inf".to_string(),
            "-Infinity" => "-inf".to_string(),
            // Hexadecimal bit patterns (`"0x7fc00000"`).
            hex if hex.starts_with("0x") => {
                let bits = u64::from_str_radix(&hex[2..], 16).ok()?;
                return match dtype {
                    DType::F32 => Some(Scalar::F32(f32::from_bits(u32::try_from(bits).ok()?))),
                    DType::F64 => Some(Scalar::F64(f64::from_bits(bits))),
                    _ => None,
                };
            }
            _ => return None,
        },
        _ => return None,
    };
    Scalar::parse(dtype, &text).ok()
}

fn unsupported(array: &Path, what: &str) -> Error {
    Error::Corrupt {
        path: array.join("zarr.json"),
        problem: format!("chunkwise cannot use its {what}"),
    }
}
