//! Keep-alive HTTP/1.1 connections to one backend, driven by the task of the request that
//! uses them: no connection task and no cross-task wake-up per request.
//!
//! A connection is checked out for one request, polled by that request (and by its response
//! body, see `leased_body.rs`) and checked back in once the response body ended.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::body::ProxyBody;
use super::idle::IdleConns;

/// Why a request to a backend failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No connection could be opened: nothing was sent.
    #[error("cannot connect to 127.0.0.1:{port}: {source}")]
    Connect {
        /// The backend's port.
        port: u16,
        /// What connect or the handshake said.
        #[source]
        source: io::Error,
    },
    /// The request was not written (a pooled connection had closed): safe to resend.
    #[error("connection closed before the request was sent: {0}")]
    NotSent(#[source] hyper::Error),
    /// The request may have reached the backend.
    #[error("{0}")]
    Sent(#[source] hyper::Error),
}

impl UpstreamError {
    /// True when the backend cannot have seen the request.
    pub(crate) fn not_sent(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::NotSent(_))
    }
}

/// One HTTP/1.1 connection to a backend: the handle to send on and the state machine that
/// does the I/O, polled by whoever is waiting on it.
pub(crate) struct Conn {
    /// Sends requests.
    sender: http1::SendRequest<ProxyBody>,
    /// Reads and writes the socket; must be polled for anything to happen.
    driver: Pin<Box<http1::Connection<TokioIo<TcpStream>, ProxyBody>>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl Conn {
    /// Opens a connection to `127.0.0.1:port`.
    async fn open(port: u16, timeout: Duration) -> Result<Self, UpstreamError> {
        let connect_error = |source| UpstreamError::Connect { port, source };
        let stream = tokio::time::timeout(timeout, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| connect_error(io::ErrorKind::TimedOut.into()))?
            .map_err(connect_error)?;
        let _ = stream.set_nodelay(true);
        let (sender, driver) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| connect_error(io::Error::other(e)))?;
        Ok(Self {
            sender,
            driver: Box::pin(driver),
        })
    }

    /// Drives the connection; `Ready` means it is finished (closed or failed).
    pub(crate) fn poll_driver(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.driver.as_mut().poll(cx).map(|_| ())
    }

    /// Waits until a request can be sent; `false` if the connection closed instead.
    async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            if self.poll_driver(cx).is_ready() {
                return Poll::Ready(false);
            }
            self.sender.poll_ready(cx).map(|ready| ready.is_ok())
        })
        .await
    }

    /// Sends `request` and waits for the response head, driving the connection meanwhile.
    async fn send(
        &mut self,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let sent = self.sender.try_send_request(request);
        tokio::pin!(sent);
        let mut driver_done = false;
        poll_fn(|cx| {
            if let Poll::Ready(result) = sent.as_mut().poll(cx) {
                return Poll::Ready(result.map_err(|mut e| match e.take_message() {
                    Some(_) => UpstreamError::NotSent(e.into_error()),
                    None => UpstreamError::Sent(e.into_error()),
                }));
            }
            // Once the driver is done, `sent` resolves with its error on the next poll.
            if !driver_done && self.driver.as_mut().poll(cx).is_ready() {
                driver_done = true;
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        })
        .await
    }
}

/// The idle connections to one backend, one list per proxy worker ([`IdleConns`]).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: IdleConns<Conn>,
}

impl Pool {
    /// Sends `request` on an idle connection, or a new one; returns the response head and
    /// the connection, which the response body must keep polling.
    pub(crate) async fn send(
        &self,
        port: u16,
        connect_timeout: Duration,
        request: Request<ProxyBody>,
    ) -> Result<(Response<Incoming>, Conn), UpstreamError> {
        let mut conn = match self.checkout().await {
            Some(conn) => conn,
            None => Conn::open(port, connect_timeout).await?,
        };
        let response = conn.send(request).await?;
        Ok((response, conn))
    }

    /// The most recently used idle connection that is still open, if any.
    async fn checkout(&self) -> Option<Conn> {
        loop {
            let mut conn = self.idle.pop()?;
            if conn.ready().await {
                return Some(conn);
            }
        }
    }

    /// Returns a connection whose last response ended, for the next request.
    pub(crate) fn checkin(&self, conn: Conn) {
        if !conn.sender.is_closed() {
            self.idle.push(conn);
        }
    }
}
