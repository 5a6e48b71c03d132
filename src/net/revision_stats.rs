//! Per-revision traffic counters, the figures a canary's analysis compares: plain atomics that
//! the proxy reaches from the backend it picked (no lock, no allocation per request), and the
//! snapshots and windows read from them.
//!
//! A request is counted once per backend attempt: an attempt that fails (no connection, or the
//! connection broke before a response) counts as a request and an error of the revision tried,
//! even when the request then succeeds on another backend; a response counts its status class
//! and how long it took, from the proxy's receipt of the request to the response head.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::histogram::{fine_percentile, FineHistogram, FINE_BUCKETS};

/// Unused revisions kept at most, beyond those a backend or the canary route holds.
const KEEP_UNUSED: usize = 8;

/// The live counters of one revision, shared by its backends.
#[derive(Debug, Default)]
pub(crate) struct RevisionCounters {
    /// Backend attempts on this revision's instances.
    requests: AtomicU64,
    /// Responses from them by status class: 1xx … 5xx.
    responses: [AtomicU64; 5],
    /// Attempts that got no response (connect failed, or the connection broke).
    failed_attempts: AtomicU64,
    /// How long their responses took to come.
    durations: FineHistogram,
}

impl RevisionCounters {
    /// Counts an attempt sent to (or a connection opened to) one of this revision's backends.
    pub(crate) fn attempt(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an attempt that got no response.
    pub(crate) fn failed(&self) {
        self.failed_attempts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a response of `status` that came `elapsed` after the request.
    pub(crate) fn responded(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
        self.durations.observe(elapsed);
    }

    /// Reads the counters.
    fn snapshot(&self) -> RevisionSnapshot {
        RevisionSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            responses: self.responses.each_ref().map(|n| n.load(Ordering::Relaxed)),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            durations: self.durations.counts(),
        }
    }
}

/// One revision's counters, cumulative since the app's listeners were bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionSnapshot {
    /// Backend attempts (http: requests, retries included; tcp: connections).
    pub requests: u64,
    /// Responses by status class: 1xx, 2xx, 3xx, 4xx, 5xx.
    pub responses: [u64; 5],
    /// Attempts that got no response: connect refused or timed out, connection broken.
    pub failed_attempts: u64,
    /// Response durations in the buckets of [`crate::histogram::fine_bound`].
    pub durations: [u64; FINE_BUCKETS],
}

impl Default for RevisionSnapshot {
    fn default() -> Self {
        Self {
            requests: 0,
            responses: [0; 5],
            failed_attempts: 0,
            durations: [0; FINE_BUCKETS],
        }
    }
}

impl RevisionSnapshot {
    /// What happened between `earlier` (a snapshot of the same revision) and this one.
    pub fn since(&self, earlier: &RevisionSnapshot) -> RevisionWindow {
        let requests = self.requests.saturating_sub(earlier.requests);
        let errors = (self.responses[4] + self.failed_attempts)
            .saturating_sub(earlier.responses[4] + earlier.failed_attempts);
        let durations =
            std::array::from_fn(|i| self.durations[i].saturating_sub(earlier.durations[i]));
        RevisionWindow {
            requests,
            errors: errors.min(requests),
            durations,
        }
    }
}

/// One revision's traffic over a window of time: what a canary's analysis judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionWindow {
    /// Backend attempts in the window.
    pub requests: u64,
    /// 5xx responses plus attempts that got no response.
    pub errors: u64,
    /// Response durations (see [`RevisionSnapshot::durations`]).
    durations: [u64; FINE_BUCKETS],
}

impl RevisionWindow {
    /// `errors / requests`, between 0 and 1; 0 without requests.
    pub fn error_rate(&self) -> f64 {
        match self.requests {
            0 => 0.0,
            n => self.errors as f64 / n as f64,
        }
    }

    /// The `q`-th percentile (0–100) of the response durations in the window, within a bucket
    /// (about 19 % wide); `None` without responses.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        fine_percentile(&self.durations, q)
    }
}

/// The counters of every revision an app's backends ran, by revision.
#[derive(Debug, Default)]
pub(crate) struct Revisions {
    /// Revision → its counters; a backend or route holding an `Arc` keeps it.
    by_name: Mutex<BTreeMap<String, Arc<RevisionCounters>>>,
}

impl Revisions {
    /// The counters of `revision`, created on first use.
    pub(crate) fn get(&self, revision: &str) -> Arc<RevisionCounters> {
        let mut by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counters) = by_name.get(revision) {
            return Arc::clone(counters);
        }
        // Bounded: revisions no backend holds any more go once there are too many.
        let unused = by_name
            .values()
            .filter(|c| Arc::strong_count(c) == 1)
            .count();
        if unused >= KEEP_UNUSED {
            by_name.retain(|_, c| Arc::strong_count(c) > 1);
        }
        let counters = Arc::<RevisionCounters>::default();
        by_name.insert(revision.to_owned(), Arc::clone(&counters));
        counters
    }

    /// A snapshot of every revision's counters.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, RevisionSnapshot> {
        let by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        by_name
            .iter()
            .map(|(name, counters)| (name.clone(), counters.snapshot()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counts_5xx_and_failed_attempts_as_errors() {
        let counters = RevisionCounters::default();
        counters.attempt();
        counters.responded(200, Duration::from_millis(1));
        let earlier = counters.snapshot();
        for status in [200, 404, 500, 503] {
            counters.attempt();
            counters.responded(status, Duration::from_millis(2));
        }
        counters.attempt();
        counters.failed();
        let window = counters.snapshot().since(&earlier);
        assert_eq!((window.requests, window.errors), (5, 3));
        assert!((window.error_rate() - 0.6).abs() < 1e-9);
        let p50 = window.percentile(50.0).expect("responses");
        assert!(p50 > Duration::from_micros(1600) && p50 <= Duration::from_millis(2));
        let empty = earlier.since(&earlier);
        assert_eq!((empty.error_rate(), empty.percentile(95.0)), (0.0, None));
    }

    #[test]
    fn unused_revisions_are_bounded_and_used_ones_kept() {
        let revisions = Revisions::default();
        let held = revisions.get("stable");
        held.attempt();
        for n in 0..100 {
            let _ = revisions.get(&format!("r{n}"));
        }
        let snapshot = revisions.snapshot();
        assert!(snapshot.len() <= KEEP_UNUSED + 2, "{}", snapshot.len());
        assert_eq!(snapshot["stable"].requests, 1);
        assert!(Arc::ptr_eq(&held, &revisions.get("stable")));
    }
}
