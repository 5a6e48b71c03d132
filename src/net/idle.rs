//! The idle keep-alive connections to one backend, kept per proxy worker: a connection is
//! registered with the runtime of the worker that opened it, and is only ever used by that
//! worker. Shared by hyper's pool (`upstream`) and the fast path's (`raw_upstream`).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::workers;

/// How long a connection may sit idle in a pool (Node closes its own after 5 s).
const POOL_IDLE: Duration = Duration::from_secs(4);

/// Idle connections kept per backend and worker; more are closed when checked in.
const POOL_MAX: usize = 256;

/// One worker's idle connections with the time each was checked in; most recent last.
type Idle<C> = Vec<(C, Instant)>;

/// The idle connections to one backend, one list per proxy worker.
#[derive(Debug)]
pub(crate) struct IdleConns<C> {
    /// Indexed by [`workers::current`].
    lists: Box<[Mutex<Idle<C>>]>,
}

impl<C> Default for IdleConns<C> {
    fn default() -> Self {
        Self {
            lists: (0..workers::count()).map(|_| Mutex::default()).collect(),
        }
    }
}

impl<C> IdleConns<C> {
    /// This worker's most recently checked-in connection that has not been idle too long
    /// (whether it is still open is the caller's check).
    pub(crate) fn pop(&self) -> Option<C> {
        let mut idle = self.lock();
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < POOL_IDLE {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for this worker's next request; those idle too long are closed rather
    /// than left unpolled (the oldest are first), and past [`POOL_MAX`] `conn` is closed.
    pub(crate) fn push(&self, conn: C) {
        let now = Instant::now();
        let mut idle = self.lock();
        let expired = idle.partition_point(|(_, since)| now - *since >= POOL_IDLE);
        idle.drain(..expired);
        if idle.len() < POOL_MAX {
            idle.push((conn, now));
        }
    }

    /// This worker's idle list, even if a holder panicked.
    fn lock(&self) -> MutexGuard<'_, Idle<C>> {
        let slot = workers::current().min(self.lists.len().saturating_sub(1));
        self.lists[slot]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
