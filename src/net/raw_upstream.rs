//! The fast path's keep-alive connections to one backend (`fast.rs`): a plain socket and what
//! was read from it, checked out for one request and back in once its response ended.

use std::io;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;

use super::idle::IdleConns;

/// One HTTP/1.1 connection to a backend.
#[derive(Debug)]
pub(crate) struct RawConn {
    /// The socket.
    pub(crate) stream: TcpStream,
    /// Bytes read and not yet used (the rest of a response).
    pub(crate) buf: BytesMut,
    /// True for a connection that carried a request before (its failure may be a close
    /// that raced with the request).
    pub(crate) reused: bool,
}

impl RawConn {
    /// Opens a connection to `127.0.0.1:port` within `timeout`.
    pub(crate) async fn open(port: u16, timeout: Duration) -> io::Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(("127.0.0.1", port)))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            reused: false,
        })
    }

    /// False when the backend closed the connection (or sent bytes nobody asked for) while
    /// it was idle. Costs no system call unless the socket has something to read.
    fn idle_and_open(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }
}

/// The idle connections to one backend, one list per proxy worker ([`IdleConns`]).
#[derive(Debug, Default)]
pub(crate) struct RawPool {
    idle: IdleConns<RawConn>,
}

impl RawPool {
    /// The most recently used idle connection that is still open, if any.
    pub(crate) fn checkout(&self) -> Option<RawConn> {
        while let Some(mut conn) = self.idle.pop() {
            if conn.idle_and_open() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection whose last response ended, for the next request.
    pub(crate) fn checkin(&self, conn: RawConn) {
        self.idle.push(conn);
    }
}
