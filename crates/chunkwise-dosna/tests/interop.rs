//! The hdf5 store's files follow DosNa's layout exactly: checked with h5dump (an independent
//! reader), and datasets written in that layout directly through the hdf5 crate — as DosNa's
//! own backend writes them — are read by chunkwise.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chunkwise::{Connection, Selection, SequentialEngine};
use chunkwise_dosna::DosnaStore;
use hdf5::types::{FixedAscii, VarLenUnicode};
use ndarray::{arr1, Array2, ArrayD};

fn h5dump(args: &[&str], path: &Path) -> String {
    let output = Command::new("h5dump")
        .args(args)
        .arg(path)
        .output()
        .expect("h5dump must be installed (scripts/setup.sh installs hdf5-tools)");
    assert!(
        output.status.success(),
        "h5dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The text of one attribute's block in h5dump output.
fn attribute_block<'a>(dump: &'a str, name: &str) -> &'a str {
    let start = dump
        .find(&format!("ATTRIBUTE \"{name}\""))
        .unwrap_or_else(|| panic!("no attribute {name}:\n{dump}"));
    let rest = &dump[start + 1..];
    let end = rest.find("ATTRIBUTE \"").map_or(rest.len(), |e| e + 1);
    &dump[start..start + end]
}

fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn files_have_dosna_names_and_attribute_types() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("conn");
    let conn =
        Connection::new(Arc::new(DosnaStore::new(&root)), Arc::new(SequentialEngine)).unwrap();
    let ds = conn.create::<f32>("vol", &[10, 12], &[4, 5], 1.5).unwrap();
    ds.write_value(&Selection::parse("8:, 10:").unwrap(), 2.0f32)
        .unwrap();

    let dump = h5dump(&["-A"], &root.join("vol/dataset.h5"));
    let shape = squash(attribute_block(&dump, "shape"));
    assert!(
        shape.contains("DATATYPE H5T_STD_I64LE") && shape.contains("SIMPLE { ( 2 ) / ( 2 ) }"),
        "{shape}"
    );
    assert!(shape.contains("(0): 10, 12"), "{shape}");
    let grid = squash(attribute_block(&dump, "chunk_grid"));
    assert!(
        grid.contains("H5T_STD_I64LE") && grid.contains("(0): 3, 3"),
        "{grid}"
    );
    let size = squash(attribute_block(&dump, "chunk_size"));
    assert!(
        size.contains("H5T_STD_I64LE") && size.contains("(0): 4, 5"),
        "{size}"
    );
    let dtype = squash(attribute_block(&dump, "dtype"));
    assert!(
        dtype.contains("STRSIZE H5T_VARIABLE") && dtype.contains("H5T_CSET_UTF8"),
        "{dtype}"
    );
    assert!(
        dtype.contains("DATASPACE SCALAR") && dtype.contains("\"<f4\""),
        "{dtype}"
    );
    let fill = squash(attribute_block(&dump, "fillvalue"));
    assert!(
        fill.contains("H5T_IEEE_F32LE") && fill.contains("SCALAR") && fill.contains("1.5"),
        "{fill}"
    );

    // The edge chunk (2, 2) is stored at the full chunk shape, padded with the fill value.
    let chunk = squash(&h5dump(&[], &root.join("vol/chunk_2_2.h5")));
    assert!(
        chunk.contains("DATASET \"data\"") && chunk.contains("H5T_IEEE_F32LE"),
        "{chunk}"
    );
    assert!(chunk.contains("SIMPLE { ( 4, 5 ) / ( 4, 5 ) }"), "{chunk}");
    assert!(chunk.contains("(0,0): 2, 2, 1.5, 1.5, 1.5"), "{chunk}");
    let mut names: Vec<String> = std::fs::read_dir(root.join("vol"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // DosNa's files only (the chunk locks are in one hidden file in the store's root).
    assert_eq!(names, vec!["chunk_2_2.h5", "dataset.h5"]);
}

/// Writes a dataset the way DosNa's hdf5 backend does (h5py under Python 2 stores the dtype
/// string as fixed-length ASCII; under Python 3 as variable-length UTF-8).
fn write_dosna_dataset(
    dir: &Path,
    data: &Array2<i16>,
    chunk: [usize; 2],
    fill: i16,
    fixed_ascii_dtype: bool,
) {
    std::fs::create_dir_all(dir).unwrap();
    let file = hdf5::File::create(dir.join("dataset.h5")).unwrap();
    let shape = [data.nrows(), data.ncols()];
    let grid = [shape[0].div_ceil(chunk[0]), shape[1].div_ceil(chunk[1])];
    let as_i64 = |v: [usize; 2]| arr1(&[v[0] as i64, v[1] as i64]);
    file.new_attr_builder()
        .with_data(&as_i64(shape))
        .create("shape")
        .unwrap();
    file.new_attr_builder()
        .with_data(&as_i64(grid))
        .create("chunk_grid")
        .unwrap();
    file.new_attr_builder()
        .with_data(&as_i64(chunk))
        .create("chunk_size")
        .unwrap();
    if fixed_ascii_dtype {
        let value = FixedAscii::<3>::from_ascii(b"<i2").unwrap();
        file.new_attr::<FixedAscii<3>>()
            .create("dtype")
            .unwrap()
            .write_scalar(&value)
            .unwrap();
    } else {
        let value: VarLenUnicode = "<i2".parse().unwrap();
        file.new_attr::<VarLenUnicode>()
            .create("dtype")
            .unwrap()
            .write_scalar(&value)
            .unwrap();
    }
    file.new_attr::<i16>()
        .create("fillvalue")
        .unwrap()
        .write_scalar(&fill)
        .unwrap();
    file.close().unwrap();
    for i in 0..grid[0] {
        // Leave the last column of chunks unwritten: they must read as the fill value.
        for j in 0..grid[1] - 1 {
            let mut block = Array2::from_elem(chunk, fill);
            let (r0, c0) = (i * chunk[0], j * chunk[1]);
            let (r1, c1) = ((r0 + chunk[0]).min(shape[0]), (c0 + chunk[1]).min(shape[1]));
            block
                .slice_mut(ndarray::s![..r1 - r0, ..c1 - c0])
                .assign(&data.slice(ndarray::s![r0..r1, c0..c1]));
            let chunk_file = hdf5::File::create(dir.join(format!("chunk_{i}_{j}.h5"))).unwrap();
            chunk_file
                .new_dataset_builder()
                .with_data(&block)
                .create("data")
                .unwrap();
            chunk_file.close().unwrap();
        }
    }
}

#[test]
fn reads_datasets_written_in_dosna_layout() {
    for fixed_ascii in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("conn");
        let data = Array2::from_shape_fn((9, 11), |(r, c)| (r * 100 + c) as i16 - 300);
        write_dosna_dataset(&root.join("legacy"), &data, [4, 3], -9, fixed_ascii);

        let conn =
            Connection::new(Arc::new(DosnaStore::new(&root)), Arc::new(SequentialEngine)).unwrap();
        assert_eq!(conn.list_datasets().unwrap(), vec!["legacy".to_string()]);
        let ds = conn.dataset("legacy").unwrap();
        assert_eq!(ds.dtype(), chunkwise::DType::I16);
        assert_eq!(ds.fill_value(), chunkwise::Scalar::I16(-9));
        assert_eq!(ds.layout().grid(), &[3, 4]);
        let mut expected = data.clone().into_dyn();
        expected.slice_mut(ndarray::s![.., 9..]).fill(-9);
        assert_eq!(ds.read_all::<i16>().unwrap(), expected);
        let column: ArrayD<i16> = ds.read(&Selection::parse("..., 4").unwrap()).unwrap();
        assert_eq!(column, data.column(4).to_owned().into_dyn());
        assert_eq!(column.shape(), &[9]);
    }
}

#[test]
fn datasets_of_one_metadata_share_their_dataset_file_bytes_and_reopen_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("conn");
    let store = Arc::new(DosnaStore::new(&root));
    let conn = Connection::new(store.clone(), Arc::new(SequentialEngine)).unwrap();
    conn.create::<f32>("a", &[10, 12], &[4, 5], 1.5).unwrap();
    // The second file of the same metadata is written from the first one's bytes.
    conn.create::<f32>("b", &[10, 12], &[4, 5], 1.5).unwrap();
    conn.create::<f32>("c", &[10, 12], &[4, 5], 2.5).unwrap();
    let bytes = |name: &str| std::fs::read(root.join(name).join("dataset.h5")).unwrap();
    assert_eq!(bytes("a"), bytes("b"));
    assert_ne!(bytes("a"), bytes("c"));
    let dump = h5dump(&["-A"], &root.join("b/dataset.h5"));
    assert!(
        squash(attribute_block(&dump, "fillvalue")).contains("1.5"),
        "{dump}"
    );

    // A fresh store (nothing remembered) and this one read the same metadata.
    let fresh =
        Connection::new(Arc::new(DosnaStore::new(&root)), Arc::new(SequentialEngine)).unwrap();
    for name in ["a", "b", "c"] {
        let remembered = conn.dataset(name).unwrap();
        let parsed = fresh.dataset(name).unwrap();
        assert_eq!(remembered.layout(), parsed.layout());
        assert_eq!(remembered.fill_value(), parsed.fill_value(), "{name}");
    }
    assert_eq!(
        fresh.dataset("c").unwrap().fill_value(),
        chunkwise::Scalar::F32(2.5)
    );
}
