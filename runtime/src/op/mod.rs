//! One file per io_uring opcode. Each builds its SQE from memory its resources own and
//! submits it through [`Op::submit`](crate::driver::op::Op::submit), the only door.
//! `dontwait` is the exception: the ring-less `MSG_DONTWAIT` calls of tokio's `try_*` API.

pub(crate) mod accept;
pub(crate) mod connect;
pub(crate) mod dontwait;
pub(crate) mod nop;
pub(crate) mod poll_add;
pub(crate) mod recv;
pub(crate) mod recvmsg;
pub(crate) mod send;
pub(crate) mod sendmsg;
pub(crate) mod shutdown;
pub(crate) mod writev;
