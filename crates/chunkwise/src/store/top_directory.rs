//! Marks a store root the store creates as a "top directory" for ext2/3/4's inode allocator.
//!
//! Why: stores of chunk files (the DosNa directory, Zarr) keep one file per chunk under a
//! directory per dataset, and a benchmark sweep or an iterative
//! workflow deletes and creates thousands of them a second. On ext4 without a journal the inode
//! allocator skips every inode freed in the last minutes (up to six), reading its inode table
//! block to find that out; with all datasets in one block group, each new chunk file then pays
//! for a scan past every chunk file deleted before it (several times slower chunk writes;
//! BENCHMARKS.md). The `T` attribute (`chattr +T`,
//! `FS_TOPDIR_FL`) tells the allocator to spread the directory's subdirectories — the datasets —
//! over block groups with the most free inodes, where new files find free inodes at once.
//!
//! Best effort: other file systems, other systems, and a root the store did not create are left
//! alone, and a failure is ignored (the flag changes where inodes go, never what is stored).

use std::path::Path;

/// `FS_TOPDIR_FL` of linux/fs.h.
#[cfg(target_os = "linux")]
const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

/// Sets the top-directory flag on the directory `dir` (for a store root the store has just
/// created); `false` when it could not be set.
#[cfg(target_os = "linux")]
pub fn mark_top_directory(dir: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(dir) else {
        return false;
    };
    let fd = file.as_raw_fd();
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS/SETFLAGS read and write one int at the given address, which is a
    // live local; `fd` is open for the duration of the calls.
    unsafe {
        if libc::ioctl(fd, libc::FS_IOC_GETFLAGS, &mut flags) != 0 {
            return false;
        }
        if flags & FS_TOPDIR_FL != 0 {
            return true;
        }
        flags |= FS_TOPDIR_FL;
        libc::ioctl(fd, libc::FS_IOC_SETFLAGS, &flags) == 0
    }
}

/// Does nothing where the flag does not exist.
#[cfg(not(target_os = "linux"))]
pub fn mark_top_directory(_dir: &Path) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn flags(dir: &Path) -> Option<libc::c_int> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(dir).ok()?;
        let mut flags: libc::c_int = 0;
        let ok = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
        (ok == 0).then_some(flags)
    }

    #[test]
    fn the_flag_is_set_where_the_file_system_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let marked = mark_top_directory(dir.path());
        match flags(dir.path()) {
            // ext2/3/4 and others with inode flags: the flag is now set, and marking is idempotent.
            Some(now) if marked => {
                assert_ne!(now & FS_TOPDIR_FL, 0);
                assert!(mark_top_directory(dir.path()));
                assert_eq!(flags(dir.path()), Some(now));
            }
            // File systems without inode flags (tmpfs, overlayfs...) report failure and are left
            // as they were.
            before => assert_eq!(flags(dir.path()), before),
        }
        assert!(!mark_top_directory(&dir.path().join("missing")));
    }
}
