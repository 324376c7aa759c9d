//! `Stats` and `Histogram` against an independent reference (Python: `math.fsum`, exact
//! `fractions`, numpy's nanmin/nanargmin and histogram) on every dtype, with NaNs, infinities,
//! values of very different magnitudes, edge chunks, missing chunks (the fill value counts) and
//! a strided selection; and the same figures to the bit from the sequential engine, 1 and 2
//! threads, and two chunk shapes.

use std::sync::Arc;

use chunkwise::{
    ChunkData, Connection, DType, DatasetMeta, Element, Engine, Histogram, Layout, Number,
    RamStore, Scalar, Selection, SequentialEngine, Stats, Summary, ThreadsEngine,
};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

const SHAPE: [usize; 3] = [13, 11, 7];

/// numpy's name of `dtype`.
fn numpy(dtype: DType) -> &'static str {
    match dtype {
        DType::U8 => "u1",
        DType::U16 => "u2",
        DType::U32 => "u4",
        DType::U64 => "u8",
        DType::I8 => "i1",
        DType::I16 => "i2",
        DType::I32 => "i4",
        DType::I64 => "i8",
        DType::F32 => "f4",
        DType::F64 => "f8",
    }
}

/// Deterministic values of every kind `dtype` has: extremes, and for floats magnitudes from
/// 1e-30 to 1e30 (so that a plain sum would lose digits), NaNs and infinities when `special`.
fn values(dtype: DType, special: bool) -> ChunkData {
    let n: usize = SHAPE.iter().product();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let floats: Vec<f64> = (0..n)
        .map(|i| {
            let r = next();
            let unit = (r >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let scale = [1e-30, 1.0, 1e5, 1e30][(r % 4) as usize];
            match (special, i % 97) {
                (true, 5) => f64::NAN,
                (true, 50) if i % 2 == 0 => f64::INFINITY,
                _ => unit * scale,
            }
        })
        .collect();
    let raw: Vec<u64> = (0..n).map(|_| next()).collect();
    macro_rules! ints {
        ($t:ty) => {
            raw.iter()
                .enumerate()
                .map(|(i, &r)| match i % 50 {
                    0 => <$t>::MIN,
                    1 => <$t>::MAX,
                    _ => r as $t,
                })
                .collect::<Vec<$t>>()
        };
    }
    match dtype {
        DType::F32 => ChunkData::F32(floats.iter().map(|&x| x as f32).collect()),
        DType::F64 => ChunkData::F64(floats),
        DType::U8 => ChunkData::U8(ints!(u8)),
        DType::U16 => ChunkData::U16(ints!(u16)),
        DType::U32 => ChunkData::U32(ints!(u32)),
        DType::U64 => ChunkData::U64(ints!(u64)),
        DType::I8 => ChunkData::I8(ints!(i8)),
        DType::I16 => ChunkData::I16(ints!(i16)),
        DType::I32 => ChunkData::I32(ints!(i32)),
        DType::I64 => ChunkData::I64(ints!(i64)),
    }
}

/// The dataset's logical values: `data` where chunks were written, the fill value (3) in the
/// chunks left missing (every chunk whose flat index is a multiple of 5).
fn logical<T: Element>(data: &[T], layout: &Layout) -> Vec<T> {
    let fill = T::from_f64(3.0);
    let mut out = data.to_vec();
    for chunk in layout.chunk_indices() {
        if !layout.chunk_flat(&chunk).is_multiple_of(5) {
            continue;
        }
        let bounds = layout.chunk_bounds(&chunk);
        let start = bounds.start();
        let shape = bounds.shape();
        for i in 0..shape[0] {
            for j in 0..shape[1] {
                for k in 0..shape[2] {
                    let (x, y, z) = (start[0] + i, start[1] + j, start[2] + k);
                    out[(x * SHAPE[1] + y) * SHAPE[2] + z] = fill;
                }
            }
        }
    }
    out
}

/// A connection on `engine` holding `data` in chunks of `chunks`, chunks with a flat index
/// that is a multiple of 5 left missing.
fn dataset_on(
    engine: Arc<dyn Engine>,
    data: &ChunkData,
    chunks: &[usize],
) -> (Connection, chunkwise::Dataset) {
    let conn = Connection::new(Arc::new(RamStore::new()), engine).unwrap();
    let layout = Layout::new(&SHAPE, chunks).unwrap();
    let dtype = data.dtype();
    let fill = chunkwise::with_element_type!(dtype, T => T::from_f64(3.0).to_scalar());
    let dataset = conn
        .create_dataset("d", DatasetMeta::new(layout.clone(), dtype, fill).unwrap())
        .unwrap();
    chunkwise::with_element_type!(dtype, T => {
        let all = ArrayD::from_shape_vec(IxDyn(&SHAPE), T::chunk_slice(data).unwrap().to_vec())
            .unwrap();
        for chunk in layout.chunk_indices() {
            if layout.chunk_flat(&chunk).is_multiple_of(5) {
                continue;
            }
            let bounds = layout.chunk_bounds(&chunk);
            dataset
                .chunk(&chunk)
                .unwrap()
                .write(bounds.view_of(&all))
                .unwrap();
        }
    });
    (conn, dataset)
}

const REFERENCE: &str = r#"
import json, math, struct, sys
from fractions import Fraction
import numpy as np

dtype, path, selection, bins = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
shape = (13, 11, 7)
a = np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
a = eval("a[" + selection + "]") if selection else a
bits = lambda x: struct.unpack("<Q", struct.pack("<d", float(x)))[0]
flat = a.ravel()
out = {"count": int(flat.size), "nan_count": int(np.isnan(flat).sum()) if a.dtype.kind == "f" else 0}
if a.dtype.kind == "f":
    finite = bool(np.isfinite(flat).all())
    with np.errstate(all="ignore"):
        plain = float(np.sum(flat.astype(np.float64)))
    out["sum"] = bits(math.fsum(flat.astype(np.float64)) if finite else plain)
    if finite:
        values = [Fraction(float(x)) for x in flat]
        s1, s2, n = sum(values), sum(v * v for v in values), len(values)
        out["mean"] = bits(float(s1 / n))
        out["variance"] = bits(float((n * s2 - s1 * s1) / (n * n)))
    else:
        out["mean"] = bits(plain / flat.size)
        out["variance"] = bits(float("nan"))
    ok = ~np.isnan(a)
    out["min"] = bits(np.nanmin(a)); out["max"] = bits(np.nanmax(a))
    out["argmin"] = [int(i) for i in np.unravel_index(np.nanargmin(a), a.shape)]
    out["argmax"] = [int(i) for i in np.unravel_index(np.nanargmax(a), a.shape)]
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if math.isinf(lo) or math.isinf(hi):
        lo, hi = -1e5, 1e5
    out["range"] = [lo, hi]
    counts, edges = np.histogram(a[ok], bins=bins, range=(lo, hi))
else:
    values = [int(x) for x in flat]
    n = len(values)
    s1, s2 = sum(values), sum(v * v for v in values)
    out["sum"] = str(s1)
    out["mean"] = bits(float(Fraction(s1, n)))
    out["variance"] = bits(float(Fraction(n * s2 - s1 * s1, n * n)))
    out["min"] = str(int(a.min())); out["max"] = str(int(a.max()))
    out["argmin"] = [int(i) for i in np.unravel_index(np.argmin(a), a.shape)]
    out["argmax"] = [int(i) for i in np.unravel_index(np.argmax(a), a.shape)]
    lo, hi = float(a.min()), float(a.max())
    out["range"] = [lo, hi]
    counts, edges = np.histogram(a, bins=bins, range=(lo, hi))
out["counts"] = [int(c) for c in counts]
out["edges"] = [bits(e) for e in edges]
print(json.dumps(out))
"#;

fn number_matches(got: Number, want: &Value) -> bool {
    match (got, want) {
        (Number::Float(x), Value::Number(bits)) => bits.as_u64() == Some(x.to_bits()),
        (Number::Int(i), Value::String(text)) => text == &i.to_string(),
        _ => false,
    }
}

/// The selection's coordinates in the dataset of an index into the selected array
/// (`start + k·step` per axis, integer-selected axes dropped by the reference).
fn to_dataset(index: &[u64], selection: &Selection) -> Vec<usize> {
    let resolved = selection.resolve(&SHAPE).unwrap();
    let mut it = index.iter();
    resolved
        .region
        .axes()
        .iter()
        .zip(&resolved.dropped)
        .map(|(axis, &dropped)| {
            let k = if dropped {
                0
            } else {
                *it.next().unwrap() as usize
            };
            axis.start + k * axis.step
        })
        .collect()
}

fn check(
    summary: &Summary,
    counts: &[u64],
    edges: &[f64],
    want: &Value,
    selection: &Selection,
    what: &str,
) {
    assert_eq!(
        summary.count,
        want["count"].as_u64().unwrap(),
        "{what}: count"
    );
    assert_eq!(
        summary.nan_count,
        want["nan_count"].as_u64().unwrap(),
        "{what}: NaNs"
    );
    assert!(
        number_matches(summary.sum, &want["sum"]),
        "{what}: sum {:?} vs {}",
        summary.sum,
        want["sum"]
    );
    assert_eq!(
        summary.mean.to_bits(),
        want["mean"].as_u64().unwrap(),
        "{what}: mean {}",
        summary.mean
    );
    assert_eq!(
        summary.variance.to_bits(),
        want["variance"].as_u64().unwrap(),
        "{what}: variance {}",
        summary.variance
    );
    assert!(
        number_matches(summary.min.unwrap(), &want["min"]),
        "{what}: min"
    );
    assert!(
        number_matches(summary.max.unwrap(), &want["max"]),
        "{what}: max"
    );
    let index = |key: &str| -> Vec<u64> {
        want[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        summary.argmin.clone().unwrap(),
        to_dataset(&index("argmin"), selection),
        "{what}: argmin"
    );
    assert_eq!(
        summary.argmax.clone().unwrap(),
        to_dataset(&index("argmax"), selection),
        "{what}: argmax"
    );
    let want_counts: Vec<u64> = want["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(counts, want_counts, "{what}: histogram counts");
    let want_edges: Vec<u64> = want["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let got_edges: Vec<u64> = edges.iter().map(|e| e.to_bits()).collect();
    assert_eq!(got_edges, want_edges, "{what}: histogram edges");
}

fn engines() -> Vec<(String, Arc<dyn Engine>)> {
    vec![
        (
            "sequential".into(),
            Arc::new(SequentialEngine) as Arc<dyn Engine>,
        ),
        (
            "1 thread".into(),
            Arc::new(ThreadsEngine::new(Some(1)).unwrap()),
        ),
        (
            "2 threads".into(),
            Arc::new(ThreadsEngine::new(Some(2)).unwrap()),
        ),
    ]
}

#[test]
fn every_dtype_matches_the_exact_reference_on_every_engine_and_chunk_shape() {
    let dir = tempfile::tempdir().unwrap();
    let bins = 7;
    for dtype in DType::ALL {
        for special in [false, true] {
            if special && !matches!(dtype, DType::F32 | DType::F64) {
                continue;
            }
            let data = values(dtype, special);
            for select in ["", "2:11, ::3, 1:7:2", "5, 1:10, :"] {
                let selection = if select.is_empty() {
                    Selection::all()
                } else {
                    Selection::parse(select).unwrap()
                };
                // The reference sees the logical array of the first chunk shape (the missing
                // chunks differ between chunk shapes, so each shape has its own reference).
                let mut figures: Vec<String> = Vec::new();
                for chunks in [[5, 4, 3], [13, 2, 7]] {
                    let layout = Layout::new(&SHAPE, &chunks).unwrap();
                    let path = dir
                        .path()
                        .join(format!("{dtype}-{special}-{}.raw", chunks[1]));
                    let bytes: Vec<u8> = chunkwise::with_element_type!(dtype, T => {
                        let all = logical(T::chunk_slice(&data).unwrap(), &layout);
                        chunkwise::store::support::element_bytes(&all).to_vec()
                    });
                    std::fs::write(&path, bytes).unwrap();
                    let want: Value = serde_json::from_str(&chunkwise_testkit::python::run(
                        REFERENCE,
                        &[
                            numpy(dtype).as_ref(),
                            path.as_os_str(),
                            select.as_ref(),
                            bins.to_string().as_ref(),
                        ],
                    ))
                    .unwrap();
                    let range = (
                        want["range"][0].as_f64().unwrap(),
                        want["range"][1].as_f64().unwrap(),
                    );
                    let histogram = Histogram::new(bins, range).unwrap();
                    let mut per_engine = Vec::new();
                    for (label, engine) in engines() {
                        let (_conn, dataset) = dataset_on(engine, &data, &chunks);
                        let state = dataset.reduce(&selection, &Stats).unwrap();
                        let summary = Stats::summary(&state, dataset.layout()).unwrap();
                        let counts = dataset.reduce(&selection, &histogram).unwrap();
                        let what = format!(
                            "{dtype} special={special} [{select}] chunks {chunks:?} {label}"
                        );
                        check(
                            &summary,
                            &counts,
                            &histogram.edges_for(dtype),
                            &want,
                            &selection,
                            &what,
                        );
                        per_engine.push(format!("{summary:?} {counts:?}"));
                    }
                    assert!(
                        per_engine.windows(2).all(|w| w[0] == w[1]),
                        "{per_engine:#?}"
                    );
                    figures.push(per_engine.remove(0));
                }
                // Without missing chunks, both chunk shapes would give the same figures; with
                // them the data differ, so only each shape's agreement with numpy is checked.
                assert_eq!(figures.len(), 2);
            }
        }
    }
}

#[test]
fn the_same_data_in_other_chunks_gives_the_same_bits() {
    // Every chunk written: the logical arrays are equal, so are the figures, to the bit.
    let data = values(DType::F64, false);
    let mut seen = Vec::new();
    for chunks in [[5, 4, 3], [13, 2, 7], [1, 11, 7], [13, 11, 7]] {
        for (_, engine) in engines() {
            let conn = Connection::new(Arc::new(RamStore::new()), engine).unwrap();
            let layout = Layout::new(&SHAPE, &chunks).unwrap();
            let dataset = conn
                .create_dataset(
                    "d",
                    DatasetMeta::new(layout, DType::F64, Scalar::F64(0.0)).unwrap(),
                )
                .unwrap();
            let all =
                ArrayD::from_shape_vec(IxDyn(&SHAPE), f64::chunk_slice(&data).unwrap().to_vec())
                    .unwrap();
            dataset.write(&Selection::all(), all.view()).unwrap();
            let state = dataset.reduce(&Selection::all(), &Stats).unwrap();
            seen.push(format!(
                "{:?}",
                Stats::summary(&state, dataset.layout()).unwrap()
            ));
        }
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
}

#[test]
fn bad_histogram_settings_are_refused_by_name() {
    for (bins, range, expected) in [
        (0, (0.0, 1.0), "0 bins"),
        (3, (2.0, 1.0), "range 2,1"),
        (3, (0.0, f64::INFINITY), "range 0,inf"),
    ] {
        let error = Histogram::new(bins, range).unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    }
    // One value: numpy widens the range by a half on each side.
    let edges = Histogram::new(2, (1.0, 1.0)).unwrap().edges();
    assert_eq!(edges, vec![0.5, 1.0, 1.5]);
}
