//! Reading raw elements of chunk files straight into place: for stores whose chunk files hold
//! a chunk's elements as they lie in memory (after a header or not), so a read is one `pread`
//! and no copy.

use std::fs::File;
use std::mem::MaybeUninit;

use crate::dtype::Element;

/// Most buffers one `preadv` call takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// Reads consecutive bytes of `file` from `offset` into the `pieces` of `target` (`(at, count)`
/// in elements of `size` bytes, within `target`), as few `preadv` calls as the pieces allow.
///
/// # Errors
/// Any I/O error, and `UnexpectedEof` when the file ends before the pieces are filled.
///
/// # Panics
/// When a piece lies outside `target` (callers check with `check_run_pieces`).
pub fn read_scattered_at(
    file: &File,
    mut offset: u64,
    size: usize,
    pieces: &[(usize, usize)],
    target: &mut [MaybeUninit<u8>],
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let base = target.as_mut_ptr().cast::<u8>();
    let mut buffers: Vec<libc::iovec> = pieces
        .iter()
        .filter(|&&(_, count)| count > 0)
        .map(|&(at, count)| {
            assert!(
                (at + count) * size <= target.len(),
                "pieces lie in the target"
            );
            libc::iovec {
                // SAFETY: `at * size` is within `target` (checked just above).
                iov_base: unsafe { base.add(at * size) }.cast::<libc::c_void>(),
                iov_len: count * size,
            }
        })
        .collect();
    let mut next = 0;
    while next < buffers.len() {
        let batch = &buffers[next..buffers.len().min(next + IOV_MAX)];
        // SAFETY: every buffer lies within `target`, which is borrowed mutably for this call;
        // the kernel writes bytes into them, no Rust reference to uninitialised memory is made.
        let got = unsafe {
            libc::preadv(
                file.as_raw_fd(),
                batch.as_ptr(),
                batch.len() as libc::c_int,
                offset as libc::off_t,
            )
        };
        match got {
            n if n > 0 => {
                offset += n as u64;
                let mut left = n as usize;
                // Skip the buffers filled; a partly filled one starts where the read stopped.
                while left > 0 && next < buffers.len() {
                    let buffer = &mut buffers[next];
                    let take = left.min(buffer.iov_len);
                    // SAFETY: `take` ≤ the buffer's length: the new start stays within it.
                    buffer.iov_base = unsafe { buffer.iov_base.cast::<u8>().add(take) }.cast();
                    buffer.iov_len -= take;
                    left -= take;
                    if buffer.iov_len == 0 {
                        next += 1;
                    }
                }
            }
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "chunk file ends early",
                ))
            }
            _ => {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    Ok(())
}

/// Reads `len` elements from `file` at byte `offset` into a new vector, without first zeroing
/// its memory.
///
/// # Errors
/// Any I/O error, and `UnexpectedEof` when the file ends before `len` elements.
pub fn read_elements_at<T: Element>(
    file: &File,
    offset: u64,
    len: usize,
) -> std::io::Result<Vec<T>> {
    use std::os::fd::AsRawFd;
    let mut values: Vec<T> = Vec::with_capacity(len);
    let total = len * std::mem::size_of::<T>();
    let base = values.as_mut_ptr().cast::<u8>();
    let mut done = 0usize;
    while done < total {
        let at = offset + done as u64;
        // SAFETY: `base + done .. base + total` lies in the vector's allocation (capacity `len`);
        // the kernel writes bytes into it, no Rust reference to uninitialised memory is made.
        let got = unsafe {
            libc::pread(
                file.as_raw_fd(),
                base.add(done).cast::<libc::c_void>(),
                total - done,
                at as libc::off_t,
            )
        };
        match got {
            n if n > 0 => done += n as usize,
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("chunk file ends {} bytes early", total - done),
                ))
            }
            _ => {
                let error = std::io::Error::last_os_error();
                if error.kind() != std::io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    // SAFETY: all `total` bytes were written by `pread`, and any bit pattern is a valid `T`.
    unsafe { values.set_len(len) };
    Ok(values)
}
