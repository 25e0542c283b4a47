//! Buffers the kernel may read from or write into while an op is in flight.
//!
//! An op takes its buffer by value and gives it back with the result
//! ([`BufResult`]), so the caller cannot touch memory the kernel is using; a dropped op
//! keeps its buffer in the ring's slab until the kernel lets go.

mod view;

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

// SAFETY: a Vec's heap allocation does not move when the Vec moves; `len` bytes are
// initialized and `capacity` are allocated.
unsafe impl IoBuf for Vec<u8> {
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

// SAFETY: as for `IoBuf for Vec<u8>`; the spare capacity is writable.
unsafe impl IoBufMut for Vec<u8> {
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

// SAFETY: a boxed slice's heap allocation does not move with the box; all of it is
// initialized.
unsafe impl IoBuf for Box<[u8]> {
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

// SAFETY: as for `IoBuf for Box<[u8]>`; every byte is writable.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _len: usize) {}
}

// SAFETY: static memory never moves and is never freed.
unsafe impl IoBuf for &'static [u8] {
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
