//! Per-app traffic counters, plain atomics read by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::histogram::Histogram;

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
    /// HTTP responses sent to clients by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub responses: [u64; 5],
}

/// The live counters behind [`Stats`], shared by every task of one app.
#[derive(Debug, Default)]
pub struct Counters {
    /// See [`Stats::connections`].
    connections: AtomicU64,
    /// See [`Stats::requests`].
    requests: AtomicU64,
    /// See [`Stats::failures`].
    failures: AtomicU64,
    /// See [`Stats::retries`].
    retries: AtomicU64,
    /// See [`Stats::responses`].
    responses: [AtomicU64; 5],
    /// How long HTTP requests took, from receipt to the response head.
    duration: Histogram,
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

    /// Counts an HTTP response of `status` sent `elapsed` after its request came in.
    pub(crate) fn responded(&self, status: u16, elapsed: Duration) {
        // Status codes are 100..=599 (hyper refuses others): class 1..=5.
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.duration.observe(elapsed);
    }

    /// The request-duration histogram.
    pub(crate) fn duration(&self) -> &Histogram {
        &self.duration
    }

    /// Reads all counters.
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            connections: self.connections.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            responses: self.responses.each_ref().map(|n| n.load(Ordering::Relaxed)),
        }
    }
}
