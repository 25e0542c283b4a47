//! Owned-buffer adapters: tokio's `AsyncRead`/`AsyncWrite` on top of io_uring ops that
//! own their buffers. They hold no unsafe code: the ops (in `corio-runtime`) own the
//! memory the kernel touches; the adapters copy between it and the caller's buffers.

pub(crate) mod read;
pub(crate) mod write;

pub(crate) use read::ReadState;
pub(crate) use write::WriteState;
