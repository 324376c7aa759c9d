//! The Python interpreter of the tests that check chunkwise with independent readers and
//! references (h5py, numpy, scipy), from `scripts/python-env.sh`.

use std::path::PathBuf;

/// `$CHUNKWISE_PYTHON`, else the workspace's `target/py/bin/python`.
///
/// # Panics
/// When neither exists: the test cannot run, and must not pass. `scripts/test.sh` makes it
/// (`scripts/python-env.sh`).
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("CHUNKWISE_PYTHON") {
        return PathBuf::from(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."));
    let venv = workspace.join("target/py/bin/python");
    assert!(
        venv.is_file(),
        "{} is missing: run scripts/python-env.sh first (scripts/test.sh does), or set CHUNKWISE_PYTHON",
        venv.display()
    );
    venv
}

/// Runs `script` (Python source) with `args`; returns its stdout.
///
/// # Panics
/// When the script fails: its stderr is the test's message.
pub fn run(script: &str, args: &[&std::ffi::OsStr]) -> String {
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("the Python interpreter runs");
    assert!(
        output.status.success(),
        "the Python check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
