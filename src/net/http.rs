//! `mode: http`: an HTTP/1.1 and h2c server on the public port that balances requests over
//! ready backends through one keep-alive pool per backend (see [`super::upstream`]). Plain
//! HTTP/1.1 requests are served by the fast path (`fast.rs`) until a connection sends one of
//! another kind; hyper serves the rest of that connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body, Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use super::backends::Lease;
use super::body::{bad_gateway, reply, ProxyBody, ResponseBody};
use super::fast::{self, HEADER_READ_TIMEOUT};
use super::headers;
use super::leased_body::LeasedBody;
use super::prefixed::Prefixed;
use super::proxy::{Proxy, ACCEPT_BACKOFF};
use super::route::Choice;
use super::tasks::Tasks;
use super::upgrade;
use super::upstream::Conn;

/// Request bodies up to this size are buffered so the request can be retried elsewhere.
const MAX_REPLAY_BODY: u64 = 64 * 1024;

/// Accepts until `stop`; each connection is served by a tracked task.
pub(crate) async fn serve(listener: TcpListener, proxy: Arc<Proxy>) {
    let mut builder = auto::Builder::new(proxy.tasks.clone());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let builder = Arc::new(builder);
    tokio::select! {
        _ = proxy.tasks.accepting_ends() => return,
        _ = super::gate::opened() => {}
    }
    loop {
        let accepted = tokio::select! {
            _ = proxy.tasks.accepting_ends() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((client, peer)) => {
                proxy.counters.connection();
                let task = serve_connection(client, peer, Arc::clone(&proxy), Arc::clone(&builder));
                proxy.tasks.spawn(task);
            }
            // EINVAL: the listening socket was shut down (the app's sockets are closing).
            Err(error) if error.raw_os_error() == Some(nix::libc::EINVAL) => return,
            Err(error) => {
                tracing::warn!(app = %proxy.app, listen = %proxy.name, %error, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Serves one client connection; on `stop`, finishes the request in flight and closes.
async fn serve_connection(
    client: TcpStream,
    peer: SocketAddr,
    proxy: Arc<Proxy>,
    builder: Arc<auto::Builder<Tasks>>,
) {
    let _ = client.set_nodelay(true);
    let client_headers = Arc::new(headers::Client::new(peer));
    // Plain requests first, without hyper; the first other one hands the connection over.
    let (client, read) = match fast::serve(client, &proxy, &client_headers).await {
        fast::Outcome::Closed => return,
        fast::Outcome::Hyper(client, read) => (client, read),
    };
    let service_proxy = Arc::clone(&proxy);
    let service = service_fn(move |request| {
        let proxy = Arc::clone(&service_proxy);
        let client = Arc::clone(&client_headers);
        async move { Ok::<_, Infallible>(handle(request, &client, &proxy).await) }
    });
    let io = TokioIo::new(Prefixed::new(read, client));
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(app = %proxy.app, %peer, %error, "client connection ended");
            }
            return;
        }
        _ = proxy.tasks.stop.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// A request body: buffered (replayable) or streamed (one attempt only).
enum RequestBody {
    /// Small and fully read: can be sent again to another backend.
    Buffered(Bytes),
    /// Large or of unknown size: sent once; `None` once it has been.
    Streamed(Option<Incoming>),
}

impl RequestBody {
    /// Reads a small body whole; leaves a large one streaming.
    async fn read(body: Incoming) -> Result<Self, hyper::Error> {
        if body.is_end_stream() {
            return Ok(Self::Buffered(Bytes::new())); // e.g. an h2 GET: no size hint, no body
        }
        match body.size_hint().upper() {
            Some(upper) if upper <= MAX_REPLAY_BODY => {
                let limited = Limited::new(body, MAX_REPLAY_BODY as usize);
                match limited.collect().await {
                    Ok(collected) => Ok(Self::Buffered(collected.to_bytes())),
                    Err(error) => match error.downcast::<hyper::Error>() {
                        Ok(error) => Err(*error),
                        // Limited's only other error is the size limit, excluded by the hint.
                        Err(_) => Ok(Self::Buffered(Bytes::new())),
                    },
                }
            }
            _ => Ok(Self::Streamed(Some(body))),
        }
    }

    /// The body for the next attempt; `None` if a streamed body was already sent.
    fn next(&mut self) -> Option<ProxyBody> {
        match self {
            // An empty body boxes without allocating.
            Self::Buffered(bytes) if bytes.is_empty() => {
                Some(Empty::new().map_err(|never| match never {}).boxed())
            }
            Self::Buffered(bytes) => Some(
                Full::new(bytes.clone())
                    .map_err(|never| match never {})
                    .boxed(),
            ),
            Self::Streamed(body) => body.take().map(BodyExt::boxed),
        }
    }
}

/// Forwards `request` (see [`forward`]) and counts the response's status class and how long
/// it took to come.
async fn handle(
    request: Request<Incoming>,
    client: &headers::Client,
    proxy: &Proxy,
) -> Response<ResponseBody> {
    let received = std::time::Instant::now();
    let http1 = request.version() <= hyper::Version::HTTP_11;
    let mut response = forward(request, client, proxy, received).await;
    proxy
        .counters
        .responded(response.status().as_u16(), received.elapsed());
    // Handed over to a new controller: the client opens its next connection there (hyper
    // closes this one once the response is written), rather than finding it closed under it.
    if http1 && proxy.tasks.handing_over() && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        response.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Sends `request` to a ready backend (of the group the canary route gives it) and returns its
/// response, or a 502/503 of our own; counts each attempt for the revision it went to.
///
/// A failed connect is tried on the other backends (nothing was sent, so it is safe for any
/// method); a request that failed after it was sent, before any response byte, is retried
/// once on another backend only if its method is idempotent. Streamed bodies are not retried.
async fn forward(
    request: Request<Incoming>,
    client: &headers::Client,
    proxy: &Proxy,
    received: std::time::Instant,
) -> Response<ResponseBody> {
    proxy.counters.request();
    if upgrade::requested(&request) {
        return upgrade::forward(request, client, proxy, received).await;
    }
    let (mut head, body) = request.into_parts();
    headers::prepare_request(&mut head, client);
    let idempotent = headers::is_idempotent(&head.method);
    let mut body = match RequestBody::read(body).await {
        Ok(body) => body,
        Err(error) => {
            proxy.counters.failure();
            return reply(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {error}\n"),
            );
        }
    };
    let deadline = Instant::now() + proxy.options.backend_wait;
    let mut tried = Vec::new();
    let mut resent = false;
    let mut last_error = None;
    let mut choice = Choice::request(&head.headers);
    loop {
        let Some(lease) = proxy
            .rotation
            .wait_pick(
                &proxy.name,
                &tried,
                &mut choice,
                deadline,
                &proxy.tasks.stop,
            )
            .await
        else {
            proxy.counters.failure();
            return match last_error {
                None => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("no ready instance of app {}\n", proxy.app),
                ),
                Some(error) => bad_gateway(&proxy.app, &error),
            };
        };
        let Some(attempt_body) = body.next() else {
            proxy.counters.failure();
            return reply(
                StatusCode::BAD_GATEWAY,
                format!("instance of app {} failed\n", proxy.app),
            );
        };
        let revision = &lease.backend.revision;
        revision.attempt();
        let request = headers::to_backend(head.clone(), attempt_body);
        let sent = lease
            .backend
            .pool
            .send(lease.port, proxy.options.connect_timeout, request)
            .await;
        let error = match sent {
            Ok((response, conn)) => {
                revision.responded(response.status().as_u16(), received.elapsed());
                return respond(response, conn, lease);
            }
            Err(error) => error,
        };
        revision.failed();
        let connect_failed = error.not_sent();
        let retry = connect_failed || (idempotent && !resent);
        tracing::debug!(app = %proxy.app, backend = lease.backend.id, %error, retry, "backend request failed");
        if !retry || matches!(body, RequestBody::Streamed(_)) {
            proxy.counters.failure();
            return bad_gateway(&proxy.app, &error);
        }
        resent |= !connect_failed;
        proxy.counters.retry();
        tried.push(lease.backend.id);
        last_error = Some(error);
    }
}

/// Passes the backend's response on; the lease is held until its body is fully sent.
fn respond(response: Response<Incoming>, conn: Conn, lease: Lease) -> Response<ResponseBody> {
    let (mut head, body) = response.into_parts();
    headers::strip_hop_by_hop(&mut head.headers);
    Response::from_parts(
        head,
        LeasedBody::new(body, Some(conn), lease).boxed_unsync(),
    )
}
