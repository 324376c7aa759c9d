//! Starting MPI jobs from Rust (tests, drivers): `mpiexec -n N` with the options Open MPI needs
//! on a workstation or CI runner.

use std::process::Command;

/// True when `mpiexec` is Open MPI's.
pub fn is_open_mpi() -> bool {
    Command::new("mpiexec")
        .arg("--version")
        .output()
        .map(|output| {
            let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
            text.contains("open mpi") || text.contains("openrte") || text.contains("open-mpi")
        })
        .unwrap_or(false)
}

/// `mpiexec -n ranks`, ready for the program and its arguments. With Open MPI it also allows
/// running as root, allows more ranks than cores (`--oversubscribe`) and turns off core binding
/// (`--bind-to none`, else every rank is pinned to one core and its thread pool shrinks to one).
pub fn mpiexec(ranks: usize) -> Command {
    let mut command = Command::new("mpiexec");
    if is_open_mpi() {
        command
            .args([
                "--allow-run-as-root",
                "--oversubscribe",
                "--bind-to",
                "none",
            ])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    }
    command.arg("-n").arg(ranks.to_string());
    command
}

/// The MPI scenario driver (the `chunkwise-mpi-scenarios` example of `chunkwise-mpi`), built
/// beside the calling test binary (`target/<profile>/examples/`) by `cargo test` of the
/// workspace or of `chunkwise-mpi`.
///
/// # Panics
/// When it was not built, saying how to build it.
pub fn scenario_driver() -> std::path::PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test_binary
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>/deps/<test>");
    let driver = profile_dir.join("examples").join("chunkwise-mpi-scenarios");
    assert!(
        driver.is_file(),
        "{} is missing: build it with `cargo build --release -p chunkwise-mpi --example chunkwise-mpi-scenarios` (cargo test of the workspace builds it)",
        driver.display()
    );
    driver
}
