//! Restart back-off: exponential delays from `initial` to `max`, reset after a healthy run.

use std::time::{Duration, Instant};

/// `spec.backoff`, as durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Delay before the first restart.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// A process that ran this long resets the delay to `initial`.
    pub reset_after: Duration,
}

impl BackoffPolicy {
    /// Delay before restarting after `failures` consecutive failed runs (1 → `initial`).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(32);
        let delay = self.initial.saturating_mul(1u32 << doublings.min(31));
        delay.min(self.max)
    }
}

/// How the processes at one index have ended, for restart decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotHistory {
    /// Restarts after an unplanned exit, for `RESTARTS` in `corral get`.
    pub restarts: u32,
    /// Unplanned exits since the last healthy run (drives the delay).
    pub failures: u32,
    /// The last unplanned exit, if the slot is waiting to be restarted.
    pub last_exit: Option<ExitRecord>,
}

/// An unplanned exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitRecord {
    /// When it ended.
    pub at: Instant,
    /// Exit code 0.
    pub success: bool,
}

impl SlotHistory {
    /// Records an unplanned exit of a process that ran for `ran_for`.
    pub fn record_exit(
        &mut self,
        policy: &BackoffPolicy,
        at: Instant,
        ran_for: Duration,
        success: bool,
    ) {
        if ran_for >= policy.reset_after {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.last_exit = Some(ExitRecord { at, success });
    }

    /// Records that a memory sample found the process at this index over its limit after it ran
    /// for `ran_for`: a failed run, counted now (its replacement may start before it exits).
    /// Returns whether it came right after another failed run (within `reset_after`), when it
    /// must back off like a crash rather than be replaced without downtime.
    pub fn record_memory_exceeded(&mut self, policy: &BackoffPolicy, ran_for: Duration) -> bool {
        if ran_for >= policy.reset_after {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        self.failures > 1
    }

    /// Records the exit of a process stopped over its memory limit: a replacement counts as a
    /// restart; after a back-off stop (`backing_off`), the slot waits to be restarted. The
    /// failure itself was counted by [`SlotHistory::record_memory_exceeded`].
    pub fn record_memory_exit(&mut self, at: Instant, backing_off: bool) {
        if backing_off {
            self.last_exit = Some(ExitRecord { at, success: false });
        } else {
            self.restarts = self.restarts.saturating_add(1);
        }
    }

    /// Records that the slot was started again after an exit.
    pub fn record_restart(&mut self) {
        if self.last_exit.take().is_some() {
            self.restarts = self.restarts.saturating_add(1);
        }
    }

    /// A ready instance at this index is being replaced on purpose: an exit recorded there
    /// earlier (say, the old instance dying beside its replacement) no longer asks for a
    /// restart decision, and must not keep the index empty later.
    pub fn supersede(&mut self) {
        self.last_exit = None;
    }

    /// When the slot may start again after its last exit, per `policy`.
    pub fn retry_at(&self, policy: &BackoffPolicy) -> Option<Instant> {
        self.last_exit.map(|e| e.at + policy.delay(self.failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn delays_double_up_to_the_max() {
        let p = policy();
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(4), Duration::from_millis(800));
        assert_eq!(p.delay(10), Duration::from_secs(30));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn a_healthy_run_resets_the_delay() {
        let p = policy();
        let t = Instant::now();
        let mut h = SlotHistory::default();
        for _ in 0..5 {
            h.record_exit(&p, t, Duration::from_secs(1), false);
        }
        assert_eq!(h.failures, 5);
        h.record_exit(&p, t, Duration::from_secs(61), false);
        assert_eq!(h.failures, 1);
        assert_eq!(h.retry_at(&p), Some(t + Duration::from_millis(100)));
    }

    #[test]
    fn a_memory_exceedance_right_after_a_failure_backs_off() {
        let p = policy();
        let mut h = SlotHistory::default();
        assert!(!h.record_memory_exceeded(&p, Duration::from_secs(61)));
        assert!(!h.record_memory_exceeded(&p, Duration::from_secs(61)));
        assert!(h.record_memory_exceeded(&p, Duration::from_secs(1)));
        assert_eq!(h.failures, 2);
        let t = Instant::now();
        h.record_memory_exit(t, true);
        assert_eq!(h.failures, 2, "counted once, when seen");
        assert_eq!(h.retry_at(&p), Some(t + Duration::from_millis(200)));
        h.record_restart();
        h.record_memory_exit(t, false);
        assert_eq!((h.restarts, h.last_exit), (2, None));
    }

    #[test]
    fn restarts_count_only_after_exits() {
        let p = policy();
        let mut h = SlotHistory::default();
        h.record_restart();
        assert_eq!(h.restarts, 0);
        h.record_exit(&p, Instant::now(), Duration::ZERO, false);
        h.record_restart();
        assert_eq!((h.restarts, h.last_exit), (1, None));
    }
}
