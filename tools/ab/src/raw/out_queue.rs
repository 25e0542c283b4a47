//! The bytes a raw server still has to send on one connection, free of
//! syscalls: new output is appended behind the bytes being sent, so that the
//! io_uring server can hand the front buffer to one in-flight `SEND` while
//! the connection's next responses queue up behind it, in order.

/// Buffers kept after use up to this capacity; larger ones are freed.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Output of one connection: `front[sent..]` is being sent, `back` waits.
///
/// # Invariants
/// `front` is changed only by [`OutQueue::next_chunk`] (once it is fully
/// sent) and [`OutQueue::clear`]; [`OutQueue::back_mut`] never touches it.
/// So the chunk `next_chunk` returns stays where it is, unchanged, until the
/// caller next calls `advance`, `next_chunk` or `clear`: the uring server
/// calls those only after the `SEND` reading it has completed.
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    front: Vec<u8>,
    sent: usize,
    back: Vec<u8>,
}

impl OutQueue {
    /// Where new output goes (behind everything queued).
    pub(crate) fn back_mut(&mut self) -> &mut Vec<u8> {
        &mut self.back
    }

    /// The next bytes to send, if any: the unsent rest of the front buffer,
    /// or, once that is sent, what queued behind it.
    pub(crate) fn next_chunk(&mut self) -> Option<&[u8]> {
        if self.sent == self.front.len() && !self.back.is_empty() {
            self.front.clear();
            self.sent = 0;
            std::mem::swap(&mut self.front, &mut self.back);
            if self.back.capacity() > KEEP_CAPACITY {
                self.back = Vec::new();
            }
        }
        let rest = &self.front[self.sent..];
        (!rest.is_empty()).then_some(rest)
    }

    /// `n` bytes of the last chunk were sent.
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(self.sent + n <= self.front.len(), "sent past the chunk");
        self.sent = (self.sent + n).min(self.front.len());
    }

    /// Whether nothing is left to send.
    pub(crate) fn is_empty(&self) -> bool {
        self.sent == self.front.len() && self.back.is_empty()
    }

    /// Drops everything queued (the peer is gone).
    pub(crate) fn clear(&mut self) {
        *self = OutQueue::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_its_order_across_partial_sends() {
        let mut q = OutQueue::default();
        assert!(q.next_chunk().is_none() && q.is_empty());
        q.back_mut().extend_from_slice(b"abc");
        let chunk = q.next_chunk().unwrap();
        assert_eq!(chunk, b"abc");
        let addr = chunk.as_ptr();
        // Queued while "abc" is in flight: the front does not move.
        q.back_mut().extend_from_slice(&[b'd'; 100_000]);
        q.advance(1);
        let chunk = q.next_chunk().unwrap();
        assert_eq!((chunk, chunk.as_ptr()), (&b"bc"[..], addr.wrapping_add(1)));
        q.advance(2);
        assert_eq!(q.next_chunk().unwrap().len(), 100_000);
        assert!(!q.is_empty());
        q.advance(100_000);
        assert!(q.next_chunk().is_none() && q.is_empty());
        q.back_mut().push(b'e');
        assert_eq!(q.next_chunk().unwrap(), b"e");
    }

    #[test]
    fn large_buffers_are_not_kept() {
        let mut q = OutQueue::default();
        q.back_mut().extend_from_slice(&[0; 2 * KEEP_CAPACITY]);
        q.next_chunk();
        q.advance(2 * KEEP_CAPACITY);
        q.back_mut().push(1);
        q.next_chunk();
        assert!(q.back.capacity() <= KEEP_CAPACITY);
    }
}
