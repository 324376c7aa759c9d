//! The `KeepLargeBlocks` allocator installed as this test binary's global allocator: freed large
//! blocks are handed out again (zeroed when asked), only under budgets that leave room, and
//! handed back by the release functions.

use chunkwise::memory::{release_free_heap, release_free_heap_beyond};
use chunkwise::tuning::{
    install as keep_freed_blocks, kept_block_bytes, KeepLargeBlocks, MIN_BLOCK,
};

#[global_allocator]
static ALLOCATOR: KeepLargeBlocks = KeepLargeBlocks;

// One test function: the pool is process-wide, and the harness runs tests in parallel.
#[test]
fn freed_large_blocks_are_reused_within_the_budgets_room_and_released_on_demand() {
    let size = 3 * MIN_BLOCK;

    // Nothing is kept before a budget gives room.
    drop(vec![1u8; size]);
    assert_eq!(kept_block_bytes(), 0);

    keep_freed_blocks(16 << 30);
    let first = vec![1u8; size];
    let address = first.as_ptr();
    drop(first);
    assert_eq!(kept_block_bytes(), size);

    // A zeroed allocation of the same size gets the block back, zeroed.
    let zeroed = vec![0u8; size];
    assert_eq!(zeroed.as_ptr(), address);
    assert!(zeroed.iter().all(|&b| b == 0));
    assert_eq!(kept_block_bytes(), 0);
    drop(zeroed);

    // Small blocks are not kept; other sizes do not get the kept block.
    drop(vec![1u8; MIN_BLOCK - 1]);
    assert_eq!(kept_block_bytes(), size);
    let other = vec![2u8; size + 4096];
    assert_ne!(other.as_ptr(), address);
    assert_eq!(kept_block_bytes(), size);
    drop(other);
    assert_eq!(kept_block_bytes(), 2 * size + 4096);

    // Beyond `keep`, the oldest blocks go back.
    release_free_heap_beyond((size + 4096) as u64);
    assert_eq!(kept_block_bytes(), size + 4096);
    release_free_heap();
    assert_eq!(kept_block_bytes(), 0);

    // A budget without room (under 512 MiB) keeps nothing again.
    drop(vec![1u8; size]);
    assert_eq!(kept_block_bytes(), size);
    keep_freed_blocks(256 << 20);
    assert_eq!(kept_block_bytes(), 0);
    drop(vec![1u8; size]);
    assert_eq!(kept_block_bytes(), 0);
}
