//! A response body that holds its backend's lease until it is fully sent or dropped, so a
//! drain waits for responses still streaming; it also drives the backend connection the body
//! comes from and returns it to the backend's pool once the body ended.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

use super::backends::Lease;
use super::upstream::Conn;

/// A backend's response body plus the lease that counts it as in flight.
#[derive(Debug)]
pub(crate) struct LeasedBody {
    /// The body streaming from the backend.
    inner: Incoming,
    /// The connection the body arrives on; `None` once it finished or was checked in.
    conn: Option<Conn>,
    /// Released at the end of the body (or when the client goes away and it is dropped).
    lease: Option<Lease>,
}

impl LeasedBody {
    /// Wraps `inner`, holding `lease` until it ends and driving `conn` meanwhile (`None`: a
    /// connection someone else drives, not returned to any pool).
    pub(crate) fn new(inner: Incoming, conn: Option<Conn>, lease: Lease) -> Self {
        let mut body = Self {
            inner,
            conn,
            lease: Some(lease),
        };
        if body.inner.is_end_stream() {
            body.finish();
        }
        body
    }

    /// The body ended: the connection goes back to the pool, the lease is released.
    fn finish(&mut self) {
        if let (Some(conn), Some(lease)) = (self.conn.take(), &self.lease) {
            lease.backend.pool.checkin(conn);
        }
        self.lease = None;
    }

    /// The body failed or was cut short: the connection is closed, the lease released.
    fn abandon(&mut self) {
        self.conn = None;
        self.lease = None;
    }
}

impl Body for LeasedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let mut polled = Pin::new(&mut this.inner).poll_frame(cx);
        if polled.is_pending() {
            if let Some(conn) = &mut this.conn {
                if conn.poll_driver(cx).is_ready() {
                    this.conn = None; // closed: `inner` ends or fails on its own
                }
                polled = Pin::new(&mut this.inner).poll_frame(cx);
            }
        }
        match &polled {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Err(_))) => this.abandon(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
