//! HTTP/1.1 framing for the proxy's fast path (`fast.rs`), httparse doing the syntax: which
//! client requests the fast path takes itself, and where a backend's response ends.
//!
//! The fast path takes only plain requests: HTTP/1.1, a known method, an origin-form target,
//! no body (no `Transfer-Encoding`, no `Content-Length` but `0`), no `Upgrade`, `Expect`, `TE`,
//! `Trailer`, `Keep-Alive` or `Proxy-Connection`, a `Connection` of `keep-alive` only, at most
//! one `Host` and one of each forwarding header. Anything else ([`Parsed::Other`]), valid or not,
//! is handed to hyper with every byte read so far, and hyper serves the rest of that connection.
//! So the two cannot disagree on where a request ends: the fast path only ever takes requests
//! that end with their head. `fuzz/`'s `h1` target checks that hyper reads the same requests.
//!
//! Responses follow hyper's client rules exactly (RFC 9112 §6.3): no body for `HEAD`, 1xx,
//! 204 and 304; chunked when the last transfer coding is `chunked`, else read to the close;
//! `Content-Length` when every value agrees; else to the close.

use std::mem::MaybeUninit;

use httparse::{Header, Status};

use super::chunked::BadChunk;

/// Header lines the fast path reads in a head, as many as hyper reads (a request with more
/// goes to hyper, which refuses it).
pub(crate) const MAX_HEADERS: usize = 100;

/// Room for the header lines of one head, left uninitialised (httparse fills what it uses).
pub(crate) type Lines<'b> = [MaybeUninit<Header<'b>>; MAX_HEADERS];

/// Fresh [`Lines`].
pub(crate) fn lines<'b>() -> Lines<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// Longest request target the fast path takes.
const MAX_TARGET: usize = 8 * 1024;

/// What a client's bytes hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<T> {
    /// A complete head the fast path takes.
    Done(T),
    /// The head is not complete yet: read more.
    Partial,
    /// Not for the fast path (or not valid): hyper serves the connection from here on.
    Other,
}

/// A plain request: its head is `len` bytes long and it has no body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request<'h, 'b> {
    /// The method, one of [`METHODS`].
    pub(crate) method: &'b str,
    /// The origin-form target (`/path?query`).
    pub(crate) target: &'b str,
    /// The header lines, in order.
    pub(crate) headers: &'h [Header<'b>],
    /// Length of the head, the whole request.
    pub(crate) len: usize,
}

/// Methods the fast path takes (CONNECT and extension methods go to hyper).
const METHODS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE",
];

/// Headers whose presence sends a request to hyper: a body, an upgrade, an expectation,
/// hop-by-hop fields other than `Connection`.
const OTHER_IF_PRESENT: [&str; 7] = [
    "transfer-encoding",
    "upgrade",
    "expect",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

/// Headers the fast path takes once at most (it reads or extends them).
const AT_MOST_ONCE: [&str; 6] = [
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// Reads a client request head from `buf` (which starts where the request starts).
pub(crate) fn request<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [MaybeUninit<Header<'b>>],
) -> Parsed<Request<'h, 'b>> {
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, headers) {
        Ok(Status::Complete(len)) => len,
        Ok(Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Other,
    };
    let (Some(method), Some(target), Some(1)) = (req.method, req.path, req.version) else {
        return Parsed::Other;
    };
    let headers: &'h [Header<'b>] = req.headers;
    if !METHODS.contains(&method) || !plain_target(target) || !plain_headers(headers) {
        return Parsed::Other;
    }
    Parsed::Done(Request {
        method,
        target,
        headers,
        len,
    })
}

/// An origin-form target of characters every URI parser takes alike.
fn plain_target(target: &str) -> bool {
    target.len() <= MAX_TARGET
        && target.starts_with('/')
        && target
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b))
}

/// True when no header sends the request to hyper (see the module's doc).
fn plain_headers(headers: &[Header<'_>]) -> bool {
    let mut seen = [false; AT_MOST_ONCE.len()];
    for header in headers {
        let name = header.name;
        if OTHER_IF_PRESENT
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            return false;
        }
        if let Some(i) = AT_MOST_ONCE
            .iter()
            .position(|n| name.eq_ignore_ascii_case(n))
        {
            if std::mem::replace(&mut seen[i], true) {
                return false;
            }
        }
        if name.eq_ignore_ascii_case("content-length") && header.value != b"0" {
            return false;
        }
        if name.eq_ignore_ascii_case("connection") && !only_keep_alive(header.value) {
            return false;
        }
    }
    true
}

/// A `Connection` value naming `keep-alive` and nothing else.
fn only_keep_alive(value: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .all(|token| token.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
}

/// How a response's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the backend closes the connection.
    Close,
}

/// A backend's response head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response<'h, 'b> {
    /// The status code.
    pub(crate) status: u16,
    /// The reason phrase.
    pub(crate) reason: &'b str,
    /// The header lines, in order.
    pub(crate) headers: &'h [Header<'b>],
    /// Length of the head.
    pub(crate) len: usize,
    /// Where the body ends.
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request afterwards.
    pub(crate) keep_alive: bool,
}

/// What a backend's bytes hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResponseHead<'h, 'b> {
    /// A final response head.
    Final(Response<'h, 'b>),
    /// An informational (1xx but 101) head of `len` bytes, skipped as hyper does.
    Informational(usize),
    /// Not complete yet.
    Partial,
}

/// Why a backend's response cannot be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Invalid {
    /// Not HTTP/1 syntax.
    #[error("invalid response head: {0}")]
    Syntax(httparse::Error),
    /// A status hyper refuses, or 101 to a request that asked for no upgrade.
    #[error("unexpected status {0}")]
    Status(u16),
    /// `Transfer-Encoding` in an HTTP/1.0 response.
    #[error("transfer-encoding in an HTTP/1.0 response")]
    TransferEncoding,
    /// A `Content-Length` that is not one number.
    #[error("invalid content-length")]
    ContentLength,
    /// A chunked body that does not follow RFC 9112 §7.1.
    #[error(transparent)]
    Chunked(#[from] BadChunk),
}

/// Reads a backend's response head from `buf`; `head` when the request was a `HEAD`.
pub(crate) fn response<'h, 'b>(
    buf: &'b [u8],
    headers: &'h mut [MaybeUninit<Header<'b>>],
    head: bool,
) -> Result<ResponseHead<'h, 'b>, Invalid> {
    let mut res = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, headers);
    let len = match parsed.map_err(Invalid::Syntax)? {
        Status::Complete(len) => len,
        Status::Partial => return Ok(ResponseHead::Partial),
    };
    let (Some(version), Some(status)) = (res.version, res.code) else {
        return Err(Invalid::Syntax(httparse::Error::Status));
    };
    let headers: &'h [Header<'b>] = res.headers;
    match status {
        101 => return Err(Invalid::Status(status)),
        100..=199 => return Ok(ResponseHead::Informational(len)),
        200..=999 => {}
        _ => return Err(Invalid::Status(status)),
    }
    let http11 = version == 1;
    let mut keep_alive = http11;
    let mut close = false;
    for value in values(headers, "connection") {
        if close || has_token(value, b"close") {
            close = true;
            keep_alive = false;
        } else if !keep_alive {
            keep_alive = has_token(value, b"keep-alive");
        }
    }
    let framing = if head || matches!(status, 204 | 304) {
        Framing::Empty
    } else if let Some(last) = values(headers, "transfer-encoding").last() {
        if !http11 {
            return Err(Invalid::TransferEncoding);
        }
        let coding = last.rsplit(|&b| b == b',').next().unwrap_or(b"");
        match coding.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            true => Framing::Chunked,
            false => Framing::Close,
        }
    } else {
        match content_length(headers)? {
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    Ok(ResponseHead::Final(Response {
        status,
        reason: res.reason.unwrap_or(""),
        headers,
        len,
        framing,
        keep_alive,
    }))
}

/// The values of the headers named `name`, in order.
fn values<'a, 'b: 'a>(
    headers: &'a [Header<'b>],
    name: &'a str,
) -> impl Iterator<Item = &'b [u8]> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Whether a comma-separated value has `token` (ASCII case aside); non-UTF-8 has none.
fn has_token(value: &[u8], token: &[u8]) -> bool {
    std::str::from_utf8(value).is_ok_and(|s| {
        s.split(',')
            .any(|t| t.trim().as_bytes().eq_ignore_ascii_case(token))
    })
}

/// Every `Content-Length` value (comma-separated lists too) as one number, hyper's way.
fn content_length(headers: &[Header<'_>]) -> Result<Option<u64>, Invalid> {
    let mut length = None;
    for value in values(headers, "content-length") {
        let value = std::str::from_utf8(value).map_err(|_| Invalid::ContentLength)?;
        for token in value.split(',') {
            let n = digits(token.trim().as_bytes()).ok_or(Invalid::ContentLength)?;
            if *length.get_or_insert(n) != n {
                return Err(Invalid::ContentLength);
            }
        }
    }
    // hyper's largest length (u64::MAX is its "chunked", MAX - 1 its "to the close").
    match length {
        Some(n) if n >= u64::MAX - 1 => Err(Invalid::ContentLength),
        length => Ok(length),
    }
}

/// A non-empty run of decimal digits as a number.
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
