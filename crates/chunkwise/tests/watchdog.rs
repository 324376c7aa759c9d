//! A callback that never returns is reported by the watchdog, which ends the process, instead
//! of hanging the operation (and, under MPI, every other rank). The test runs itself as a child
//! process, since the watchdog ends the process it runs in.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chunkwise::{Connection, PipelineOptions, RamStore, ThreadsEngine};

const CHILD: &str = "CHUNKWISE_WATCHDOG_TEST_CHILD";

#[test]
fn a_callback_that_never_returns_ends_the_process_with_an_error_naming_it() {
    if std::env::var_os(CHILD).is_some() {
        let conn = Connection::new(
            Arc::new(RamStore::new()),
            Arc::new(ThreadsEngine::new(Some(2)).unwrap()),
        )
        .unwrap()
        .with_pipeline(PipelineOptions {
            stage_timeout: Duration::from_millis(500),
            ..PipelineOptions::default()
        });
        let ds = conn.create::<f32>("d", &[8], &[2], 0.0).unwrap();
        let _ = ds.map::<f32, _>("out", |chunk, block| {
            if chunk == [1] {
                std::thread::sleep(Duration::from_secs(3600));
            }
            Ok(block.to_owned())
        });
        panic!("the map returned although a callback never did");
    }
    let started = Instant::now();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_callback_that_never_returns_ends_the_process_with_an_error_naming_it",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(chunkwise::watchdog::STUCK_EXIT),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "the computation of chunk (1,) in the map of dataset \"d\" has not returned after 0.5 s (io.stage_timeout)"
        ),
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
