//! A global allocator that keeps freed large blocks (chunks, halo-grown blocks, filter outputs)
//! for the next allocation of the same size, instead of handing them back to the system.
//!
//! Why: glibc gives every thread its own arena, and a thread arena's heap is at most 64 MiB.
//! The blocks of a pipeline are allocated by its reader, worker and writer threads, and freed
//! by others; a thread's blocks beyond its first heap go to new heaps, which glibc unmaps as
//! soon as they are empty. So every operation faulted its chunk buffers in again, page by page,
//! each fault a zeroed page. Limiting glibc to one arena keeps them, but makes every small
//! allocation of every thread take one lock. This pool only
//! sees blocks of at least [`MIN_BLOCK`] bytes — a few per chunk — and leaves the rest to glibc.
//!
//! Install it in an application with `#[global_allocator]`. It keeps nothing until
//! [`crate::tuning::install`] gives it room (budgets of 512 MiB and more), and
//! [`crate::memory::release_free_heap`] empties it. Without it installed everything works as
//! before, minus the reuse.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Blocks smaller than this go straight to the system allocator.
pub const MIN_BLOCK: usize = 1 << 20;

/// At most this many blocks are kept.
const SLOTS: usize = 128;

/// The bytes the pool may keep (0: keep nothing).
static CAPACITY: AtomicUsize = AtomicUsize::new(0);

static POOL: Mutex<Pool> = Mutex::new(Pool::new());

/// Freed blocks, oldest first.
struct Pool {
    blocks: [(usize, Layout); SLOTS],
    len: usize,
    bytes: usize,
}

// SAFETY: the pool owns the blocks it holds (addresses of freed allocations, not shared
// references); it is only used under its mutex.
unsafe impl Send for Pool {}

impl Pool {
    const fn new() -> Self {
        Pool {
            blocks: [(0, Layout::new::<u8>()); SLOTS],
            len: 0,
            bytes: 0,
        }
    }

    /// The most recently freed block of exactly `layout`, if any.
    fn take(&mut self, layout: Layout) -> Option<*mut u8> {
        let index = (0..self.len).rev().find(|&i| self.blocks[i].1 == layout)?;
        let (address, _) = self.blocks[index];
        self.blocks.copy_within(index + 1..self.len, index);
        self.len -= 1;
        self.bytes -= layout.size();
        Some(address as *mut u8)
    }

    /// Keeps `block`, handing the oldest blocks back to the system while the pool would hold
    /// more than `capacity` bytes or blocks; false (and nothing kept) when it alone is too big.
    ///
    /// # Safety
    /// `block` must be a block of the system allocator with `layout`, no longer used.
    unsafe fn put(&mut self, block: *mut u8, layout: Layout, capacity: usize) -> bool {
        if layout.size() > capacity {
            return false;
        }
        while self.len == SLOTS || self.bytes + layout.size() > capacity {
            self.pop_oldest();
        }
        self.blocks[self.len] = (block as usize, layout);
        self.len += 1;
        self.bytes += layout.size();
        true
    }

    /// Hands the oldest block back to the system.
    fn pop_oldest(&mut self) {
        if self.len == 0 {
            return;
        }
        let (address, layout) = self.blocks[0];
        self.blocks.copy_within(1..self.len, 0);
        self.len -= 1;
        self.bytes -= layout.size();
        // SAFETY: every kept block came from the system allocator with its layout and is
        // owned by the pool alone.
        unsafe { System.dealloc(address as *mut u8, layout) };
    }

    /// Hands blocks back, oldest first, until at most `bytes` are kept.
    fn shrink_to(&mut self, bytes: usize) {
        while self.bytes > bytes {
            self.pop_oldest();
        }
    }
}

/// True when a block of `layout` may be in the pool: large, and the pool may keep blocks (an
/// application without room never takes the pool's lock).
fn pooled(layout: Layout) -> bool {
    layout.size() >= MIN_BLOCK && CAPACITY.load(Ordering::Relaxed) > 0
}

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    // The pool's state is consistent between statements, so a poisoned lock is still usable
    // (and an allocator must not panic).
    POOL.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The system allocator, keeping freed blocks of at least [`MIN_BLOCK`] bytes for reuse (up to
/// the room [`crate::tuning::install`] gives).
///
/// ```
/// #[global_allocator]
/// static ALLOCATOR: chunkwise::tuning::KeepLargeBlocks = chunkwise::tuning::KeepLargeBlocks;
///
/// fn main() {
///     // An 8 GiB budget leaves room (512 MiB is the least that does).
///     chunkwise::tuning::install(8 << 30);
///     drop(vec![0f32; 1 << 20]);
///     assert_eq!(chunkwise::tuning::kept_block_bytes(), 4 << 20);
/// }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct KeepLargeBlocks;

// SAFETY: every block handed out is either fresh from `System` or a block `System` allocated
// with the same layout that was freed and is owned by the pool alone; blocks are given back to
// `System` with the layout they were allocated with.
unsafe impl GlobalAlloc for KeepLargeBlocks {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if pooled(layout) {
            if let Some(block) = pool().take(layout) {
                return block;
            }
        }
        // SAFETY: the caller's layout contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if pooled(layout) {
            if let Some(block) = pool().take(layout) {
                // SAFETY: the block has `layout.size()` bytes and is ours.
                unsafe { block.write_bytes(0, layout.size()) };
                return block;
            }
        }
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if layout.size() >= MIN_BLOCK {
            let capacity = CAPACITY.load(Ordering::Relaxed);
            // SAFETY: the caller gives up `block`, which `System` allocated with `layout`
            // (directly, or kept by the pool and handed out again).
            if capacity > 0 && unsafe { pool().put(block, layout, capacity) } {
                return;
            }
        }
        // SAFETY: as above.
        unsafe { System.dealloc(block, layout) }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: every block handed out is a `System` block with `layout`, so System may
        // resize it.
        unsafe { System.realloc(block, layout, new_size) }
    }
}

/// Lets the pool keep up to `bytes` of freed blocks (0: none), handing back what is beyond.
pub(crate) fn set_capacity(bytes: usize) {
    CAPACITY.store(bytes, Ordering::Relaxed);
    pool().shrink_to(bytes);
}

/// Hands kept blocks back to the system, oldest first, until at most `bytes` are kept.
pub(crate) fn shrink_to(bytes: usize) {
    pool().shrink_to(bytes);
}

/// Hands every kept block back to the system.
pub(crate) fn release() {
    shrink_to(0);
}

/// Bytes of freed blocks the [`KeepLargeBlocks`] pool holds.
pub fn kept_block_bytes() -> usize {
    pool().bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 64).unwrap()
    }

    /// A block of `size` bytes from the system allocator.
    fn block(size: usize) -> *mut u8 {
        // SAFETY: a non-zero size.
        let block = unsafe { System.alloc(layout(size)) };
        assert!(!block.is_null());
        block
    }

    #[test]
    fn a_kept_block_is_handed_out_again_for_the_same_layout_only() {
        let mut pool = Pool::new();
        let a = block(MIN_BLOCK);
        // SAFETY: `a` is a System block of this layout, given up here.
        assert!(unsafe { pool.put(a, layout(MIN_BLOCK), 4 * MIN_BLOCK) });
        assert_eq!(pool.bytes, MIN_BLOCK);
        assert_eq!(pool.take(layout(2 * MIN_BLOCK)), None);
        assert_eq!(
            pool.take(Layout::from_size_align(MIN_BLOCK, 128).unwrap()),
            None
        );
        assert_eq!(pool.take(layout(MIN_BLOCK)), Some(a));
        assert_eq!((pool.len, pool.bytes), (0, 0));
        assert_eq!(pool.take(layout(MIN_BLOCK)), None);
        // SAFETY: `a` was handed back to us.
        unsafe { System.dealloc(a, layout(MIN_BLOCK)) };
    }

    #[test]
    fn the_newest_block_is_reused_and_the_oldest_given_back_beyond_capacity() {
        let mut pool = Pool::new();
        let blocks: Vec<*mut u8> = (0..4).map(|_| block(MIN_BLOCK)).collect();
        for &b in &blocks {
            // SAFETY: System blocks of this layout, given up here.
            assert!(unsafe { pool.put(b, layout(MIN_BLOCK), 3 * MIN_BLOCK) });
        }
        // Three fit: the first went back to the system.
        assert_eq!((pool.len, pool.bytes), (3, 3 * MIN_BLOCK));
        assert_eq!(pool.take(layout(MIN_BLOCK)), Some(blocks[3]));
        assert_eq!(pool.take(layout(MIN_BLOCK)), Some(blocks[2]));
        // A block bigger than the capacity is refused and nothing is evicted for it.
        let big = block(4 * MIN_BLOCK);
        // SAFETY: as above; refused, so still ours.
        assert!(!unsafe { pool.put(big, layout(4 * MIN_BLOCK), 3 * MIN_BLOCK) });
        assert_eq!(pool.len, 1);
        pool.shrink_to(0);
        assert_eq!((pool.len, pool.bytes), (0, 0));
        // SAFETY: handed back by the pool or refused by it.
        unsafe {
            System.dealloc(big, layout(4 * MIN_BLOCK));
            System.dealloc(blocks[2], layout(MIN_BLOCK));
            System.dealloc(blocks[3], layout(MIN_BLOCK));
        }
    }

    #[test]
    fn at_most_slots_blocks_are_kept() {
        let mut pool = Pool::new();
        for _ in 0..SLOTS + 3 {
            // SAFETY: System blocks of this layout, given up here.
            assert!(unsafe { pool.put(block(MIN_BLOCK), layout(MIN_BLOCK), usize::MAX) });
        }
        assert_eq!((pool.len, pool.bytes), (SLOTS, SLOTS * MIN_BLOCK));
        pool.shrink_to(MIN_BLOCK);
        assert_eq!(pool.len, 1);
        pool.shrink_to(0);
    }
}
