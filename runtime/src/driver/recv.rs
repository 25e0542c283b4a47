//! Stream receives into provided buffers: the ring side of `Gate::feed`.
//!
//! A stream read through `AsyncRead` on a worker thread does not wait for readiness and
//! then call recv(2); it arms an `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT` on the ring,
//! whose CQEs name a buffer of the ring's [`ProvidedBufs`]. The reaper hands each CQE's
//! bytes to the op's [`Sink`] (the stream's read gate, which stashes them for the next
//! read) and gives the buffer straight back, so no buffer is held between reads and an
//! idle stream holds none. [`RecvMode`] says whether one SQE keeps receiving
//! (`Multishot`, Linux 6.0) or each wait arms a new one (`OneShot`).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use io_uring::{opcode, types};

use super::{Provided, Ring, Sink};
use crate::buf::ProvidedBufs;
use crate::driver::lifecycle::Lifecycle;
use crate::fd::SharedFd;

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
    /// Provided buffers per ring (a power of two).
    pub(crate) buffers: u16,
    /// Bytes per provided buffer.
    pub(crate) buf_size: u32,
}

impl Default for RecvConfig {
    fn default() -> RecvConfig {
        RecvConfig {
            mode: RecvMode::default(),
            buffers: 128,
            buf_size: 4096,
        }
    }
}

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
            let config = self.recv;
            self.provided = match ProvidedBufs::register(
                &self.uring.submitter(),
                GROUP,
                config.buffers,
                config.buf_size,
            ) {
                Ok(bufs) => Provided::Ready(bufs),
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

    /// Arms a receive on `fd` into this ring's provided buffers, whose CQEs go to `sink`;
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
        sink: Box<dyn Sink>,
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
        // after the ring drained). The sink keeps the fd open until the final CQE.
        let index = unsafe { self.push(sqe, multishot) }?;
        self.ops[index] = Lifecycle::Sink(sink);
        Ok(index)
    }

    /// Cancels the sink `serial` in slot `index`, if that slot still holds it.
    pub(crate) fn cancel_sink(&mut self, index: usize, serial: u64) {
        if matches!(self.ops.get(index), Some(Lifecycle::Sink(sink)) if sink.serial() == serial) {
            self.cancel(index);
        }
    }
}
