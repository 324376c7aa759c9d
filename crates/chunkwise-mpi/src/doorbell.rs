//! Waking the ranks of a node that wait idle while another rank of the node works.
//!
//! Why: a rank with none of an operation's items waits in the operation's closing collective
//! for the others' whole work. MPI has no blocking wait that frees the core (Open MPI polls),
//! so the wait polls: yielding between polls still takes the core's turns from the busy ranks'
//! threads, and napping between polls costs CPU time for every wake-up and latency at the end,
//! which the busy rank then waits for in its next collective (figures: docs/perf-log/).
//! Instead each rank has a named pipe (FIFO) that the ranks of its node hold open for writing;
//! a busy rank that reaches the closing collective writes a byte into the pipes of its node's
//! idle ranks, which sleep in `poll` on their pipe until then and take part in the collective
//! at once.
//!
//! Every rank of the node sets its pipe up at start, or none does (the engine then naps). The
//! pipes' names (`<temp dir>/chunkwise-wake-<pid>`) are removed as soon as every rank of the
//! node has opened them, so nothing is left behind, even by a process that dies.

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// The pipes of the ranks of one node.
#[derive(Debug)]
pub(crate) struct Doorbell {
    /// This rank's pipe, open for reading (and writing, so it never reports end-of-file).
    own: File,
    /// The pipes of the other ranks of the node, by world rank, open for writing.
    peers: Vec<(usize, File)>,
}

impl Doorbell {
    /// Sets up the pipes of the node's ranks (collective over `node`, whose ranks have the world
    /// ranks `node_peers` in order); `None` on every rank of the node when any could not.
    pub(crate) fn open(node: &SimpleCommunicator, node_peers: &[usize]) -> Option<Doorbell> {
        if node_peers.len() < 2 {
            return None;
        }
        let path =
            |pid: i32| -> PathBuf { std::env::temp_dir().join(format!("chunkwise-wake-{pid}")) };
        let pid = i32::try_from(std::process::id()).unwrap_or(-1);
        let own_path = path(pid);
        let own = make_fifo(&own_path).ok();
        let mut pids = vec![0i32; node_peers.len()];
        let announced = if own.is_some() { pid } else { -1 };
        node.all_gather_into(&announced, &mut pids[..]);
        let me = usize::try_from(node.rank()).unwrap_or(0);
        let mut peers = Vec::with_capacity(node_peers.len() - 1);
        let mut ok = own.is_some();
        for (k, (&peer_pid, &world_rank)) in pids.iter().zip(node_peers).enumerate() {
            if k == me {
                continue;
            }
            match (peer_pid >= 0).then(|| open_for_ringing(&path(peer_pid))) {
                Some(Ok(file)) => peers.push((world_rank, file)),
                _ => ok = false,
            }
        }
        let mut all_ok = 0i32;
        node.all_reduce_into(&i32::from(ok), &mut all_ok, SystemOperation::min());
        // Every rank has opened the pipes it will use: the names can go.
        let _ = std::fs::remove_file(&own_path);
        match (all_ok == 1, own) {
            (true, Some(own)) => Some(Doorbell { own, peers }),
            _ => None,
        }
    }

    /// Wakes world rank `rank` if it is on this node and waiting (a byte into its pipe; a
    /// full pipe already wakes it).
    pub(crate) fn ring(&self, rank: usize) {
        if let Some((_, file)) = self.peers.iter().find(|(r, _)| *r == rank) {
            ring(file);
        }
    }

    /// Sleeps until this rank's pipe is rung or `timeout` passes; empties the pipe. `true`
    /// when it was rung (now or before).
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        wait(&self.own, timeout)
    }
}

/// Writes a byte into a pipe open for writing (never blocks; a full pipe is rung already).
fn ring(pipe: &File) {
    use std::io::Write;
    let _ = (&*pipe).write(&[1]);
}

/// Sleeps until `pipe` (open for reading, non-blocking) holds a byte or `timeout` passes
/// (rounded up to whole milliseconds); empties it. `true` when it held any.
fn wait(pipe: &File, timeout: Duration) -> bool {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: pipe.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    // SAFETY: `poll` points at one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    if ready <= 0 {
        return false;
    }
    let mut buffer = [0u8; 64];
    while matches!((&*pipe).read(&mut buffer), Ok(n) if n > 0) {}
    true
}

/// Creates a FIFO at `path` (replacing a stale one) and opens it for reading and writing,
/// without blocking.
fn make_fifo(path: &std::path::Path) -> std::io::Result<File> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let name = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `name` is a valid NUL-terminated path for the duration of the call.
    if unsafe { libc::mkfifo(name.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// Opens another rank's FIFO for writing, without blocking.
fn open_for_ringing(path: &std::path::Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn a_rung_pipe_wakes_its_waiter_at_once_and_an_unrung_one_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let own = make_fifo(&path).unwrap();
        let bell = open_for_ringing(&path).unwrap();
        // The name can go once both ends are open.
        std::fs::remove_file(&path).unwrap();

        let started = Instant::now();
        assert!(!wait(&own, Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(25));

        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            let rung = wait(&own, Duration::from_secs(10));
            (rung, started.elapsed(), own)
        });
        std::thread::sleep(Duration::from_millis(50));
        ring(&bell);
        let (rung, waited, own) = waiter.join().unwrap();
        assert!(rung);
        assert!(waited < Duration::from_secs(5), "woke after {waited:?}");
        // Emptied: the next wait times out again; rings while nobody waits are kept.
        assert!(!wait(&own, Duration::from_millis(1)));
        ring(&bell);
        ring(&bell);
        assert!(wait(&own, Duration::from_millis(1)));
        assert!(!wait(&own, Duration::from_millis(1)));
    }

    #[test]
    fn a_stale_pipe_of_the_same_name_is_replaced_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        std::fs::write(&path, b"left over").unwrap();
        let own = make_fifo(&path).unwrap();
        let bell = open_for_ringing(&path).unwrap();
        ring(&bell);
        assert!(wait(&own, Duration::from_millis(1)));
        assert!(open_for_ringing(&dir.path().join("missing")).is_err());
    }
}
