//! Where a file-system store's hidden working entries live, so that those of a process that
//! died can be found and removed by the next store opened on the directory (the DosNa
//! directory and Zarr stores use it).
//!
//! Every store value has an owner tag, `<pid>-<start>-<n>@<host>`: its process's pid, that
//! process's start time (so a reused pid is not taken for a dead process) and its host (so a
//! store shared by several hosts only judges its own host's processes). Its hidden working
//! entries carry the tag: temporary chunk files beside their chunks (`.chunk-<tag>-<k>`),
//! datasets being created or deleted beside the datasets (`.creating-<tag>-<k>`), so every rename into place stays within one directory (a
//! rename across directories took twice as long here). The tag also names a directory,
//! `<root>/.chunkwise-tmp/<tag>`, made before the first such entry, that holds the template
//! scratch files and tells that the owner may have left entries behind. Opening a store looks
//! there: for every owner of this host that no longer runs, it removes the entries with its
//! tag (the root's and, by reading each dataset's directory, the chunks'), then the directory.
//! Dropping a store removes its own directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The folder under the root that holds the work areas.
pub const WORK_DIR: &str = ".chunkwise-tmp";

static INSTANCES: AtomicU64 = AtomicU64::new(0);
static NAMES: AtomicU64 = AtomicU64::new(0);

/// This host's name, as the kernel has it (the UTS namespace's, for emulated hosts).
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_default()
}

/// Whether the process `pid` started at `start` still runs.
fn alive(pid: u32, start: u64) -> bool {
    crate::process::start_time(pid) == Some(start)
}

/// The pid, start time and host a work area's name gives.
fn owner_of(name: &str) -> Option<(u32, u64, &str)> {
    let (process, host) = name.rsplit_once('@')?;
    let mut parts = process.split('-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    Some((pid, start, host))
}

/// One store value's owner tag and directory (made on first use).
#[derive(Debug)]
pub struct WorkArea {
    root: PathBuf,
    /// The owner tag, `<pid>-<start>-<n>@<host>`.
    name: String,
    made: OnceLock<PathBuf>,
}

impl WorkArea {
    /// The work area of a new store value on `root` (nothing is created yet).
    pub fn new(root: &Path) -> WorkArea {
        let pid = std::process::id();
        let start = crate::process::start_time(pid).unwrap_or(0);
        let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
        WorkArea {
            root: root.to_path_buf(),
            name: format!("{pid}-{start}-{n}@{}", host_name()),
            made: OnceLock::new(),
        }
    }

    /// The owner's directory, made on the first call.
    fn dir(&self) -> std::io::Result<&Path> {
        if let Some(dir) = self.made.get() {
            return Ok(dir);
        }
        let dir = self.root.join(WORK_DIR).join(&self.name);
        make_dir(&dir)?;
        Ok(self.made.get_or_init(|| dir))
    }

    /// A new unique hidden path beside `target`, tagged with this owner, for an entry made for
    /// `purpose` (`chunk`, `creating`, `deleting`); the owner's directory is made first, so
    /// that a sweep finds the owner.
    ///
    /// # Errors
    /// The I/O error of making the owner's directory.
    pub fn sibling(&self, target: &Path, purpose: &str) -> std::io::Result<PathBuf> {
        self.dir()?;
        let n = NAMES.fetch_add(1, Ordering::Relaxed);
        // Without the target's name: a dataset name may take all 255 bytes a name can have.
        Ok(target.with_file_name(format!(".{purpose}-{}-{n}", self.name)))
    }

    /// A new unique path in the owner's directory, for an entry made for `purpose` (template
    /// scratch files).
    ///
    /// # Errors
    /// The I/O error of making the directory.
    pub fn path(&self, purpose: &str) -> std::io::Result<PathBuf> {
        let n = NAMES.fetch_add(1, Ordering::Relaxed);
        Ok(self.dir()?.join(format!("{purpose}-{n}")))
    }
}

/// Makes `dir` and its parent `.chunkwise-tmp`, which another process may remove (when it is
/// empty) between the two: the parent is made again then.
fn make_dir(dir: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match fs::create_dir_all(dir) {
            // Another process removed the empty parent between the two steps: again (each
            // time it does, it has made progress, so this ends; the bound only guards a bug).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 100_000 => {
                tries += 1;
                std::thread::yield_now();
            }
            done => return done,
        }
    }
}

impl Drop for WorkArea {
    fn drop(&mut self) {
        if let Some(dir) = self.made.get() {
            let _ = fs::remove_dir_all(dir);
            // The folder of work areas goes too once the last one has.
            let _ = fs::remove_dir(self.root.join(WORK_DIR));
        }
    }
}

/// Removes what processes of this host that died left under `root`: their work areas and the
/// hidden entries tagged with them, at any depth below `root`. Best effort: what cannot be
/// removed stays for the next time.
pub fn sweep_dead(root: &Path) {
    let host = host_name();
    if let Ok(entries) = fs::read_dir(root.join(WORK_DIR)) {
        let mut dead = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((pid, start, owner_host)) = owner_of(&name) {
                if owner_host == host && !alive(pid, start) {
                    dead.push((format!("-{name}-"), entry.path()));
                }
            }
        }
        if !dead.is_empty() {
            remove_tagged(root, &dead);
        }
        for (_, area) in dead {
            let _ = fs::remove_dir_all(area);
        }
        let _ = fs::remove_dir(root.join(WORK_DIR));
    }
}

/// Removes the hidden entries carrying one of the `dead` tags (`-<tag>-`) from `dir` and from
/// every directory below it that is not hidden.
fn remove_tagged(dir: &Path, dead: &[(String, PathBuf)]) {
    let tagged =
        |name: &str| name.starts_with('.') && dead.iter().any(|(tag, _)| name.contains(tag));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if tagged(&name) {
            let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
        } else if !name.starts_with('.') && entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tagged(&path, dead);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_directories_are_made_while_others_remove_the_empty_parent() {
        let root = tempfile::tempdir().unwrap();
        let remover = {
            let parent = root.path().join(WORK_DIR);
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    let _ = fs::remove_dir(&parent);
                }
            })
        };
        for i in 0..2000 {
            make_dir(&root.path().join(WORK_DIR).join(format!("owner-{i}"))).unwrap();
            fs::remove_dir(root.path().join(WORK_DIR).join(format!("owner-{i}"))).unwrap();
        }
        remover.join().unwrap();
    }

    #[test]
    fn names_say_their_owner() {
        let area = WorkArea::new(Path::new("/nowhere"));
        let (pid, start, host) = owner_of(&area.name).unwrap();
        assert_eq!(pid, std::process::id());
        assert!(alive(pid, start));
        assert!(!alive(pid, start + 1));
        assert_eq!(host, host_name());
    }

    #[test]
    fn areas_of_dead_processes_are_swept_live_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let area = WorkArea::new(root.path());
        let mine = area.path("chunk").unwrap();
        fs::write(&mine, b"x").unwrap();
        // A dead process: pid 1's start time plus one is nobody's.
        let start = crate::process::start_time(1).unwrap_or(0) + 1;
        let dead = root
            .path()
            .join(WORK_DIR)
            .join(format!("1-{start}-0@{}", host_name()));
        fs::create_dir_all(dead.join("creating-3")).unwrap();
        // Another host's process is not judged here.
        let other = root
            .path()
            .join(WORK_DIR)
            .join(format!("1-{start}-0@elsewhere"));
        fs::create_dir_all(&other).unwrap();
        // Its entries: a dataset half created, a temporary chunk; and this process's.
        let tag = format!("1-{start}-0@{}", host_name());
        let creating = root.path().join(format!(".creating-{tag}-7"));
        fs::create_dir_all(&creating).unwrap();
        fs::create_dir_all(root.path().join("vol")).unwrap();
        let chunk = root.path().join(format!("vol/.chunk-{tag}-8"));
        fs::write(&chunk, b"x").unwrap();
        let live_chunk = area
            .sibling(&root.path().join("vol/chunk_1.h5"), "chunk")
            .unwrap();
        fs::write(&live_chunk, b"x").unwrap();
        fs::write(root.path().join("vol/chunk_0.h5"), b"x").unwrap();
        // Deeper, as in a Zarr array's chunk directories.
        fs::create_dir_all(root.path().join("arr/c/0/1")).unwrap();
        let deep = root.path().join(format!("arr/c/0/1/.chunk-{tag}-9"));
        fs::write(&deep, b"x").unwrap();
        sweep_dead(root.path());
        assert!(mine.exists());
        assert!(!dead.exists());
        assert!(other.exists());
        assert!(!creating.exists() && !chunk.exists() && !deep.exists());
        assert!(live_chunk.exists() && root.path().join("vol/chunk_0.h5").exists());
        drop(area);
        assert!(!mine.exists());
    }
}
