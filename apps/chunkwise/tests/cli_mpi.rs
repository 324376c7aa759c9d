//! `mpiexec -n N chunkwise --engine mpi …`: import, create, rm and the collective commands work,
//! and only rank 0 prints (output and errors).

use std::path::Path;

use ndarray::{Array3, ArrayD};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mpi_chunkwise(dir: &Path, ranks: usize, args: &[&str]) -> Run {
    let output = chunkwise_testkit::launch::mpiexec(ranks)
        .current_dir(dir)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .arg(env!("CARGO_BIN_EXE_chunkwise"))
        .args(["--engine", "mpi"])
        .args(args)
        .output()
        .expect("mpiexec must be installed (scripts/setup.sh installs openmpi-bin)");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn ok(dir: &Path, ranks: usize, args: &[&str]) -> String {
    let run = mpi_chunkwise(dir, ranks, args);
    assert_eq!(
        run.code, 0,
        "{args:?} on {ranks} ranks failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run.stdout
}

/// Fails, and exactly one rank prints exactly one error line containing `expected`.
fn fails_once(dir: &Path, ranks: usize, args: &[&str], expected: &str) {
    let run = mpi_chunkwise(dir, ranks, args);
    assert_ne!(run.code, 0, "{args:?} succeeded");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("chunkwise: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", run.stderr);
    assert!(
        errors[0].contains(expected),
        "{expected:?} not in {:?}",
        errors[0]
    );
}

fn volume() -> Array3<f64> {
    Array3::from_shape_fn((17, 23, 29), |(z, y, x)| {
        (z * 1000 + y * 30 + x) as f64 / 7.0
    })
}

#[test]
fn demo_runs_on_one_to_three_ranks() {
    let dir = tempfile::tempdir().unwrap();
    for ranks in 1..=3 {
        let out = ok(
            dir.path(),
            ranks,
            &["demo", "--shape", "48,40,36", "--chunks", "16,16,16"],
        );
        let header = format!("demo: mpi engine, {ranks} rank(s)");
        assert_eq!(out.matches(&header).count(), 1, "{out}");
        assert_eq!(out.matches("verified every chunk").count(), 1, "{out}");
        assert_eq!(out.matches("name:        demo").count(), 1, "{out}");
    }
}

#[test]
fn import_create_write_export_rm_under_mpi() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let file = hdf5::File::create(d.join("src.h5")).unwrap();
        file.new_dataset_builder()
            .with_data(&volume())
            .create("vol")
            .unwrap();
        file.close().unwrap();
    }
    ok(d, 2, &["import", "src.h5:/vol", "vol", "--chunks", "8,8,8"]);
    ok(
        d,
        3,
        &[
            "--partition",
            "block",
            "create",
            "a",
            "--shape",
            "10,12",
            "--chunks",
            "4,5",
            "--fill",
            "1",
        ],
    );
    ok(d, 2, &["write", "a", "--select", "2:4", "--value", "3"]);
    assert_eq!(ok(d, 3, &["ls"]), "a\nvol\n");
    let info = ok(d, 2, &["info", "vol"]);
    assert_eq!(info.matches("name:").count(), 1, "{info}");
    assert!(info.contains("chunks:      36 of 36 present"), "{info}");

    ok(d, 2, &["export", "vol", "out.h5:/vol"]);
    ok(d, 3, &["export", "a", "out.h5:/a"]);
    let file = hdf5::File::open(d.join("out.h5")).unwrap();
    assert_eq!(
        file.dataset("vol").unwrap().read_dyn::<f64>().unwrap(),
        volume().into_dyn()
    );
    let mut expected = ArrayD::from_elem(ndarray::IxDyn(&[10, 12]), 1.0f32);
    expected.slice_mut(ndarray::s![2..4, ..]).fill(3.0);
    assert_eq!(
        file.dataset("a").unwrap().read_dyn::<f32>().unwrap(),
        expected
    );
    drop(file);

    ok(d, 2, &["rm", "a"]);
    assert_eq!(ok(d, 2, &["ls"]), "vol\n");
}

#[test]
fn errors_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, 2, &["create", "a", "--shape", "10"]);
    fails_once(
        d,
        2,
        &["create", "a", "--shape", "10"],
        "dataset \"a\" already exists",
    );
    fails_once(
        d,
        3,
        &["create", "b", "--shape", "10,x"],
        "--shape \"10,x\"",
    );
    fails_once(
        d,
        2,
        &["import", "missing.h5:/x", "b"],
        "HDF5 file missing.h5 not found",
    );
    fails_once(d, 2, &["info", "nope"], "dataset \"nope\" not found");
    fails_once(
        d,
        2,
        &["write", "a", "--select", "20", "--value", "1"],
        "is out of range on axis 0 (size 10)",
    );
    fails_once(
        d,
        2,
        &["--backend", "ram", "ls"],
        "the ram backend keeps data in each process's own memory",
    );
    assert_eq!(
        ok(d, 2, &["ls"]),
        "a\n",
        "a failed command left something behind"
    );
    // A failing filter (a directory where a chunk of rank 1's share should be): one line, by
    // rank 0, the rank named once; the output is not left behind.
    ok(
        d,
        2,
        &[
            "create", "v", "--shape", "8,8", "--chunks", "4,4", "--dtype", "f32",
        ],
    );
    ok(
        d,
        2,
        &["write", "v", "--select", "0:8, 0:8", "--value", "1"],
    ); // not ":" (mpiexec's MPMD separator)
    let chunk = d.join("chunkwise-data/v/chunk_0_1.h5");
    std::fs::remove_file(&chunk).unwrap();
    std::fs::create_dir(&chunk).unwrap();
    fails_once(
        d,
        2,
        &["filter", "gaussian", "v", "out", "--sigma", "1"],
        "a directory is where a file should be",
    );
    let run = mpi_chunkwise(d, 2, &["filter", "gaussian", "v", "out", "--sigma", "1"]);
    assert!(!run.stderr.contains("rank 1: rank"), "{}", run.stderr);
    assert_eq!(ok(d, 2, &["ls"]), "a\nv\n");
}

#[test]
fn filter_gaussian_under_mpi_equals_the_in_memory_filter() {
    use chunkwise::Boundary;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    {
        let file = hdf5::File::create(d.join("src.h5")).unwrap();
        file.new_dataset_builder()
            .with_data(&volume())
            .create("vol")
            .unwrap();
        file.close().unwrap();
    }
    ok(d, 3, &["import", "src.h5:/vol", "vol", "--chunks", "5,6,7"]);
    ok(
        d,
        3,
        &[
            "filter", "gaussian", "vol", "smooth", "--sigma", "1.5", "--mode", "mirror",
        ],
    );
    ok(
        d,
        2,
        &[
            "--partition",
            "block",
            "filter",
            "gaussian",
            "vol",
            "along_x",
            "--sigma",
            "2",
            "--axis",
            "2",
        ],
    );
    ok(d, 2, &["export", "smooth", "out.h5:/smooth"]);
    ok(d, 2, &["export", "along_x", "out.h5:/along_x"]);
    let file = hdf5::File::open(d.join("out.h5")).unwrap();
    let input = volume().into_dyn();
    let smooth =
        chunkwise_ndimage::gaussian_filter(input.view(), 1.5, Boundary::Mirror, 4.0).unwrap();
    assert_eq!(
        file.dataset("smooth").unwrap().read_dyn::<f64>().unwrap(),
        smooth
    );
    let along_x =
        chunkwise_ndimage::gaussian_filter1d(input.view(), 2.0, 2, Boundary::Reflect, 4.0).unwrap();
    assert_eq!(
        file.dataset("along_x").unwrap().read_dyn::<f64>().unwrap(),
        along_x
    );
}

#[test]
fn rank_0_shows_every_ranks_chunks_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let file = hdf5::File::create(dir.path().join("v.h5")).unwrap();
    file.new_dataset_builder()
        .with_data(&volume())
        .create("v")
        .unwrap();
    file.close().unwrap();
    for ranks in [2, 3] {
        let name = format!("v{ranks}");
        let run = mpi_chunkwise(
            dir.path(),
            ranks,
            &[
                "--progress",
                "always",
                "import",
                "v.h5:/v",
                &name,
                "--chunks",
                "4,4,4",
            ],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        // 17×23×29 in chunks of 4: 5·6·8 = 240 chunks, counted on rank 0 from every rank.
        assert!(run.stderr.contains("240/240 chunks"), "{}", run.stderr);
        // Without asking, under mpiexec: no bar (the ranks cannot see the terminal).
        let run = mpi_chunkwise(dir.path(), ranks, &["rm", &name]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let run = mpi_chunkwise(
            dir.path(),
            ranks,
            &["import", "v.h5:/v", &name, "--chunks", "4,4,4"],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(!run.stderr.contains("chunks"), "{}", run.stderr);
    }
}

#[test]
fn filter_on_a_zarr_store_under_mpi_equals_the_threads_engine() {
    filter_on_zarr_under_mpi(&["--store", "zarr:g.zarr"]);
}

/// Two ranks and two threads write inner chunks of the same shards' neighbours: each chunk
/// is a whole shard, owned by one worker, so none is lost.
#[test]
fn sharded_zarr_arrays_lose_no_inner_chunk_under_mpi_or_threads() {
    filter_on_zarr_under_mpi(&[
        "--store",
        "zarr:g.zarr",
        "--codec",
        "zstd:1",
        "--shard-chunks",
        "5,3,7",
    ]);
}

fn filter_on_zarr_under_mpi(zarr: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = hdf5::File::create(d.join("v.h5")).unwrap();
    file.new_dataset_builder()
        .with_data(&volume())
        .create("v")
        .unwrap();
    file.close().unwrap();
    ok(
        d,
        2,
        &[zarr, &["import", "v.h5:/v", "vol", "--chunks", "5,6,7"]].concat(),
    );
    ok(
        d,
        2,
        &[zarr, &["filter", "gaussian", "vol", "mpi", "--sigma", "1"]].concat(),
    );
    let threads = std::process::Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .current_dir(d)
        .args(zarr)
        .args([
            "--threads",
            "2",
            "filter",
            "gaussian",
            "vol",
            "threads",
            "--sigma",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        threads.status.success(),
        "{}",
        String::from_utf8_lossy(&threads.stderr)
    );
    for name in ["mpi", "threads"] {
        let export = std::process::Command::new(env!("CARGO_BIN_EXE_chunkwise"))
            .current_dir(d)
            .env("HDF5_USE_FILE_LOCKING", "FALSE")
            .args(zarr)
            .args(["export", name, &format!("{name}.h5:/x")])
            .output()
            .unwrap();
        assert!(
            export.status.success(),
            "{}",
            String::from_utf8_lossy(&export.stderr)
        );
    }
    let read = |name: &str| -> ArrayD<f64> {
        hdf5::File::open(d.join(format!("{name}.h5")))
            .unwrap()
            .dataset("x")
            .unwrap()
            .read_dyn::<f64>()
            .unwrap()
    };
    assert_eq!(read("mpi"), read("threads"));
    // And the import lost nothing either: the input reads back whole.
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .current_dir(d)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .args(zarr)
        .args(["export", "vol", "vol.h5:/x"])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    assert_eq!(read("vol"), volume().into_dyn());
}

/// `chunkwise stats` of one volume in two chunk shapes: the same JSON document, to the bit,
/// from the sequential engine, 1 and 2 threads, and 1, 2 and 3 MPI ranks; the JSON has every
/// documented field, and the figures agree with numpy (sum with math.fsum).
#[test]
fn stats_are_the_same_to_the_bit_on_every_engine_rank_count_and_chunk_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Values of very different magnitudes, so that sums in another order would differ.
    let data = Array3::from_shape_fn((17, 23, 29), |(z, y, x)| {
        let i = (z * 23 + y) * 29 + x;
        let scale = [1e-8, 1.0, 1e8][i % 3];
        ((i * 7919 % 1000) as f64 / 999.0 - 0.5) * scale
    });
    let file = hdf5::File::create(d.join("v.h5")).unwrap();
    file.new_dataset_builder()
        .with_data(&data)
        .create("v")
        .unwrap();
    file.close().unwrap();
    let args = |name: &str| -> Vec<String> {
        ["stats", name, "--histogram", "9", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let mut documents = Vec::new();
    for chunks in ["5,6,7", "17,4,29"] {
        let name = format!("v{}", chunks.replace(',', "_"));
        ok(d, 1, &["import", "v.h5:/v", &name, "--chunks", chunks]);
        let a = args(&name);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        for ranks in 1..=3 {
            documents.push((format!("{chunks} mpi -n {ranks}"), ok(d, ranks, &a)));
        }
        for engine in [
            ["--engine", "sequential"],
            ["--threads", "1"],
            ["--threads", "2"],
        ] {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_chunkwise"))
                .current_dir(d)
                .args(engine)
                .args(&a)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            documents.push((
                format!("{chunks} {engine:?}"),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            ));
        }
    }
    // The name differs between the chunk shapes; every other field is the same.
    let figures: Vec<serde_json::Value> = documents
        .iter()
        .map(|(what, text)| {
            let mut document: serde_json::Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"));
            document.as_object_mut().unwrap().remove("name");
            document
        })
        .collect();
    for (k, figure) in figures.iter().enumerate() {
        assert_eq!(
            figure, &figures[0],
            "{} differs from {}",
            documents[k].0, documents[0].0
        );
    }
    let script = r#"
import json, math, sys
import h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["v"][...]
got = json.loads(sys.argv[2])
assert got["count"] == a.size and got["nan_count"] == 0
assert got["sum"] == math.fsum(a.ravel()), (got["sum"], math.fsum(a.ravel()))
assert got["min"] == a.min() and got["max"] == a.max()
assert got["argmin"] == list(np.unravel_index(np.argmin(a), a.shape))
assert got["argmax"] == list(np.unravel_index(np.argmax(a), a.shape))
assert abs(got["mean"] - a.mean()) <= 1e-12 * abs(a).max()
assert abs(got["std"] - a.std()) <= 1e-12 * a.std()
counts, edges = np.histogram(a, bins=9)
assert got["histogram"]["counts"] == counts.tolist()
assert got["histogram"]["edges"] == edges.tolist()
print("ok")
"#;
    let out = chunkwise_testkit::python::run(
        script,
        &[d.join("v.h5").as_os_str(), documents[0].1.as_ref()],
    );
    assert_eq!(out.trim(), "ok");
}
