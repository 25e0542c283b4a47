//! One file per io_uring opcode. Each builds its SQE from memory its resources own and
//! submits it through [`Op::submit`](crate::driver::op::Op::submit), the only door.
//! `dontwait` is the exception: the ring-less `MSG_DONTWAIT` calls of tokio's `try_*` API.

pub(crate) mod accept;
pub(crate) mod close;
pub(crate) mod connect;
pub(crate) mod dontwait;
pub(crate) mod fsync;
pub(crate) mod ftruncate;
pub(crate) mod linkat;
pub(crate) mod mkdirat;
pub(crate) mod nop;
pub(crate) mod openat;
pub(crate) mod path;
pub(crate) mod poll_add;
pub(crate) mod read;
pub(crate) mod readv;
pub(crate) mod recv;
pub(crate) mod recvmsg;
pub(crate) mod renameat;
pub(crate) mod send;
pub(crate) mod sendmsg;
pub(crate) mod shutdown;
pub(crate) mod splice;
pub(crate) mod statx;
pub(crate) mod symlinkat;
pub(crate) mod unlinkat;
pub(crate) mod write;
pub(crate) mod writev;

/// The output of an op that read into the start of `buf`: the CQE's count, with that many
/// bytes of `buf` marked initialized.
pub(crate) fn filled<B: crate::buf::IoBufMut>(
    mut buf: B,
    completion: crate::driver::Completion,
) -> crate::buf::BufResult<usize, B> {
    let result = crate::error::cqe_result(completion.result).map(|n| n as usize);
    if let Ok(n) = result {
        // SAFETY: the kernel initialized the first `n` bytes, and never reports more than
        // the `bytes_total` it was given.
        unsafe { buf.set_init(n) };
    }
    (result, buf)
}
