//! A fixed-bucket duration histogram of plain atomics: cheap enough for the proxy's hot path
//! (no lock, no allocation per observation), read by `/metrics` at any time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets in seconds: Prometheus' default buckets, which suit both HTTP
/// requests and reconciles (5 ms to 10 s).
pub const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// [`BOUNDS`] in nanoseconds, compared with each observation.
const BOUNDS_NANOS: [u64; 11] = [
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Counts of observed durations per bucket, plus their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is above every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    /// Sum of the observations in nanoseconds.
    sum_nanos: AtomicU64,
}

/// What a [`Histogram`] held when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Sum of the observations in seconds.
    pub sum: f64,
    /// Number of observations (the sum of `buckets`).
    pub count: u64,
    /// `(upper bound in seconds, observations in that bucket)`, not cumulative, ending with
    /// `+Inf`: the shape prometheus-client encodes.
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// Counts one observation.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_NANOS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Reads the counts; `count` is the sum of the buckets read, so the two always agree.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut buckets = Vec::with_capacity(BOUNDS.len() + 1);
        let mut count = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            let n = bucket.load(Ordering::Relaxed);
            count += n;
            buckets.push((BOUNDS.get(i).copied().unwrap_or(f64::INFINITY), n));
        }
        HistogramSnapshot {
            sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
            count,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_in_nanos_match_bounds_in_seconds() {
        for (s, ns) in BOUNDS.iter().zip(BOUNDS_NANOS) {
            assert_eq!((s * 1e9).round() as u64, ns);
        }
    }

    #[test]
    fn each_observation_lands_in_the_first_bucket_that_holds_it() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(1));
        h.observe(Duration::from_millis(5)); // on the bound: le="0.005"
        h.observe(Duration::from_millis(6));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets.len(), BOUNDS.len() + 1);
        assert_eq!(s.buckets[0], (0.005, 2));
        assert_eq!(s.buckets[1], (0.01, 1));
        assert_eq!(s.buckets[BOUNDS.len()], (f64::INFINITY, 1));
        assert!((s.sum - 60.012).abs() < 1e-9, "{}", s.sum);
    }
}
