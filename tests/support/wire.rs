//! HTTP/1.1 as bytes on the wire, for clients that misbehave on purpose (write one byte at a
//! time, stop reading, reset, half-close) and for clients too many to give each a hyper
//! connection: requests as text, responses parsed up to their `content-length` body.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// `GET path` with a `Host` header; `close` adds `connection: close`.
pub(crate) fn get(path: &str, close: bool) -> String {
    let connection = if close { "connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n{connection}\r\n")
}

/// `POST path` carrying `body`, with its `content-length`.
pub(crate) fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

/// A response read off the wire.
#[derive(Debug)]
pub(crate) struct RawResponse {
    /// The status code.
    pub(crate) status: u16,
    /// The status line and headers, as sent.
    pub(crate) head: String,
    /// The body: `content-length` bytes.
    pub(crate) body: Vec<u8>,
}

/// Reads one response from `io`; bytes after it are not expected (no pipelining).
///
/// # Errors
///
/// Read errors, `UnexpectedEof` before the response is complete, `InvalidData` for a
/// response without a valid status line or `content-length`.
pub(crate) async fn read_response<R: AsyncRead + Unpin>(io: &mut R) -> io::Result<RawResponse> {
    let mut parser = Parser::default();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        if let Some(response) = parser.response()? {
            return Ok(response);
        }
        let n = io.read(&mut chunk).await?;
        parser.feed(&chunk[..n])?;
    }
}

/// [`read_response`] for a blocking reader.
///
/// # Errors
///
/// As [`read_response`].
pub(crate) fn read_response_blocking(io: &mut impl io::Read) -> io::Result<RawResponse> {
    let mut parser = Parser::default();
    let mut chunk = [0; 1024];
    loop {
        if let Some(response) = parser.response()? {
            return Ok(response);
        }
        let n = io.read(&mut chunk)?;
        parser.feed(&chunk[..n])?;
    }
}

/// The bytes of one response so far, and its head once complete.
#[derive(Debug, Default)]
struct Parser {
    bytes: Vec<u8>,
    /// Length of the head (up to the blank line), its status and `content-length`.
    head: Option<(usize, u16, usize)>,
}

impl Parser {
    /// Adds what one read returned (`[]` for end of file).
    fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.bytes.extend_from_slice(bytes);
        if self.head.is_none() {
            self.head = parse_head(&self.bytes)?;
        }
        Ok(())
    }

    /// The response, once all of it arrived.
    fn response(&mut self) -> io::Result<Option<RawResponse>> {
        let Some((head_len, status, body_len)) = self.head else {
            return Ok(None);
        };
        if self.bytes.len() < head_len + body_len {
            return Ok(None);
        }
        let head = String::from_utf8_lossy(&self.bytes[..head_len]).into_owned();
        let body = self.bytes[head_len..].to_vec();
        if body.len() != body_len {
            return Err(invalid(format!(
                "{} bytes after the response",
                body.len() - body_len
            )));
        }
        Ok(Some(RawResponse { status, head, body }))
    }
}

/// The head's length, status and `content-length`, once `bytes` holds the whole head.
fn parse_head(bytes: &[u8]) -> io::Result<Option<(usize, u16, usize)>> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| invalid("a non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3)?.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line in {head:?}")))?;
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .ok_or_else(|| invalid(format!("no content-length in {head:?}")))?;
    Ok(Some((end + 4, status, length)))
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}
