//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19;
//! io_uring_register_buf_ring(3)): a ring of buffer descriptors shared with the kernel,
//! from which a `RECV` with `IOSQE_BUFFER_SELECT` picks a buffer only when data arrives.
//! Whoever reaps a completion reads the bytes it names and gives the buffer straight back
//! ([`ProvidedBufs::take`]), so a socket waiting for data holds no receive buffer.
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
}

// SAFETY: the pointers are owned allocations; the type is used by one thread at a time
// (the ring's), and moving it between threads moves that ownership.
unsafe impl Send for ProvidedBufs {}

impl ProvidedBufs {
    /// Allocates `entries` (a power of two, at most 32768) buffers of `size` bytes, puts
    /// them all in a new ring and registers it as buffer group `group`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad count or size, out of memory, or the kernel's refusal of
    /// the registration (`EINVAL` before Linux 5.19).
    pub fn register(
        submitter: &Submitter<'_>,
        group: u16,
        entries: u16,
        size: u32,
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
        };
        for bid in 0..entries {
            me.push(bid);
        }
        me.publish();
        // SAFETY: `ring` holds `entries` descriptors on a page boundary and is freed only
        // by `release`, after the kernel let go of it (# Invariants).
        let registered = unsafe {
            submitter.register_buf_ring_with_flags(ring.as_ptr() as u64, entries, group, 0)
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

    /// Hands the `len` bytes a completion put in buffer `bid` to `f`, then gives the
    /// buffer back to the kernel.
    ///
    /// # Safety
    ///
    /// `bid` and `len` are the buffer id (`IORING_CQE_F_BUFFER`) and the result of one
    /// completion of a receive on this ring's group, and each such completion is taken
    /// once: the kernel has handed the buffer over and writes to it only once it is
    /// published again.
    pub unsafe fn take<R>(&mut self, bid: u16, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        debug_assert!(
            bid < self.entries && len <= self.size as usize,
            "bad CQE buffer"
        );
        let (bid, len) = (bid & (self.entries - 1), len.min(self.size as usize));
        // SAFETY: `bid < entries` and `len <= size` keep the slice inside `bufs`, whose
        // bytes are initialised (zeroed, then written by the kernel) and not written while
        // the buffer is ours (the caller's contract); it is published again only after `f`
        // returns.
        let bytes = unsafe { std::slice::from_raw_parts(self.buf_ptr(bid), len) };
        let result = f(bytes);
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
