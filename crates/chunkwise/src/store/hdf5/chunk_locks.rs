//! Chunk locks: one hidden lock file per dataset, one byte of it per chunk.
//!
//! Every change of a chunk file takes the chunk's byte: a read-modify-write (`update_chunk`)
//! exclusively from its read to its rename, a blind replacement (`write_chunk`, a committed
//! chunk writer, `delete_chunk`) shared, around its rename only. A blind write therefore lands
//! before an update reads or after it renames, never in between, so no update puts a stale copy
//! back over it; blind writers do not wait for each other.
//!
//! The locks are open-file-description locks (`F_OFD_SETLKW`): they exclude threads of one
//! process as well as processes, and are released when the file is closed, also by the kernel
//! when the process dies. They work on local file systems and on NFSv4 and Lustre mounts that
//! support POSIX locks.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

/// Name of the lock file in a dataset's directory.
pub(super) const LOCK_FILE: &str = ".chunkwise-locks";

/// A held chunk lock; dropping it releases the lock.
#[derive(Debug)]
pub(super) struct ChunkLock {
    _file: File,
}

/// Takes the lock of the chunk with flat index `flat` of the dataset in `dataset_dir`,
/// waiting for it: `exclusive` for a read-modify-write, shared for a blind replacement.
///
/// # Errors
/// The I/O error of opening the lock file or of locking.
pub(super) fn lock_chunk(
    dataset_dir: &Path,
    flat: usize,
    exclusive: bool,
) -> std::io::Result<ChunkLock> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dataset_dir.join(LOCK_FILE))?;
    let start = libc::off_t::try_from(flat).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "chunk index beyond the lock file's range",
        )
    })?;
    // SAFETY: `flock` is a plain C struct for which all zeroes is a valid value.
    let mut range: libc::flock = unsafe { std::mem::zeroed() };
    range.l_type = if exclusive {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    } as libc::c_short;
    range.l_whence = libc::SEEK_SET as libc::c_short;
    range.l_start = start;
    range.l_len = 1;
    loop {
        // SAFETY: the descriptor is open for as long as `file` lives, and `range` is a valid
        // `flock` the call only reads (l_pid is 0, as OFD locks require).
        let status = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLKW, &range) };
        if status == 0 {
            return Ok(ChunkLock { _file: file });
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn an_exclusive_lock_holds_off_shared_ones_of_its_chunk_only() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock_chunk(dir.path(), 5, true).unwrap();
        let other = lock_chunk(dir.path(), 6, false).unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (dir, got) = (dir.path().to_path_buf(), Arc::clone(&got));
            std::thread::spawn(move || {
                let _lock = lock_chunk(&dir, 5, false).unwrap();
                got.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !got.load(Ordering::SeqCst),
            "a shared lock was taken under an exclusive one"
        );
        drop(held);
        waiter.join().unwrap();
        assert!(got.load(Ordering::SeqCst));
        // Shared locks of one chunk do not wait for each other.
        let _a = lock_chunk(dir.path(), 6, false).unwrap();
        drop(other);
    }
}
