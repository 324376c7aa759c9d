//! Whether a process still runs, for removing what dead processes left behind (temporary
//! files, working entries of stores): one answer for every such sweep, zombies counted dead.

use std::path::Path;

/// The start time (clock ticks after boot) of process `pid`, if it runs. A zombie (dead, not
/// yet reaped by its parent: PID 1 of a container often reaps nothing) does not run.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Whether process `pid` runs. Without `/proc` nothing can be told: every process is taken to
/// run (so nothing of it is removed).
pub fn running(pid: u32) -> bool {
    start_time(pid).is_some() || !Path::new("/proc/self").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_pid_beyond_the_maximum_does_not() {
        assert!(running(std::process::id()));
        assert!(start_time(std::process::id()).is_some());
        // Linux pids are below 2^22.
        assert!(!running(1 << 22));
    }
}
