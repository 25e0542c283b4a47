//! A minimal HTTP/1.1 client codec for the load generator: the request bytes,
//! and an incremental response parser (status line, `Content-Length`,
//! chunked bodies, `Connection: close`) that works on whatever prefix of the
//! byte stream has arrived.

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// The bytes of one request, sent as is for every request.
pub(crate) fn request(path: &str, host: &str, body: usize) -> Vec<u8> {
    let mut req = match body {
        0 => format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        n => format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n\
             Content-Type: application/octet-stream\r\nContent-Length: {n}\r\n\r\n"
        ),
    }
    .into_bytes();
    req.resize(req.len() + body, b'x');
    req
}

/// A complete response at the start of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    /// Bytes the response occupies (head and body).
    pub(crate) len: usize,
    /// Status code.
    pub(crate) status: u16,
    /// Decoded body length (chunk sizes summed for chunked bodies).
    pub(crate) body_len: usize,
    /// The server announced `Connection: close`.
    pub(crate) close: bool,
    /// The body was framed by `Content-Length` (not chunked, not implied).
    pub(crate) content_length: bool,
}

/// Result of looking at the start of the receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Parse {
    /// A whole response.
    Done(Response),
    /// More bytes are needed.
    Partial,
    /// The bytes are not an HTTP/1.1 response this client understands.
    Invalid(&'static str),
}

/// Parses one response from the start of `buf`.
pub(crate) fn parse(buf: &[u8]) -> Parse {
    let Some(head_len) = head_end(buf) else {
        return match buf.len() > MAX_HEAD {
            true => Parse::Invalid("response head over 64 KiB"),
            false => Parse::Partial,
        };
    };
    let head = match parse_head(&buf[..head_len]) {
        Ok(h) => h,
        Err(e) => return Parse::Invalid(e),
    };
    let body = &buf[head_len..];
    let (body_bytes, body_len) = match head.framing {
        Framing::Length(n) if body.len() >= n => (n, n),
        Framing::Length(_) => return Parse::Partial,
        Framing::Chunked => match parse_chunked(body) {
            Ok(Some(v)) => v,
            Ok(None) => return Parse::Partial,
            Err(e) => return Parse::Invalid(e),
        },
    };
    Parse::Done(Response {
        len: head_len + body_bytes,
        status: head.status,
        body_len,
        close: head.close,
        content_length: head.has_length,
    })
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
}

/// The parts of a response head the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    close: bool,
    /// A `Content-Length` header framed the body.
    has_length: bool,
}

/// Length of the head including the blank line, if it has fully arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf[from..].iter().position(|&b| b == b'\n') {
        let nl = from + i;
        if nl >= 3 && &buf[nl - 3..=nl] == b"\r\n\r\n" {
            return Some(nl + 1);
        }
        from = nl + 1;
    }
    None
}

fn parse_head(head: &[u8]) -> Result<Head, &'static str> {
    let mut lines = head.split(|&b| b == b'\n').map(trim_cr);
    let status = parse_status_line(lines.next().unwrap_or_default())?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    for line in lines.filter(|l| !l.is_empty()) {
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or("header line without a colon")?;
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(parse_decimal(value).ok_or("bad Content-Length")?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = contains_token(value, b"chunked");
        } else if name.eq_ignore_ascii_case(b"connection") {
            close = contains_token(value, b"close");
        }
    }
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked,
        (false, Some(n)) => Framing::Length(n),
        // RFC 9112 6.3: these never have a body.
        (false, None) if status == 204 || status == 304 || status < 200 => Framing::Length(0),
        (false, None) => return Err("response without Content-Length or chunked encoding"),
    };
    Ok(Head {
        status,
        framing,
        close,
        has_length: !chunked && length.is_some(),
    })
}

fn parse_status_line(line: &[u8]) -> Result<u16, &'static str> {
    if line.len() < 12 || !line.starts_with(b"HTTP/1.") || line[8] != b' ' {
        return Err("bad status line");
    }
    match parse_decimal(&line[9..12]) {
        Some(s) if (100..=999).contains(&s) && line.get(12).is_none_or(|&b| b == b' ') => {
            Ok(s as u16)
        }
        _ => Err("bad status code"),
    }
}

/// Parses a chunked body; `Ok(None)` while incomplete, else (bytes, decoded length).
fn parse_chunked(body: &[u8]) -> Result<Option<(usize, usize)>, &'static str> {
    let (mut pos, mut decoded) = (0, 0usize);
    loop {
        let Some(eol) = body[pos..].iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = trim_cr(&body[pos..pos + eol]);
        let size_field = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = parse_hex(trim(size_field)).ok_or("bad chunk size")?;
        pos += eol + 1;
        if size == 0 {
            return Ok(skip_trailers(&body[pos..]).map(|n| (pos + n, decoded)));
        }
        if body.len() < pos + size + 2 {
            return Ok(None);
        }
        if &body[pos + size..pos + size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF");
        }
        pos += size + 2;
        decoded += size;
    }
}

/// Bytes of the trailer section including the final blank line.
fn skip_trailers(buf: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        let eol = buf[pos..].iter().position(|&b| b == b'\n')?;
        let blank = trim_cr(&buf[pos..pos + eol]).is_empty();
        pos += eol + 1;
        if blank {
            return Some(pos);
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| trim(t).eq_ignore_ascii_case(token))
}

fn parse_decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 15 {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + usize::from(b - b'0'))
    })
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    s.iter().try_fold(0usize, |acc, &b| {
        (b as char).to_digit(16).map(|d| acc * 16 + d as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: x\r\n\r\nHello, World!";

    #[test]
    fn content_length_response() {
        let Parse::Done(r) = parse(HELLO) else {
            panic!()
        };
        assert_eq!(
            (r.len, r.status, r.body_len, r.close, r.content_length),
            (HELLO.len(), 200, 13, false, true)
        );
    }

    #[test]
    fn every_prefix_is_partial() {
        for n in 0..HELLO.len() {
            assert_eq!(parse(&HELLO[..n]), Parse::Partial, "prefix {n}");
        }
    }

    #[test]
    fn pipelined_responses_parse_one_at_a_time() {
        let two = [HELLO, HELLO].concat();
        let Parse::Done(r) = parse(&two) else {
            panic!()
        };
        assert_eq!(r.len, HELLO.len());
        assert!(matches!(parse(&two[r.len..]), Parse::Done(_)));
    }

    #[test]
    fn chunked_body_with_trailer() {
        let resp =
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: gzip, Chunked\r\nConnection: close\r\n\r\n\
                     5;ext=1\r\nHello\r\n8\r\n, World!\r\n0\r\nX-T: 1\r\n\r\n";
        let Parse::Done(r) = parse(resp) else {
            panic!()
        };
        assert_eq!(
            (r.len, r.status, r.body_len, r.close, r.content_length),
            (resp.len(), 500, 13, true, false)
        );
        for n in 0..resp.len() {
            assert_eq!(parse(&resp[..n]), Parse::Partial, "prefix {n}");
        }
    }

    #[test]
    fn malformed_responses() {
        assert!(matches!(parse(b"HTTP/2 200 OK\r\n\r\n"), Parse::Invalid(_)));
        assert!(matches!(
            parse(b"HTTP/1.1 2x0 OK\r\n\r\n"),
            Parse::Invalid(_)
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\n\r\n"),
            Parse::Invalid(_)
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Parse::Invalid(_)
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            Parse::Invalid(_)
        ));
        assert!(matches!(parse(&[b'a'; MAX_HEAD + 1]), Parse::Invalid(_)));
    }

    #[test]
    fn no_body_statuses() {
        let Parse::Done(r) = parse(b"HTTP/1.1 204 No Content\r\n\r\n") else {
            panic!()
        };
        assert_eq!(r.body_len, 0);
    }

    #[test]
    fn requests() {
        assert_eq!(request("/", "h", 0), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let post = request("/p", "h", 3);
        assert!(post.starts_with(b"POST /p HTTP/1.1\r\n"));
        assert!(post.ends_with(b"Content-Length: 3\r\n\r\nxxx"));
    }
}
