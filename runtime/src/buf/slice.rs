//! `Slice<B>`: a view of part of an owned buffer, itself an owned buffer.

use std::ops::{Bound, RangeBounds};

use super::{IoBuf, IoBufMut};

/// The bytes `begin..end` of an owned buffer, made by [`IoBuf::slice`]. A read into it
/// fills the view from `begin` and never writes outside it; a write sends the view's
/// initialized bytes. [`Slice::into_inner`] gives the whole buffer back.
#[derive(Debug)]
pub struct Slice<B> {
    buf: B,
    begin: usize,
    end: usize,
}

impl<B: IoBuf> Slice<B> {
    /// `range` of `buf`, within `buf.bytes_total()`.
    ///
    /// # Panics
    ///
    /// When the range is inverted or ends past `buf.bytes_total()`.
    pub(super) fn new(buf: B, range: impl RangeBounds<usize>) -> Slice<B> {
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n + 1,
            Bound::Excluded(&n) => n,
            Bound::Unbounded => buf.bytes_total(),
        };
        assert!(
            begin <= end && end <= buf.bytes_total(),
            "slice {begin}..{end} out of a buffer of capacity {}",
            buf.bytes_total()
        );
        Slice { buf, begin, end }
    }

    /// Where the view starts in the buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Where the view ends in the buffer.
    pub fn end(&self) -> usize {
        self.end
    }

    /// The whole buffer.
    pub fn get_ref(&self) -> &B {
        &self.buf
    }

    /// The whole buffer, mutably. Changing its initialized length changes the view's.
    pub fn get_mut(&mut self) -> &mut B {
        &mut self.buf
    }

    /// The whole buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }
}

// SAFETY: the view lies inside the buffer's `bytes_total` (checked in `new`), whose memory
// does not move (`B: IoBuf`); its initialized part is the buffer's, clipped to the view.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        // SAFETY: `begin <= bytes_total`, so the pointer stays inside (or one past) the
        // buffer's allocation.
        unsafe { self.buf.stable_ptr().add(self.begin) }
    }
    fn bytes_init(&self) -> usize {
        self.buf.bytes_init().clamp(self.begin, self.end) - self.begin
    }
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as for `IoBuf for Slice<B>`; the view's bytes are writable because the buffer's
// are (`B: IoBufMut`).
unsafe impl<B: IoBufMut> IoBufMut for Slice<B> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: as in `stable_ptr`.
        unsafe { self.buf.stable_mut_ptr().add(self.begin) }
    }
    unsafe fn set_init(&mut self, len: usize) {
        let init = self.buf.bytes_init();
        if init < self.begin {
            // The view starts past the buffer's initialized bytes: zero the gap so the
            // buffer's initialized prefix stays contiguous.
            // SAFETY: `init..begin` lies inside the buffer's writable `bytes_total`.
            unsafe {
                std::ptr::write_bytes(self.buf.stable_mut_ptr().add(init), 0, self.begin - init)
            };
        }
        // SAFETY: the caller initialized the view's first `len <= end - begin` bytes, and
        // the buffer's bytes before `begin` are initialized (above).
        unsafe { self.buf.set_init(self.begin + len) };
    }
}
