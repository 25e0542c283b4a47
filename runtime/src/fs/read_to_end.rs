//! Reading a whole file natively: statx for the size, then reads straight into the
//! `Vec`'s spare capacity until the end. On a uring worker the statx and the first read
//! are submitted together (one round trip for a small file); elsewhere the whole loop is
//! one blocking-pool hop, as `std::fs::read` on tokio's pool would be.
//!
//! The end is a read that returns 0, or — for a regular file whose statx size is not 0 —
//! a short read that reaches that size (a regular file's read is only short at its end,
//! so the extra read that would return 0 is skipped). Files that grow are read until a
//! short read; files that shrink until a read returns 0; files whose size says 0 (procfs)
//! or that are not regular are read until 0.

use std::io;

use io_uring::opcode;

use super::{asyncify_buf, on_ring};
use crate::fd::SharedFd;
use crate::op;
use crate::op::statx::Target;

/// The first read when the size is not known yet.
const FIRST_READ: usize = 16 * 1024;
/// Extra room after the expected end, so that the read reaching it comes back short.
const PROBE: usize = 64;

/// What statx said: the size worth expecting (`None`: read until 0).
fn expected_end(stx: &libc::statx) -> Option<u64> {
    let regular = u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFREG;
    (regular && stx.stx_size > 0).then_some(stx.stx_size)
}

/// Grows `vec`'s spare capacity for the next read from `pos`.
fn reserve(vec: &mut Vec<u8>, pos: u64, end: Option<u64>) {
    let want = match end {
        Some(end) if end > pos => (end - pos) as usize + PROBE,
        _ => vec.capacity().clamp(FIRST_READ, super::stream::MAX_BUF),
    };
    if vec.capacity() - vec.len() < PROBE.min(want) || vec.capacity() - vec.len() < want / 2 {
        vec.reserve(want);
    }
}

/// True when the read of `n` bytes, that had room for `room`, ended at `pos`, the end.
fn at_end(n: usize, room: usize, pos: u64, end: Option<u64>) -> bool {
    n == 0 || (n < room && end.is_some_and(|end| pos >= end))
}

/// Reads from `pos` to the end of the file, appending to `vec`; the bytes read.
pub(super) async fn read_to_end_at(
    fd: &SharedFd,
    pos: u64,
    vec: &mut Vec<u8>,
) -> io::Result<usize> {
    if on_ring(opcode::Read::CODE) && on_ring(opcode::Statx::CODE) {
        let mut owned = std::mem::take(vec);
        let result = on_ring_loop(fd, pos, &mut owned).await;
        *vec = owned;
        result
    } else {
        let fd = fd.clone();
        let owned = std::mem::take(vec);
        let (result, owned) = asyncify_buf(move || {
            let mut owned = owned;
            (blocking_loop(&fd, pos, &mut owned), owned)
        })
        .await;
        *vec = owned;
        result
    }
}

async fn on_ring_loop(fd: &SharedFd, start: u64, vec: &mut Vec<u8>) -> io::Result<usize> {
    let first_len = vec.len();
    let stat = op::statx::statx(Target::Fd(fd.clone()), true)?;
    reserve(vec, start, None);
    let (mut pos, mut end) = (start, None);
    let mut stat = Some(stat);
    loop {
        let room = vec.capacity() - vec.len();
        let read = op::read::read_spare(fd, std::mem::take(vec), pos);
        let read = match read {
            Ok(read) => read,
            Err((err, back)) => {
                *vec = back;
                return Err(err);
            }
        };
        // The statx was submitted with the first read: wait for both.
        if let Some(stat) = stat.take() {
            end = stat.await.ok().as_ref().and_then(expected_end);
        }
        let (result, back) = read.await;
        *vec = back;
        let n = match result {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        pos += n as u64;
        if at_end(n, room, pos, end) {
            return Ok(vec.len() - first_len);
        }
        reserve(vec, pos, end);
    }
}

fn blocking_loop(fd: &SharedFd, start: u64, vec: &mut Vec<u8>) -> io::Result<usize> {
    let first_len = vec.len();
    let end = op::statx::blocking(&Target::Fd(fd.clone()), true)
        .ok()
        .as_ref()
        .and_then(expected_end);
    let mut pos = start;
    loop {
        reserve(vec, pos, end);
        let room = vec.capacity() - vec.len();
        let n = match op::read::pread_spare(fd, vec, pos) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        pos += n as u64;
        if at_end(n, room, pos, end) {
            return Ok(vec.len() - first_len);
        }
    }
}
