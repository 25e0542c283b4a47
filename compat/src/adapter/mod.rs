//! Owned-buffer adapters: tokio's `AsyncRead`/`AsyncWrite` and readiness API on top of
//! io_uring ops that own their buffers. They hold no unsafe code: the ops (in
//! `corio-runtime`) own the memory the kernel touches; the adapters copy between it and the
//! caller's buffers.

pub(crate) mod accept;
pub(crate) mod datagram;
pub(crate) mod read;
pub(crate) mod ready;
pub(crate) mod stream;
pub(crate) mod write;

pub(crate) use accept::AcceptState;
pub(crate) use datagram::Datagram;
pub(crate) use read::ReadState;
pub(crate) use stream::{ReadPart, UringStream, WritePart};
pub(crate) use write::WriteState;
