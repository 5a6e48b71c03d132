//! Differential: the http proxy's fast path (`net/h1.rs`, through `corral::fuzzing`) against
//! hyper, on the same bytes. Byte 0 picks the side: even, client bytes (requests); odd, backend
//! bytes (the response to a `GET`, or a `HEAD` when bit 1 is set).
//!
//! Requests: the fast path takes some requests and hands the rest of the connection to hyper,
//! so hyper serving the whole input must see exactly the fast path's requests followed by what
//! hyper sees in the rest. A request ending elsewhere (smuggling), or one the fast path takes
//! and hyper refuses or reads otherwise, breaks that.
//!
//! Responses: the fast path must read the same status, headers and body as hyper's client,
//! refuse what hyper refuses, and end a keep-alive response exactly where hyper ends it (hyper
//! reads it whole from the bytes up to that end, and not from one byte less).

use std::convert::Infallible;
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Bytes;
use corral::fuzzing::{h1_request, h1_response, H1Response};
use http_body_util::{BodyExt, Empty};
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

use super::HANG;

/// Framing, smuggling and syntax tokens (CL.TE, TE.CL, obs-fold, bare LF).
pub(super) const DICT: &[&str] = &[
    "GET / HTTP/1.1\r\n",
    "POST / HTTP/1.1\r\n",
    "HTTP/1.1 200 OK\r\n",
    "HTTP/1.0 200 OK\r\n",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 204 No Content\r\n",
    "HTTP/1.1 304 Not Modified\r\n",
    "\r\n",
    "\n",
    "\r\n\r\n",
    "Host: a\r\n",
    "Content-Length: 0\r\n",
    "Content-Length: 5\r\n",
    "Content-Length: 5, 5\r\n",
    "Transfer-Encoding: chunked\r\n",
    "Transfer-Encoding: gzip, chunked\r\n",
    "Transfer-Encoding: chunked, identity\r\n",
    "5\r\nhello\r\n",
    "0\r\n\r\n",
    "0\r\nX-T: 1\r\n\r\n",
    ";ext=1",
    "Connection: close\r\n",
    "Connection: keep-alive\r\n",
    "Upgrade: websocket\r\n",
    "Expect: 100-continue\r\n",
    "X-Forwarded-For: 1.2.3.4\r\n",
    " b\r\n",
    "\tb\r\n",
    ":",
    " ",
    "\0",
    "ffffffffffffffff",
];

/// One request as a server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Result<Vec<u8>, ()>,
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

/// Runs one input (see the module's doc).
pub fn h1(data: &[u8]) {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => requests(input),
        _ => responses(input, mode & 2 != 0),
    }
}

fn requests(input: &[u8]) {
    let mut ours = Vec::new();
    let mut at = 0;
    while let Some(request) = h1_request(&input[at..]) {
        assert!(request.len > 0, "an empty request taken");
        at += request.len;
        ours.push(Seen {
            method: request.method,
            target: request.target,
            headers: sorted(request.headers),
            body: Ok(Vec::new()),
        });
    }
    let whole = hyper_requests(input);
    let mut joined = ours.clone();
    joined.extend(hyper_requests(&input[at..]));
    assert_eq!(
        whole, joined,
        "hyper reads other requests than the fast path (which took {ours:?} and handed over at byte {at})"
    );
}

/// Header lines ordered as a `HeaderMap` lists them after a stable sort by name.
fn sorted(mut headers: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    headers
}

/// The requests hyper's server reads from `bytes` (then the end of the input).
fn hyper_requests(bytes: &[u8]) -> Vec<Seen> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let record = Arc::clone(&record);
        async move {
            let (head, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .map_err(|_| ());
            let headers = head
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            record.lock().expect("lock").push(Seen {
                method: head.method.to_string(),
                target: head.uri.to_string(),
                headers: sorted(headers),
                body,
            });
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        }
    });
    RUNTIME.block_on(async {
        let (client, server) = tokio::io::duplex(1 << 20);
        // Half-close: the input's end must not cut short requests it holds (a client of the
        // proxy keeps its connection open while it waits).
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .half_close(true)
            .serve_connection(TokioIo::new(server), service);
        let (mut from, mut to) = tokio::io::split(client);
        let write = async {
            let _ = to.write_all(bytes).await;
            let _ = to.shutdown().await;
        };
        let read = async {
            let _ = from.read_to_end(&mut Vec::new()).await;
        };
        let all = async { tokio::join!(connection, write, read) };
        assert!(
            tokio::time::timeout(HANG, all).await.is_ok(),
            "hyper's server hung"
        );
    });
    let seen = seen.lock().expect("lock").clone();
    seen
}

/// A response as read: status, header lines (lower-case names, sorted), body.
type Read = (u16, Vec<(String, Vec<u8>)>, Vec<u8>);

/// What hyper's client read as the response to `GET /` (or `HEAD /`): `None` if it failed.
fn hyper_response(bytes: &[u8], head: bool) -> Option<Read> {
    RUNTIME.block_on(async {
        let (client, server) = tokio::io::duplex(1 << 20);
        let (mut from, mut to) = tokio::io::split(server);
        let serve = async move {
            let _ = from.read(&mut [0u8; 1024]).await; // the request, in one write
            let _ = to.write_all(bytes).await;
            let _ = to.shutdown().await;
        };
        let ask = async {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(client))
                    .await
                    .ok()?;
            tokio::spawn(connection);
            let method = if head { Method::HEAD } else { Method::GET };
            let request = Request::builder()
                .method(method)
                .uri("/")
                .header("host", "a")
                .body(Empty::new())
                .ok()?;
            let response = sender.send_request(request).await.ok()?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, sorted(headers), body.to_vec()))
        };
        let both = async { tokio::join!(serve, ask).1 };
        tokio::time::timeout(HANG, both)
            .await
            .expect("hyper's client hung")
    })
}

fn responses(input: &[u8], head: bool) {
    let ours = h1_response(input, head);
    // The fast path never asks for an upgrade, so it refuses a 101 that hyper takes.
    if matches!(&ours, Err(e) if e.contains("101")) {
        return;
    }
    let theirs = hyper_response(input, head);
    let ours = match ours {
        Ok(Some(response)) => response,
        Ok(None) | Err(_) => {
            assert_eq!(
                theirs, None,
                "hyper reads a response the fast path does not: {ours:?}"
            );
            return;
        }
    };
    let H1Response {
        status,
        headers,
        body,
        end,
        keep_alive,
    } = ours.clone();
    let read = Some((status, sorted(headers), body));
    assert_eq!(
        theirs, read,
        "hyper and the fast path read another response"
    );
    if keep_alive {
        assert_eq!(
            hyper_response(&input[..end], head),
            read,
            "hyper does not read the response whole up to where the fast path ends it ({end})"
        );
        assert_eq!(
            hyper_response(&input[..end - 1], head),
            None,
            "hyper reads the response one byte before where the fast path ends it ({end})"
        );
    }
}
