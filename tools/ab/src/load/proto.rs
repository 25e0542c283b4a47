//! The protocol a connection speaks: which bytes make a request, and how a
//! reply is recognised at the start of the receive buffer.

use std::fmt;
use std::net::SocketAddr;

use super::http;
use crate::protocol::ProtoSpec;

/// Request bytes and reply framing for one benchmark.
#[derive(Debug)]
pub(crate) enum Proto {
    /// HTTP/1.1: the same request every time.
    Http {
        /// The request's bytes.
        request: Vec<u8>,
    },
    /// Echo: the same message every time, expected back verbatim.
    Echo {
        /// The message's bytes.
        payload: Vec<u8>,
    },
}

/// A reply found at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// An HTTP response.
    Http(http::Response),
    /// An echoed message, and whether its bytes were the ones sent.
    Echo {
        /// The bytes match the payload.
        matches: bool,
    },
}

/// What the buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A reply occupying `len` bytes.
    Done {
        /// Bytes consumed.
        len: usize,
        /// The reply.
        reply: Reply,
    },
    /// More bytes are needed.
    Partial,
    /// Unparseable bytes; the connection must be dropped.
    Invalid(&'static str),
}

/// Why a request failed; the error tables' keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// `connect` failed.
    Connect,
    /// `read` failed (e.g. reset).
    Read,
    /// `write` failed.
    Write,
    /// The server closed the connection (EOF, or `Connection: close`).
    Closed,
    /// No answer within `--timeout`.
    Timeout,
    /// Not a response this client understands.
    Malformed(&'static str),
    /// A status other than the expected one.
    Status(u16),
    /// A body length other than the expected one.
    BodyLen,
    /// No `Content-Length` header where one is required.
    NoContentLength,
    /// Echoed bytes differ from the ones sent.
    EchoMismatch,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Connect => f.write_str("connect"),
            ErrorKind::Read => f.write_str("read"),
            ErrorKind::Write => f.write_str("write"),
            ErrorKind::Closed => f.write_str("closed by server"),
            ErrorKind::Timeout => f.write_str("timeout"),
            ErrorKind::Malformed(why) => write!(f, "malformed: {why}"),
            ErrorKind::Status(s) => write!(f, "status {s}"),
            ErrorKind::BodyLen => f.write_str("wrong body length"),
            ErrorKind::NoContentLength => f.write_str("no Content-Length"),
            ErrorKind::EchoMismatch => f.write_str("echo mismatch"),
        }
    }
}

impl Proto {
    /// Builds the request bytes for `spec`.
    pub(crate) fn new(spec: &ProtoSpec, addr: SocketAddr) -> Proto {
        match spec {
            ProtoSpec::Http { path, body, .. } => Proto::Http {
                request: http::request(path, &addr.to_string(), *body),
            },
            ProtoSpec::Echo { size } => Proto::Echo {
                payload: (0..*size).map(|i| b'a' + (i % 26) as u8).collect(),
            },
        }
    }

    /// The bytes of one request.
    pub(crate) fn request(&self) -> &[u8] {
        match self {
            Proto::Http { request } => request,
            Proto::Echo { payload } => payload,
        }
    }

    /// Looks for one reply at the start of `buf`.
    pub(crate) fn parse(&self, buf: &[u8]) -> Step {
        match self {
            Proto::Http { .. } => match http::parse(buf) {
                http::Parse::Done(r) => Step::Done {
                    len: r.len,
                    reply: Reply::Http(r),
                },
                http::Parse::Partial => Step::Partial,
                http::Parse::Invalid(why) => Step::Invalid(why),
            },
            Proto::Echo { payload } if buf.len() >= payload.len() => Step::Done {
                len: payload.len(),
                reply: Reply::Echo {
                    matches: buf[..payload.len()] == payload[..],
                },
            },
            Proto::Echo { .. } => Step::Partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_framing() {
        let p = Proto::new(&ProtoSpec::Echo { size: 4 }, "127.0.0.1:1".parse().unwrap());
        assert_eq!(p.request(), b"abcd");
        assert_eq!(p.parse(b"abc"), Step::Partial);
        assert_eq!(
            p.parse(b"abcdX"),
            Step::Done {
                len: 4,
                reply: Reply::Echo { matches: true }
            }
        );
        assert_eq!(
            p.parse(b"abce"),
            Step::Done {
                len: 4,
                reply: Reply::Echo { matches: false }
            }
        );
    }
}
