//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19;
//! io_uring_register_buf_ring(3)): a ring of buffer descriptors shared with the kernel,
//! from which a `RECV` with `IOSQE_BUFFER_SELECT` picks a buffer only when data arrives.
//! Whoever reaps a completion reads the bytes it names and gives the buffer straight back
//! ([`ProvidedBufs::take`]), so a socket waiting for data holds no receive buffer.
//!
//! With incremental consumption (`IOU_PBUF_RING_INC`, Linux 6.12) a receive takes from the
//! current buffer only the bytes it carries, so small receives share one large buffer
//! instead of each using up a whole one; a buffer goes back once a completion says the
//! kernel has finished it (no `IORING_CQE_F_BUF_MORE`).
//!
//! Used by each worker's ring for its streams' receives, and by corio-ab's `raw-uring`
//! reference server, which is why it is public (and hidden).

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// A registered provided-buffer ring and its buffers.
///
/// # Invariants
///
/// - `ring` points to `entries` (a power of two) [`BufRingEntry`]s on a page boundary and
///   `bufs` to `entries * size` bytes, allocated zeroed with `ring_layout` and
///   `bufs_layout`. They are freed only by [`ProvidedBufs::release`], whose caller
///   promises the kernel is done with them; dropping a `ProvidedBufs` leaks them, so the
///   kernel never sees freed memory whatever the order of teardown.
/// - Buffer `bid` is the kernel's from the time its descriptor is published (the tail
///   moves past it) until a completion names it, then the reaper's until [`take`]
///   publishes it again. At most `entries` descriptors are ever in the ring.
/// - `tail` is the tail the kernel has last been shown.
/// - Incremental rings only: `filled[bid]` bytes at the start of buffer `bid` were handed
///   to completions already; the kernel writes the next receive after them. Empty when
///   the ring is not incremental.
///
/// [`take`]: ProvidedBufs::take
#[derive(Debug)]
pub struct ProvidedBufs {
    ring: NonNull<BufRingEntry>,
    bufs: NonNull<u8>,
    ring_layout: Layout,
    bufs_layout: Layout,
    entries: u16,
    size: u32,
    tail: u16,
    group: u16,
    filled: Box<[u32]>,
}

// SAFETY: the pointers are owned allocations; the type is used by one thread at a time
// (the ring's), and moving it between threads moves that ownership.
unsafe impl Send for ProvidedBufs {}

impl ProvidedBufs {
    /// Allocates `entries` (a power of two, at most 32768) buffers of `size` bytes, puts
    /// them all in a new ring and registers it as buffer group `group`, consumed
    /// incrementally if `incremental`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad count or size, out of memory, or the kernel's refusal of
    /// the registration (`EINVAL` before Linux 5.19, or before 6.12 for `incremental`).
    pub fn register(
        submitter: &Submitter<'_>,
        group: u16,
        entries: u16,
        size: u32,
        incremental: bool,
    ) -> io::Result<ProvidedBufs> {
        if !entries.is_power_of_two() || entries > 1 << 15 || size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "corio: provided buffers need a power-of-two count up to 32768 and a size",
            ));
        }
        let count = usize::from(entries);
        let ring_layout = layout(count * std::mem::size_of::<BufRingEntry>(), page_size())?;
        let bufs_layout = layout(count * size as usize, 64)?;
        let ring = zeroed(ring_layout)?.cast::<BufRingEntry>();
        let bufs = match zeroed(bufs_layout) {
            Ok(bufs) => bufs,
            Err(err) => {
                // SAFETY: allocated just above with this layout; the kernel never saw it.
                unsafe { dealloc(ring.as_ptr().cast(), ring_layout) };
                return Err(err);
            }
        };
        let mut me = ProvidedBufs {
            ring,
            bufs,
            ring_layout,
            bufs_layout,
            entries,
            size,
            tail: 0,
            group,
            filled: match incremental {
                true => vec![0; count].into_boxed_slice(),
                false => Box::default(),
            },
        };
        for bid in 0..entries {
            me.push(bid);
        }
        me.publish();
        let flags = if incremental { PBUF_RING_INC } else { 0 };
        // SAFETY: `ring` holds `entries` descriptors on a page boundary and is freed only
        // by `release`, after the kernel let go of it (# Invariants).
        let registered = unsafe {
            submitter.register_buf_ring_with_flags(ring.as_ptr() as u64, entries, group, flags)
        };
        if let Err(err) = registered {
            // SAFETY: the kernel refused the ring, so it never used this memory.
            unsafe { me.free() };
            return Err(err);
        }
        Ok(me)
    }

    /// The buffer group id SQEs name to pick from this ring.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// The size of each buffer, the most one completion can carry.
    pub fn buf_size(&self) -> u32 {
        self.size
    }

    /// The number of buffers.
    pub fn count(&self) -> u16 {
        self.entries
    }

    /// Whether receives consume the buffers incrementally.
    pub fn incremental(&self) -> bool {
        !self.filled.is_empty()
    }

    /// Hands the `len` bytes a completion with `flags` put in buffer `bid` to `f`, then
    /// gives the buffer back to the kernel unless the kernel goes on filling it.
    ///
    /// # Safety
    ///
    /// `bid`, `len` and `flags` are the buffer id (`IORING_CQE_F_BUFFER`), the result and
    /// the flags of one completion of a receive on this ring's group, each such
    /// completion is taken once, and in the order they were reaped: the kernel has handed
    /// those bytes over and does not write to them until the buffer is published again.
    pub unsafe fn take<R>(
        &mut self,
        bid: u16,
        len: usize,
        flags: u32,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        let bid = bid & (self.entries - 1);
        let start = self.filled.get(usize::from(bid)).map_or(0, |&n| n as usize);
        debug_assert!(start + len <= self.size as usize, "bad CQE buffer");
        let len = len.min(self.size as usize - start);
        // SAFETY: `bid < entries` and `start + len <= size` keep the slice inside buffer
        // `bid` of `bufs`, whose bytes are initialised (zeroed, then written by the
        // kernel). The kernel does not write these bytes before the buffer is published
        // again (the caller's contract); an incremental ring's kernel writes only after
        // them, outside the slice. The buffer is published only after `f` returns.
        let bytes = unsafe { std::slice::from_raw_parts(self.buf_ptr(bid).add(start), len) };
        let result = f(bytes);
        if let Some(filled) = self.filled.get_mut(usize::from(bid)) {
            // An empty completion (end of stream) consumed nothing: the buffer is still the
            // kernel's current one, whatever its flags say (Linux before the 2026
            // "missing BUF_MORE at EOF" fix leaves the flag out).
            if len == 0 {
                return result;
            }
            if io_uring::cqueue::buffer_more(flags) {
                *filled += len as u32;
                return result;
            }
            *filled = 0;
        }
        self.push(bid);
        self.publish();
        result
    }

    /// Unregisters the ring from `submitter` and frees its memory.
    ///
    /// # Safety
    ///
    /// No receive that may pick from this group is in flight on the ring any more.
    pub unsafe fn release(self, submitter: &Submitter<'_>) {
        if let Err(err) = submitter.unregister_buf_ring(self.group) {
            tracing::warn!(error = %err, "could not unregister provided buffers; leaking them");
            return;
        }
        // SAFETY: unregistered, and the caller says no receive may still use the buffers.
        unsafe { self.free() };
    }

    /// # Safety
    ///
    /// The kernel does not use (or no longer uses) the memory.
    unsafe fn free(self) {
        // SAFETY: both were allocated with these layouts in `register` and are freed
        // once, here (`self` is consumed).
        unsafe {
            dealloc(self.ring.as_ptr().cast(), self.ring_layout);
            dealloc(self.bufs.as_ptr(), self.bufs_layout);
        }
    }

    /// The start of buffer `bid` (`bid < entries`).
    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        self.bufs
            .as_ptr()
            .wrapping_add(usize::from(bid) * self.size as usize)
    }

    /// Writes buffer `bid`'s descriptor at the tail, not yet published.
    fn push(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `slot < entries` is inside the ring allocation. The kernel reads
        // descriptors only between its head and the published tail; this slot is at the
        // tail, outside that range, since at most `entries - 1` buffers are in the ring
        // while the reaper holds `bid` (# Invariants). Only this struct writes them.
        let entry = unsafe { &mut *self.ring.as_ptr().add(slot) };
        entry.set_addr(self.buf_ptr(bid) as u64);
        entry.set_len(self.size);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Shows the kernel the descriptors written so far.
    fn publish(&self) {
        // SAFETY: `ring` points to the first descriptor of a live ring (# Invariants),
        // whose reserved field holds the tail.
        let tail = unsafe { BufRingEntry::tail(self.ring.as_ptr()) };
        // SAFETY: the tail is an aligned u16 inside the ring allocation; the kernel only
        // reads it (with acquire ordering) and this struct writes it only through here.
        let tail = unsafe { AtomicU16::from_ptr(tail.cast_mut()) };
        // Release: the descriptors written before are visible to the kernel first.
        tail.store(self.tail, Ordering::Release);
    }
}

/// `IOU_PBUF_RING_INC` of the kernel's uapi: receives consume buffers incrementally.
const PBUF_RING_INC: u16 = 2;

fn layout(len: usize, align: usize) -> io::Result<Layout> {
    Layout::from_size_align(len.max(1), align)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))
}

/// `layout.size()` zeroed bytes (not zero: `layout` rounds up to one).
fn zeroed(layout: Layout) -> io::Result<NonNull<u8>> {
    // SAFETY: the layout's size is not zero.
    let ptr = unsafe { alloc_zeroed(layout) };
    NonNull::new(ptr).ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))
}

/// The page size, which the ring's address must be a multiple of.
fn page_size() -> usize {
    // SAFETY: sysconf(3) takes an integer and reads no memory.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096).max(4096)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    use io_uring::{cqueue, opcode, types, IoUring};

    use super::ProvidedBufs;

    /// A connected loopback pair: (writer, reader).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (writer, listener.accept().unwrap().0)
    }

    /// Arms a multishot receive on `reader` into group 0.
    fn arm(ring: &mut IoUring, reader: &TcpStream) {
        let sqe = opcode::RecvMulti::new(types::Fd(reader.as_raw_fd()), 0)
            .build()
            .user_data(7);
        // SAFETY: the SQE names no memory but the registered buffers, which outlive the
        // ring's use of them (the test releases them only after its receives ended).
        unsafe { ring.submission().push(&sqe).unwrap() };
    }

    /// Waits for the next CQE: (result, flags).
    fn next(ring: &mut IoUring) -> (i32, u32) {
        ring.submit_and_wait(1).unwrap();
        let cqe = ring
            .completion()
            .next()
            .expect("a CQE after waiting for one");
        (cqe.result(), cqe.flags())
    }

    /// Takes what the CQE carries (nothing if it names no buffer).
    fn take(bufs: &mut ProvidedBufs, (res, flags): (i32, u32)) -> Vec<u8> {
        let Some(bid) = cqueue::buffer_select(flags) else {
            return Vec::new();
        };
        let len = usize::try_from(res).unwrap_or(0);
        // SAFETY: this CQE's buffer, result and flags, taken once and in CQ order.
        unsafe { bufs.take(bid, len, flags, <[u8]>::to_vec) }
    }

    /// Against the running kernel: small receives share one buffer, each continuing where
    /// the last stopped; an end of stream consumes nothing (the buffer stays usable);
    /// a receive that fills the buffer's rest gives it back, and the next one starts at
    /// its beginning again.
    #[test]
    fn incremental_receives_share_a_buffer_and_give_it_back_when_full() {
        let Ok(mut ring) = IoUring::new(8) else {
            eprintln!("skipped: no io_uring here");
            return;
        };
        let mut bufs = match ProvidedBufs::register(&ring.submitter(), 0, 1, 256, true) {
            Ok(bufs) => bufs,
            Err(err) => {
                eprintln!("skipped: incremental buffers refused ({err}; Linux 6.12+)");
                return;
            }
        };
        assert!(bufs.incremental());

        let (mut writer, reader) = pair();
        arm(&mut ring, &reader);
        writer.write_all(b"hello").unwrap();
        let cqe = next(&mut ring);
        assert!(cqueue::buffer_more(cqe.1), "the buffer has room left");
        assert_eq!(take(&mut bufs, cqe), b"hello");
        writer.write_all(b" world").unwrap();
        assert_eq!(take(&mut bufs, next(&mut ring)), b" world");
        drop(writer);
        let eof = next(&mut ring);
        assert_eq!(eof.0, 0, "end of stream");
        assert!(take(&mut bufs, eof).is_empty());
        assert!(!cqueue::more(eof.1), "the receive ended");

        // 11 of 256 bytes are used: 245 fill the buffer, which then goes back.
        let (mut writer, reader) = pair();
        arm(&mut ring, &reader);
        let rest: Vec<u8> = (0..245u32).map(|i| i as u8).collect();
        writer.write_all(&rest).unwrap();
        let cqe = next(&mut ring);
        assert_eq!(cqe.0, 245, "the buffer survived the end of stream: {cqe:?}");
        assert!(!cqueue::buffer_more(cqe.1), "the buffer is full");
        assert_eq!(take(&mut bufs, cqe), rest);
        writer.write_all(b"again").unwrap();
        let cqe = next(&mut ring);
        assert_eq!(cqe.0, 5, "the given-back buffer is picked again: {cqe:?}");
        assert_eq!(take(&mut bufs, cqe), b"again");

        drop((writer, reader));
        while cqueue::more(next(&mut ring).1) {}
        // SAFETY: the only receive on the group has ended (its last CQE came).
        unsafe { bufs.release(&ring.submitter()) };
    }

    /// Without incremental consumption every completion uses up its buffer, which goes
    /// straight back, end of stream included.
    #[test]
    fn whole_buffers_go_back_after_every_completion() {
        let Ok(mut ring) = IoUring::new(8) else {
            eprintln!("skipped: no io_uring here");
            return;
        };
        let mut bufs = ProvidedBufs::register(&ring.submitter(), 0, 1, 256, false).unwrap();
        assert!(!bufs.incremental());
        for round in 0..3 {
            let (mut writer, reader) = pair();
            arm(&mut ring, &reader);
            writer.write_all(b"ping").unwrap();
            assert_eq!(take(&mut bufs, next(&mut ring)), b"ping", "round {round}");
            writer.write_all(b"pong").unwrap();
            assert_eq!(take(&mut bufs, next(&mut ring)), b"pong", "round {round}");
            drop(writer);
            loop {
                let cqe = next(&mut ring);
                assert!(
                    take(&mut bufs, cqe).is_empty(),
                    "round {round}: end of stream"
                );
                if !cqueue::more(cqe.1) {
                    break;
                }
            }
        }
        // SAFETY: every receive on the group has ended.
        unsafe { bufs.release(&ring.submitter()) };
    }
}
