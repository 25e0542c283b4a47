//! HTTP/1.1 for the raw servers, free of syscalls: [`Framing`] splits a
//! connection's byte stream into requests (each request head ends at the
//! first `\r\n\r\n`; a `Content-Length` body is skipped), and [`Responder`]
//! writes the bytes the bundled hyper hello service sends for each, with the
//! same `date` header, regenerated at most once per second as hyper does.
//!
//! Requests may arrive split over any number of reads or several in one
//! read (pipelining): each gets one response, in order. Not handled, as the
//! load generator never sends them: `Transfer-Encoding` bodies (the stream
//! cannot be framed: [`Unframed`], the server closes after the responses to
//! the earlier requests), `Connection: close` and HTTP/1.0 (answered as
//! keep-alive HTTP/1.1), `HEAD` (answered with the body). The request line
//! and headers are not validated.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::StatusCode;

use crate::serve::HELLO;

/// Largest request head kept while waiting for its end.
const MAX_HEAD: usize = 64 * 1024;
/// Marks the end of a request head.
const HEAD_END: &[u8] = b"\r\n\r\n";

/// Why a connection's bytes cannot be split into requests any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unframed {
    /// A request head without its end within [`MAX_HEAD`] bytes.
    HeadTooLarge,
    /// A `Content-Length` that is not a number.
    BadContentLength,
    /// A `Transfer-Encoding` body (chunked), which these servers do not decode.
    TransferEncoding,
}

impl fmt::Display for Unframed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unframed::HeadTooLarge => "request head over 64 KiB",
            Unframed::BadContentLength => "bad Content-Length",
            Unframed::TransferEncoding => "Transfer-Encoding bodies are not supported",
        })
    }
}

/// The request framing state of one connection.
#[derive(Debug, Default)]
pub(crate) struct Framing {
    /// The start of a request head whose end has not arrived yet.
    partial: Vec<u8>,
    /// Body bytes of the last request still to skip.
    body_left: usize,
}

impl Framing {
    /// Takes the next bytes of the stream and appends one response per
    /// request completed by them to `out`.
    ///
    /// # Errors
    /// The stream cannot be framed from here on; the responses to the
    /// requests before are in `out`.
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        responder: &mut Responder,
    ) -> Result<(), Unframed> {
        if self.partial.is_empty() {
            let rest = self.requests(input, 0, out, responder)?;
            return self.keep(rest);
        }
        // The end may straddle the old bytes and the new: search from 3 back.
        let from = self.partial.len().saturating_sub(HEAD_END.len() - 1);
        let mut buf = std::mem::take(&mut self.partial);
        buf.extend_from_slice(input);
        let rest = self.requests(&buf, from, out, responder)?.len();
        buf.drain(..buf.len() - rest);
        self.partial = buf;
        match self.partial.len() > MAX_HEAD {
            true => Err(Unframed::HeadTooLarge),
            false => Ok(()),
        }
    }

    /// Answers every whole request in `data`, searching the first head's end
    /// from `from`; returns the bytes of an unfinished head.
    fn requests<'a>(
        &mut self,
        mut data: &'a [u8],
        mut from: usize,
        out: &mut Vec<u8>,
        responder: &mut Responder,
    ) -> Result<&'a [u8], Unframed> {
        loop {
            let skip = self.body_left.min(data.len());
            self.body_left -= skip;
            data = &data[skip..];
            let Some(end) = head_end(data, from) else {
                return Ok(data);
            };
            self.body_left = body_len(&data[..end])?;
            responder.write(out);
            data = &data[end..];
            from = 0;
        }
    }

    /// Keeps the start of an unfinished head for the next read.
    fn keep(&mut self, rest: &[u8]) -> Result<(), Unframed> {
        if rest.len() > MAX_HEAD {
            return Err(Unframed::HeadTooLarge);
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }
}

/// The length of the head at the start of `data` (its `\r\n\r\n`
/// included), searching from `from`.
fn head_end(data: &[u8], from: usize) -> Option<usize> {
    data.get(from..)?
        .windows(HEAD_END.len())
        .position(|w| w == HEAD_END)
        .map(|i| from + i + HEAD_END.len())
}

/// The body length a request head announces (0 without `Content-Length`).
fn body_len(head: &[u8]) -> Result<usize, Unframed> {
    let mut len = 0;
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (line[..colon].trim_ascii(), line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(Unframed::TransferEncoding);
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            len = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse().ok())
                .ok_or(Unframed::BadContentLength)?;
        }
    }
    Ok(len)
}

/// The hello service's response, as hyper writes it: status line,
/// `content-length: 13`, `date`, blank line, `Hello, World!`; for 204 and
/// 304 hyper sends neither the length nor the body, and neither does this.
#[derive(Debug, Clone)]
pub(crate) struct Responder {
    /// Status line and headers up to the date value.
    head: Vec<u8>,
    /// What follows the date value: the blank line and the body.
    tail: Vec<u8>,
    /// The IMF-fixdate of `date_secs`, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    date: String,
    /// The second `date` shows (seconds since the epoch).
    date_secs: u64,
}

impl Responder {
    /// The responder for `status`.
    ///
    /// # Errors
    /// A 1xx status, which hyper does not send as a final response.
    pub(crate) fn new(status: StatusCode) -> Result<Responder, String> {
        if status.is_informational() {
            return Err(format!(
                "--status {status}: the raw servers do not send 1xx responses"
            ));
        }
        let reason = status.canonical_reason().unwrap_or("<none>");
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", status.as_str()).into_bytes();
        let mut tail = b"\r\n\r\n".to_vec();
        if !matches!(status.as_u16(), 204 | 304) {
            head.extend_from_slice(format!("content-length: {}\r\n", HELLO.len()).as_bytes());
            tail.extend_from_slice(HELLO);
        }
        head.extend_from_slice(b"date: ");
        Ok(Responder {
            head,
            tail,
            date: String::new(),
            date_secs: u64::MAX,
        })
    }

    /// Appends one response to `out`.
    pub(crate) fn write(&mut self, out: &mut Vec<u8>) {
        self.write_at(SystemTime::now(), out);
    }

    /// Appends one response dated `now` to `out`.
    fn write_at(&mut self, now: SystemTime, out: &mut Vec<u8>) {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.date_secs {
            self.date = httpdate::fmt_http_date(now);
            self.date_secs = secs;
        }
        out.extend_from_slice(&self.head);
        out.extend_from_slice(self.date.as_bytes());
        out.extend_from_slice(&self.tail);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";

    fn responder() -> Responder {
        Responder::new(StatusCode::OK).unwrap()
    }

    /// Feeds `chunks` in order; the number of responses written.
    fn responses(chunks: &[&[u8]]) -> (usize, Result<(), Unframed>) {
        let (mut framing, mut responder, mut out) = (Framing::default(), responder(), Vec::new());
        let mut result = Ok(());
        for chunk in chunks {
            result = framing.feed(chunk, &mut out, &mut responder);
            if result.is_err() {
                break;
            }
        }
        let one = {
            let mut one = Vec::new();
            responder.write(&mut one);
            one.len()
        };
        assert_eq!(out.len() % one, 0);
        (out.len() / one, result)
    }

    #[test]
    fn response_bytes_are_hypers() {
        let mut out = Vec::new();
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        responder().write_at(at, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nHello, World!"
        );
        let mut out = Vec::new();
        Responder::new(StatusCode::from_u16(599).unwrap())
            .unwrap()
            .write_at(at, &mut out);
        assert!(out.starts_with(b"HTTP/1.1 599 <none>\r\ncontent-length: 13\r\n"));
        let mut out = Vec::new();
        Responder::new(StatusCode::NO_CONTENT)
            .unwrap()
            .write_at(at, &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 204 No Content\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
        );
        assert!(Responder::new(StatusCode::CONTINUE).is_err());
    }

    #[test]
    fn date_changes_with_the_second() {
        let mut r = responder();
        let at = UNIX_EPOCH + Duration::from_secs(784_111_777);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        r.write_at(at + Duration::from_millis(999), &mut a);
        r.write_at(at + Duration::from_secs(1), &mut b);
        assert!(String::from_utf8(b).unwrap().contains("08:49:38 GMT"));
    }

    #[test]
    fn pipelined_and_split_requests() {
        assert_eq!(responses(&[&GET.repeat(3)]).0, 3);
        let bytes: Vec<&[u8]> = GET.chunks(1).collect();
        assert_eq!(responses(&bytes).0, 1);
        let two = GET.repeat(2);
        let (a, b) = two.split_at(GET.len() - 2);
        assert_eq!(responses(&[a, b]).0, 2);
        assert_eq!(responses(&[&GET[..10]]).0, 0);
    }

    #[test]
    fn bodies_are_skipped() {
        let post = b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\n\r\n\r\n\r";
        let stream = [post.as_slice(), GET].concat();
        assert_eq!(responses(&[&stream]).0, 2);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(responses(&bytes).0, 2);
    }

    #[test]
    fn unframeable_streams_stop_after_the_earlier_requests() {
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let stream = [GET, chunked.as_slice()].concat();
        assert_eq!(responses(&[&stream]), (1, Err(Unframed::TransferEncoding)));
        let bad = b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n";
        assert_eq!(responses(&[bad]).1, Err(Unframed::BadContentLength));
        let huge = vec![b'x'; MAX_HEAD + 1];
        assert_eq!(responses(&[&huge]).1, Err(Unframed::HeadTooLarge));
        let (a, b) = huge.split_at(MAX_HEAD / 2);
        assert_eq!(responses(&[a, b]).1, Err(Unframed::HeadTooLarge));
    }
}
