//! A response body that holds its backend's lease until it is fully sent or dropped, so a
//! drain waits for responses still streaming.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};

use super::backends::Lease;

/// A backend's response body plus the lease that counts it as in flight.
#[derive(Debug)]
pub(crate) struct LeasedBody {
    /// The body streaming from the backend.
    inner: Incoming,
    /// Released at the end of the body (or when the client goes away and it is dropped).
    lease: Option<Lease>,
}

impl LeasedBody {
    /// Wraps `inner`, holding `lease` until it ends.
    pub(crate) fn new(inner: Incoming, lease: Lease) -> Self {
        Self {
            inner,
            lease: Some(lease),
        }
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
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || this.inner.is_end_stream() {
            this.lease = None;
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
