//! Per-app traffic counters, plain atomics read by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of an app's traffic counters since its listeners were bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client connections accepted on tcp and http listen ports.
    pub connections: u64,
    /// HTTP requests received on http listen ports.
    pub requests: u64,
    /// Client connections (tcp) or requests (http) that no backend served: closed or 502/503.
    pub failures: u64,
    /// Backend attempts that failed and were tried again on another backend.
    pub retries: u64,
}

/// The live counters behind [`Stats`], shared by every task of one app.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// See [`Stats::connections`].
    connections: AtomicU64,
    /// See [`Stats::requests`].
    requests: AtomicU64,
    /// See [`Stats::failures`].
    failures: AtomicU64,
    /// See [`Stats::retries`].
    retries: AtomicU64,
}

impl Counters {
    /// Counts an accepted client connection.
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a received HTTP request.
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection or request no backend served.
    pub(crate) fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a backend attempt that is tried again elsewhere.
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }
}
