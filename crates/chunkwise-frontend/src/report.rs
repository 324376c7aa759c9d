//! Ending an application run: each failure printed once, on one line, with the exit status
//! shells and schedulers expect.

use std::io::Write;
use std::process::ExitCode;

use chunkwise::Engine;

use crate::agree::is_agreed;

/// Reports `outcome` of a run on `engine` as `PROGRAM: error: …` and gives the exit status: an
/// agreed failure is printed by rank 0 alone, after which every rank waits at a barrier until
/// it has (a launcher ends the job when the first rank fails); any other failure is printed by
/// its rank (prefixed `rank N:` when there are several), which then exits at once, so the
/// launcher ends the job instead of leaving the others waiting. A run ended by a signal exits
/// with 128 + its number.
pub fn exit_code(program: &str, engine: &dyn Engine, outcome: anyhow::Result<()>) -> ExitCode {
    let Err(error) = outcome else {
        return ExitCode::SUCCESS;
    };
    let (rank, size) = (engine.rank(), engine.size());
    let agreed = size == 1 || is_agreed(&error);
    if rank == 0 || !agreed {
        let prefix = if size > 1 && rank != 0 {
            format!("rank {rank}: ")
        } else {
            String::new()
        };
        // One write, so lines of different ranks do not interleave.
        let line = format!("{program}: error: {prefix}{error:#}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
    if !agreed {
        // The other ranks may be waiting for this one.
        std::process::exit(1);
    }
    let _ = engine.barrier();
    match chunkwise::interrupt::received() {
        Some(signal) => ExitCode::from(u8::try_from(128 + signal).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}
