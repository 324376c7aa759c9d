//! The `chunkwise` binary end to end: import/export round trips, writes, and bad input that must
//! fail with one clear message and leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{s, Array2, Array3, ArrayD};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn chunkwise(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        // The test process forks children while other tests hold HDF5 files open; a child
        // inheriting such a descriptor would keep its HDF5 lock. Locks are not under test here.
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the chunkwise binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let run = chunkwise(dir, args);
    assert_eq!(run.code, 0, "chunkwise {args:?} failed: {}", run.stderr);
    run.stdout
}

/// Runs a command that must fail: non-zero exit, one line on stderr containing `expected`.
fn fails(dir: &Path, args: &[&str], expected: &str) {
    let run = chunkwise(dir, args);
    assert_ne!(run.code, 0, "chunkwise {args:?} succeeded: {}", run.stdout);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one line expected: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(expected),
        "chunkwise {args:?}: expected {expected:?} in {:?}",
        run.stderr
    );
}

/// Every file under `dir`, relative, sorted: "nothing left behind" compares these.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&current) {
            for entry in entries.flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
                if path.is_dir() {
                    stack.push(path);
                }
            }
        }
    }
    out.sort();
    out
}

fn volume() -> Array3<f32> {
    Array3::from_shape_fn((20, 30, 41), |(z, y, x)| {
        (z * 10_000 + y * 100 + x) as f32 * 0.5 - 7.0
    })
}

fn write_source(path: &Path) {
    let file = hdf5::File::create(path).unwrap();
    let group = file.create_group("group").unwrap();
    group
        .new_dataset_builder()
        .with_data(&volume())
        .create("data")
        .unwrap();
    let plane = Array2::from_shape_fn((30, 41), |(y, x)| (y * 41 + x) as i16 - 600);
    file.new_dataset_builder()
        .with_data(&plane)
        .create("plane")
        .unwrap();
    file.new_dataset_builder()
        .with_data(&Array2::<f32>::zeros((3, 4)))
        .create("small")
        .unwrap();
    let strings = ndarray::arr1(&["a".parse::<hdf5::types::VarLenUnicode>().unwrap()]);
    file.new_dataset_builder()
        .with_data(&strings)
        .create("text")
        .unwrap();
    file.close().unwrap();
}

fn read_h5<T: hdf5::H5Type>(path: &Path, dataset: &str) -> ArrayD<T> {
    hdf5::File::open(path)
        .unwrap()
        .dataset(dataset)
        .unwrap()
        .read_dyn::<T>()
        .unwrap()
}

#[test]
fn an_interrupted_output_is_refused_listed_as_incomplete_and_replaced_by_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("src.h5"));
    ok(d, &["import", "src.h5:/plane", "plane", "--chunks", "7,9"]);
    // What a job killed half-way leaves on disk: the dataset's attributes not yet published.
    let vol = d.join("chunkwise-data/plane");
    std::fs::rename(vol.join("dataset.h5"), vol.join(".chunkwise-incomplete.h5")).unwrap();
    fails(d, &["info", "plane"], "dataset \"plane\" is incomplete");
    fails(d, &["export", "plane", "out.h5:/x"], "is incomplete");
    assert!(!d.join("out.h5").exists());
    let listed = ok(d, &["ls"]);
    assert!(listed.starts_with("plane (incomplete"), "{listed}");
    // The rerun replaces it.
    ok(d, &["import", "src.h5:/plane", "plane", "--chunks", "7,9"]);
    assert_eq!(ok(d, &["ls"]), "plane\n");
    ok(d, &["export", "plane", "out.h5:/x"]);
    assert_eq!(
        read_h5::<i16>(&d.join("out.h5"), "x"),
        read_h5::<i16>(&d.join("src.h5"), "plane")
    );
    // An incomplete dataset can be removed.
    std::fs::rename(vol.join("dataset.h5"), vol.join(".chunkwise-incomplete.h5")).unwrap();
    ok(d, &["rm", "plane"]);
    assert_eq!(ok(d, &["ls"]), "");
}

#[test]
fn bad_input_is_one_line_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Negative numbers are values, refused like any bad value (not clap's "use -- -5" tip).
    fails(d, &["create", "a", "--shape", "-5"], "--shape \"-5\"");
    fails(
        d,
        &[
            "create", "a", "--shape", "4", "--fill", "-1", "--dtype", "u8",
        ],
        "-1",
    );
    // A name with a newline stays on one line; invalid names are invalid, not "not found".
    fails(
        d,
        &["create", "a\nb", "--shape", "4"],
        "invalid dataset name \"a\\nb\"",
    );
    fails(d, &["rm", "a/b"], "invalid dataset name \"a/b\"");
    fails(d, &["info", ".."], "invalid dataset name \"..\"");
    // An export into a missing directory names it, not a hidden temporary file.
    ok(d, &["create", "e", "--shape", "4"]);
    fails(
        d,
        &["export", "e", "nowhere/x.h5:/d"],
        "the directory nowhere does not exist",
    );
    let run = chunkwise(d, &["export", "e", "nowhere/x.h5:/d"]);
    assert!(!run.stderr.contains(".tmp"), "{}", run.stderr);
    // A store that is a file is named as such.
    std::fs::write(d.join("afile"), b"x").unwrap();
    fails(
        d,
        &["--store", "afile", "create", "x", "--shape", "4"],
        "the store afile is not a directory",
    );
    fails(d, &["--store", "afile", "ls"], "not a directory");
    // A directory in the way of a dataset is neither "not found" nor "already exists".
    std::fs::create_dir_all(d.join("chunkwise-data/x")).unwrap();
    fails(
        d,
        &["create", "x", "--shape", "4"],
        "is in the way of dataset \"x\" and is not a dataset",
    );
    // Complex numbers (h5py's compound of r and i) are named as such.
    #[derive(hdf5::H5Type, Clone, Copy)]
    #[repr(C)]
    struct Complex {
        r: f64,
        i: f64,
    }
    let file = hdf5::File::create(d.join("c.h5")).unwrap();
    file.new_dataset::<Complex>()
        .shape([3])
        .create("z")
        .unwrap();
    file.close().unwrap();
    fails(d, &["import", "c.h5:/z", "z"], "complex numbers");
    // Allocations proportional to user input are checked, not aborts: a chunk of 80 TB, a
    // kernel of 3·10¹² taps.
    ok(
        d,
        &[
            "create",
            "big",
            "--shape",
            "100000,100000,100000",
            "--chunks",
            "100000,100000,1000",
            "--dtype",
            "f64",
        ],
    );
    fails(
        d,
        &["write", "big", "--select", "0, 0, 0", "--value", "1"],
        "needs at least 160000000000000 bytes",
    );
    ok(d, &["create", "v", "--shape", "10,10", "--dtype", "f32"]);
    fails(
        d,
        &[
            "filter",
            "gaussian",
            "v",
            "o",
            "--sigma",
            "1.5",
            "--truncate",
            "1e12",
        ],
        "expected a radius of at most",
    );
    assert_eq!(ok(d, &["ls"]), "big\ne\nv\n");
}

#[test]
fn checksums_written_with_the_option_catch_a_damaged_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "create", "v", "--shape", "4,4", "--dtype", "f64", "--fill", "0",
        ],
    );
    ok(
        d,
        &[
            "--checksums",
            "write",
            "v",
            "--select",
            "0:4, 0:4",
            "--value",
            "2.5",
        ],
    );
    ok(d, &["export", "v", "ok.h5:/x"]);
    let chunk = d.join("chunkwise-data/v/chunk_0_0.h5");
    let mut bytes = std::fs::read(&chunk).unwrap();
    let value: Vec<u8> = [2.5f64, 2.5].iter().flat_map(|v| v.to_le_bytes()).collect();
    let at = bytes
        .windows(16)
        .position(|w| w == value.as_slice())
        .unwrap();
    bytes[at + 3] ^= 1;
    std::fs::write(&chunk, &bytes).unwrap();
    fails(d, &["export", "v", "bad.h5:/x"], "chunk_0_0.h5");
    assert!(!d.join("bad.h5").exists());
}

#[test]
fn a_closed_pipe_ends_the_listing_quietly() {
    use chunkwise::{DType, DatasetMeta, Layout, Store};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // More names than a pipe holds (64 KiB).
    let store = chunkwise_dosna::DosnaStore::new(d.join("chunkwise-data"));
    let meta = DatasetMeta::zero_filled(Layout::new(&[1], &[1]).unwrap(), DType::U8);
    for i in 0..400 {
        store.create_dataset(&format!("{i:0>250}"), &meta).unwrap();
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .current_dir(d)
        .arg("ls")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        output.status.signal(),
        Some(libc::SIGPIPE),
        "{:?}",
        output.status
    );
}

#[test]
fn an_empty_selection_is_refused_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "create", "v", "--shape", "4,4", "--chunks", "2,2", "--dtype", "i32", "--fill", "5",
        ],
    );
    fails(
        d,
        &["write", "v", "--select", "", "--value", "1"],
        "is empty",
    );
    ok(d, &["export", "v", "out.h5:/x"]);
    assert!(read_h5::<i32>(&d.join("out.h5"), "x")
        .iter()
        .all(|&v| v == 5));
}

#[test]
fn import_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("src.h5"));
    ok(
        d,
        &["import", "src.h5:/group/data", "vol", "--chunks", "8,8,8"],
    );
    ok(
        d,
        &[
            "--engine",
            "sequential",
            "import",
            "src.h5:/plane",
            "plane",
            "--chunks",
            "7,9",
            "--fill",
            "-1",
        ],
    );
    assert_eq!(ok(d, &["ls"]), "plane\nvol\n");

    let info = ok(d, &["info", "vol"]);
    for line in [
        "shape:       (20, 30, 41)",
        "dtype:       f32 (<f4)",
        "chunk grid:  (3, 4, 6)",
        "chunks:      72 of 72 present",
    ] {
        assert!(info.contains(line), "{line} missing from\n{info}");
    }
    assert!(ok(d, &["info", "plane"]).contains("fill value:  -1"));

    ok(d, &["export", "vol", "out.h5:/whole"]);
    assert_eq!(
        read_h5::<f32>(&d.join("out.h5"), "whole"),
        volume().into_dyn()
    );
    // A second export into the same (now existing) file, with nested groups and a selection.
    ok(
        d,
        &[
            "--threads",
            "1",
            "export",
            "vol",
            "out.h5:/sel/part",
            "--select",
            "5, :, 10:20",
        ],
    );
    let part = read_h5::<f32>(&d.join("out.h5"), "sel/part");
    assert_eq!(
        part,
        volume().slice(s![5, .., 10..20]).to_owned().into_dyn()
    );
    assert_eq!(part.shape(), &[30, 10]);
    ok(d, &["export", "plane", "plane.h5:/p", "--select", "-1"]);
    let expected = Array2::from_shape_fn((30, 41), |(y, x)| (y * 41 + x) as i16 - 600);
    assert_eq!(
        read_h5::<i16>(&d.join("plane.h5"), "p"),
        expected.row(29).to_owned().into_dyn()
    );
}

#[test]
fn create_write_and_rm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("src.h5"));
    ok(
        d,
        &[
            "create", "a", "--shape", "10,12", "--chunks", "4,5", "--dtype", "<f4", "--fill", "2.5",
        ],
    );
    ok(
        d,
        &[
            "write",
            "a",
            "--select",
            "1:4, 2:6",
            "--from",
            "src.h5:/small",
        ],
    );
    ok(d, &["write", "a", "--select", "-1", "--value", "-3"]);
    ok(d, &["export", "a", "a.h5:/a"]);
    let mut expected = ArrayD::from_elem(ndarray::IxDyn(&[10, 12]), 2.5f32);
    expected.slice_mut(s![1..4, 2..6]).fill(0.0);
    expected.slice_mut(s![9, ..]).fill(-3.0);
    assert_eq!(read_h5::<f32>(&d.join("a.h5"), "a"), expected);
    ok(d, &["rm", "a"]);
    assert_eq!(ok(d, &["ls"]), "");
    assert!(!d.join("chunkwise-data/a").exists());
}

#[test]
fn bad_input_fails_clearly_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("src.h5"));
    ok(
        d,
        &[
            "create",
            "a",
            "--shape",
            "100,100,100",
            "--chunks",
            "32,32,32",
        ],
    );
    ok(d, &["write", "a", "--select", "0", "--value", "1"]);
    let before = tree(d);

    fails(d, &["info", "nope"], "dataset \"nope\" not found");
    fails(d, &["rm", "nope"], "dataset \"nope\" not found");
    fails(
        d,
        &["export", "nope", "x.h5:/x"],
        "dataset \"nope\" not found",
    );
    fails(
        d,
        &["write", "nope", "--select", "0", "--value", "1"],
        "dataset \"nope\" not found",
    );
    fails(
        d,
        &["export", "a", "x.h5:/x", "--select", "0:5, 120"],
        "selection \"0:5, 120\" is out of range on axis 1 (size 100)",
    );
    fails(
        d,
        &["write", "a", "--select", "0:5, 120", "--value", "1"],
        "is out of range on axis 1 (size 100)",
    );
    fails(
        d,
        &["write", "a", "--select", "0:5", "--from", "src.h5:/small"],
        "shape mismatch",
    );
    fails(
        d,
        &["write", "a", "--select", "0", "--from", "src.h5:/plane"],
        "holds i16 but dataset \"a\" holds f32",
    );
    fails(
        d,
        &["write", "a", "--select", "0", "--value", "abc"],
        "invalid value \"abc\" for dtype f32",
    );
    fails(
        d,
        &["write", "a", "--select", "0:2:0", "--value", "1"],
        "step 0 on axis 0",
    );
    fails(
        d,
        &["create", "b", "--shape", "10", "--dtype", "f16"],
        "unknown dtype \"f16\"",
    );
    fails(
        d,
        &["create", "a", "--shape", "10"],
        "dataset \"a\" already exists",
    );
    fails(
        d,
        &["import", "src.h5:/small", "a"],
        "dataset \"a\" already exists",
    );
    fails(
        d,
        &["create", "b/c", "--shape", "10"],
        "invalid dataset name \"b/c\"",
    );
    fails(d, &["create", "b", "--shape", "10,x"], "--shape \"10,x\"");
    fails(
        d,
        &["create", "b", "--shape", "10", "--chunks", "11"],
        "chunk shape (11,)",
    );
    fails(
        d,
        &[
            "create", "b", "--shape", "10", "--dtype", "u8", "--fill", "300",
        ],
        "invalid value \"300\" for dtype u8",
    );
    fails(
        d,
        &["import", "src.h5", "b"],
        "malformed HDF5 location \"src.h5\"",
    );
    fails(
        d,
        &["import", "missing.h5:/x", "b"],
        "HDF5 file missing.h5 not found",
    );
    fails(
        d,
        &["import", "src.h5:/nothing/here", "b"],
        "has no dataset /nothing/here",
    );
    fails(d, &["import", "src.h5:/text", "b"], "unknown dtype");
    fails(
        d,
        &["import", "src.h5:/small", "b", "--chunks", "2"],
        "chunk shape (2,)",
    );
    fails(d, &["export", "a", "out.h5"], "malformed HDF5 location");
    fails(
        d,
        &["--engine", "sequential", "--threads", "2", "ls"],
        "--threads 2 applies to the threads and mpi engines",
    );
    fails(d, &["--threads", "0", "ls"], "threads = 0");
    assert_eq!(tree(d), before, "a failed command changed the files");

    // An export to an existing path fails without touching the file's other content.
    ok(d, &["export", "a", "out.h5:/x", "--select", "0, 0"]);
    fails(d, &["export", "a", "out.h5:/x"], "out.h5:/x already exists");
    assert_eq!(
        read_h5::<f32>(&d.join("out.h5"), "x"),
        ArrayD::from_elem(ndarray::IxDyn(&[100]), 1.0f32)
    );
}

#[test]
fn demo_runs_on_every_engine_and_backend() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        vec!["demo", "--shape", "40,30,20", "--chunks", "16,16,16"],
        vec![
            "--engine",
            "sequential",
            "--backend",
            "ram",
            "demo",
            "--shape",
            "40,30",
            "--chunks",
            "16,7",
        ],
    ] {
        let out = ok(d, &args);
        assert!(out.contains("verified every chunk"), "{out}");
    }
    assert!(ok(d, &["info", "demo"]).contains("shape:       (40, 30, 20)"));
}

#[test]
fn help_explains_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(dir.path(), &["--help"]);
    for word in [
        "import",
        "export",
        "write",
        "create",
        "--backend",
        "--store",
        "--engine",
        "--threads",
    ] {
        assert!(help.contains(word), "{word} missing from --help");
    }
}

#[test]
fn filter_gaussian_equals_the_in_memory_filter() {
    use chunkwise::Boundary;
    use chunkwise_ndimage::{gaussian_filter, gaussian_filter1d};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("src.h5"));
    ok(
        d,
        &["import", "src.h5:/group/data", "vol", "--chunks", "6,7,8"],
    );
    ok(
        d,
        &["filter", "gaussian", "vol", "smooth", "--sigma", "1.5"],
    );
    ok(
        d,
        &[
            "--engine",
            "sequential",
            "filter",
            "gaussian",
            "vol",
            "wrapped",
            "--sigma",
            "2,0,1",
            "--mode",
            "wrap",
        ],
    );
    ok(
        d,
        &[
            "filter",
            "gaussian",
            "vol",
            "along_y",
            "--sigma",
            "1.2",
            "--axis",
            "1",
            "--mode",
            "constant",
            "--cval",
            "-2",
            "--truncate",
            "3",
        ],
    );
    for name in ["smooth", "wrapped", "along_y"] {
        ok(d, &["export", name, &format!("out.h5:/{name}")]);
    }
    let input = volume().into_dyn();
    let expected = [
        (
            "smooth",
            gaussian_filter(input.view(), 1.5, Boundary::Reflect, 4.0).unwrap(),
        ),
        (
            "wrapped",
            gaussian_filter(input.view(), vec![2.0, 0.0, 1.0], Boundary::Wrap, 4.0).unwrap(),
        ),
        (
            "along_y",
            gaussian_filter1d(input.view(), 1.2, 1, Boundary::Constant(-2.0), 3.0).unwrap(),
        ),
    ];
    for (name, want) in expected {
        assert_eq!(read_h5::<f32>(&d.join("out.h5"), name), want, "{name}");
    }

    let before = tree(d);
    fails(
        d,
        &["filter", "gaussian", "nope", "x", "--sigma", "1"],
        "dataset \"nope\" not found",
    );
    fails(
        d,
        &["filter", "gaussian", "vol", "x", "--sigma", "a"],
        "--sigma \"a\"",
    );
    fails(
        d,
        &["filter", "gaussian", "vol", "x", "--sigma", "1,1"],
        "2 sigmas given for an array of 3 axes",
    );
    fails(
        d,
        &["filter", "gaussian", "vol", "x", "--sigma", "-1"],
        "invalid sigma -1",
    );
    fails(
        d,
        &[
            "filter", "gaussian", "vol", "x", "--sigma", "1", "--mode", "edge",
        ],
        "invalid value 'edge' for '--mode <MODE>'; expected one of reflect, mirror, nearest, constant, wrap",
    );
    fails(
        d,
        &[
            "filter", "gaussian", "vol", "x", "--sigma", "1", "--axis", "3",
        ],
        "axis 3 is out of range",
    );
    fails(
        d,
        &[
            "filter", "gaussian", "vol", "x", "--sigma", "1,2,3", "--axis", "0",
        ],
        "--axis filters one axis",
    );
    fails(
        d,
        &["filter", "gaussian", "vol", "smooth", "--sigma", "1"],
        "dataset \"smooth\" already exists",
    );
    ok(d, &["import", "src.h5:/plane", "ints"]);
    let before_ints = tree(d);
    fails(
        d,
        &["filter", "gaussian", "ints", "x", "--sigma", "1"],
        "f32 and f64",
    );
    assert_eq!(tree(d), before_ints);
    assert!(before.len() < before_ints.len());
}

#[test]
fn config_show_and_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("c.yaml"),
        "resources:\n  max_memory: 1GiB\n  memory_usage: 0.5\nio:\n  read_ahead: 2\n",
    )
    .unwrap();
    let out = ok(d, &["--config", "c.yaml", "config", "show"]);
    assert!(
        out.contains("resources.max_memory")
            && out.contains("1073741824")
            && out.contains("(file c.yaml)"),
        "{out}"
    );
    assert!(out.contains("io.read_ahead") && out.contains("2 "), "{out}");
    assert!(out.contains("memory budget: 536870912 bytes"), "{out}");
    // The configuration applies to every command, and a bad one stops them with its origin.
    assert_eq!(ok(d, &["--config", "c.yaml", "ls"]), "");
    std::fs::write(d.join("bad.yaml"), "resources:\n  memory_usage: 2\n").unwrap();
    fails(
        d,
        &["--config", "bad.yaml", "ls"],
        "invalid configuration resources.memory_usage = 2 (from file bad.yaml)",
    );
    fails(d, &["--config", "missing.yaml", "ls"], "missing.yaml");
}

#[test]
fn export_under_a_small_memory_budget_spills_to_a_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("src.h5"));
    std::fs::create_dir(d.join("tmp")).unwrap();
    // 20·30·41 f32 = 98 400 bytes; the budget is 16 KiB, so the read goes through a mapped file.
    std::fs::write(
        d.join("small.yaml"),
        "resources:\n  max_memory: 16KiB\n  memory_usage: 1\n  temp_dir: tmp\n",
    )
    .unwrap();
    ok(
        d,
        &["import", "src.h5:/group/data", "vol", "--chunks", "8,8,8"],
    );
    ok(
        d,
        &["--config", "small.yaml", "export", "vol", "out.h5:/vol"],
    );
    assert_eq!(
        read_h5::<f32>(&d.join("out.h5"), "vol"),
        volume().into_dyn()
    );
    // write --from reads its source into the budget too.
    ok(
        d,
        &[
            "create", "copy", "--shape", "20,30,41", "--chunks", "8,8,8", "--dtype", "f32",
        ],
    );
    ok(
        d,
        &[
            "--config",
            "small.yaml",
            "write",
            "copy",
            "--select",
            ":",
            "--from",
            "src.h5:/group/data",
        ],
    );
    ok(
        d,
        &["--config", "small.yaml", "export", "copy", "copy.h5:/copy"],
    );
    assert_eq!(
        read_h5::<f32>(&d.join("copy.h5"), "copy"),
        volume().into_dyn()
    );
    assert!(
        std::fs::read_dir(d.join("tmp")).unwrap().next().is_none(),
        "a temporary file was left behind"
    );
    std::fs::write(
        d.join("tiny.yaml"),
        "resources:\n  max_memory: 1KiB\n  max_temp_storage: 2KiB\n  temp_dir: tmp\n",
    )
    .unwrap();
    fails(
        d,
        &["--config", "tiny.yaml", "export", "vol", "x.h5:/vol"],
        "cannot hold an array of 98400 bytes",
    );
    assert!(!d.join("x.h5").exists());
}

#[test]
fn store_locations_name_the_backend_and_the_configuration_can_set_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // dosna:DIR and a plain DIR are the same DosNa directory store.
    ok(
        d,
        &[
            "--store",
            "dosna:here",
            "create",
            "v",
            "--shape",
            "4",
            "--chunks",
            "2",
        ],
    );
    assert!(d.join("here/v/dataset.h5").is_file());
    assert!(ok(d, &["--store", "here", "ls"]).contains('v'));
    // The configuration's store.location, overridden by --store.
    std::fs::write(d.join("conf.yaml"), "store:\n  location: dosna:here\n").unwrap();
    assert!(ok(d, &["--config", "conf.yaml", "ls"]).contains('v'));
    assert!(!ok(d, &["--config", "conf.yaml", "--store", "elsewhere", "ls"]).contains('v'));
    // ram, by either spelling; planned and unknown schemes are refused on one line.
    for ram in [&["--store", "ram"][..], &["--backend", "ram"][..]] {
        let args: Vec<&str> = ram
            .iter()
            .copied()
            .chain(["demo", "--shape", "8,8", "--chunks", "4,4"])
            .collect();
        assert!(ok(d, &args).contains("verified every chunk"));
    }
    fails(
        d,
        &["--store", "s3://bucket/x", "ls"],
        "the s3 backend is not available yet",
    );
    fails(d, &["--store", "ftp://h/x", "ls"], "unknown scheme \"ftp\"");
    fails(
        d,
        &["--backend", "ram", "--store", "here", "ls"],
        "name different stores",
    );
    std::fs::write(d.join("bad.yaml"), "store:\n  location: 5\n").unwrap();
    fails(d, &["--config", "bad.yaml", "ls"], "store.location");
}

/// Runs chunkwise with its stderr (and stdout) on a pseudo-terminal, through `script`; returns
/// what the terminal showed.
fn on_a_terminal(dir: &Path, args: &[&str]) -> String {
    let command = std::iter::once(env!("CARGO_BIN_EXE_chunkwise"))
        .chain(args.iter().copied())
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{args:?} failed: {shown}");
    shown
}

#[test]
fn a_progress_bar_shows_on_a_terminal_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    write_source(&dir.path().join("source.h5"));
    let import = |name: &str| -> Vec<String> {
        ["import", "source.h5:/group/data", name, "--chunks", "4,8,8"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let args = |extra: &[&str], name: &str| -> Vec<String> {
        extra
            .iter()
            .map(|s| s.to_string())
            .chain(import(name))
            .collect()
    };
    // 20×30×41 f32 in chunks of 4×8×8: 5·4·6 = 120 chunks, 98 400 bytes.
    let run = |extra: &[&str], name: &str| {
        let words = args(extra, name);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        on_a_terminal(dir.path(), &words)
    };
    let shown = run(&[], "a");
    assert!(
        shown.contains("load \"a\"") && shown.contains("120/120 chunks"),
        "{shown}"
    );
    assert!(shown.contains("96.09 KiB/96.09 KiB"), "{shown}");
    // --quiet and --progress never draw nothing, even on a terminal.
    for (extra, name) in [(&["--quiet"][..], "b"), (&["--progress", "never"][..], "c")] {
        let shown = run(extra, name);
        assert!(!shown.contains("chunks"), "{extra:?}: {shown}");
    }
    // Through a pipe: nothing, unless asked for.
    let words = import("d");
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let piped = chunkwise(dir.path(), &words);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    assert_eq!(piped.stderr, "");
    let words = args(&["--progress", "always"], "e");
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let asked = chunkwise(dir.path(), &words);
    assert!(asked.stderr.contains("120/120 chunks"), "{}", asked.stderr);
    // The export and the filter count their chunks too.
    let shown = on_a_terminal(dir.path(), &["export", "a", "out.h5:/x"]);
    assert!(
        shown.contains("read \"a\"") && shown.contains("120/120 chunks"),
        "{shown}"
    );
    let shown = on_a_terminal(
        dir.path(),
        &["filter", "gaussian", "a", "g", "--sigma", "1"],
    );
    assert!(shown.contains("120/120 chunks"), "{shown}");
}

#[test]
fn json_output_parses_and_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("source.h5"));
    ok(
        d,
        &[
            "import",
            "source.h5:/group/data",
            "vol",
            "--chunks",
            "8,16,16",
        ],
    );
    ok(
        d,
        &[
            "create", "ints", "--shape", "5,6", "--dtype", "i64", "--fill", "-3",
        ],
    );
    ok(d, &["create", "nans", "--shape", "4", "--fill", "nan"]);

    let listing: serde_json::Value = serde_json::from_str(&ok(d, &["ls", "--json"])).unwrap();
    assert_eq!(
        listing["datasets"],
        serde_json::json!(["ints", "nans", "vol"])
    );
    assert_eq!(listing["incomplete"], serde_json::json!([]));
    assert_eq!(listing["store"]["backend"], "dosna");
    let location = format!("dosna:{}", d.join("chunkwise-data").display());
    assert_eq!(listing["store"]["location"], location.as_str());

    let info: serde_json::Value = serde_json::from_str(&ok(d, &["info", "vol", "--json"])).unwrap();
    let expected = serde_json::json!({
        "name": "vol",
        "shape": [20, 30, 41],
        "dtype": "f32",
        "numpy_dtype": "<f4",
        "chunk_shape": [8, 16, 16],
        "chunk_grid": [3, 2, 3],
        "fill_value": 0.0,
        "chunks_present": 18,
        "chunks_total": 18,
        "logical_bytes": 20 * 30 * 41 * 4,
        "stored_bytes": 18 * 8 * 16 * 16 * 4,
        "codecs": null,
        "compression_ratio": 1.0,
        "store": {"location": location, "backend": "dosna"},
    });
    assert_eq!(info, expected);
    let ints: serde_json::Value =
        serde_json::from_str(&ok(d, &["info", "ints", "--json"])).unwrap();
    assert_eq!(ints["fill_value"], -3);
    assert_eq!(ints["chunks_present"], 0);
    let nans: serde_json::Value =
        serde_json::from_str(&ok(d, &["info", "nans", "--json"])).unwrap();
    assert_eq!(nans["fill_value"], "nan");
    // The text form shows the grid, the bytes and the store too.
    let text = ok(d, &["info", "vol"]);
    assert!(text.contains("chunk grid:  (3, 2, 3)"), "{text}");
    assert!(
        text.contains("bytes:       98400 logical, 147456 stored"),
        "{text}"
    );
    assert!(
        text.contains(&format!("store:       {location} (dosna backend)")),
        "{text}"
    );

    let config: serde_json::Value =
        serde_json::from_str(&ok(d, &["config", "show", "--json"])).unwrap();
    assert_eq!(config["settings"]["io.read_ahead"]["source"], "default");
    assert!(config["settings"]["io.read_ahead"]["value"].is_number());
    assert_eq!(
        config["settings"]["store.location"]["value"],
        serde_json::Value::Null
    );
    assert!(config["memory_budget"]["bytes"].as_u64().unwrap() > 0);
    let configured = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .env("CHUNKWISE_ENGINE__THREADS", "3")
        .args(["config", "show", "--json"])
        .output()
        .unwrap();
    let configured: serde_json::Value = serde_json::from_slice(&configured.stdout).unwrap();
    assert_eq!(configured["settings"]["engine.threads"]["value"], 3.0);
    assert_eq!(
        configured["settings"]["engine.threads"]["source"],
        "environment CHUNKWISE_ENGINE__THREADS"
    );
}

#[test]
fn bash_completes_commands_and_options_from_the_generated_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = ok(dir.path(), &["completions", "bash"]);
    let path = dir.path().join("chunkwise.bash");
    std::fs::write(&path, &script).unwrap();
    // The script parses, and its function completes a command and an option value.
    let complete = |words: &str, current: usize| -> String {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; \
             _chunkwise chunkwise \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; \
             echo \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let output = Command::new("bash")
            .args(["-c", &program])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    assert_eq!(complete("chunkwise fil", 1), "filter");
    let engines = complete("chunkwise import --engine ''", 3);
    assert_eq!(engines, "sequential threads mpi");
    let options = complete("chunkwise import --chu", 2);
    assert_eq!(options, "--chunks");
    // Every shell clap knows gets a script.
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(ok(dir.path(), &["completions", shell]).contains("chunkwise"));
    }
    let unknown = chunkwise(dir.path(), &["completions", "tcsh"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("invalid value 'tcsh'"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn man_pages_cover_every_command() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["man", "pages"]);
    let page = std::fs::read_to_string(dir.path().join("pages/chunkwise-import.1")).unwrap();
    assert!(page.contains(".TH chunkwise-import 1"), "{page}");
    assert!(page.contains("\\-\\-chunks"), "{page}");
    for command in [
        "ls",
        "info",
        "create",
        "rm",
        "import",
        "export",
        "write",
        "filter-gaussian",
        "config-show",
    ] {
        assert!(
            dir.path()
                .join(format!("pages/chunkwise-{command}.1"))
                .is_file(),
            "{command}"
        );
    }
    assert!(dir.path().join("pages/chunkwise.1").is_file());
}

#[test]
fn import_keeps_the_sources_chunks_or_picks_about_a_mebibyte() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let file = hdf5::File::create(d.join("src.h5")).unwrap();
        file.new_dataset_builder()
            .with_data(&volume())
            .chunk((4, 8, 8))
            .create("chunked")
            .unwrap();
        let large = Array3::<f32>::zeros((256, 256, 8));
        file.new_dataset_builder()
            .with_data(&large)
            .create("contiguous")
            .unwrap();
    }
    ok(d, &["import", "src.h5:/chunked", "a"]);
    let info: serde_json::Value = serde_json::from_str(&ok(d, &["info", "a", "--json"])).unwrap();
    assert_eq!(info["chunk_shape"], serde_json::json!([4, 8, 8]));
    ok(d, &["import", "src.h5:/contiguous", "b"]);
    let info: serde_json::Value = serde_json::from_str(&ok(d, &["info", "b", "--json"])).unwrap();
    let chunk: Vec<u64> = info["chunk_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let bytes = chunk.iter().product::<u64>() * 4;
    assert!(
        ((1 << 19)..=(1 << 21)).contains(&bytes) && chunk[0] > chunk[2],
        "{chunk:?}"
    );
    assert!(info["chunks_total"].as_u64().unwrap() > 1);
}

#[test]
fn copy_changes_chunks_dtype_and_store_with_numpys_casting_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("source.h5"));
    // i16 values from -600 to 629.
    ok(
        d,
        &[
            "import",
            "source.h5:/plane",
            "plane",
            "--chunks",
            "7,9",
            "--fill",
            "-5",
        ],
    );
    // Safe: i16 into f32 keeps every value; the fill converts too.
    ok(
        d,
        &[
            "copy", "plane", "as_f32", "--dtype", "f32", "--chunks", "30,41",
        ],
    );
    let info: serde_json::Value =
        serde_json::from_str(&ok(d, &["info", "as_f32", "--json"])).unwrap();
    assert_eq!(info["dtype"], "f32");
    assert_eq!(info["chunk_shape"], serde_json::json!([30, 41]));
    assert_eq!(info["fill_value"], -5.0);
    ok(d, &["export", "as_f32", "f.h5:/x"]);
    let original = read_h5::<i16>(&d.join("source.h5"), "plane");
    assert_eq!(
        read_h5::<f32>(&d.join("f.h5"), "x"),
        original.mapv(f32::from)
    );
    // Lossy: refused on one line naming both types, nothing made.
    fails(
        d,
        &["copy", "plane", "small", "--dtype", "u8"],
        "--dtype u8: i16 into u8 can lose values (numpy's casting rules)",
    );
    assert!(!ok(d, &["ls"]).contains("small"));
    // Asked for: converted as numpy's astype (integers wrap), into another store.
    ok(
        d,
        &[
            "copy",
            "plane",
            "small",
            "--dtype",
            "u8",
            "--unsafe-cast",
            "--to-store",
            "other",
        ],
    );
    assert!(!ok(d, &["ls"]).contains("small"));
    ok(d, &["--store", "other", "export", "small", "u.h5:/x"]);
    assert_eq!(
        read_h5::<u8>(&d.join("u.h5"), "x"),
        original.mapv(|v| v as u8)
    );
    // A filter on integer data says how to convert it.
    fails(
        d,
        &["filter", "gaussian", "plane", "g", "--sigma", "1"],
        "convert it first: chunkwise copy plane plane_f32 --dtype f32",
    );
}

#[test]
fn a_zarr_store_works_for_every_command_and_zarr_python_reads_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("source.h5"));
    let zarr = ["--store", "zarr:group.zarr"];
    let run = |store: &[&str], args: &[&str]| ok(d, &[store, args].concat());
    run(
        &zarr,
        &[
            "import",
            "source.h5:/group/data",
            "vol",
            "--chunks",
            "8,16,16",
        ],
    );
    run(
        &zarr,
        &["filter", "gaussian", "vol", "smooth", "--sigma", "1.5"],
    );
    run(
        &zarr,
        &["write", "vol", "--select", "0, :, :", "--value", "2.5"],
    );
    let info: serde_json::Value =
        serde_json::from_str(&run(&zarr, &["info", "smooth", "--json"])).unwrap();
    assert_eq!(info["store"]["backend"], "zarr");
    assert_eq!(info["chunk_shape"], serde_json::json!([8, 16, 16]));
    // The same filter on the DosNa directory store gives the same numbers.
    ok(
        d,
        &[
            "import",
            "source.h5:/group/data",
            "vol",
            "--chunks",
            "8,16,16",
        ],
    );
    ok(
        d,
        &["filter", "gaussian", "vol", "smooth", "--sigma", "1.5"],
    );
    run(&zarr, &["export", "smooth", "z.h5:/x"]);
    ok(d, &["export", "smooth", "d.h5:/x"]);
    assert_eq!(
        read_h5::<f32>(&d.join("z.h5"), "x"),
        read_h5::<f32>(&d.join("d.h5"), "x")
    );
    // Copies go both ways between the stores.
    ok(
        d,
        &[
            "copy",
            "smooth",
            "from_dosna",
            "--to-store",
            "zarr:group.zarr",
        ],
    );
    run(
        &zarr,
        &[
            "copy",
            "vol",
            "from_zarr",
            "--to-store",
            "dosna:chunkwise-data",
        ],
    );
    let listing = run(&zarr, &["ls"]);
    assert_eq!(listing, "from_dosna\nsmooth\nvol\n");
    // --codec describes the copy's new array, in the destination, whatever the source store.
    ok(
        d,
        &[
            "--codec",
            "zstd:3",
            "copy",
            "smooth",
            "packed",
            "--to-store",
            "zarr:group.zarr",
        ],
    );
    let packed: serde_json::Value =
        serde_json::from_str(&run(&zarr, &["info", "packed", "--json"])).unwrap();
    assert_eq!(packed["codecs"], "bytes, zstd:3", "{packed}");
    fails(
        d,
        &[
            "--store",
            "zarr:group.zarr",
            "--codec",
            "zstd",
            "copy",
            "vol",
            "again",
            "--to-store",
            "dosna:chunkwise-data",
        ],
        "--codec and --shard-chunks apply to zarr stores; --to-store dosna:chunkwise-data is a dosna store",
    );
    // zarr-python opens chunkwise's arrays and reads the same values.
    let script = r#"
import sys
import h5py, numpy as np, zarr
group = zarr.open_group(sys.argv[1] + "/group.zarr", mode="r")
expected = h5py.File(sys.argv[1] + "/d.h5", "r")["x"][...]
assert np.array_equal(group["smooth"][...], expected)
assert np.array_equal(group["from_dosna"][...], expected)
assert (group["vol"][0] == 2.5).all()
print("ok")
"#;
    let out = chunkwise_testkit::python::run(script, &[d.as_os_str()]);
    assert_eq!(out.trim(), "ok");
}

#[test]
fn zarr_codecs_and_shards_are_chosen_on_the_command_line_and_shown_by_info() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_source(&d.join("source.h5"));
    let zarr = ["--store", "zarr:z.zarr"];
    let run = |extra: &[&str]| ok(d, &[&zarr[..], extra].concat());
    run(&[
        "--codec",
        "zstd:3",
        "import",
        "source.h5:/group/data",
        "packed",
        "--chunks",
        "10,15,41",
    ]);
    run(&[
        "--codec",
        "gzip",
        "--shard-chunks",
        "5,5,41",
        "import",
        "source.h5:/group/data",
        "sharded",
        "--chunks",
        "10,15,41",
    ]);
    let packed: serde_json::Value =
        serde_json::from_str(&run(&["info", "packed", "--json"])).unwrap();
    assert_eq!(packed["codecs"], "bytes, zstd:3");
    // Smooth data compresses: fewer bytes stored than the chunks hold.
    let ratio = packed["compression_ratio"].as_f64().unwrap();
    assert!(ratio > 1.2, "{packed}");
    let sharded: serde_json::Value =
        serde_json::from_str(&run(&["info", "sharded", "--json"])).unwrap();
    assert_eq!(sharded["codecs"], "sharding (5×5×41 chunks: bytes, gzip:5)");
    assert!(
        run(&["info", "sharded"]).contains("codecs:      sharding (5×5×41 chunks: bytes, gzip:5)")
    );
    // The data survive both, and filters run on them.
    run(&["filter", "gaussian", "sharded", "smooth", "--sigma", "1"]);
    for name in ["packed", "sharded"] {
        run(&["export", name, &format!("{name}.h5:/x")]);
        assert_eq!(
            read_h5::<f32>(&d.join(format!("{name}.h5")), "x"),
            volume().into_dyn()
        );
    }
    // Bad choices: one line naming the value; nothing made.
    fails(
        d,
        &[
            &zarr[..],
            &["--codec", "lzma", "create", "x", "--shape", "4"],
        ]
        .concat(),
        "invalid setting codec = lzma: unknown codec; expected none, gzip[:LEVEL]",
    );
    fails(
        d,
        &[
            &zarr[..],
            &[
                "--shard-chunks",
                "3",
                "create",
                "x",
                "--shape",
                "8",
                "--chunks",
                "4",
            ],
        ]
        .concat(),
        "shard chunks = (3,): expected a shape that divides the chunk (shard) shape (4,)",
    );
    fails(
        d,
        &["--codec", "zstd", "create", "x", "--shape", "4"],
        "--codec and --shard-chunks apply to zarr stores",
    );
    // The configuration chooses them too (the flags override it).
    let configured = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .current_dir(d)
        .env("CHUNKWISE_STORE__CODEC", "blosc:zstd:2:bitshuffle")
        .args(zarr)
        .args(["create", "from_config", "--shape", "8"])
        .output()
        .unwrap();
    assert!(
        configured.status.success(),
        "{}",
        String::from_utf8_lossy(&configured.stderr)
    );
    let info: serde_json::Value =
        serde_json::from_str(&run(&["info", "from_config", "--json"])).unwrap();
    assert_eq!(info["codecs"], "bytes, blosc:zstd:2:bitshuffle");
    assert!(!run(&["ls"]).lines().any(|l| l == "x"));
}

#[test]
fn stats_prints_a_table_and_refuses_bad_settings_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "create", "c", "--shape", "4,5", "--chunks", "2,2", "--dtype", "i16", "--fill", "-3",
        ],
    );
    ok(d, &["write", "c", "--select", "1, 2", "--value", "40"]);
    let table = ok(d, &["stats", "c", "--histogram", "2"]);
    // 19 elements of -3 and one 40.
    for line in [
        "count:     20",
        "sum:       -17",
        "mean:      -0.85",
        "min:       -3 at (0, 0)",
        "max:       40 at (1, 2)",
        "histogram: 2 bins",
    ] {
        assert!(table.contains(line), "{line:?} not in\n{table}");
    }
    // With the range given (here the same as the data's), counted in the same pass as the
    // moments: the same document.
    let two_passes = ok(d, &["stats", "c", "--histogram", "2", "--json"]);
    let one_pass = ok(
        d,
        &[
            "stats",
            "c",
            "--histogram",
            "2",
            "--range",
            "-3,40",
            "--json",
        ],
    );
    assert_eq!(two_passes, one_pass);
    assert!(
        one_pass.contains("\"counts\": [\n      19,\n      1\n    ]"),
        "{one_pass}"
    );
    let selected = ok(d, &["stats", "c", "--select", "1, 1:", "--json"]);
    let figures: serde_json::Value = serde_json::from_str(&selected).unwrap();
    assert_eq!(figures["count"], 4);
    assert_eq!(figures["sum"], 31);
    assert_eq!(figures["argmax"], serde_json::json!([1, 2]));
    for (args, expected) in [
        (
            &["stats", "c", "--range", "0,1"][..],
            "--range 0,1 applies to a histogram",
        ),
        (
            &["stats", "c", "--histogram", "3", "--range", "5"][..],
            "--range 5; expected two numbers LO,HI",
        ),
        (
            &["stats", "c", "--histogram", "3", "--range", "5,1"][..],
            "range 5,1",
        ),
        (&["stats", "c", "--histogram", "0"][..], "0"),
        (&["stats", "nothing"][..], "nothing"),
        (&["stats", "c", "--select", "9, :"][..], "9"),
    ] {
        fails(d, args, expected);
    }
}
