//! A memory budget, and arrays that live in RAM while they fit it and in memory-mapped temporary
//! files when they do not — so a large read or buffer degrades to disk speed instead of failing
//! or being killed by the kernel.
//!
//! Reservations are counted against the budget and returned when dropped. A mapped array's file
//! lives in the configured temporary directory as `chunkwise-mmap-<pid>-<n>.tmp` and is removed
//! when the array is dropped; files left by a process that crashed are removed by the next
//! [`MemoryBudget::new`] in the same directory.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use memmap2::MmapMut;
use ndarray::{ArrayViewD, ArrayViewMutD, IxDyn};

use crate::config::Config;
use crate::dtype::Element;
use crate::error::{Error, Result};

const PREFIX: &str = "chunkwise-mmap-";

static FILE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How many bytes may be held in memory, and where larger arrays go.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: Mutex<u64>,
    temp_dir: PathBuf,
    temp_limit: Option<u64>,
    temp_used: Mutex<u64>,
}

/// Bytes of a budget held until dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(self.bytes);
    }
}

/// An N-d array in RAM or in a memory-mapped temporary file.
#[derive(Debug)]
pub struct BudgetArray<T: Element> {
    shape: Vec<usize>,
    storage: Storage<T>,
}

#[derive(Debug)]
enum Storage<T> {
    Ram {
        values: Vec<T>,
        _reservation: Reservation,
    },
    Mapped {
        map: MmapMut,
        path: PathBuf,
        budget: Arc<MemoryBudget>,
        bytes: u64,
    },
}

impl<T: Element> Drop for BudgetArray<T> {
    fn drop(&mut self) {
        if let Storage::Mapped {
            path,
            budget,
            bytes,
            ..
        } = &self.storage
        {
            let _ = std::fs::remove_file(path);
            let mut used = budget.temp_used.lock().unwrap_or_else(|p| p.into_inner());
            *used = used.saturating_sub(*bytes);
        }
    }
}

impl<T: Element> BudgetArray<T> {
    /// The array's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// True when the array lives in a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.storage, Storage::Mapped { .. })
    }

    /// The file of a mapped array.
    pub fn path(&self) -> Option<&Path> {
        match &self.storage {
            Storage::Mapped { path, .. } => Some(path),
            Storage::Ram { .. } => None,
        }
    }

    fn slice(&self) -> &[T] {
        match &self.storage {
            Storage::Ram { values, .. } => values,
            // SAFETY: the map is page-aligned (aligned for every element type), holds exactly
            // `len · size_of::<T>()` bytes, starts zeroed (a valid value of every element type)
            // and is only reached through this array's borrows.
            Storage::Mapped { map, .. } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().cast::<T>(), self.shape.iter().product())
            },
        }
    }

    fn slice_mut(&mut self) -> &mut [T] {
        let len = self.shape.iter().product();
        match &mut self.storage {
            Storage::Ram { values, .. } => values,
            // SAFETY: as in `slice`, with the exclusive borrow of `self`.
            Storage::Mapped { map, .. } => unsafe {
                std::slice::from_raw_parts_mut(map.as_mut_ptr().cast::<T>(), len)
            },
        }
    }

    /// Drops this process's resident pages of a mapped array; the values stay in its file and
    /// are paged in again when touched. Code that walks a mapped array piece by piece calls it
    /// between pieces, so the process's resident memory stays near one piece instead of growing
    /// to the whole array. Does nothing for an array in RAM.
    pub fn release_resident(&self) {
        if let Storage::Mapped { map, .. } = &self.storage {
            // SAFETY: the map is a shared mapping of a file, for which MADV_DONTNEED only
            // unmaps pages: their contents are kept in the page cache and the file, and the next
            // access reads them back, so no value visible through this array changes.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }

    /// The array's axis 0 cut into pieces of about `bytes` (at least one row each), as
    /// (first row, rows): the walk that [`BudgetArray::release_resident`] is called between.
    /// Empty for a 0-d array.
    pub fn row_pieces(&self, bytes: u64) -> impl Iterator<Item = (usize, usize)> {
        let rows = self.shape.first().copied().unwrap_or(0);
        let row_bytes = self.shape.iter().skip(1).product::<usize>() * std::mem::size_of::<T>();
        let step = ((bytes / row_bytes.max(1) as u64) as usize).max(1);
        (0..rows)
            .step_by(step)
            .map(move |first| (first, step.min(rows - first)))
    }

    /// A view of the array.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        ArrayViewD::from_shape(IxDyn(&self.shape), self.slice())
            .expect("storage holds one element per index")
    }

    /// A mutable view of the array.
    pub fn view_mut(&mut self) -> ArrayViewMutD<'_, T> {
        let shape = self.shape.clone();
        ArrayViewMutD::from_shape(IxDyn(&shape), self.slice_mut())
            .expect("storage holds one element per index")
    }
}

/// Whether process `pid` is running (Linux: its /proc entry exists).
/// Removes `chunkwise-mmap-<pid>-*.tmp` files of processes that are gone; returns how many.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id()
            && !crate::process::running(pid)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Free bytes of the file system holding `dir`, as the file system itself says (statvfs: also
/// right for tmpfs, NFS and quota-limited mounts), or `None` when it cannot be asked.
pub fn free_disk_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `statvfs` is a plain C struct for which all zeroes is valid; the call writes it
    // and reads only the NUL-terminated path.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Whether `bytes` of working memory proportional to user input can be had: within the free
/// part of `budget`, or without a budget, by asking the allocator for them (and giving them
/// back). `Err` holds the bytes that are free (0 when the allocator refused).
pub(crate) fn room_for(budget: Option<&MemoryBudget>, bytes: u64) -> std::result::Result<(), u64> {
    match budget {
        Some(budget) if bytes > budget.available() => Err(budget.available()),
        Some(_) => Ok(()),
        None => {
            let mut probe: Vec<u8> = Vec::new();
            match usize::try_from(bytes).map(|n| probe.try_reserve_exact(n)) {
                Ok(Ok(())) => Ok(()),
                _ => Err(0),
            }
        }
    }
}

/// Reserves `bytes` of disk for `file` (so pages of a mapped file never meet a full file
/// system, which would end the process with SIGBUS).
fn reserve_disk(file: &File, bytes: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let len = libc::off_t::try_from(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "file too large"))?;
    // SAFETY: the descriptor is open for as long as `file` lives.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        code => Err(std::io::Error::from_raw_os_error(code)),
    }
}

/// Hands the allocator's free memory back to the system.
///
/// Blocks of a collective operation are allocated and freed on many threads; glibc keeps freed
/// blocks in per-thread arenas for reuse, so without this a process's resident memory grows
/// past its budget over repeated operations even though nothing is live. Collective operations
/// on a connection with a budget call [`release_free_heap_beyond`] at their end, which keeps
/// what [`free_heap_kept`] allows. Also empties the `KeepLargeBlocks` pool (`chunkwise::tuning`). glibc's part is a
/// no-op on other C libraries.
pub fn release_free_heap() {
    #[cfg(feature = "tuning")]
    crate::block_pool::release();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns unused memory of glibc's arenas; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// [`release_free_heap`], but only of what is beyond `keep` bytes: the `KeepLargeBlocks` pool (`chunkwise::tuning`)
/// is shrunk to `keep` bytes, and glibc's free memory (over all arenas) handed back if it is
/// more than `keep` bytes.
///
/// Memory handed back is faulted in and zeroed again by the next operation: on a virtual
/// machine that reports free memory to its host, at host-fault speed. For a single-chunk 128³
/// stencil pass that was about half of the pass's time (0.017 s a pass, against 0.008 s in
/// read, compute and write).
pub fn release_free_heap_beyond(keep: u64) {
    #[cfg(feature = "tuning")]
    crate::block_pool::shrink_to(usize::try_from(keep).unwrap_or(usize::MAX));
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallinfo2 only reads the arenas' statistics under their locks; malloc_trim only
    // returns unused memory. Neither has preconditions.
    unsafe {
        if libc::mallinfo2().fordblks as u64 <= keep {
            return;
        }
        libc::malloc_trim(0);
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = keep;
}

/// The free heap memory a connection with `budget` keeps between operations: what the
/// allocator was let keep (`chunkwise::tuning::install`, feature `tuning`), nothing under
/// budgets below 512 MiB or without it.
pub fn free_heap_kept(budget: &MemoryBudget) -> u64 {
    #[cfg(feature = "tuning")]
    if crate::tuning::installed() {
        return freed_bytes_kept(budget.limit()).unwrap_or(0);
    }
    let _ = budget;
    0
}

/// The free memory the allocator may keep per arena under `budget`, if any (see
/// `chunkwise::tuning::install`).
#[cfg(feature = "tuning")]
pub(crate) fn freed_bytes_kept(budget: u64) -> Option<u64> {
    let keep = (budget / 16).min(256 << 20);
    (keep >= 32 << 20).then_some(keep)
}

impl MemoryBudget {
    /// A budget of `limit` bytes; arrays beyond it go to `temp_dir`, at most `temp_limit` bytes
    /// of them (`None`: the free space there). Removes files crashed processes left in
    /// `temp_dir`.
    pub fn new(limit: u64, temp_dir: PathBuf, temp_limit: Option<u64>) -> Arc<Self> {
        remove_stale_temp_files(&temp_dir);
        Arc::new(MemoryBudget {
            limit,
            used: Mutex::new(0),
            temp_dir,
            temp_limit,
            temp_used: Mutex::new(0),
        })
    }

    /// The budget of a configuration: `max_memory × memory_usage`, its temp dir and limit.
    ///
    /// # Errors
    /// When the machine's memory size cannot be read.
    pub fn from_config(config: &Config) -> Result<Arc<Self>> {
        Self::from_config_per_rank(config, 1)
    }

    /// The budget of one of `ranks_on_node` processes on a node
    /// ([`Config::budget_bytes_per_rank`]): without `max_memory`, the ranks share the node's
    /// memory.
    ///
    /// # Errors
    /// When the machine's memory size cannot be read.
    pub fn from_config_per_rank(config: &Config, ranks_on_node: usize) -> Result<Arc<Self>> {
        Ok(MemoryBudget::new(
            config.budget_bytes_per_rank(ranks_on_node)?,
            config.temp_dir(),
            config.max_temp_storage,
        ))
    }

    /// Bytes of the budget.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Where arrays over the budget go (memory-mapped temporary files).
    pub fn temp_dir(&self) -> &Path {
        &self.temp_dir
    }

    /// Bytes not reserved.
    pub fn available(&self) -> u64 {
        self.limit
            .saturating_sub(*self.used.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reserves `bytes` if they fit the rest of the budget.
    pub fn reserve(self: &Arc<Self>, bytes: u64) -> Option<Reservation> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.saturating_add(bytes) > self.limit {
            return None;
        }
        *used += bytes;
        Some(Reservation {
            budget: Arc::clone(self),
            bytes,
        })
    }

    /// A zeroed array of `shape`: in RAM if it fits the rest of the budget, else in a
    /// memory-mapped temporary file.
    ///
    /// # Errors
    /// [`Error::OutOfMemory`] with the sizes when it fits neither; [`Error::Io`] when the
    /// temporary file cannot be made.
    pub fn alloc_array<T: Element>(self: &Arc<Self>, shape: &[usize]) -> Result<BudgetArray<T>> {
        let len = shape
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .filter(|len| len.checked_mul(std::mem::size_of::<T>()).is_some());
        let Some(len) = len else {
            return Err(Error::OutOfMemory {
                asked: u64::MAX,
                memory_free: self.available(),
                temp_free: 0,
                temp_dir: self.temp_dir.clone(),
            });
        };
        let bytes = (len * std::mem::size_of::<T>()) as u64;
        if let Some(reservation) = self.reserve(bytes) {
            let storage = Storage::Ram {
                values: vec![T::default(); len],
                _reservation: reservation,
            };
            return Ok(BudgetArray {
                shape: shape.to_vec(),
                storage,
            });
        }
        let temp_free = {
            let used = *self.temp_used.lock().unwrap_or_else(|p| p.into_inner());
            let limit = self.temp_limit.unwrap_or_else(|| {
                free_disk_space(&self.temp_dir)
                    .unwrap_or(0)
                    .saturating_add(used)
            });
            limit.saturating_sub(used)
        };
        if bytes > temp_free {
            return Err(Error::OutOfMemory {
                asked: bytes,
                memory_free: self.available(),
                temp_free,
                temp_dir: self.temp_dir.clone(),
            });
        }
        let n = FILE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self
            .temp_dir
            .join(format!("{PREFIX}{}-{n}.tmp", std::process::id()));
        let file: File = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        // The space is reserved before the file is mapped: a temp dir too small (a tmpfs, a
        // quota) is then this error, not a SIGBUS when a page is first written.
        let mapped = reserve_disk(&file, bytes.max(1)).and_then(|()| {
            // SAFETY: the file was just created by this process under a unique name and is only
            // reached through this map.
            unsafe { MmapMut::map_mut(&file) }
        });
        let map = match mapped {
            Ok(map) => map,
            Err(e)
                if e.raw_os_error() == Some(libc::ENOSPC)
                    || e.raw_os_error() == Some(libc::EDQUOT) =>
            {
                let _ = std::fs::remove_file(&path);
                return Err(Error::OutOfMemory {
                    asked: bytes,
                    memory_free: self.available(),
                    temp_free: free_disk_space(&self.temp_dir).unwrap_or(0),
                    temp_dir: self.temp_dir.clone(),
                });
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(Error::io(&path, e));
            }
        };
        *self.temp_used.lock().unwrap_or_else(|p| p.into_inner()) += bytes;
        Ok(BudgetArray {
            shape: shape.to_vec(),
            storage: Storage::Mapped {
                map,
                path,
                budget: Arc::clone(self),
                bytes,
            },
        })
    }
}

/// Releases the allocator's free memory beyond what the budget keeps ([`free_heap_kept`]) every
/// time blocks of about an eighth of the budget have gone through an operation; does nothing
/// without a budget.
#[derive(Debug)]
pub(crate) struct HeapTrim {
    every: Option<u64>,
    keep: u64,
    done: AtomicU64,
}

impl HeapTrim {
    /// For an operation whose blocks weigh `block_bytes` each.
    pub(crate) fn new(budget: Option<&Arc<MemoryBudget>>, block_bytes: u64) -> Self {
        HeapTrim {
            every: budget.map(|b| (b.limit() / 8 / block_bytes.max(1)).max(1)),
            keep: budget.map_or(0, |b| free_heap_kept(b)),
            done: AtomicU64::new(0),
        }
    }

    /// Counts one block done, releasing free memory when it is time.
    pub(crate) fn block_done(&self) {
        if let Some(every) = self.every {
            if (self.done.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(every) {
                release_free_heap_beyond(self.keep);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::freed_bytes_kept;

    #[test]
    fn freed_blocks_are_kept_only_under_budgets_with_room_for_them() {
        const MIB: u64 = 1 << 20;
        assert_eq!(freed_bytes_kept(256 * MIB), None);
        assert_eq!(freed_bytes_kept(511 * MIB), None);
        assert_eq!(freed_bytes_kept(512 * MIB), Some(32 * MIB));
        assert_eq!(freed_bytes_kept(1024 * MIB), Some(64 * MIB));
        assert_eq!(freed_bytes_kept(22 * 1024 * MIB), Some(256 * MIB));
    }
}
