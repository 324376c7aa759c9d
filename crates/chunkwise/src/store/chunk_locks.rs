//! Chunk locks for stores of files: one hidden lock file per store, one byte of it per chunk.
//!
//! Every change of a chunk file takes the chunk's byte: a read-modify-write (`update_chunk`)
//! exclusively from its read to its rename, a blind replacement (`write_chunk`, a committed
//! chunk writer, `delete_chunk`) shared, around its rename only. A blind write therefore lands
//! before an update reads or after it renames, never in between, so no update puts a stale copy
//! back over it; blind writers do not wait for each other.
//!
//! The byte of a chunk is a fixed hash (FNV-1a, the same in every build) of the dataset's name
//! and the chunk's flat index, in `[0, 2^62)`: two chunks that share a byte only wait for each
//! other, which is never wrong and, with 2^62 bytes, practically never happens. One file for the
//! store, made once, costs no file creation per dataset (a file creation costs more than the
//! rest of a small dataset's creation).
//!
//! The locks are open-file-description locks (`F_OFD_SETLKW`): they exclude threads of one
//! process as well as processes, as long as each thread locks through its own open file
//! description — so every thread keeps its own descriptor of the lock file (opened once per
//! thread and store root; a thread holds at most one chunk lock at a time). A lock is released
//! by unlocking its byte, and by the kernel when the process dies. Opening the file for every
//! lock would cost an open and a close per chunk write; two `fcntl` calls cost nothing
//! measurable. They work on local file systems and on NFSv4 and Lustre mounts that support
//! POSIX locks. (Removing a store's directory while processes write to it leaves them locking
//! the removed file; that was never supported.)

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;

thread_local! {
    /// This thread's descriptors of the lock files of the stores it wrote to, by root.
    static LOCK_FILES: RefCell<HashMap<PathBuf, Rc<File>>> = RefCell::new(HashMap::new());
}

/// Name of the lock file in the store's root.
pub const LOCK_FILE: &str = ".chunkwise-locks";

/// A held chunk lock; dropping it releases the lock. It stays on the thread that took it.
#[derive(Debug)]
pub struct ChunkLock {
    file: Rc<File>,
    start: libc::off_t,
}

impl Drop for ChunkLock {
    fn drop(&mut self) {
        // An unlock cannot fail for a range this descriptor locked; the kernel releases it at
        // the latest when the process ends.
        let _ = set_lock(self.file.as_raw_fd(), libc::F_UNLCK, self.start);
    }
}

/// Sets the lock of byte `start` of `fd` to `kind` (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`), waiting.
fn set_lock(fd: RawFd, kind: libc::c_int, start: libc::off_t) -> std::io::Result<()> {
    // SAFETY: `flock` is a plain C struct for which all zeroes is a valid value.
    let mut range: libc::flock = unsafe { std::mem::zeroed() };
    range.l_type = kind as libc::c_short;
    range.l_whence = libc::SEEK_SET as libc::c_short;
    range.l_start = start;
    range.l_len = 1;
    loop {
        // SAFETY: `fd` is open (its `File` outlives the call), and `range` is a valid `flock`
        // the call only reads (l_pid is 0, as OFD locks require).
        if unsafe { libc::fcntl(fd, libc::F_OFD_SETLKW, &range) } == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// This thread's descriptor of the lock file of the store in `root` (made by the first lock of
/// the store, opened once per thread).
fn lock_file(root: &Path) -> std::io::Result<Rc<File>> {
    if let Some(file) = LOCK_FILES.with(|files| files.borrow().get(root).cloned()) {
        return Ok(file);
    }
    let path = root.join(LOCK_FILE);
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?,
        opened => opened?,
    };
    let file = Rc::new(file);
    LOCK_FILES.with(|files| {
        files
            .borrow_mut()
            .insert(root.to_path_buf(), Rc::clone(&file))
    });
    Ok(file)
}

/// The byte of chunk `flat` of dataset `name` in the lock file.
fn lock_byte(name: &str, flat: usize) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = name
        .bytes()
        .chain([0xff])
        .chain((flat as u64).to_le_bytes());
    let hash = bytes.fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    (hash >> 2) as i64
}

/// Takes the lock of the chunk with flat index `flat` of dataset `name` of the store in `root`,
/// waiting for it: `exclusive` for a read-modify-write, shared for a blind replacement.
///
/// # Errors
/// The I/O error of opening the lock file or of locking.
pub fn lock_chunk(
    root: &Path,
    name: &str,
    flat: usize,
    exclusive: bool,
) -> std::io::Result<ChunkLock> {
    let file = lock_file(root)?;
    let start = lock_byte(name, flat) as libc::off_t;
    let kind = if exclusive {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    };
    set_lock(file.as_raw_fd(), kind, start)?;
    Ok(ChunkLock { file, start })
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
        let held = lock_chunk(dir.path(), "d", 5, true).unwrap();
        let other = lock_chunk(dir.path(), "d", 6, false).unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (dir, got) = (dir.path().to_path_buf(), Arc::clone(&got));
            std::thread::spawn(move || {
                let _lock = lock_chunk(&dir, "d", 5, false).unwrap();
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
        let _a = lock_chunk(dir.path(), "d", 6, false).unwrap();
        // Another dataset's chunk of the same index is another byte.
        assert_ne!(lock_byte("d", 5), lock_byte("e", 5));
        assert_ne!(lock_byte("d", 5), lock_byte("d", 6));
        assert!(lock_byte("d", usize::MAX) >= 0);
        drop(other);
    }
}
