//! Dtype conversions against numpy: which are safe (`numpy.can_cast(…, "safe")`) and what
//! `astype` gives, for every pair of dtypes, on each type's edge values (where numpy's result
//! is defined: floats into integers only within the target's range).

use chunkwise::cast::can_cast_safely;
use chunkwise::{ChunkData, DType};
use serde_json::Value;

const SCRIPT: &str = r#"
import json
import numpy as np

names = {"u8": "u1", "u16": "u2", "u32": "u4", "u64": "u8", "i8": "i1", "i16": "i2",
         "i32": "i4", "i64": "i8", "f32": "f4", "f64": "f8"}

def edge_values(dtype):
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        values = {int(info.min), int(info.min) + 1, 0, 1, 100, int(info.max) - 1, int(info.max)}
        if dtype.kind == "i":
            values |= {-1, -100}
        return sorted(values)
    return [-1e6, -300.75, -2.5, -1.0, -0.5, 0.0, 0.25, 1.9, 100.7, 255.99, 65504.0, 3.0e9]

out = {"safe": {}, "casts": {}}
for a, na in names.items():
    for b, nb in names.items():
        da, db = np.dtype(na), np.dtype(nb)
        out["safe"][f"{a}>{b}"] = bool(np.can_cast(da, db, "safe"))
        values = edge_values(da)
        source = np.array(values, dtype=da)
        with np.errstate(all="ignore"):
            target = source.astype(db)
        result = []
        for x, y in zip(source, target):
            if da.kind == "f" and db.kind in "ui":
                info = np.iinfo(db)
                if not (info.min <= np.trunc(x) <= info.max):
                    result.append(None)
                    continue
            result.append(y.item())
        out["casts"][f"{a}>{b}"] = {"input": [x.item() for x in source], "output": result}
print(json.dumps(out))
"#;

fn chunk(dtype: DType, values: &[Value]) -> ChunkData {
    let int = |v: &Value| {
        v.as_i64()
            .map(i128::from)
            .or(v.as_u64().map(i128::from))
            .unwrap()
    };
    let float = |v: &Value| v.as_f64().unwrap();
    match dtype {
        DType::U8 => ChunkData::U8(values.iter().map(|v| int(v) as u8).collect()),
        DType::U16 => ChunkData::U16(values.iter().map(|v| int(v) as u16).collect()),
        DType::U32 => ChunkData::U32(values.iter().map(|v| int(v) as u32).collect()),
        DType::U64 => ChunkData::U64(values.iter().map(|v| int(v) as u64).collect()),
        DType::I8 => ChunkData::I8(values.iter().map(|v| int(v) as i8).collect()),
        DType::I16 => ChunkData::I16(values.iter().map(|v| int(v) as i16).collect()),
        DType::I32 => ChunkData::I32(values.iter().map(|v| int(v) as i32).collect()),
        DType::I64 => ChunkData::I64(values.iter().map(|v| int(v) as i64).collect()),
        DType::F32 => ChunkData::F32(values.iter().map(|v| float(v) as f32).collect()),
        DType::F64 => ChunkData::F64(values.iter().map(float).collect()),
    }
}

/// The elements as JSON numbers, for comparing with numpy's.
fn numbers(data: &ChunkData) -> Vec<Value> {
    match data {
        ChunkData::U8(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::U16(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::U32(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::U64(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::I8(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::I16(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::I32(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::I64(v) => v.iter().map(|&x| x.into()).collect(),
        ChunkData::F32(v) => v.iter().map(|&x| f64::from(x).into()).collect(),
        ChunkData::F64(v) => v.iter().map(|&x| x.into()).collect(),
    }
}

#[test]
fn safety_and_values_match_numpy_for_every_pair_of_dtypes() {
    let document: Value =
        serde_json::from_str(&chunkwise_testkit::python::run(SCRIPT, &[])).unwrap();
    let mut compared = 0;
    for from in DType::ALL {
        for to in DType::ALL {
            let key = format!("{from}>{to}");
            assert_eq!(
                can_cast_safely(from, to),
                document["safe"][&key].as_bool().unwrap(),
                "{key}: safe?"
            );
            let case = &document["casts"][&key];
            let input = chunk(from, case["input"].as_array().unwrap());
            let got = numbers(&input.cast(to));
            for (k, expected) in case["output"].as_array().unwrap().iter().enumerate() {
                if expected.is_null() {
                    continue;
                }
                let same = match (expected.as_f64(), got[k].as_f64()) {
                    _ if expected.is_f64() || got[k].is_f64() => {
                        expected.as_f64() == got[k].as_f64()
                    }
                    _ => expected == &got[k],
                };
                assert!(
                    same,
                    "{key}: element {k}: numpy {expected}, chunkwise {}",
                    got[k]
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 700, "only {compared} values compared");
}
