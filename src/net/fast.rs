//! The http proxy's fast path: plain HTTP/1.1 keep-alive requests (`h1.rs` says which) served
//! without hyper, over connections of its own to the backends (`raw_upstream.rs`), with what
//! the hyper path (`http.rs`) does for each request: the canary route and per-revision
//! counters, retries, drain (the lease is held until the response is sent), hand-over, the
//! app's counters, the forwarding headers, the 30 s limit on reading a head.
//!
//! The first request it does not take hands the connection, with every byte read from it, to
//! hyper, which serves it from there on ([`Outcome::Hyper`]).

use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::backends::Lease;
use super::chunked::{Chunked, Piece};
use super::h1::{self, Framing, Parsed, ResponseHead};
use super::headers::{self, Client};
use super::proxy::Proxy;
use super::raw_upstream::RawConn;
use super::route::Choice;

/// How long a client may take to send a request head (as the hyper path's).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// A head longer than this goes to hyper (which has its own limit and answer).
const MAX_HEAD: usize = 16 * 1024;

/// A backend response head longer than this is refused (hyper's largest read buffer).
const MAX_RESPONSE_HEAD: usize = 8192 + 4096 * 100;

/// Read buffers grow by this much.
const READ_SIZE: usize = 8 * 1024;

/// A response body is read this much at a time at most.
const BODY_READ_SIZE: usize = 64 * 1024;

/// How the fast path left a client connection.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Closed (by the client, an error, the timeout or a shutdown): nothing more to do.
    Closed,
    /// A request for hyper: serve the socket with these bytes read first.
    Hyper(TcpStream, Bytes),
}

/// The buffers of one client connection, reused by each request.
#[derive(Debug, Default)]
struct Buffers {
    /// The request head as sent to the backend.
    head: Vec<u8>,
    /// What goes to the client next.
    out: Vec<u8>,
}

/// Serves `client`'s plain requests until it closes or sends one for hyper.
pub(crate) async fn serve(mut client: TcpStream, proxy: &Proxy, who: &Client) -> Outcome {
    let mut read = BytesMut::with_capacity(READ_SIZE);
    let mut bufs = Buffers::default();
    let stop = proxy.tasks.stop.cancelled();
    tokio::pin!(stop);
    let timer = tokio::time::sleep(HEADER_READ_TIMEOUT);
    tokio::pin!(timer);
    loop {
        let mut lines = h1::lines();
        let parsed = match read.is_empty() {
            true => Parsed::Partial,
            false => h1::request(&read, &mut lines),
        };
        match parsed {
            Parsed::Done(request) => {
                let len = request.len;
                let again = exchange(&request, &mut client, proxy, who, &mut bufs).await;
                read.advance(len);
                if !again || proxy.tasks.stop.is_cancelled() {
                    return Outcome::Closed;
                }
                timer.as_mut().reset(Instant::now() + HEADER_READ_TIMEOUT);
                continue;
            }
            Parsed::Other => return Outcome::Hyper(client, read.freeze()),
            Parsed::Partial if read.len() >= MAX_HEAD => {
                return Outcome::Hyper(client, read.freeze())
            }
            Parsed::Partial => {}
        }
        if read.capacity() - read.len() < 1024 {
            read.reserve(READ_SIZE);
        }
        tokio::select! {
            biased;
            got = client.read_buf(&mut read) => match got {
                Ok(0) | Err(_) => return Outcome::Closed,
                Ok(_) => {}
            },
            _ = &mut stop => return Outcome::Closed,
            _ = &mut timer => return Outcome::Closed,
        }
    }
}

/// Why an attempt on a backend failed before any response byte came.
#[derive(Debug, thiserror::Error)]
enum Failed {
    /// No connection: nothing was sent.
    #[error("cannot connect to 127.0.0.1:{port}: {source}")]
    Connect { port: u16, source: io::Error },
    /// The request may have reached the backend.
    #[error("{0}")]
    Sent(String),
}

/// Serves one request: picks a backend (again after a failed attempt, as the hyper path does),
/// sends the response to the client. False when the client connection must close.
async fn exchange(
    request: &h1::Request<'_, '_>,
    client: &mut TcpStream,
    proxy: &Proxy,
    who: &Client,
    bufs: &mut Buffers,
) -> bool {
    let received = std::time::Instant::now();
    proxy.counters.request();
    write_request(&mut bufs.head, request, who);
    let head_only = request.method == "HEAD";
    let idempotent = matches!(
        request.method,
        "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "TRACE"
    );
    let deadline = Instant::now() + proxy.options.backend_wait;
    let mut tried = Vec::new();
    let mut resent = false;
    let mut last_error = None;
    let mut choice = Choice::raw(request.headers);
    loop {
        let picked = proxy
            .rotation
            .wait_pick(
                &proxy.name,
                &tried,
                &mut choice,
                deadline,
                &proxy.tasks.stop,
            )
            .await;
        let Some(lease) = picked else {
            proxy.counters.failure();
            let text = match &last_error {
                None => format!("no ready instance of app {}\n", proxy.app),
                Some(error) => format!("instance of app {} failed: {error}\n", proxy.app),
            };
            let status = if last_error.is_none() { 503 } else { 502 };
            return answer(client, proxy, bufs, status, &text, received).await;
        };
        lease.backend.revision.attempt();
        let error = match attempt(&lease, head_only, client, proxy, bufs, received).await {
            Ok(again) => return again,
            Err(error) => error,
        };
        lease.backend.revision.failed();
        let not_sent = matches!(error, Failed::Connect { .. });
        tracing::debug!(app = %proxy.app, backend = lease.backend.id, %error, "backend request failed");
        if !(not_sent || (idempotent && !resent)) {
            proxy.counters.failure();
            let text = format!("instance of app {} failed: {error}\n", proxy.app);
            return answer(client, proxy, bufs, 502, &text, received).await;
        }
        resent |= !not_sent;
        proxy.counters.retry();
        tried.push(lease.backend.id);
        last_error = Some(error);
    }
}

/// Sends the request head in `bufs.head` to `lease`'s backend and its response to the client.
/// `Err` only before the response head came (the request may be tried elsewhere); `Ok(false)`
/// when the client connection must close.
async fn attempt(
    lease: &Lease,
    head_only: bool,
    client: &mut TcpStream,
    proxy: &Proxy,
    bufs: &mut Buffers,
    received: std::time::Instant,
) -> Result<bool, Failed> {
    let pool = &lease.backend.fast_pool;
    let mut conn = match pool.checkout() {
        Some(conn) => conn,
        None => RawConn::open(lease.port, proxy.options.connect_timeout)
            .await
            .map_err(|source| Failed::Connect {
                port: lease.port,
                source,
            })?,
    };
    let sent = |e: io::Error| Failed::Sent(e.to_string());
    conn.stream.write_all(&bufs.head).await.map_err(sent)?;
    // Until a final head is complete: read, skipping informational heads (hyper's way).
    let head_len = loop {
        let mut lines = h1::lines();
        match h1::response(&conn.buf, &mut lines, head_only) {
            Ok(ResponseHead::Final(head)) => break head.len,
            Ok(ResponseHead::Informational(n)) => conn.buf.advance(n),
            Ok(ResponseHead::Partial) if conn.buf.len() >= MAX_RESPONSE_HEAD => {
                return Err(Failed::Sent("response head too large".into()))
            }
            Ok(ResponseHead::Partial) => {
                conn.buf.reserve(READ_SIZE);
                match conn.stream.read_buf(&mut conn.buf).await.map_err(sent)? {
                    0 => return Err(Failed::Sent("connection closed before the response".into())),
                    _ => continue,
                }
            }
            Err(error) => return Err(Failed::Sent(error.to_string())),
        }
    };
    // Parsed again to keep the borrow here (the loop above reads into the same buffer).
    let mut lines = h1::lines();
    let Ok(ResponseHead::Final(head)) = h1::response(&conn.buf[..head_len], &mut lines, head_only)
    else {
        return Err(Failed::Sent("response head changed".into()));
    };
    let elapsed = received.elapsed();
    lease.backend.revision.responded(head.status, elapsed);
    proxy.counters.responded(head.status, elapsed);
    let closing = proxy.tasks.handing_over();
    bufs.out.clear();
    write_response_head(&mut bufs.out, &head, closing);
    let (framing, keep_alive) = (head.framing, head.keep_alive);
    conn.buf.advance(head_len);
    let body_ended = body(&mut conn, framing, client, &mut bufs.out).await;
    let sent = client.write_all(&bufs.out).await.is_ok();
    bufs.out.clear();
    let Some(ended) = body_ended else {
        return Ok(false);
    };
    if ended && keep_alive && framing != Framing::Close && conn.buf.is_empty() {
        pool.checkin(conn);
    }
    Ok(sent && !closing)
}

/// Passes the response body on (into `out`, written to the client whenever the backend must be
/// read again). `Some(true)`: it ended cleanly; `None`: the client connection must close.
async fn body(
    conn: &mut RawConn,
    framing: Framing,
    client: &mut TcpStream,
    out: &mut Vec<u8>,
) -> Option<bool> {
    let mut chunked = Chunked::default();
    let mut left = match framing {
        Framing::Empty | Framing::Length(0) => return Some(true),
        Framing::Length(n) => n,
        Framing::Chunked | Framing::Close => 0,
    };
    loop {
        while !conn.buf.is_empty() {
            match framing {
                Framing::Empty => return Some(true),
                Framing::Length(_) => {
                    let n = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(conn.buf.len());
                    out.extend_from_slice(&conn.buf[..n]);
                    conn.buf.advance(n);
                    left -= n as u64;
                    if left == 0 {
                        return Some(true);
                    }
                }
                Framing::Chunked => match chunked.step(&conn.buf).ok()? {
                    Piece::Framing(n) => conn.buf.advance(n),
                    Piece::Data(n) => {
                        chunk(out, &conn.buf[..n]);
                        conn.buf.advance(n);
                    }
                    Piece::End(n) => {
                        conn.buf.advance(n);
                        out.extend_from_slice(b"0\r\n\r\n");
                        return Some(true);
                    }
                },
                Framing::Close => {
                    chunk(out, &conn.buf);
                    conn.buf.clear();
                }
            }
        }
        if !out.is_empty() {
            client.write_all(out).await.ok()?;
            out.clear();
        }
        conn.buf.reserve(BODY_READ_SIZE);
        match conn.stream.read_buf(&mut conn.buf).await {
            Ok(0) if framing == Framing::Close => {
                out.extend_from_slice(b"0\r\n\r\n");
                return Some(true);
            }
            Ok(0) | Err(_) => return None, // cut short: the client sees it cut short too
            Ok(_) => {}
        }
    }
}

/// Appends `data` as one chunk.
fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let digits = (usize::BITS - data.len().leading_zeros()).div_ceil(4);
    for i in (0..digits).rev() {
        out.push(b"0123456789abcdef"[(data.len() >> (4 * i)) & 15]);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn decimal(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// The request head for a backend: the client's, hop-by-hop `Connection` out, the forwarding
/// headers added as `headers::prepare_request` adds them.
fn write_request(out: &mut Vec<u8>, request: &h1::Request<'_, '_>, who: &Client) {
    out.clear();
    out.extend_from_slice(request.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let (mut host, mut forwarded_for, mut forwarded) = (None, None, None);
    let (mut proto, mut forwarded_host) = (false, false);
    for header in request.headers {
        let name = header.name;
        if name.eq_ignore_ascii_case("connection") {
            continue;
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            forwarded_for = Some(header.value);
            continue;
        } else if name.eq_ignore_ascii_case("forwarded") {
            forwarded = Some(header.value);
            continue;
        } else if name.eq_ignore_ascii_case("host") {
            host = Some(header.value);
        } else if name.eq_ignore_ascii_case("x-forwarded-proto") {
            proto = true;
        } else if name.eq_ignore_ascii_case("x-forwarded-host") {
            forwarded_host = true;
        }
        line(out, name.as_bytes(), header.value);
    }
    joined(out, b"x-forwarded-for", forwarded_for, who.ip().as_bytes());
    if !proto {
        line(out, b"x-forwarded-proto", b"http");
    }
    if let (Some(host), false) = (host, forwarded_host) {
        line(out, b"x-forwarded-host", host);
    }
    let element = who.forwarded(host);
    joined(out, b"forwarded", forwarded, element.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `name: value\r\n`.
fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// A comma-separated header extended with `value`, as `headers::append` does it (a value that
/// is not visible ASCII is replaced).
fn joined(out: &mut Vec<u8>, name: &[u8], existing: Option<&[u8]>, value: &[u8]) {
    match existing.filter(|v| !v.is_empty() && headers::visible_ascii(v)) {
        Some(existing) => {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(existing);
            out.extend_from_slice(b", ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        None => line(out, name, value),
    }
}

/// Response headers the client never sees from the backend (hop-by-hop, and the framing the
/// proxy writes itself).
const DROPPED: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// The response head for the client: hop-by-hop headers (and those `Connection` names) out,
/// the framing of the body as the proxy sends it, `Date` if the backend sent none.
fn write_response_head(out: &mut Vec<u8>, head: &h1::Response<'_, '_>, closing: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    decimal(out, u64::from(head.status));
    out.push(b' ');
    out.extend_from_slice(head.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut date = false;
    let connection = head
        .headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("connection"));
    for header in head.headers {
        let name = header.name;
        let keep_length =
            head.framing == Framing::Empty && name.eq_ignore_ascii_case("content-length");
        let dropped = DROPPED.iter().any(|d| name.eq_ignore_ascii_case(d))
            || (connection && named_by_connection(head.headers, name));
        if dropped && !keep_length {
            continue;
        }
        date |= name.eq_ignore_ascii_case("date");
        line(out, name.as_bytes(), header.value);
    }
    if !date {
        line(
            out,
            b"date",
            httpdate::fmt_http_date(std::time::SystemTime::now()).as_bytes(),
        );
    }
    match head.framing {
        Framing::Empty => {}
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked | Framing::Close => line(out, b"transfer-encoding", b"chunked"),
    }
    if closing {
        line(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
}

/// Whether a `Connection` header of `headers` names `name`.
fn named_by_connection(headers: &[httparse::Header<'_>], name: &str) -> bool {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("connection"))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .any(|token| token.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
}

/// A plain-text answer of the proxy's own (502, 503), counted like any response.
async fn answer(
    client: &mut TcpStream,
    proxy: &Proxy,
    bufs: &mut Buffers,
    status: u16,
    text: &str,
    received: std::time::Instant,
) -> bool {
    use std::io::Write as _;
    proxy.counters.responded(status, received.elapsed());
    let closing = proxy.tasks.handing_over();
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let out = &mut bufs.out;
    out.clear();
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\ndate: {}\r\n{}\r\n{text}",
        text.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        if closing { "connection: close\r\n" } else { "" },
    );
    let sent = client.write_all(out).await.is_ok();
    out.clear();
    sent && !closing
}

#[cfg(test)]
#[path = "fast_tests.rs"]
mod tests;
