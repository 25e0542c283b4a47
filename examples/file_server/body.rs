//! The body of a file response: `read_at`s of one chunk each, issued as hyper asks for frames.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use corio::buf::BufResult;
use corio::fs::File;
use hyper::body::{Frame, SizeHint};

use super::CHUNK;

/// One `read_at` in flight: it owns its buffer until the read completes (or, if dropped,
/// corio frees the buffer once the kernel has let go of it).
type Read = Pin<Box<dyn Future<Output = BufResult<usize, Vec<u8>>> + Send>>;

/// A body that reads `file[pos..end]` one [`CHUNK`] at a time, as hyper polls for frames.
pub(super) struct FileBody {
    file: Arc<File>,
    pos: u64,
    end: u64,
    /// The read in flight; its buffer is the next frame.
    read: Option<Read>,
}

impl FileBody {
    pub(super) fn new(file: File, pos: u64, end: u64) -> FileBody {
        FileBody {
            file: Arc::new(file),
            pos,
            end,
            read: None,
        }
    }
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = &mut *self;
        let wanted = usize::try_from(this.end - this.pos)
            .unwrap_or(CHUNK)
            .min(CHUNK);
        if wanted == 0 {
            return Poll::Ready(None);
        }
        let (file, pos) = (&this.file, this.pos);
        let read = this.read.get_or_insert_with(|| {
            let file = file.clone();
            Box::pin(async move { file.read_at(Vec::with_capacity(wanted), pos).await })
        });
        let (read, mut buf) = ready!(read.as_mut().poll(cx));
        this.read = None;
        let n = match read {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while being sent",
            )),
            Ok(n) => Ok(n.min(wanted)),
            Err(err) => Err(err),
        }?;
        buf.truncate(n);
        this.pos += n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos == self.end
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.end - self.pos)
    }
}

impl fmt::Debug for FileBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reading = self.read.is_some();
        f.debug_struct("FileBody")
            .field("pos", &self.pos)
            .field("end", &self.end)
            .field("reading", &reading)
            .finish()
    }
}
