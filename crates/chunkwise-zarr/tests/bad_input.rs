//! Arrays chunkwise cannot use, corrupt metadata and damaged chunks: one clear error naming the
//! array or the chunk's file, never a panic, never wrong numbers.

use chunkwise::{Error, Store};
use chunkwise_zarr::ZarrStore;

#[test]
fn unusable_arrays_and_damaged_chunks_are_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bad.zarr");
    let script = r#"
import sys
import numpy as np
import zarr

group = zarr.open_group(sys.argv[1], mode="w")
group.create_array("flags", shape=(4,), chunks=(2,), dtype="bool")[...] = True
group.create_array("complex", shape=(4,), chunks=(2,), dtype="complex64")[...] = 1
a = group.create_array("packed", shape=(64,), chunks=(64,), dtype="float64", fill_value=0)
a[...] = np.arange(64.0)
group.create_array("broken", shape=(4,), chunks=(2,), dtype="int32")
print("ok")
"#;
    let out = chunkwise_testkit::python::run(script, &[root.as_os_str()]);
    assert_eq!(out.trim(), "ok");
    let store = ZarrStore::new(&root);
    for (name, expected) in [("flags", "\"bool\""), ("complex", "\"complex64\"")] {
        let error = store.open_dataset(name).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::Corrupt { .. }), "{text}");
        assert!(
            text.contains(&format!("{name}/zarr.json")) && text.contains(expected),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }
    // A corrupt zarr.json.
    std::fs::write(
        root.join("broken/zarr.json"),
        b"{\"zarr_format\": 3, \"node_type\"",
    )
    .unwrap();
    let text = store.open_dataset("broken").unwrap_err().to_string();
    assert!(text.contains("broken/zarr.json"), "{text}");
    // A truncated compressed chunk (zarr-python's default codecs compress with zstd).
    let handle = store.open_dataset("packed").unwrap();
    assert!(handle.read_chunk(&[0]).unwrap().is_some());
    let chunk = root.join("packed/c/0");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    let error = handle.read_chunk(&[0]).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Corrupt { .. }), "{text}");
    assert!(text.contains("packed/c/0"), "{text}");
    // Garbage of the right length is refused too, not decoded into numbers.
    std::fs::write(&chunk, vec![0x5a; bytes.len()]).unwrap();
    assert!(handle.read_chunk(&[0]).is_err());
}
