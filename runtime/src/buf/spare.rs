//! Byte buffers for stream data a feed stashes (`gate.rs`), kept per thread for reuse.
//!
//! A fed stream's reader empties its stash at nearly every read, so each delivered receive
//! would otherwise cost one `malloc` and one `free` of a few dozen bytes. Under many
//! connections those frees arrive in bursts (one per CQE of a turn), fill glibc's fast
//! bins, and make the next large allocation (hyper's read buffer) consolidate them. Spare
//! buffers come from a short list per thread instead, are at least [`SIZE`] bytes (above
//! the fast bins), and go back to the list of whichever thread empties them.

use std::cell::RefCell;

/// The capacity of a new spare buffer.
const SIZE: usize = 1024;
/// Buffers larger than this are freed, not kept.
const KEEP_AT_MOST: usize = 16 * 1024;
/// Buffers a thread keeps.
const KEPT: usize = 64;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `len` bytes.
pub(crate) fn take(len: usize) -> Vec<u8> {
    let spare = SPARE
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    match spare {
        Some(mut buf) => {
            buf.reserve(len);
            buf
        }
        None => Vec::with_capacity(len.max(SIZE)),
    }
}

/// Keeps `buf` for a later [`take`] on this thread, unless the list is full or `buf` is
/// too large to hold on to.
pub(crate) fn give_back(mut buf: Vec<u8>) {
    if !(SIZE..=KEEP_AT_MOST).contains(&buf.capacity()) {
        return;
    }
    buf.clear();
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut() {
            if spare.len() < KEPT {
                spare.push(buf);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_reused_empty() {
        let mut buf = take(10);
        assert!(buf.capacity() >= SIZE);
        buf.extend_from_slice(b"hello");
        let ptr = buf.as_ptr();
        give_back(buf);
        let again = take(3);
        assert_eq!(again.as_ptr(), ptr, "the same allocation");
        assert!(again.is_empty());
    }

    #[test]
    fn large_and_small_buffers_are_not_kept() {
        give_back(Vec::with_capacity(KEEP_AT_MOST + 1));
        give_back(Vec::with_capacity(16));
        let fresh = take(0);
        assert_eq!(fresh.capacity(), SIZE, "nothing was kept");
    }
}
