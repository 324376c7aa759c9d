//! gaussian-bench end to end: a small sweep's result.h5 (DosNa's layout and what chunkwise adds),
//! exact verification, images and plots, --keep, refusing to overwrite another shape, MPI.

use std::path::Path;
use std::process::Command;

use chunkwise::Store;
use chunkwise_dosna::DosnaStore;
use hdf5::types::VarLenUnicode;

/// Opens an HDF5 file read-only without HDF5's file lock: other tests of this process spawn
/// children, which inherit a lock taken here (HDF5 does not open files close-on-exec) and would
/// keep the apps under test from opening the file (EAGAIN) for as long as they live.
fn open_h5(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|fapl| fapl.file_locking(false))
        .open(path)
}

/// [`open_h5`], read-write.
fn open_h5_rw(path: impl AsRef<Path>) -> hdf5::Result<hdf5::File> {
    hdf5::File::with_options()
        .with_fapl(|fapl| fapl.file_locking(false))
        .open_rw(path)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn bench(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_gaussian-bench"))
        // The test process forks children while other tests hold HDF5 files open; a child
        // inheriting such a descriptor would keep its HDF5 lock. Locks are not under test here.
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .current_dir(dir)
        .args(["--store", "store", "--out", "out"])
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// gaussian-bench without --store and --out (for merge and status).
fn bench_plain(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_gaussian-bench"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const SWEEP: [&str; 8] = [
    "--data-sizes",
    "32",
    "48",
    "--chunk-sizes",
    "16",
    "40",
    "64",
    "--threads",
];

fn text_attr(ds: &hdf5::Location, name: &str) -> String {
    ds.attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_string()
}

#[test]
fn small_sweep_writes_dosna_results_and_exact_verification() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = bench(d, &[&SWEEP[..], &["2", "--ntest", "2", "--keep"]].concat());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("results: out/result.h5"),
        "{}",
        run.stdout
    );

    let file = open_h5(d.join("out/result.h5")).unwrap();
    let times = file.dataset("/hdf5/1").unwrap();
    assert_eq!(times.shape(), vec![2, 3, 3, 2]);
    assert_eq!(times.dtype().unwrap().size(), 4, "float32");
    assert_eq!(text_attr(&times, "axis0_label"), "Data Size");
    assert_eq!(text_attr(&times, "axis1_label"), "Chunk Size");
    assert_eq!(text_attr(&times, "axis2_label"), "Tests");
    assert_eq!(text_attr(&times, "axis3_label"), "# Tests");
    assert_eq!(
        times
            .attr("axis0_value")
            .unwrap()
            .read_raw::<i64>()
            .unwrap(),
        vec![32, 48]
    );
    assert_eq!(
        times
            .attr("axis1_value")
            .unwrap()
            .read_raw::<i64>()
            .unwrap(),
        vec![16, 40, 64]
    );
    // Fixed-length strings of 4 bytes, as DosNa's numpy S4 array.
    let kinds: Vec<String> = times
        .attr("axis2_value")
        .unwrap()
        .read_raw::<hdf5::types::FixedAscii<4>>()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(kinds, vec!["DATA", "3D", "1D"]);
    assert_eq!(
        times
            .attr("axis3_value")
            .unwrap()
            .read_raw::<i64>()
            .unwrap(),
        vec![0, 1]
    );

    let values = times.read_dyn::<f32>().unwrap();
    // Ran: (32,16), (48,16), (48,40); skipped (CS > DS) are NaN (not measured).
    for (i, j, ran) in [
        (0, 0, true),
        (0, 1, false),
        (0, 2, false),
        (1, 0, true),
        (1, 1, true),
        (1, 2, false),
    ] {
        for k in 0..3 {
            for t in 0..2 {
                let v = values[[i, j, k, t]];
                assert_eq!(!v.is_nan(), ran, "cell ({i}, {j}) kind {k} test {t}: {v}");
                assert!(v.is_nan() || v > 0.0, "{v}");
            }
        }
    }
    // Only the DosNa dataset is in /hdf5, so `for n in f['hdf5']: int(n)` works.
    assert_eq!(
        file.group("/hdf5").unwrap().member_names().unwrap(),
        vec!["1"]
    );
    let verify = file
        .dataset("/chunkwise/hdf5/1/verify")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    for (i, j) in [(0, 0), (1, 0), (1, 1)] {
        assert_eq!(verify[[i, j, 0]], 0.0, "3D and 3×1D differ");
        assert_eq!(
            verify[[i, j, 1]],
            0.0,
            "3D differs from the in-memory filter"
        );
    }
    assert!(verify[[0, 1, 0]].is_nan());
    let seconds = file.dataset("/chunkwise/hdf5/1/timer_seconds").unwrap();
    assert_eq!(text_attr(&seconds, "units"), "seconds");
    let seconds = seconds.read_dyn::<f64>().unwrap();
    let bytes = file.dataset("/chunkwise/hdf5/1/timer_bytes").unwrap();
    assert_eq!(text_attr(&bytes, "units"), "bytes");
    let bytes = bytes.read_dyn::<f64>().unwrap();
    assert_eq!(seconds.shape(), &[2, 3, 2, 3, 1, 4]);
    assert_eq!(bytes.shape(), &[2, 3, 2, 3, 1, 2]);
    // 3D phase of (48, 40): wrote 8 chunks of 40³ f32 = 2 048 000 bytes.
    assert_eq!(bytes[[1, 1, 0, 1, 0, 1]], 8.0 * 40.0 * 40.0 * 40.0 * 4.0);
    assert!(seconds[[1, 1, 0, 1, 0, 1]] > 0.0, "compute time recorded");
    let run_group = file.group("/chunkwise/hdf5/1").unwrap();
    assert_eq!(
        text_attr(&run_group, "format"),
        "chunkwise gaussian-bench results 2"
    );
    assert_eq!(text_attr(&run_group, "engine"), "threads");
    assert_eq!(
        run_group
            .attr("ranks")
            .unwrap()
            .read_scalar::<i64>()
            .unwrap(),
        1
    );
    assert_eq!(
        run_group
            .attr("threads_per_rank")
            .unwrap()
            .read_scalar::<i64>()
            .unwrap(),
        2
    );
    // Spare files are off unless asked for, the top-directory mark on, and the run says so.
    let spare = run_group.attr("spare_files_mib").unwrap();
    assert_eq!(spare.read_scalar::<u64>().unwrap(), 0);
    let top = run_group.attr("top_directory").unwrap();
    assert_eq!(top.read_scalar::<u8>().unwrap(), 1);
    assert!(
        file.dataset("/chunkwise/hdf5/1/delete")
            .unwrap()
            .read_dyn::<f32>()
            .unwrap()[[1, 1, 0]]
            > 0.0
    );
    drop(file);

    // (width, height) of a PNG, from its IHDR chunk.
    let png_size = |path: &std::path::Path| -> (u32, u32) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
        let number = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
        (number(16), number(20))
    };
    for name in ["input", "conv3d", "conv3x1d", "diff"] {
        for cell in ["32-16", "48-16", "48-40"] {
            // A 32² or 48² slice enlarged to at least 256 pixels, plus title and colour bar.
            let (width, height) = png_size(&d.join(format!("out/{name}_1-{cell}.png")));
            assert!(
                width >= 256 + 100 && height >= 256 + 40,
                "{name} {cell}: {width}×{height}"
            );
        }
    }
    for plot in [
        "plot_3d_hdf5_1.png",
        "plot_3x1d_hdf5_1.png",
        "plot_load_hdf5_1.png",
        "plot_speedup_hdf5_1.png",
    ] {
        assert_eq!(png_size(&d.join("out").join(plot)), (1100, 650), "{plot}");
    }
    // --keep: the last input of each data size and the outputs of every cell.
    let kept = DosnaStore::new(d.join("store")).list_datasets().unwrap();
    assert_eq!(
        kept,
        vec![
            "gaussian_1d_32_16",
            "gaussian_1d_48_16",
            "gaussian_1d_48_40",
            "gaussian_3d_32_16",
            "gaussian_3d_48_16",
            "gaussian_3d_48_40",
            "input_32",
            "input_48"
        ]
    );
    // The spare chunk files of the deleted repetitions went with the process: only the kept
    // datasets are left in the store.
    // (and the store's lock file).
    let mut entries: Vec<String> = std::fs::read_dir(d.join("store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".chunkwise-locks")
        .collect();
    entries.sort();
    assert_eq!(entries, kept);
}

#[test]
fn results_of_another_shape_are_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let first = bench(
        d,
        &["--data-sizes", "24", "--chunk-sizes", "12", "--ntest", "1"],
    );
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = std::fs::read(d.join("out/result.h5")).unwrap();
    let second = bench(
        d,
        &["--data-sizes", "24", "--chunk-sizes", "12", "--ntest", "2"],
    );
    assert_ne!(second.code, 0);
    assert!(
        second
            .stderr
            .contains("already holds /hdf5/1 with shape [1, 1, 3, 1]"),
        "{}",
        second.stderr
    );
    assert_eq!(
        std::fs::read(d.join("out/result.h5")).unwrap(),
        before,
        "the file changed"
    );
    let again = bench(
        d,
        &["--data-sizes", "24", "--chunk-sizes", "12", "--ntest", "1"],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("replaced the earlier /hdf5/1"),
        "{}",
        again.stdout
    );
    // A different backend or rank count goes beside it.
    let ram = bench(
        d,
        &[
            "--backend",
            "ram",
            "--engine",
            "sequential",
            "--data-sizes",
            "24",
            "--chunk-sizes",
            "12",
            "--ntest",
            "1",
        ],
    );
    assert_eq!(ram.code, 0, "{}", ram.stderr);
    let file = open_h5(d.join("out/result.h5")).unwrap();
    assert!(file.dataset("/hdf5/1").is_ok() && file.dataset("/ram/1").is_ok());
}

#[test]
fn datasets_it_did_not_make_are_never_touched() {
    use chunkwise::{DType, DatasetMeta, Layout, Store};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A user's dataset that happens to carry a name the sweep uses.
    let store = DosnaStore::new(d.join("store"));
    let meta = DatasetMeta::zero_filled(Layout::new(&[4], &[4]).unwrap(), DType::F64);
    let input = store.create_dataset("input_32", &meta).unwrap();
    let mine = chunkwise::ChunkData::F64(vec![1.0, 2.0, 3.0, 4.0]);
    input.write_chunk(&[0], &mine).unwrap();
    let run = bench(
        d,
        &["--data-sizes", "32", "--chunk-sizes", "16", "--ntest", "1"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("already holds a dataset") && run.stderr.contains("input_32"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let input = store.open_dataset("input_32").unwrap();
    assert_eq!(input.meta(), &meta);
    assert_eq!(input.read_chunk(&[0]).unwrap(), Some(mine));
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (vec!["--ntest", "0"], "--ntest 0"),
        (vec!["--sigma", "0"], "--sigma 0"),
        (vec!["--data-sizes", "0"], "size 0"),
        (
            vec!["--mode", "edge", "--data-sizes", "8", "--chunk-sizes", "8"],
            "invalid value 'edge' for '--mode <MODE>'; expected one of reflect, mirror",
        ),
        (
            vec!["--partition", "diagonal"],
            "invalid value 'diagonal' for '--partition <PARTITION>'; expected one of cyclic, block",
        ),
        // Sizes whose datasets cannot fit the store (were an allocation abort).
        (
            vec!["--data-sizes", "100000", "--ntest", "1"],
            "--data-sizes 100000 needs about",
        ),
        (
            vec![
                "--data-sizes",
                "16",
                "--chunk-sizes",
                "8",
                "--truncate",
                "1e12",
            ],
            "expected a radius of at most",
        ),
    ] {
        let run = bench(dir.path(), &args);
        assert_ne!(run.code, 0, "{args:?}");
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn runs_under_mpi_with_per_rank_timers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The cell of one chunk (40/40) is cut into slabs on rank 0, however small.
    let output = chunkwise_testkit::launch::mpiexec(2)
        .current_dir(d)
        .env("CHUNKWISE_IO__MIN_SLAB", "1")
        .arg(env!("CARGO_BIN_EXE_gaussian-bench"))
        .args([
            "--engine",
            "mpi",
            "--store",
            "store",
            "--out",
            "out",
            "--data-sizes",
            "40",
            "--chunk-sizes",
            "16",
            "20",
            "40",
            "--ntest",
            "2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout
            .matches("gaussian-bench: hdf5 backend, mpi engine, 2 rank(s)")
            .count(),
        1,
        "{stdout}"
    );
    let file = open_h5(d.join("out/result.h5")).unwrap();
    assert_eq!(file.dataset("/hdf5/2").unwrap().shape(), vec![1, 3, 3, 2]);
    let timers = file
        .dataset("/chunkwise/hdf5/2/timer_bytes")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    assert_eq!(timers.shape(), &[1, 3, 2, 3, 2, 2]);
    // Both ranks wrote chunks in the 3D phase: 27 chunks of 16³ in two blocks (14 and 13).
    let written: Vec<f64> = (0..2).map(|rank| timers[[0, 0, 0, 1, rank, 1]]).collect();
    assert_eq!(written, vec![14.0 * 16384.0, 13.0 * 16384.0]);
    // One chunk of 40³: rank 0 writes all of it (in slabs), rank 1 nothing.
    let written: Vec<f64> = (0..2).map(|rank| timers[[0, 2, 0, 1, rank, 1]]).collect();
    assert_eq!(written, vec![40.0 * 40.0 * 40.0 * 4.0, 0.0]);
    // Block is gaussian-bench's partition unless told otherwise, and the result says so.
    let configuration = text_attr(&file.group("/chunkwise/hdf5/2").unwrap(), "configuration");
    assert!(
        configuration.lines().any(|l| l.contains("engine.partition")
            && l.contains("block")
            && l.contains("gaussian-bench's default")),
        "{configuration}"
    );
    assert!(
        configuration.lines().any(|l| l.contains("io.min_slab")
            && l.contains("= 1 ")
            && l.contains("CHUNKWISE_IO__MIN_SLAB")),
        "{configuration}"
    );
    // The two ranks share this node's memory: each has half the default budget.
    let per_rank: u64 = configuration
        .lines()
        .find_map(|l| l.strip_prefix("memory budget per rank: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or_else(|| panic!("{configuration}"));
    assert!(
        configuration.contains("(2 rank(s) on this node)"),
        "{configuration}"
    );
    let whole = chunkwise::config::Config::load(None)
        .unwrap()
        .budget_bytes()
        .unwrap();
    assert!(per_rank.abs_diff(whole / 2) <= 1, "{per_rank} of {whole}");
    let verify = file
        .dataset("/chunkwise/hdf5/2/verify")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    // Exact in every cell (each rank reads only the halo planes of chunks the other rank
    // processes; one chunk in slabs): 3D against 3×1D, and 3D against the in-memory filter.
    for cell in 0..3 {
        assert_eq!(verify[[0, cell, 0]], 0.0, "cell {cell}");
        assert_eq!(verify[[0, cell, 1]], 0.0, "cell {cell}");
    }
}

#[test]
fn a_small_memory_budget_maps_the_reference_and_keeps_results_exact() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("tmp")).unwrap();
    // 96³ f32 is 3.4 MiB: the whole-array reference and its filtered copy do not fit 3 MiB and
    // go to mapped files; the blocks in flight shrink to fit (one worker for 32³ chunks).
    std::fs::write(
        d.join("small.yaml"),
        "resources:\n  max_memory: 3MiB\n  memory_usage: 1\n  temp_dir: tmp\n",
    )
    .unwrap();
    let args = [
        "--config",
        "small.yaml",
        "--data-sizes",
        "96",
        "--chunk-sizes",
        "16",
        "32",
        "--ntest",
        "1",
        "--threads",
        "2",
    ];
    let run = bench(d, &args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let file = open_h5(d.join("out/result.h5")).unwrap();
    let verify = file
        .dataset("/chunkwise/hdf5/1/verify")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    for j in 0..2 {
        assert_eq!(verify[[0, j, 0]], 0.0, "3D and 3×1D differ");
        assert_eq!(
            verify[[0, j, 1]],
            0.0,
            "3D differs from the whole-array filter"
        );
    }
    let configuration = text_attr(&file.group("/chunkwise/hdf5/1").unwrap(), "configuration");
    assert!(
        configuration.contains("resources.max_memory")
            && configuration.contains("3145728")
            && configuration.contains("small.yaml"),
        "{configuration}"
    );
    assert!(
        std::fs::read_dir(d.join("tmp")).unwrap().next().is_none(),
        "a temporary file was left behind"
    );

    // One block per stage of the 3D pass (16³ chunks grown by 6: 28³ f32) does not fit 256 KiB.
    let tiny = d.join("tiny");
    std::fs::create_dir(&tiny).unwrap();
    std::fs::write(
        tiny.join("tiny.yaml"),
        "resources:\n  max_memory: 256KiB\n  memory_usage: 1\n",
    )
    .unwrap();
    let run = bench(
        &tiny,
        &[
            "--config",
            "tiny.yaml",
            "--data-sizes",
            "48",
            "--chunk-sizes",
            "16",
            "--ntest",
            "1",
        ],
    );
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("map_overlap of dataset \"input_48\" needs at least")
            && run
                .stderr
                .contains("262144 bytes of the memory budget are free"),
        "{}",
        run.stderr
    );
}

fn cell_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("out/cells"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
#[cfg_attr(
    not(feature = "fault-injection"),
    ignore = "fails a cell on purpose: needs --features gaussian-bench/fault-injection (scripts/test.sh)"
)]
fn cells_run_one_by_one_skip_when_done_retry_when_failed_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sweep = [
        "--data-sizes",
        "24",
        "32",
        "--chunk-sizes",
        "16",
        "32",
        "--ntest",
        "2",
        "--threads",
        "2",
    ];
    fn with<'a>(sweep: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [sweep, extra].concat()
    }

    let listing = bench(d, &with(&sweep, &["--list-cells"]));
    assert_eq!(listing.code, 0, "{}", listing.stderr);
    let cells: Vec<Vec<String>> = listing
        .stdout
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    // (24, 32) is skipped: chunk larger than the data.
    let sizes: Vec<(&str, &str, &str)> = cells
        .iter()
        .map(|c| (c[0].as_str(), c[1].as_str(), c[2].as_str()))
        .collect();
    assert_eq!(
        sizes,
        vec![("0", "24", "16"), ("1", "32", "16"), ("2", "32", "32")]
    );
    let uid = |k: usize| cells[k][3].clone();
    assert!(uid(1).starts_with("ds=32,cs=16,sigma=1.5-"), "{}", uid(1));
    // The same listing as JSON.
    let listing = bench(d, &with(&sweep, &["--list-cells", "--json"]));
    assert_eq!(listing.code, 0, "{}", listing.stderr);
    let document: serde_json::Value = serde_json::from_str(&listing.stdout).unwrap();
    assert_eq!(document["ranks"], 1);
    let listed = document["cells"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    for (k, cell) in listed.iter().enumerate() {
        assert_eq!(cell["cell"], k);
        assert_eq!(cell["data_size"].to_string(), cells[k][1]);
        assert_eq!(cell["chunk_size"].to_string(), cells[k][2]);
        assert_eq!(cell["uid"], cells[k][3].as_str());
    }

    // Cell 1 fails on purpose: <uid>.failed, non-zero exit, nothing else written.
    let failed = Command::new(env!("CARGO_BIN_EXE_gaussian-bench"))
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .env("GAUSSIAN_BENCH_FAIL_CELLS", "1")
        .env("SLURM_JOB_ID", "4242")
        .env("GAUSSIAN_BENCH_LOG", "/logs/4242.out")
        .current_dir(d)
        .args(["--store", "store", "--out", "out"])
        .args(with(&sweep, &["--cell", "1"]))
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let record = std::fs::read_to_string(d.join(format!("out/cells/{}.failed", uid(1)))).unwrap();
    assert!(
        record.contains("job: 4242")
            && record.contains("log: /logs/4242.out")
            && record.contains("failed on purpose"),
        "{record}"
    );
    for k in [0, 2] {
        let run = bench(d, &with(&sweep, &["--cell", &k.to_string()]));
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(
            run.stdout.contains(&format!("cell {k} done")),
            "{}",
            run.stdout
        );
    }
    assert_eq!(
        cell_files(d),
        vec![
            format!("{}.h5", uid(0)),
            format!("{}.failed", uid(1)),
            format!("{}.h5", uid(2)),
            "sweep.txt".to_string()
        ]
    );

    let status = bench_plain(d, &["status", "out"]);
    // A failed cell makes status fail, after the table.
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert!(
        status
            .stderr
            .contains("1 cell(s) failed and 0 missing of 3"),
        "{}",
        status.stderr
    );
    let json = bench_plain(d, &["status", "out", "--json"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        (&document["done"], &document["failed"], &document["missing"]),
        (&2.into(), &1.into(), &0.into())
    );
    let failed_cell = &document["cells"][1];
    assert_eq!(failed_cell["cell"], 1);
    assert_eq!(failed_cell["data_size"], 32);
    assert_eq!(failed_cell["chunk_size"], 16);
    assert_eq!(failed_cell["uid"], uid(1).as_str());
    assert_eq!(failed_cell["state"], "failed");
    assert_eq!(failed_cell["job"], "4242");
    assert_eq!(failed_cell["log"], "/logs/4242.out");
    assert!(failed_cell["error"]
        .as_str()
        .is_some_and(|e| e.contains("failed on purpose")));
    assert_eq!(document["cells"][0]["error"], serde_json::Value::Null);
    let state_of = |k: usize| {
        status
            .stdout
            .lines()
            .find(|l| l.ends_with(&uid(k)))
            .unwrap_or_else(|| panic!("cell {k} not in {}", status.stdout))
            .split_whitespace()
            .nth(3)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (state_of(0), state_of(1), state_of(2)),
        ("done".into(), "failed".into(), "done".into())
    );
    assert!(status.stdout.contains("4242") && status.stdout.contains("/logs/4242.out"));
    assert!(
        status.stdout.contains("2 done, 1 failed, 0 missing"),
        "{}",
        status.stdout
    );

    // Done cells are skipped (their files untouched); a failed one is refused until retried.
    let before = std::fs::metadata(d.join(format!("out/cells/{}.h5", uid(0))))
        .unwrap()
        .modified()
        .unwrap();
    let skipped = bench(d, &with(&sweep, &["--cell", "0"]));
    assert_eq!(skipped.code, 0);
    assert!(
        skipped.stdout.contains("already done"),
        "{}",
        skipped.stdout
    );
    let refused = bench(d, &with(&sweep, &["--cell", "1"]));
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("--cell-mode retry"),
        "{}",
        refused.stderr
    );
    let retried = bench(d, &with(&sweep, &["--cell", "1", "--cell-mode", "retry"]));
    assert_eq!(retried.code, 0, "{}", retried.stderr);
    assert!(!d.join(format!("out/cells/{}.failed", uid(1))).exists());
    let after = std::fs::metadata(d.join(format!("out/cells/{}.h5", uid(0))))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "a done cell was rerun");
    // Every cell done: status succeeds.
    let status = bench_plain(d, &["status", "out"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("3 done, 0 failed, 0 missing"),
        "{}",
        status.stdout
    );
    let forced = bench(d, &with(&sweep, &["--cell", "0", "--cell-mode", "force"]));
    assert!(forced.stdout.contains("cell 0 done"), "{}", forced.stdout);

    let out_of_range = bench(d, &with(&sweep, &["--cell", "3"]));
    assert!(
        out_of_range.stderr.contains("this sweep has 3 cells"),
        "{}",
        out_of_range.stderr
    );

    // Merge: DosNa's layout with the cells' figures in place; (24, 32) is NaN (no cell).
    let merged = bench_plain(d, &["merge", "out"]);
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    assert!(
        merged.stdout.contains("merged from 3 cells"),
        "{}",
        merged.stdout
    );
    let file = open_h5(d.join("out/result.h5")).unwrap();
    let times = file.dataset("/hdf5/1").unwrap();
    assert_eq!(times.shape(), vec![2, 2, 3, 2]);
    let values = times.read_dyn::<f32>().unwrap();
    for (i, j, k) in [(0, 0, 0), (1, 0, 1), (1, 1, 2)] {
        let cell = open_h5(d.join(format!("out/cells/{}.h5", uid(k)))).unwrap();
        let own = cell.dataset("/hdf5/1").unwrap().read_dyn::<f32>().unwrap();
        for kind in 0..3 {
            for t in 0..2 {
                assert_eq!(values[[i, j, kind, t]], own[[0, 0, kind, t]]);
                assert!(values[[i, j, kind, t]] > 0.0);
            }
        }
    }
    assert!(values
        .slice(ndarray::s![0, 1, .., ..])
        .iter()
        .all(|&v| v.is_nan()));
    let verify = file
        .dataset("/chunkwise/hdf5/1/verify")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    assert_eq!(verify[[1, 1, 0]], 0.0);
    assert_eq!(verify[[1, 1, 1]], 0.0);
    assert!(d.join("out/plot_3d_hdf5_1.png").is_file());
    let run = file.group("/chunkwise/hdf5/1").unwrap();
    let generator = run.attr("generator").unwrap();
    let generator = generator
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .unwrap();
    assert!(generator.as_str().contains("splitmix64"), "{generator}");
    drop(file);

    // A cell of another build (git commit or binary) is not merged with the others.
    let set_text = |uid: &str, name: &str, value: &str| {
        let cell = open_h5_rw(d.join(format!("out/cells/{uid}.h5"))).unwrap();
        let run = cell.group("/chunkwise/hdf5/1").unwrap();
        let old = text_attr(&run, name);
        run.delete_attr(name).unwrap();
        let value: hdf5::types::VarLenUnicode = value.parse().unwrap();
        run.new_attr::<hdf5::types::VarLenUnicode>()
            .create(name)
            .unwrap()
            .write_scalar(&value)
            .unwrap();
        old
    };
    let build = set_text(&uid(1), "build", "0123456789ab-another");
    let refused = bench_plain(d, &["merge", "out"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("build (git commit and binary hash)")
            && refused.stderr.contains("0123456789ab-another"),
        "{}",
        refused.stderr
    );
    set_text(&uid(1), "build", &build);
    // The build is the one --version names.
    let version = bench_plain(d, &["--version"]);
    assert!(
        version.stdout.contains(&format!("(build {build})")),
        "{} {build}",
        version.stdout
    );

    // A cell whose input came from another data generator is not merged with the others.
    {
        let cell = open_h5_rw(d.join(format!("out/cells/{}.h5", uid(1)))).unwrap();
        let run = cell.group("/chunkwise/hdf5/1").unwrap();
        run.delete_attr("generator").unwrap();
        let other: hdf5::types::VarLenUnicode = "another generator".parse().unwrap();
        run.new_attr::<hdf5::types::VarLenUnicode>()
            .create("generator")
            .unwrap()
            .write_scalar(&other)
            .unwrap();
    }
    let refused = bench_plain(d, &["merge", "out"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("data generator") && refused.stderr.contains("another generator"),
        "{}",
        refused.stderr
    );
}

#[test]
fn result_h5_reads_in_h5py_as_dosna_wrote_it_with_every_axis_and_unit_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = bench(d, &[&SWEEP[..], &["2", "--ntest", "2"]].concat());
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let result = d.join("out/result.h5");
    // 2 data sizes (32, 48), 3 chunk sizes (16, 40, 64), 2 tests.
    let out = chunkwise_testkit::python::run(
        include_str!("check_result.py"),
        &[
            result.as_os_str(),
            "hdf5".as_ref(),
            "1".as_ref(),
            "2".as_ref(),
            "3".as_ref(),
            "2".as_ref(),
        ],
    );
    assert_eq!(out.trim(), "ok");
}

#[test]
fn the_zarr_backend_runs_the_sweep_exactly_and_records_its_codec() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = bench_plain(
        d,
        &[
            "--backend",
            "zarr",
            "--codec",
            "zstd:1",
            "--store",
            "zarr:store.zarr",
            "--out",
            "out",
            "--data-sizes",
            "32",
            "--chunk-sizes",
            "16",
            "32",
            "--ntest",
            "1",
            "--keep",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let file = open_h5(d.join("out/result.h5")).unwrap();
    assert_eq!(
        file.group("/zarr").unwrap().member_names().unwrap(),
        vec!["1"]
    );
    let run_group = file.group("/chunkwise/zarr/1").unwrap();
    assert_eq!(text_attr(&run_group, "codec"), "zstd:1");
    let verify = run_group
        .dataset("verify")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    assert!(verify.iter().all(|&v| v == 0.0), "{verify:?}");
    // The kept outputs are Zarr arrays zarr-python reads: the 3D and 3×1D results agree.
    let script = r#"
import sys
import numpy as np, zarr
group = zarr.open_group(sys.argv[1], mode="r")
a, b = group["gaussian_3d_32_16"][...], group["gaussian_1d_32_16"][...]
assert a.shape == (32, 32, 32) and np.array_equal(a, b)
print("ok")
"#;
    let out = chunkwise_testkit::python::run(script, &[d.join("store.zarr").as_os_str()]);
    assert_eq!(out.trim(), "ok");
    let refused = bench_plain(d, &["--codec", "zstd", "--data-sizes", "8"]);
    assert!(
        refused
            .stderr
            .contains("--codec zstd applies to --backend zarr"),
        "{}",
        refused.stderr
    );
}

#[test]
fn the_zarr_backend_shards_each_cells_chunks_and_records_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = bench_plain(
        d,
        &[
            "--backend",
            "zarr",
            "--shard",
            "16",
            "--store",
            "zarr:store.zarr",
            "--out",
            "out",
            "--data-sizes",
            "32",
            "--chunk-sizes",
            "8",
            "32",
            "--ntest",
            "1",
            "--keep",
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let file = open_h5(d.join("out/result.h5")).unwrap();
    let run_group = file.group("/chunkwise/zarr/1").unwrap();
    assert_eq!(
        run_group
            .attr("shard")
            .unwrap()
            .read_scalar::<i64>()
            .unwrap(),
        16
    );
    let verify = run_group
        .dataset("verify")
        .unwrap()
        .read_dyn::<f64>()
        .unwrap();
    assert!(verify.iter().all(|&v| v == 0.0), "{verify:?}");
    // zarr-python sees shards of 16³ holding the cell's 8³ chunks (and, for the cell whose
    // chunks are larger than the shard, one 32³ shard of one chunk), and the same numbers.
    let script = r#"
import sys
import numpy as np, zarr
group = zarr.open_group(sys.argv[1], mode="r")
small, large = group["gaussian_3d_32_8"], group["gaussian_3d_32_32"]
assert small.shards == (16, 16, 16) and small.chunks == (8, 8, 8), (small.shards, small.chunks)
assert large.shards == (32, 32, 32) and large.chunks == (32, 32, 32), (large.shards, large.chunks)
assert np.array_equal(small[...], group["gaussian_1d_32_8"][...])
assert np.array_equal(small[...], large[...])
print("ok")
"#;
    let out = chunkwise_testkit::python::run(script, &[d.join("store.zarr").as_os_str()]);
    assert_eq!(out.trim(), "ok");
    let refused = bench_plain(d, &["--shard", "16", "--data-sizes", "8"]);
    assert!(
        refused
            .stderr
            .contains("--shard 16 applies to --backend zarr"),
        "{}",
        refused.stderr
    );
}
