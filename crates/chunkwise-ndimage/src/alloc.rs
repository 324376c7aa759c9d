//! Output arrays that are cheap to fill.
//!
//! A new large array costs a page fault per 4 KiB page the first time it is written, a large
//! part of a fast filter's time. On Linux the
//! pages of large outputs are requested as transparent huge pages (`MADV_HUGEPAGE`, a hint) when
//! the application opts in (feature `tuning`): 512 times fewer faults, taken by the workers that
//! first write each part, in parallel. A hint about the process's memory is the application's
//! choice, not a library's.
//! (Mapping every page up front with `MADV_POPULATE_WRITE` does the zeroing on one thread.) The
//! array is a plain `Vec` with room for a pass that writes every element: it is not zeroed
//! first, since every element is written anyway.

use crate::element::FilterFloat;

/// Arrays smaller than this are left to the allocator.
#[cfg(all(target_os = "linux", feature = "tuning"))]
const LARGE: usize = 4 << 20;

/// An empty vector with room for `len` elements, backed by huge pages when large.
pub(crate) fn with_capacity<T: FilterFloat>(len: usize) -> Vec<T> {
    #[cfg(all(target_os = "linux", feature = "tuning"))]
    {
        let mut values = Vec::with_capacity(len);
        advise_huge(&mut values.spare_capacity_mut()[..len]);
        values
    }
    #[cfg(not(all(target_os = "linux", feature = "tuning")))]
    Vec::with_capacity(len)
}

#[cfg(all(target_os = "linux", feature = "tuning"))]
fn advise_huge<T>(values: &mut [T]) {
    let bytes = std::mem::size_of_val(values);
    if bytes < LARGE {
        return;
    }
    let start = values.as_mut_ptr() as usize;
    let end = start + bytes;
    let huge = 2usize << 20;
    let huge_start = start.div_ceil(huge) * huge;
    let huge_end = end / huge * huge;
    if huge_end > huge_start {
        // SAFETY: the range lies inside `values`, which this function borrows mutably; the
        // advice changes how the pages are backed, never their contents.
        unsafe {
            libc::madvise(
                huge_start as *mut libc::c_void,
                huge_end - huge_start,
                libc::MADV_HUGEPAGE,
            );
        }
    }
}
