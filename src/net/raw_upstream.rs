//! The fast path's keep-alive connections to one backend (`fast.rs`): a plain socket and what
//! was read from it, checked out for one request and back in once its response ended.

use std::io;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::workers;

/// How long a connection may sit idle in the pool (Node closes its own after 5 s).
const POOL_IDLE: Duration = Duration::from_secs(4);

/// Idle connections kept per backend and worker; more are closed when checked in.
const POOL_MAX: usize = 256;

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

/// Idle connections with the time each was checked in; most recent last.
type Idle = Vec<(RawConn, Instant)>;

/// The idle connections to one backend, one list per proxy worker (a socket is registered with
/// the runtime of the worker that opened it and only used there).
#[derive(Debug)]
pub(crate) struct RawPool {
    /// Indexed by [`workers::current`].
    idle: Box<[Mutex<Idle>]>,
}

impl Default for RawPool {
    fn default() -> Self {
        Self {
            idle: (0..workers::count()).map(|_| Mutex::default()).collect(),
        }
    }
}

impl RawPool {
    /// The most recently used idle connection that is still open, if any.
    pub(crate) fn checkout(&self) -> Option<RawConn> {
        let mut idle = self.lock();
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE && conn.idle_and_open() {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection whose last response ended, for the next request.
    pub(crate) fn checkin(&self, conn: RawConn) {
        let now = Instant::now();
        let mut idle = self.lock();
        let expired = idle.partition_point(|(_, since)| now - *since >= POOL_IDLE);
        idle.drain(..expired);
        if idle.len() < POOL_MAX {
            idle.push((conn, now));
        }
    }

    /// This worker's idle list, even if a holder panicked.
    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        let slot = workers::current().min(self.idle.len().saturating_sub(1));
        self.idle[slot]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
