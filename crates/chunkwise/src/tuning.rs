//! Process-wide tuning an application opts into (feature `tuning`): the allocator's handling
//! of chunk-sized blocks.
//!
//! Why apart: these settings change the whole process (glibc's thresholds, the global
//! allocator), pay on some machines more than others, and a library should not make them for
//! its users. An application that wants them makes one call at start and, for the block pool,
//! declares the allocator:
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: chunkwise::tuning::KeepLargeBlocks = chunkwise::tuning::KeepLargeBlocks;
//!
//! fn main() {
//!     chunkwise::tuning::install(8 << 30); // the memory budget's limit
//! }
//! ```
//!
//! Without them everything works the same, and freed chunk buffers go back to the system.

use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::block_pool::{kept_block_bytes, KeepLargeBlocks, MIN_BLOCK};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Whether [`install`] was called.
pub(crate) fn installed() -> bool {
    INSTALLED.load(Ordering::Relaxed)
}

/// Lets the allocator keep freed blocks of up to 32 MiB (chunks, halo-grown blocks) for reuse,
/// when the memory budget leaves room for them.
///
/// glibc serves blocks above 128 KiB with their own `mmap` and unmaps them when freed, so every
/// chunk buffer of a pipeline costs a page fault and a zeroed page per 4 KiB when it is next
/// written: for 128³ f32 chunks that was a fifth of a stencil pass's time. After this call
/// such blocks come from the heap, and up to `budget / 16` (at most 256 MiB) of freed memory per
/// allocator arena is kept instead of being handed back at once. Budgets under 512 MiB keep
/// glibc's defaults: there the kept blocks measurably raised the peak (1.2–1.3 × a 256 MiB
/// budget instead of 1.09 ×). Memory is still handed back by [`crate::memory::release_free_heap`].
///
/// Applications that install [`KeepLargeBlocks`] as their global allocator also let it keep up
/// to the same amount of freed blocks of at least [`MIN_BLOCK`] bytes (its docs say why glibc's
/// arenas alone do not keep them), so up to twice `keep` of free memory can be held in all.
/// Collective operations on a connection with a budget then trim the heap only beyond that.
/// For applications: call once at start with the budget's limit. glibc's part is a no-op on
/// other C libraries.
pub fn install(budget: u64) {
    INSTALLED.store(true, Ordering::Relaxed);
    let Some(keep) = crate::memory::freed_bytes_kept(budget) else {
        crate::block_pool::set_capacity(0);
        return;
    };
    crate::block_pool::set_capacity(usize::try_from(keep).unwrap_or(usize::MAX));
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; both values are within glibc's limits
    // (the mmap threshold's maximum is 32 MiB on 64-bit systems).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, keep as libc::c_int);
    }
}
