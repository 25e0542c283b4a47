//! Buffers the kernel may read from or write into while an op is in flight.
//!
//! # Buffer ownership
//!
//! An owned-buffer call takes its buffer by value and gives it back with the result
//! ([`BufResult`]), even on error, so the caller cannot touch memory the kernel is using.
//! The kernel reads only the buffer's initialized bytes ([`IoBuf::bytes_init`]) and writes
//! only inside its capacity ([`IoBuf::bytes_total`]); for a [`Slice`] that is the view,
//! never the bytes around it. If the future is dropped before the op's final completion,
//! the buffer stays with the ring and is freed only after that completion: the kernel
//! never writes into freed memory.
//!
//! Implemented for `Vec<u8>`, `Box<[u8]>`, [`bytes::Bytes`] (read-only), [`bytes::BytesMut`],
//! `&'static [u8]` (read-only), [`AlignedBuf`] (for `O_DIRECT`), and a [`Slice`] of any of
//! them (`buf.slice(a..b)`; `Bytes` has its own `slice`, which is a view too).

mod aligned;
mod provided;
mod slice;
pub(crate) mod spare;
mod view;

pub use aligned::AlignedBuf;
#[doc(hidden)]
pub use provided::ProvidedBufs;
pub use slice::Slice;
pub use view::{as_slice, fill};

/// The result of an owned-buffer op: the outcome and the buffer, always returned.
pub type BufResult<T, B> = (std::io::Result<T>, B);

/// A buffer whose bytes the kernel may read during an op.
///
/// # Safety
///
/// `stable_ptr` must point to `bytes_init` initialized bytes (and `bytes_total` bytes of
/// capacity) that stay at the same address when the value is moved, and stay valid until
/// it is dropped. Heap buffers (`Vec<u8>`, `Box<[u8]>`) qualify; inline arrays do not.
pub unsafe trait IoBuf: Send + 'static {
    /// The start of the buffer.
    fn stable_ptr(&self) -> *const u8;
    /// Initialized bytes: what a write sends.
    fn bytes_init(&self) -> usize;
    /// Capacity: how much a read may fill.
    fn bytes_total(&self) -> usize;

    /// A view of `range` of this buffer (within its capacity), itself an owned buffer.
    ///
    /// # Panics
    ///
    /// When the range is inverted or ends past `bytes_total()`.
    fn slice(self, range: impl std::ops::RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        Slice::new(self, range)
    }
}

/// A buffer the kernel may write into during an op.
///
/// # Safety
///
/// As for [`IoBuf`], and `stable_mut_ptr` must point to `bytes_total` writable bytes.
pub unsafe trait IoBufMut: IoBuf {
    /// The start of the buffer, writable.
    fn stable_mut_ptr(&mut self) -> *mut u8;
    /// Marks the first `len` bytes initialized after the kernel wrote them.
    ///
    /// # Safety
    ///
    /// The first `len` bytes must have been initialized, and `len <= bytes_total()`.
    unsafe fn set_init(&mut self, len: usize);
}

/// `IoBuf` + `IoBufMut` for a growable buffer whose heap memory stays put when the value
/// moves: `len` bytes initialized, `capacity` allocated and writable.
macro_rules! growable {
    ($($ty:ty),*) => {$(
        // SAFETY: the heap allocation does not move when the value moves and lives until
        // it is dropped; `len` bytes are initialized and `capacity` are allocated.
        unsafe impl IoBuf for $ty {
            fn stable_ptr(&self) -> *const u8 {
                self.as_ptr()
            }
            fn bytes_init(&self) -> usize {
                self.len()
            }
            fn bytes_total(&self) -> usize {
                self.capacity()
            }
        }

        // SAFETY: as for `IoBuf`; the spare capacity is writable and owned by the value.
        unsafe impl IoBufMut for $ty {
            fn stable_mut_ptr(&mut self) -> *mut u8 {
                self.as_mut_ptr()
            }
            unsafe fn set_init(&mut self, len: usize) {
                if self.len() < len {
                    // SAFETY: the caller guarantees `len <= capacity` bytes are initialized.
                    unsafe { self.set_len(len) };
                }
            }
        }
    )*};
}

/// `IoBuf` for a buffer of fixed length whose memory stays put when the value moves and
/// is all initialized.
macro_rules! fixed {
    ($($ty:ty),*) => {$(
        // SAFETY: a boxed slice's heap memory, a `Bytes`'s shared heap or static memory and
        // static memory do not move with the value and live while it does; all `len`
        // bytes are initialized.
        unsafe impl IoBuf for $ty {
            fn stable_ptr(&self) -> *const u8 {
                self.as_ptr()
            }
            fn bytes_init(&self) -> usize {
                self.len()
            }
            fn bytes_total(&self) -> usize {
                self.len()
            }
        }
    )*};
}

growable!(Vec<u8>, bytes::BytesMut);
fixed!(Box<[u8]>, &'static [u8], bytes::Bytes);

// SAFETY: as for `IoBuf for Box<[u8]>`; every byte is writable.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _len: usize) {}
}
