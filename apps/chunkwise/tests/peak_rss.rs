//! Peak resident memory of the `chunkwise` binary under a memory budget: an export of a 64 MiB
//! dataset under a 16 MiB budget stays under 1.5 × the budget plus a fixed overhead, while the
//! same export without a budget does not (which shows the measurement can fail).
//!
//! The fixed overhead is [`OVERHEAD`]: the binary, the HDF5 library and its caches, and the
//! allocator's arenas, which a process has whatever it does. It is stated here and checked
//! against the peak of `chunkwise info` (a command that holds no data) so it stays honest.

use std::path::Path;
use std::process::Command;

/// Memory any chunkwise command holds besides its data.
const OVERHEAD: u64 = 24 << 20;
const BUDGET: u64 = 16 << 20;

/// Runs chunkwise and returns its peak resident set (ru_maxrss of this one child, via wait4).
fn peak_rss(dir: &Path, args: &[&str]) -> u64 {
    let child = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .current_dir(dir)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("the chunkwise binary runs");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills; the pid is our own child, reaped here once.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "chunkwise {args:?} failed with status {status}"
    );
    std::mem::forget(child); // already reaped
    usage.ru_maxrss as u64 * 1024 // kilobytes on Linux
}

fn run_ok(dir: &Path, args: &[&str]) {
    let status = Command::new(env!("CARGO_BIN_EXE_chunkwise"))
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "chunkwise {args:?} failed");
}

#[test]
fn export_under_a_budget_keeps_its_peak_rss_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("tmp")).unwrap();
    std::fs::write(
        d.join("budget.yaml"),
        format!("resources:\n  max_memory: {BUDGET}\n  memory_usage: 1\n  temp_dir: tmp\n"),
    )
    .unwrap();
    // 256³ f32 = 64 MiB in 32³ chunks, every chunk written.
    run_ok(
        d,
        &[
            "create",
            "vol",
            "--shape",
            "256,256,256",
            "--chunks",
            "32,32,32",
            "--dtype",
            "f32",
        ],
    );
    run_ok(d, &["write", "vol", "--select", ":", "--value", "1.5"]);
    let data = 64u64 << 20;

    let idle = peak_rss(d, &["--config", "budget.yaml", "info", "vol"]);
    assert!(
        idle < OVERHEAD,
        "a command holding no data peaked at {idle} bytes, above the stated overhead {OVERHEAD}"
    );
    let budgeted = peak_rss(
        d,
        &[
            "--config",
            "budget.yaml",
            "export",
            "vol",
            "budgeted.h5:/vol",
        ],
    );
    let unlimited = peak_rss(d, &["export", "vol", "unlimited.h5:/vol"]);
    let bound = BUDGET * 3 / 2 + OVERHEAD;
    eprintln!(
        "peak RSS: info {idle} bytes; export of {data} bytes under a {BUDGET}-byte budget \
         {budgeted}; unlimited {unlimited}; bound {bound}"
    );
    assert!(
        budgeted < bound,
        "export under a {BUDGET}-byte budget peaked at {budgeted} bytes, above {bound}"
    );
    assert!(
        unlimited > data,
        "the unlimited export ({unlimited} bytes) should hold the whole {data}-byte array"
    );
    assert!(
        std::fs::read_dir(d.join("tmp")).unwrap().next().is_none(),
        "a temporary file was left behind"
    );
    // Both exports hold the same values.
    let read = |name: &str| {
        let file = hdf5::File::open(d.join(name)).unwrap();
        file.dataset("vol").unwrap().read_raw::<f32>().unwrap()
    };
    let budgeted_values = read("budgeted.h5");
    assert_eq!(budgeted_values.len(), 256 * 256 * 256);
    assert!(budgeted_values.iter().all(|&v| v == 1.5));
    assert_eq!(budgeted_values, read("unlimited.h5"));
}
