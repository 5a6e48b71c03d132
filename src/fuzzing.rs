//! Doors for the fuzz harness (`fuzz/`) into crate-private code: not an API, may change any time.

use tokio::sync::mpsc;

use crate::api::ApiRequest;

/// The control API's axum router; each request goes to `requests` (the controller loop's end).
pub fn api_router(requests: mpsc::Sender<ApiRequest>) -> axum::Router {
    crate::api::routes::router(requests)
}

/// The log capture's line splitter (`logs/line.rs`), as the capture task uses it.
#[derive(Debug)]
pub struct LineSplitter(crate::logs::LineSplitter);

impl LineSplitter {
    /// A splitter cutting lines longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self(crate::logs::LineSplitter::new(max))
    }

    /// Feeds a chunk; `emit` gets each complete line (without `\n` or a trailing `\r`).
    pub fn push(&mut self, chunk: &[u8], emit: &mut impl FnMut(&[u8])) {
        self.0.push(chunk, emit);
    }

    /// Emits the partial last line, if any (at EOF).
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        self.0.finish(emit);
    }
}

/// Appends one log file line: `STAMP message\n` (or `message\n`), invalid UTF-8 replaced.
pub fn format_line(out: &mut Vec<u8>, stamp: Option<&str>, line: &[u8]) {
    crate::logs::format_line(out, stamp, line);
}

/// A request as the http proxy's fast path read it (`net/h1.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H1Request {
    /// Length of the request (its head: the fast path takes no bodies).
    pub len: usize,
    /// The method.
    pub method: String,
    /// The target.
    pub target: String,
    /// Header lines: name in lower case, value.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The request at the start of `buf` if the fast path takes it; `None` if it leaves it to hyper
/// or it is not complete.
pub fn h1_request(buf: &[u8]) -> Option<H1Request> {
    use crate::net::h1;
    let mut lines = h1::lines();
    match h1::request(buf, &mut lines) {
        h1::Parsed::Done(r) => Some(H1Request {
            len: r.len,
            method: r.method.to_owned(),
            target: r.target.to_owned(),
            headers: lower(r.headers),
        }),
        h1::Parsed::Partial | h1::Parsed::Other => None,
    }
}

/// A backend response as the fast path reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H1Response {
    /// The status code.
    pub status: u16,
    /// Header lines: name in lower case, value.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, decoded.
    pub body: Vec<u8>,
    /// Where the response ended in the input (its length, 1xx heads before it included).
    pub end: usize,
    /// Whether the connection could carry another request.
    pub keep_alive: bool,
}

/// The response at the start of `buf` (the whole input: a close ends a body read to the close)
/// to a `HEAD` request if `head`: `Ok(None)` when it is not complete, `Err` when the fast path
/// refuses it.
pub fn h1_response(buf: &[u8], head: bool) -> Result<Option<H1Response>, String> {
    use crate::net::chunked::{Chunked, Piece};
    use crate::net::h1::{self, Framing, ResponseHead};
    let mut at = 0;
    loop {
        let mut lines = h1::lines();
        let response =
            match h1::response(&buf[at..], &mut lines, head).map_err(|e| e.to_string())? {
                ResponseHead::Partial => return Ok(None),
                ResponseHead::Informational(n) => {
                    at += n;
                    continue;
                }
                ResponseHead::Final(response) => response,
            };
        let start = at + response.len;
        let rest = &buf[start..];
        let (body, end) = match response.framing {
            Framing::Empty => (Vec::new(), start),
            Framing::Length(n) => match usize::try_from(n).ok().filter(|&n| n <= rest.len()) {
                Some(n) => (rest[..n].to_vec(), start + n),
                None => return Ok(None),
            },
            Framing::Close => (rest.to_vec(), buf.len()),
            Framing::Chunked => {
                let mut chunked = Chunked::default();
                let (mut body, mut used) = (Vec::new(), 0);
                loop {
                    if used == rest.len() {
                        return Ok(None);
                    }
                    match chunked.step(&rest[used..]).map_err(|e| e.to_string())? {
                        Piece::Framing(n) => used += n,
                        Piece::Data(n) => {
                            body.extend_from_slice(&rest[used..used + n]);
                            used += n;
                        }
                        Piece::End(n) => break (body, start + used + n),
                    }
                }
            }
        };
        return Ok(Some(H1Response {
            status: response.status,
            headers: lower(response.headers),
            body,
            end,
            keep_alive: response.keep_alive && response.framing != Framing::Close,
        }));
    }
}

/// Header lines with lower-case names.
fn lower(headers: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
        .collect()
}
