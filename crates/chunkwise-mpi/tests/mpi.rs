//! The MPI engine under `mpiexec -n 1`, `-n 2` and `-n 3` (more ranks than this machine's cores:
//! oversubscribed). Every scenario asserts the world size it expects, so a launcher that starts
//! singletons fails instead of passing vacuously.

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the scenario driver on `ranks` ranks, killing it after `limit`.
fn mpiexec(ranks: usize, args: &[&str], limit: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut child = chunkwise_testkit::launch::mpiexec(ranks)
        .arg(chunkwise_testkit::launch::scenario_driver())
        .arg(args[0])
        .arg(&store)
        .arg(ranks.to_string())
        .args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpiexec must be installed (scripts/setup.sh installs openmpi-bin)");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("mpiexec -n {ranks} {args:?} still running after {limit:?}: a deadlock");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Run {
        success: status.success(),
        stdout,
        stderr,
        elapsed: started.elapsed(),
    }
}

fn assert_every_rank_ok(run: &Run, ranks: usize) {
    assert!(run.success, "failed:\n{}\n{}", run.stdout, run.stderr);
    for rank in 0..ranks {
        let line = format!("rank {rank} of {ranks}: ok");
        assert!(
            run.stdout.contains(&line),
            "{line} missing:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

#[test]
fn collective_operations_on_one_rank() {
    assert_every_rank_ok(&mpiexec(1, &["collective"], Duration::from_secs(120)), 1);
}

#[test]
fn collective_operations_on_two_ranks() {
    assert_every_rank_ok(&mpiexec(2, &["collective"], Duration::from_secs(120)), 2);
}

#[test]
fn collective_operations_on_three_ranks_oversubscribed() {
    assert_every_rank_ok(&mpiexec(3, &["collective"], Duration::from_secs(120)), 3);
}

#[test]
fn collective_operations_with_block_partition() {
    assert_every_rank_ok(
        &mpiexec(3, &["collective", "block"], Duration::from_secs(120)),
        3,
    );
}

/// Every rank exits non-zero, quickly, with the same message naming the rank, chunk and cause.
fn assert_same_error_everywhere(run: &Run, ranks: usize, cause: &str) {
    assert!(
        !run.success,
        "a failing callback must fail the job:\n{}",
        run.stdout
    );
    assert!(
        run.elapsed < Duration::from_secs(30),
        "took {:?}",
        run.elapsed
    );
    let failing = 1;
    let mut messages = Vec::new();
    for rank in 0..ranks {
        let prefix = format!("rank {rank}: error: ");
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("rank {rank} printed no error:\n{}", run.stderr));
        messages.push(line[prefix.len()..].to_string());
    }
    assert!(
        messages.iter().all(|m| *m == messages[0]),
        "different errors: {messages:?}"
    );
    let message = &messages[0];
    assert!(
        message.starts_with(&format!("rank {failing}: ")),
        "{message}"
    );
    assert!(
        message.contains("on chunk (") && message.contains(cause),
        "{message}"
    );
}

#[test]
fn callback_error_on_one_rank_fails_every_rank_with_the_same_message() {
    for ranks in [2, 3] {
        let run = mpiexec(ranks, &["callback-error"], Duration::from_secs(60));
        assert_same_error_everywhere(&run, ranks, "deliberate failure on rank");
    }
}

#[test]
fn callback_panic_on_one_rank_fails_every_rank_with_the_same_message() {
    for ranks in [2, 3] {
        let run = mpiexec(ranks, &["callback-panic"], Duration::from_secs(60));
        assert_same_error_everywhere(&run, ranks, "deliberate panic on chunk");
    }
}

#[test]
fn ram_backend_is_refused_with_more_than_one_rank() {
    assert_every_rank_ok(&mpiexec(1, &["ram"], Duration::from_secs(60)), 1);
    let run = mpiexec(2, &["ram"], Duration::from_secs(60));
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("the ram backend keeps data in each process's own memory, so 2 processes"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_lost_rank_is_noticed_within_the_peer_timeout() {
    let run = mpiexec(2, &["lost-rank", "peer-timeout=2"], Duration::from_secs(60));
    assert!(!run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(
            "rank 0: the other ranks did not reach the agreement within 2 s (engine.peer_timeout)"
        ),
        "{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
}

#[test]
fn the_engine_conformance_suite_passes_on_1_2_and_3_ranks_sleeping_or_polling() {
    for ranks in 1..=3 {
        for idle_wait in ["sleep", "poll"] {
            let run = mpiexec(ranks, &["engine", idle_wait], Duration::from_secs(120));
            assert_every_rank_ok(&run, ranks);
        }
    }
}

#[test]
fn rank_0_counts_every_ranks_chunks_when_progress_is_watched() {
    for ranks in 1..=3 {
        let run = mpiexec(ranks, &["progress"], Duration::from_secs(120));
        assert_every_rank_ok(&run, ranks);
    }
}

#[test]
fn a_failure_under_watched_progress_is_the_same_error_everywhere() {
    for ranks in [2, 3] {
        let run = mpiexec(ranks, &["progress-callback-error"], Duration::from_secs(60));
        assert_same_error_everywhere(&run, ranks, "deliberate failure on rank");
    }
}
