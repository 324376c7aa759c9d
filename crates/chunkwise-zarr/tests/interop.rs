//! chunkwise and zarr-python (≥ 3) read each other's arrays: every dtype, fill values, edge
//! chunks, missing chunks, zarr-python's default codecs (zstd) and sharded arrays, compared
//! element for element with numpy.

use std::sync::Arc;

use chunkwise::{ChunkData, DType, DatasetMeta, Layout, Scalar, Store};
use chunkwise_zarr::ZarrStore;

/// The value of element `flat` (C order) of the test arrays, in every dtype: `flat % 100 + 1`,
/// halved for floats.
fn value(dtype: DType, flat: usize) -> f64 {
    let v = (flat % 100 + 1) as f64;
    if dtype.is_float() {
        v * 0.5
    } else {
        v
    }
}

/// A chunk of `value`s (padded with `fill`) of the array `shape` chunked by `chunks`.
fn chunk_data(
    dtype: DType,
    shape: &[usize],
    chunks: &[usize],
    index: &[usize],
    fill: f64,
) -> ChunkData {
    let mut values = Vec::new();
    for a in 0..chunks[0] {
        for b in 0..chunks[1] {
            let (i, j) = (index[0] * chunks[0] + a, index[1] * chunks[1] + b);
            values.push(if i < shape[0] && j < shape[1] {
                value(dtype, i * shape[1] + j)
            } else {
                fill
            });
        }
    }
    ChunkData::F64(values).cast(dtype)
}

const SHAPE: [usize; 2] = [5, 7];
const CHUNKS: [usize; 2] = [2, 3];

/// The fill value of the test arrays of `dtype`.
fn fill(dtype: DType) -> f64 {
    if dtype.is_float() {
        f64::NAN
    } else if dtype.to_string().starts_with('i') {
        -3.0
    } else {
        9.0
    }
}

#[test]
fn zarr_python_reads_what_chunkwise_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out.zarr");
    let store: Arc<dyn Store> = Arc::new(ZarrStore::new(&root));
    for dtype in DType::ALL {
        let fill_value = Scalar::F64(fill(dtype)).cast(dtype);
        let meta =
            DatasetMeta::new(Layout::new(&SHAPE, &CHUNKS).unwrap(), dtype, fill_value).unwrap();
        let handle = store
            .create_dataset(dtype.to_string().as_str(), &meta)
            .unwrap();
        // Every chunk but (1, 1), which reads as the fill value.
        for index in meta.layout.chunk_indices() {
            if index != [1, 1] {
                let data = chunk_data(dtype, &SHAPE, &CHUNKS, &index, fill(dtype));
                handle.write_chunk(&index, &data).unwrap();
            }
        }
    }
    let script = r#"
import sys
import numpy as np
import zarr

group = zarr.open_group(sys.argv[1], mode="r")
names = {"u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64", "i8": "int8",
         "i16": "int16", "i32": "int32", "i64": "int64", "f32": "float32", "f64": "float64"}
for name, dtype in names.items():
    array = group[name]
    assert array.dtype == np.dtype(dtype), (name, array.dtype)
    assert array.shape == (5, 7) and array.chunks == (2, 3), (name, array.shape, array.chunks)
    expected = (np.arange(35) % 100 + 1).astype(np.float64).reshape(5, 7)
    fill = np.nan if dtype.startswith("float") else (-3 if dtype.startswith("int") else 9)
    if dtype.startswith("float"):
        expected = expected * 0.5
        assert np.isnan(array.fill_value), (name, array.fill_value)
    else:
        assert array.fill_value == fill, (name, array.fill_value)
    expected[2:4, 3:6] = fill
    expected = expected.astype(dtype)
    got = array[...]
    assert np.array_equal(got, expected, equal_nan=dtype.startswith("float")), (name, got, expected)
print("ok")
"#;
    let out = chunkwise_testkit::python::run(script, &[root.as_os_str()]);
    assert_eq!(out.trim(), "ok");
}

#[test]
fn chunkwise_reads_what_zarr_python_wrote_compressed_and_sharded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("in.zarr");
    let script = r#"
import sys
import numpy as np
import zarr

group = zarr.open_group(sys.argv[1], mode="w")
names = {"u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64", "i8": "int8",
         "i16": "int16", "i32": "int32", "i64": "int64", "f32": "float32", "f64": "float64"}
for name, dtype in names.items():
    values = (np.arange(35) % 100 + 1).astype(np.float64).reshape(5, 7)
    fill = np.nan if dtype.startswith("float") else (-3 if dtype.startswith("int") else 9)
    if dtype.startswith("float"):
        values = values * 0.5
    for kind, extra in [("plain", {}), ("sharded", {"shards": (4, 6)})]:
        # zarr-python's default codecs: bytes, then zstd.
        array = group.create_array(f"{name}_{kind}", shape=(5, 7), chunks=(2, 3), dtype=dtype,
                                   fill_value=fill, **extra)
        array[...] = values.astype(dtype)
        # One region back to the fill value: a missing chunk (plain) or inner chunk (sharded).
        array[2:4, 3:6] = fill
print("ok")
"#;
    let out = chunkwise_testkit::python::run(script, &[root.as_os_str()]);
    assert_eq!(out.trim(), "ok");
    let store = ZarrStore::new(&root);
    for dtype in DType::ALL {
        for (kind, chunks) in [("plain", [2, 3]), ("sharded", [4, 6])] {
            let name = format!("{dtype}_{kind}");
            let handle = store.open_dataset(&name).unwrap();
            let meta = handle.meta();
            assert_eq!(meta.dtype, dtype, "{name}");
            assert_eq!(
                meta.layout.chunk_shape(),
                &chunks,
                "{name}: chunkwise's chunk is the shard"
            );
            let fill_value = Scalar::F64(fill(dtype)).cast(dtype);
            assert_eq!(
                format!("{}", meta.fill_value),
                format!("{fill_value}"),
                "{name}"
            );
            for index in meta.layout.chunk_indices() {
                let mut expected = chunk_data(dtype, &SHAPE, &chunks, &index, fill(dtype));
                // Elements [2:4, 3:6] were set back to the fill value.
                let mut values = match expected.clone().cast(DType::F64) {
                    ChunkData::F64(v) => v,
                    _ => unreachable!(),
                };
                for a in 0..chunks[0] {
                    for b in 0..chunks[1] {
                        let (i, j) = (index[0] * chunks[0] + a, index[1] * chunks[1] + b);
                        if (2..4).contains(&i) && (3..6).contains(&j) {
                            values[a * chunks[1] + b] = fill(dtype);
                        }
                    }
                }
                expected = ChunkData::F64(values).cast(dtype);
                let got = handle.read_chunk(&index).unwrap();
                // A chunk zarr-python did not write (all fill) reads as missing.
                let got = got.unwrap_or_else(|| {
                    ChunkData::F64(vec![fill(dtype); chunks[0] * chunks[1]]).cast(dtype)
                });
                assert_eq!(
                    format!("{:?}", got),
                    format!("{:?}", expected),
                    "{name} chunk {index:?}"
                );
            }
        }
    }
}

#[test]
fn zarr_python_reads_every_codec_chunkwise_writes() {
    use chunkwise_zarr::{Codecs, Compression};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("codecs.zarr");
    let shape = [6, 9];
    let cases = [
        ("gzip", "gzip:6", None),
        ("zstd", "zstd:3", None),
        ("blosc", "blosc:lz4:5:shuffle", None),
        ("blosc_bit", "blosc:zstd:1:bitshuffle", None),
        ("sharded", "zstd:1", Some(vec![2, 3])),
        ("sharded_plain", "none", Some(vec![3, 3])),
    ];
    for (name, codec, shard_chunks) in &cases {
        let store = ZarrStore::new(&root).with_codecs(Codecs {
            compression: codec.parse::<Compression>().unwrap(),
            shard_chunks: shard_chunks.clone(),
        });
        for dtype in [DType::I16, DType::F64] {
            let meta = DatasetMeta::new(
                Layout::new(&shape, &[6, 6]).unwrap(),
                dtype,
                Scalar::F64(fill(dtype)).cast(dtype),
            )
            .unwrap();
            let handle = store
                .create_dataset(&format!("{name}_{dtype}"), &meta)
                .unwrap();
            for index in [[0, 0], [0, 1]] {
                let data = chunk_data(dtype, &shape, &[6, 6], &index, fill(dtype));
                handle.write_chunk(&index, &data).unwrap();
                // Compared as text: NaN padding equals NaN.
                let back = handle.read_chunk(&index).unwrap();
                assert_eq!(format!("{back:?}"), format!("{:?}", Some(data)), "{name}");
            }
            let encoding = handle.encoding().unwrap();
            let compressor = match codec.split(':').next().unwrap() {
                "none" => "bytes",
                other => other,
            };
            assert!(encoding.contains(compressor), "{name}: {encoding}");
            assert_eq!(
                encoding.contains("sharding"),
                shard_chunks.is_some(),
                "{encoding}"
            );
        }
    }
    let script = r#"
import sys
import numpy as np
import zarr

group = zarr.open_group(sys.argv[1], mode="r")
count = 0
for name, array in group.arrays():
    values = (np.arange(54) % 100 + 1).astype(np.float64).reshape(6, 9)
    if array.dtype == np.float64:
        values = values * 0.5
    assert np.array_equal(array[...], values.astype(array.dtype)), name
    count += 1
print(count)
"#;
    let out = chunkwise_testkit::python::run(script, &[root.as_os_str()]);
    assert_eq!(out.trim(), (cases.len() * 2).to_string());
}
