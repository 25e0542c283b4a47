//! Safe views of owned buffers for code that copies instead of handing the buffer to the
//! kernel: `corio::net`'s owned-buffer reads and writes, which receive into and send
//! from the buffer with non-blocking syscalls.

use tokio::io::ReadBuf;

use super::{IoBuf, IoBufMut};

/// The initialized bytes of `buf`: what a write would send.
pub fn as_slice<B: IoBuf>(buf: &B) -> &[u8] {
    // SAFETY: `IoBuf`'s contract: `stable_ptr` points to `bytes_init` initialized bytes
    // that stay valid, and unmodified through `&B`, while `buf` is borrowed.
    unsafe { std::slice::from_raw_parts(buf.stable_ptr(), buf.bytes_init()) }
}

/// Lets `f` fill `buf` from its start, up to `bytes_total()`, through a `ReadBuf`; the
/// bytes `f` reports filled are then marked initialized (as a recv into `buf` would).
pub fn fill<B: IoBufMut, R>(buf: &mut B, f: impl FnOnce(&mut ReadBuf<'_>) -> R) -> R {
    let total = buf.bytes_total();
    // SAFETY: `IoBufMut`'s contract: `stable_mut_ptr` points to `bytes_total` writable
    // bytes, valid while `buf` is mutably borrowed; viewed as `MaybeUninit` they need not
    // be initialized.
    let spare = unsafe { std::slice::from_raw_parts_mut(buf.stable_mut_ptr().cast(), total) };
    let mut read_buf = ReadBuf::uninit(spare);
    let result = f(&mut read_buf);
    let filled = read_buf.filled().len();
    // SAFETY: `ReadBuf` guarantees its filled part, the first `filled <= total` bytes, is
    // initialized.
    unsafe { buf.set_init(filled) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_marks_filled_bytes_initialized() {
        let mut buf = Vec::with_capacity(8);
        let n = fill(&mut buf, |rb| {
            rb.put_slice(b"abc");
            rb.filled().len()
        });
        assert_eq!(n, 3);
        assert_eq!(buf, b"abc");
        assert_eq!(as_slice(&buf), b"abc");
    }
}
