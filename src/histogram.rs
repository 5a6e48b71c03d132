//! Fixed-bucket duration histograms of plain atomics: cheap enough for the proxy's hot path
//! (no lock, no allocation per observation), read at any time. [`Histogram`] has Prometheus'
//! buckets, for `/metrics`; [`FineHistogram`] has four buckets per doubling, for percentiles
//! that tell a 1 ms revision from a 3 ms one (a canary's analysis).

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

/// Bucket `i` of a [`FineHistogram`] ends at `FINE_BASE_NANOS × 2^(i/4)` nanoseconds (4 per
/// doubling, each about 19 % wider than the last): 16 µs to about 73 s, with one bucket below
/// and one above.
const FINE_BASE_NANOS: u64 = 1 << 14;

/// Number of buckets of a [`FineHistogram`] (22 doublings × 4, plus the first and the last).
pub const FINE_BUCKETS: usize = 90;

/// Counts of observed durations in log-spaced buckets; see [`fine_bound`].
#[derive(Debug)]
pub struct FineHistogram {
    /// Observations per bucket.
    buckets: [AtomicU64; FINE_BUCKETS],
}

impl Default for FineHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl FineHistogram {
    /// Counts one observation: a few integer operations and one atomic add.
    pub fn observe(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[fine_bucket(nanos)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts per bucket.
    pub fn counts(&self) -> [u64; FINE_BUCKETS] {
        std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed))
    }
}

/// The bucket of an observation of `nanos`: the first whose upper bound holds it.
fn fine_bucket(nanos: u64) -> usize {
    if nanos <= FINE_BASE_NANOS {
        return 0;
    }
    // Which doubling above the base, then which quarter of it (by the next two bits).
    let above = nanos - 1;
    let octave = (63 - above.leading_zeros()) as usize; // floor(log2(above)) >= 14
    let quarter = ((above >> (octave - 2)) & 3) as usize;
    (1 + (octave - 14) * 4 + quarter).min(FINE_BUCKETS - 1)
}

/// The upper bound of bucket `i` of a [`FineHistogram`]; `None` for the last (no bound).
pub fn fine_bound(i: usize) -> Option<Duration> {
    if i + 1 >= FINE_BUCKETS {
        return None;
    }
    if i == 0 {
        return Some(Duration::from_nanos(FINE_BASE_NANOS));
    }
    let (octave, quarter) = ((i - 1) / 4, (i - 1) % 4);
    let nanos = (FINE_BASE_NANOS << octave) / 4 * (5 + quarter as u64);
    Some(Duration::from_nanos(nanos))
}

/// The `q`-th percentile (0–100) of a [`FineHistogram`]'s counts, interpolated linearly inside
/// its bucket as Prometheus' `histogram_quantile` does (the last bucket answers its lower
/// bound); `None` without observations.
pub fn fine_percentile(counts: &[u64; FINE_BUCKETS], q: f64) -> Option<Duration> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 100.0) / 100.0) * total as f64;
    let mut below = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        if n == 0 || ((below + n) as f64) < rank {
            below += n;
            continue;
        }
        let lower = i
            .checked_sub(1)
            .and_then(fine_bound)
            .unwrap_or(Duration::ZERO);
        let Some(upper) = fine_bound(i) else {
            return Some(lower);
        };
        let share = ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
        return Some(lower + (upper - lower).mul_f64(share));
    }
    fine_bound(FINE_BUCKETS - 2)
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

    #[test]
    fn fine_buckets_hold_exactly_what_their_bounds_say() {
        for i in 0..FINE_BUCKETS - 1 {
            let bound = fine_bound(i).expect("bound").as_nanos() as u64;
            assert_eq!(fine_bucket(bound), i, "the bound itself, bucket {i}");
            assert_eq!(fine_bucket(bound + 1), i + 1, "just above, bucket {i}");
        }
        assert_eq!(fine_bucket(0), 0);
        assert_eq!(fine_bucket(u64::MAX), FINE_BUCKETS - 1);
        let widest = (1..FINE_BUCKETS - 1)
            .map(|i| {
                fine_bound(i).unwrap().as_secs_f64() / fine_bound(i - 1).unwrap().as_secs_f64()
            })
            .fold(0.0, f64::max);
        assert!(
            widest <= 1.26,
            "each bucket at most 26 % above the last: {widest}"
        );
        assert!(fine_bound(FINE_BUCKETS - 2).unwrap() > Duration::from_secs(60));
    }

    #[test]
    fn fine_percentiles_tell_one_millisecond_from_three() {
        let (fast, slow) = (FineHistogram::default(), FineHistogram::default());
        for _ in 0..100 {
            fast.observe(Duration::from_millis(1));
            slow.observe(Duration::from_millis(3));
        }
        let p = |h: &FineHistogram| fine_percentile(&h.counts(), 95.0).unwrap().as_secs_f64();
        assert!((p(&fast) / 1e-3 - 1.0).abs() < 0.2, "{}", p(&fast));
        assert!(
            (p(&slow) / p(&fast) - 3.0).abs() < 0.6,
            "{} {}",
            p(&slow),
            p(&fast)
        );
        assert_eq!(fine_percentile(&[0; FINE_BUCKETS], 95.0), None);
        let mut counts = [0; FINE_BUCKETS];
        counts[0] = 90;
        counts[FINE_BUCKETS - 1] = 10;
        assert!(fine_percentile(&counts, 50.0).unwrap() <= Duration::from_micros(16));
        assert_eq!(fine_percentile(&counts, 99.0), fine_bound(FINE_BUCKETS - 2));
    }
}
