//! `IORING_OP_MSG_RING` between two threads' rings, for the criterion bench that compares
//! it with tokio's remote wake (`benches/cross_wake.rs`). Not used by the runtime: the bench
//! decides whether `corio::spawn` should wake other workers this way.
//!
//! Two threads each own a ring set up as a worker's is (`SINGLE_ISSUER`, `DEFER_TASKRUN`)
//! and pass one message back and forth: each sends with a `MSG_RING` SQE on its own ring
//! (its own completion skipped) and waits for the CQE the other's message posts.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring};

/// How a thread waits for the other's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgPark {
    /// In `io_uring_enter` on its ring, waiting for one CQE.
    Ring,
    /// In `epoll_wait` on its ring's eventfd, as a corio worker parks (inside tokio's
    /// reactor), then one `io_uring_enter` to run the deferred completion.
    Epoll,
}

/// Times `rounds` round trips (a message there and one back) between the calling thread
/// and a second thread.
///
/// # Errors
///
/// A ring, eventfd or epoll the kernel refuses (`MSG_RING` needs Linux 5.18, a
/// `DEFER_TASKRUN` target 6.1), or a wait that saw no message within a second.
pub fn msg_ring_round_trips(rounds: u64, park: MsgPark) -> io::Result<Duration> {
    let (fd_tx, fd_rx) = mpsc::channel::<io::Result<RawFd>>();
    let (peer_tx, peer_rx) = mpsc::channel::<RawFd>();
    let echo = std::thread::spawn(move || -> io::Result<()> {
        let mut end = match End::new(park) {
            Ok(end) => end,
            Err(err) => {
                let _ = fd_tx.send(Err(io::Error::new(err.kind(), err.to_string())));
                return Err(err);
            }
        };
        let _ = fd_tx.send(Ok(end.ring.as_raw_fd()));
        let Ok(peer) = peer_rx.recv() else {
            return Ok(());
        };
        for _ in 0..rounds {
            end.wait()?;
            end.send(peer)?;
        }
        Ok(())
    });
    let result = (|| -> io::Result<Duration> {
        let peer = fd_rx
            .recv()
            .map_err(|_| io::Error::other("the echo thread quit"))??;
        let mut end = End::new(park)?;
        peer_tx
            .send(end.ring.as_raw_fd())
            .map_err(|_| io::Error::other("the echo thread quit"))?;
        let start = Instant::now();
        for _ in 0..rounds {
            end.send(peer)?;
            end.wait()?;
        }
        Ok(start.elapsed())
    })();
    drop(peer_tx);
    let echoed = echo
        .join()
        .map_err(|_| io::Error::other("the echo thread panicked"))?;
    let elapsed = result?;
    echoed?;
    Ok(elapsed)
}

/// One thread's ring, and its eventfd and epoll when it parks in epoll.
struct End {
    ring: IoUring,
    park: Option<(OwnedFd, OwnedFd)>,
}

impl End {
    fn new(park: MsgPark) -> io::Result<End> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .build(8)?;
        let park = match park {
            MsgPark::Ring => None,
            MsgPark::Epoll => {
                let eventfd = new_fd(
                    // SAFETY: eventfd(2) takes integers and reads no memory.
                    unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) },
                )?;
                ring.submitter().register_eventfd(eventfd.as_raw_fd())?;
                // SAFETY: epoll_create1(2) takes an integer and reads no memory.
                let epoll = new_fd(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
                let mut event = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: 0,
                };
                // SAFETY: both fds are open; `event` is a valid epoll_event the call reads.
                let added = unsafe {
                    libc::epoll_ctl(
                        epoll.as_raw_fd(),
                        libc::EPOLL_CTL_ADD,
                        eventfd.as_raw_fd(),
                        &mut event,
                    )
                };
                if added < 0 {
                    return Err(io::Error::last_os_error());
                }
                Some((eventfd, epoll))
            }
        };
        Ok(End { ring, park })
    }

    /// Sends one message to the ring `peer`; the send's own CQE is skipped on success.
    fn send(&mut self, peer: RawFd) -> io::Result<()> {
        let sqe = opcode::MsgRingData::new(types::Fd(peer), 0, 1, None)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(0);
        // SAFETY: the SQE names no memory; `peer` is the other thread's ring, open until
        // both threads are done (the caller joins the echo thread before its ring drops,
        // and the echo thread leaves only after its last send).
        unsafe { self.ring.submission().push(&sqe) }
            .map_err(|_| io::Error::other("the SQ is full"))?;
        self.ring.submit()?;
        Ok(())
    }

    /// Waits for the other thread's message and takes it off the CQ.
    fn wait(&mut self) -> io::Result<()> {
        if let Some((eventfd, epoll)) = &self.park {
            let mut event = libc::epoll_event { events: 0, u64: 0 };
            // SAFETY: `epoll` is open; the kernel writes at most one event into `event`.
            let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), &mut event, 1, 1000) };
            match n {
                0 => return Err(timed_out()),
                ..0 => return Err(io::Error::last_os_error()),
                1.. => {}
            }
            let mut count = 0u64;
            // SAFETY: `eventfd` is open; the kernel writes 8 bytes into `count`.
            unsafe { libc::read(eventfd.as_raw_fd(), (&raw mut count).cast(), 8) };
        }
        // Runs the deferred completion the message queued (it is there once epoll woke).
        let timeout = types::Timespec::new().sec(1);
        let args = types::SubmitArgs::new().timespec(&timeout);
        match self.ring.submitter().submit_with_args(1, &args) {
            Err(err) if err.raw_os_error() == Some(libc::ETIME) => return Err(timed_out()),
            result => result?,
        };
        self.ring
            .completion()
            .next()
            .map(drop)
            .ok_or_else(|| io::Error::other("woken without a message"))
    }
}

fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "no MSG_RING message within a second",
    )
}

/// `fd` as an owned fd, or the error the call that returned it set.
fn new_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned open by the kernel and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::{msg_ring_round_trips, MsgPark};

    /// Every message arrives, whether the other thread waits in its ring or in epoll on
    /// the ring's eventfd (a lost one would end the run with `TimedOut`).
    #[test]
    fn messages_reach_a_thread_parked_in_its_ring_or_in_epoll() {
        if io_uring::IoUring::new(2).is_err() {
            eprintln!("skipped: no io_uring here");
            return;
        }
        for park in [MsgPark::Ring, MsgPark::Epoll] {
            let elapsed = msg_ring_round_trips(200, park);
            assert!(elapsed.is_ok(), "{park:?}: {elapsed:?}");
        }
    }
}
