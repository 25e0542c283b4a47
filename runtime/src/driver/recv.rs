//! Stream receives into provided buffers: the ring side of `Gate::feed`.
//!
//! A stream read through `AsyncRead` on a worker thread does not wait for readiness and
//! then call recv(2); it arms an `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT` on the ring,
//! whose CQEs name a buffer of the ring's [`ProvidedBufs`]. The reaper hands each CQE's
//! bytes to the op's `Feed` (the stream's read gate, which stashes them for the next
//! read) and gives the buffer straight back, so no buffer is held between reads and an
//! idle stream holds none. [`RecvMode`] says whether one SQE keeps receiving
//! (`Multishot`, Linux 6.0) or each wait arms a new one (`OneShot`).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use io_uring::{opcode, types};

use super::{Provided, Ring};
use crate::buf::ProvidedBufs;
use crate::driver::lifecycle::Lifecycle;
use crate::fd::SharedFd;
use crate::gate::Feed;

/// How a stream's `AsyncRead` receives on the uring backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecvMode {
    /// One multishot receive per stream, armed at its first wait and kept while the
    /// stream is read: a request costs one CQE and no syscall. Bytes that arrive while
    /// nobody reads are taken from the socket into the stream's buffer (up to 64 KiB,
    /// then the receive stops until the stream is read).
    #[default]
    Multishot,
    /// One receive per wait: bytes leave the socket only while a read waits for them,
    /// as with recv(2).
    OneShot,
    /// No ring receives: wait for readiness (`POLL_ADD`), then recv(2), as tokio does.
    Readiness,
}

impl RecvMode {
    /// The mode `CORIO_RECV` names (`multishot`, `oneshot`, `readiness`), if set.
    ///
    /// # Errors
    ///
    /// A message naming the accepted values when it is set to anything else.
    pub fn from_env() -> Result<Option<RecvMode>, String> {
        match std::env::var(RECV_ENV) {
            Err(_) => Ok(None),
            Ok(value) => match value.as_str() {
                "multishot" => Ok(Some(RecvMode::Multishot)),
                "oneshot" => Ok(Some(RecvMode::OneShot)),
                "readiness" => Ok(Some(RecvMode::Readiness)),
                other => Err(format!(
                    "{RECV_ENV}={other:?}: expected multishot, oneshot or readiness"
                )),
            },
        }
    }
}

/// The environment variable that picks the [`RecvMode`] of runtimes whose builder did not.
pub const RECV_ENV: &str = "CORIO_RECV";

/// A ring's receive settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvConfig {
    pub(crate) mode: RecvMode,
    /// Provided buffers per ring (a power of two) and bytes per buffer; `None` for the
    /// default of the kind registered ([`INCREMENTAL_BUFFERS`] or [`WHOLE_BUFFERS`]).
    pub(crate) buffers: Option<(u16, u32)>,
    /// Whether to consume the buffers incrementally where the kernel can (Linux 6.12).
    pub(crate) incremental: bool,
}

impl Default for RecvConfig {
    fn default() -> RecvConfig {
        RecvConfig {
            mode: RecvMode::default(),
            buffers: None,
            incremental: true,
        }
    }
}

/// The default buffers of an incremental ring: each receive takes only the bytes it
/// carries, so four buffers hold thousands of small requests.
pub(crate) const INCREMENTAL_BUFFERS: (u16, u32) = (4, 64 << 10);

/// The default buffers of a ring whose every receive uses up a whole buffer.
pub(crate) const WHOLE_BUFFERS: (u16, u32) = (128, 4 << 10);

/// The buffer group of every ring's provided buffers.
const GROUP: u16 = 0;

/// Set once a kernel refused a multishot receive (`EINVAL` before 6.0): every ring then
/// arms one-shot receives.
static MULTISHOT_REFUSED: AtomicBool = AtomicBool::new(false);

/// Records that the kernel refused a multishot receive.
pub(crate) fn refuse_multishot() {
    if !MULTISHOT_REFUSED.swap(true, Ordering::Relaxed) {
        tracing::debug!("multishot receive unsupported; arming one receive per wait");
    }
}

impl Ring {
    /// The mode streams on this ring receive in.
    pub(crate) fn recv_mode(&self) -> RecvMode {
        match self.recv.mode {
            RecvMode::Multishot if MULTISHOT_REFUSED.load(Ordering::Relaxed) => RecvMode::OneShot,
            mode => mode,
        }
    }

    /// The ring's provided buffers, registered the first time; `None` when the kernel
    /// refuses them (the caller then waits for readiness instead).
    fn provided(&mut self) -> Option<&ProvidedBufs> {
        if matches!(self.provided, Provided::Unregistered) {
            self.provided = match self.register_provided() {
                Ok(bufs) => {
                    let bytes = u64::from(bufs.buf_size()) * u64::from(bufs.count());
                    self.counters.recv_buffer_bytes.set(bytes);
                    self.counters
                        .recv_incremental
                        .set(u64::from(bufs.incremental()));
                    Provided::Ready(bufs)
                }
                Err(err) => {
                    tracing::debug!(error = %err, "provided buffers refused; streams wait for readiness");
                    Provided::Refused
                }
            };
        }
        match &self.provided {
            Provided::Ready(bufs) => Some(bufs),
            _ => None,
        }
    }

    /// Registers the ring's provided buffers: incremental ones if configured and the
    /// kernel takes them, else whole ones.
    fn register_provided(&self) -> io::Result<ProvidedBufs> {
        let RecvConfig {
            buffers,
            incremental,
            ..
        } = self.recv;
        let submitter = self.uring.submitter();
        if incremental {
            let (count, size) = buffers.unwrap_or(INCREMENTAL_BUFFERS);
            match ProvidedBufs::register(&submitter, GROUP, count, size, true) {
                Ok(bufs) => return Ok(bufs),
                Err(err) => tracing::debug!(
                    error = %err,
                    "incremental provided buffers refused (Linux 6.12); every receive takes a whole buffer"
                ),
            }
        }
        let (count, size) = buffers.unwrap_or(WHOLE_BUFFERS);
        ProvidedBufs::register(&submitter, GROUP, count, size, false)
    }

    /// Arms a receive on `fd` into this ring's provided buffers, whose CQEs go to `feed`;
    /// returns the slot index. `multishot` keeps it receiving until it ends or is
    /// cancelled.
    ///
    /// # Errors
    ///
    /// `Unsupported` when the kernel refused provided buffers; the ring's error when it
    /// is poisoned.
    pub(crate) fn arm_recv(
        &mut self,
        fd: &SharedFd,
        multishot: bool,
        feed: Feed,
    ) -> io::Result<usize> {
        let Some(bufs) = self.provided() else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "corio: the kernel refused provided buffers",
            ));
        };
        let (group, size) = (bufs.group(), bufs.buf_size());
        let sqe = if multishot {
            opcode::RecvMulti::new(types::Fd(fd.raw()), group).build()
        } else {
            opcode::Recv::new(types::Fd(fd.raw()), std::ptr::null_mut(), size)
                .buf_group(group)
                .build()
                .flags(io_uring::squeue::Flags::BUFFER_SELECT)
        };
        // SAFETY: the SQE points at no memory of its own: the kernel picks a buffer of
        // the ring's provided buffers, which outlive every op of the ring (released only
        // after the ring drained). The feed keeps the fd open until the final CQE.
        let index = unsafe { self.push(sqe, multishot) }?;
        self.ops[index] = Lifecycle::Sink(feed);
        Ok(index)
    }

    /// Cancels the sink `serial` in slot `index`, if that slot still holds it.
    pub(crate) fn cancel_sink(&mut self, index: usize, serial: u64) {
        if matches!(self.ops.get(index), Some(Lifecycle::Sink(sink)) if sink.serial() == serial) {
            self.cancel(index);
        }
    }
}
