//! The provided-buffer ring of `raw-uring` (`IORING_REGISTER_PBUF_RING`,
//! Linux 5.19; io_uring_register_buf_ring(3)): a ring of buffer descriptors
//! shared with the kernel, from which a multishot `RECV` picks one buffer
//! per completion. The server reads the bytes of each completion and gives
//! the buffer straight back ([`BufRing::consume`]), so a connection holds no
//! receive buffer between reads.

use std::alloc::{alloc_zeroed, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// A registered provided-buffer ring and its buffers.
///
/// # Invariants
/// - `ring` points to `entries` (a power of two) [`BufRingEntry`]s on a
///   page boundary and `bufs` to `entries * size` bytes, both zeroed at
///   allocation and never freed: they outlive the io_uring, so the kernel
///   never sees freed memory, whatever the order of teardown (the server
///   runs until its process exits).
/// - Buffer `bid` is the kernel's from the time its descriptor is published
///   (the tail moves past it) until a `RECV` completion names it, then the
///   server's until [`BufRing::consume`] publishes it again. At most
///   `entries` descriptors are ever in the ring.
/// - `tail` is the tail the kernel has last been shown.
#[derive(Debug)]
pub(crate) struct BufRing {
    ring: NonNull<BufRingEntry>,
    bufs: NonNull<u8>,
    entries: u16,
    size: usize,
    tail: u16,
}

impl BufRing {
    /// Allocates `entries` buffers of `size` bytes, puts them all in a new
    /// ring and registers it as buffer group `bgid`.
    ///
    /// # Errors
    /// Out of memory, or the kernel refuses the registration (before 5.19).
    pub(crate) fn new(
        submitter: &Submitter<'_>,
        bgid: u16,
        entries: u16,
        size: usize,
    ) -> io::Result<BufRing> {
        assert!(entries.is_power_of_two() && size > 0 && size <= u32::MAX as usize);
        let ring_bytes = usize::from(entries) * std::mem::size_of::<BufRingEntry>();
        let ring = leak_zeroed(ring_bytes, page_size())?.cast::<BufRingEntry>();
        let bufs = leak_zeroed(usize::from(entries) * size, 1)?;
        let mut me = BufRing {
            ring,
            bufs,
            entries,
            size,
            tail: 0,
        };
        for bid in 0..entries {
            me.push(bid);
        }
        me.publish();
        // SAFETY: `ring` holds `entries` descriptors on a page boundary and is
        // never freed (# Invariants), so it stays valid as long as the
        // io_uring, as the registration requires.
        unsafe { submitter.register_buf_ring_with_flags(ring.as_ptr() as u64, entries, bgid, 0)? };
        Ok(me)
    }

    /// Hands the `len` bytes a `RECV` completion put in buffer `bid` to `f`,
    /// then gives the buffer back to the kernel.
    ///
    /// # Safety
    /// `bid` and `len` are the buffer id (`IORING_CQE_F_BUFFER`) and result
    /// of one completion of a `RECV` on this ring's buffer group, and each
    /// such completion is consumed once: the kernel has handed the buffer
    /// over and writes to it only once it is published again.
    pub(crate) unsafe fn consume<R>(
        &mut self,
        bid: u16,
        len: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> R {
        debug_assert!(bid < self.entries && len <= self.size, "bad CQE buffer");
        let (bid, len) = (bid & (self.entries - 1), len.min(self.size));
        // SAFETY: `bid < entries` and `len <= size` keep the slice inside the
        // `bufs` allocation, whose bytes are initialised (zeroed, then
        // written by the kernel) and not written while the kernel has handed
        // the buffer to us (the caller's contract, # Invariants); it is
        // published again only after `f` returns, below.
        let bytes = unsafe { std::slice::from_raw_parts(self.buf_ptr(bid), len) };
        let result = f(bytes);
        self.push(bid);
        self.publish();
        result
    }

    /// The start of buffer `bid` (`bid < entries`).
    fn buf_ptr(&self, bid: u16) -> *mut u8 {
        self.bufs
            .as_ptr()
            .wrapping_add(usize::from(bid) * self.size)
    }

    /// Writes buffer `bid`'s descriptor at the tail, not yet published.
    fn push(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `slot < entries` is inside the ring allocation. The kernel
        // reads descriptors only between its head and the published tail;
        // this slot is at the tail, outside that range, since at most
        // `entries - 1` buffers are in the ring while the server holds
        // `bid` (# Invariants). Only this struct writes descriptors.
        let entry = unsafe { &mut *self.ring.as_ptr().add(slot) };
        entry.set_addr(self.buf_ptr(bid) as u64);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Shows the kernel the descriptors written so far.
    fn publish(&self) {
        // SAFETY: `ring` points to the first descriptor of a live ring
        // (# Invariants), whose reserved field holds the tail.
        let tail = unsafe { BufRingEntry::tail(self.ring.as_ptr()) };
        // SAFETY: the tail is an aligned u16 inside the ring allocation,
        // never freed; the kernel only reads it (with acquire ordering) and
        // this struct writes it only through this atomic.
        let tail = unsafe { AtomicU16::from_ptr(tail.cast_mut()) };
        // Release: the descriptors written before are visible first.
        tail.store(self.tail, Ordering::Release);
    }
}

/// `len` zeroed bytes aligned to `align`, never freed.
fn leak_zeroed(len: usize, align: usize) -> io::Result<NonNull<u8>> {
    let layout = Layout::from_size_align(len.max(1), align)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
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
