//! Output arrays that are cheap to fill.
//!
//! A new large array costs a page fault per 4 KiB page the first time it is written — for a
//! 256³ f32 result that is 16 384 faults, about a third of the whole filter's time. On Linux the
//! pages of large outputs are instead requested as transparent huge pages and mapped in one call
//! (`MADV_HUGEPAGE`, `MADV_POPULATE_WRITE`); both are hints, and the array is a plain zeroed
//! `Vec` either way.

use crate::element::FilterFloat;

/// Arrays smaller than this are left to the allocator.
#[cfg(target_os = "linux")]
const LARGE: usize = 4 << 20;

/// A zeroed vector of `len` elements, its pages mapped up front when large.
pub(crate) fn zeroed<T: FilterFloat>(len: usize) -> Vec<T> {
    let mut values = vec![T::ZERO; len];
    #[cfg(target_os = "linux")]
    premap(&mut values);
    values
}

#[cfg(target_os = "linux")]
fn premap<T>(values: &mut [T]) {
    const MADV_POPULATE_WRITE: libc::c_int = 23; // Linux 5.14; older kernels return EINVAL.
    let bytes = std::mem::size_of_val(values);
    if bytes < LARGE {
        return;
    }
    let start = values.as_mut_ptr() as usize;
    let end = start + bytes;
    let huge = 2usize << 20;
    let page = 4096usize;
    let huge_start = start.div_ceil(huge) * huge;
    let huge_end = end / huge * huge;
    let page_start = start.div_ceil(page) * page;
    let page_end = end / page * page;
    // SAFETY: both ranges lie inside `values`, which this function borrows mutably; the advice
    // changes how the pages are backed, never their contents (they stay zero).
    unsafe {
        if huge_end > huge_start {
            libc::madvise(
                huge_start as *mut libc::c_void,
                huge_end - huge_start,
                libc::MADV_HUGEPAGE,
            );
        }
        if page_end > page_start {
            libc::madvise(
                page_start as *mut libc::c_void,
                page_end - page_start,
                MADV_POPULATE_WRITE,
            );
        }
    }
}
