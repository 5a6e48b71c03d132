//! The periodic probe loop and its threshold state machine.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{self, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{Check, ProbeKind, ProbeReport};
use crate::manifest::Probe;

/// When checks run, from the probe's `*Seconds` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Before the first check.
    pub initial_delay: Duration,
    /// Between the starts of two checks; at least 1 s, as in Kubernetes.
    pub period: Duration,
    /// Bound on one check; at least 1 s, as in Kubernetes.
    pub timeout: Duration,
}

impl Schedule {
    /// Reads the schedule; zero period or timeout (which validation rejects) count as 1 s.
    pub fn from_probe(probe: &Probe) -> Schedule {
        Schedule {
            initial_delay: Duration::from_secs(probe.initial_delay_seconds.into()),
            period: Duration::from_secs(probe.period().max(1).into()),
            timeout: Duration::from_secs(probe.timeout().max(1).into()),
        }
    }
}

/// Counts consecutive results and says when the probe's state crosses a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// The last reported state; `None` before a readiness probe's first crossing.
    state: Option<bool>,
    /// Consecutive passes so far.
    passes: u32,
    /// Consecutive failures so far.
    failures: u32,
    /// Passes needed to become passing.
    success_threshold: u32,
    /// Failures needed to become failing.
    failure_threshold: u32,
}

impl Thresholds {
    /// Readiness starts unknown (not ready, unreported); liveness starts passing and, as in
    /// Kubernetes, needs one pass to recover. Zero thresholds count as 1.
    pub fn new(kind: ProbeKind, probe: &Probe) -> Thresholds {
        let (state, success_threshold) = match kind {
            ProbeKind::Readiness => (None, probe.successes().max(1)),
            ProbeKind::Liveness => (Some(true), 1),
        };
        Thresholds {
            state,
            passes: 0,
            failures: 0,
            success_threshold,
            failure_threshold: probe.failures().max(1),
        }
    }

    /// Records one check; returns the new state when it crossed a threshold.
    pub fn observe(&mut self, passed: bool) -> Option<bool> {
        let crossed = if passed {
            self.failures = 0;
            self.passes = self.passes.saturating_add(1);
            self.passes >= self.success_threshold
        } else {
            self.passes = 0;
            self.failures = self.failures.saturating_add(1);
            self.failures >= self.failure_threshold
        };
        if crossed && self.state != Some(passed) {
            self.state = Some(passed);
            return Some(passed);
        }
        None
    }
}

/// Sends reports for one probe of one instance.
#[derive(Debug, Clone)]
pub(crate) struct Reporter {
    /// The instance.
    pub id: u64,
    /// The probe.
    pub kind: ProbeKind,
    /// To the supervisor.
    pub tx: mpsc::Sender<ProbeReport>,
}

impl Reporter {
    /// Sends one crossing, waiting for room; false when the receiver is gone or `stop` fired.
    pub async fn send(&self, passing: bool, message: String, stop: &CancellationToken) -> bool {
        self.report(passing, message, true, stop).await
    }

    /// Sends one report, waiting for room; false when the receiver is gone or `stop` fired.
    async fn report(
        &self,
        passing: bool,
        message: String,
        crossed: bool,
        stop: &CancellationToken,
    ) -> bool {
        let report = ProbeReport {
            id: self.id,
            kind: self.kind,
            passing,
            message,
            crossed,
        };
        tracing::debug!(id = self.id, kind = %self.kind, passing, message = %report.message, "probe crossed");
        matches!(
            stop.run_until_cancelled(self.tx.send(report)).await,
            Some(Ok(()))
        )
    }
}

/// How often a failed check that crosses nothing is reported while its reason stays the same.
pub(crate) const NOTE_EVERY: Duration = Duration::from_secs(30);

/// Decides which failed checks that cross nothing are worth a report: the first of a run of
/// failures, one whose reason changed, and then one per [`NOTE_EVERY`].
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// The reason last reported and when, while failing.
    last: Option<(String, time::Instant)>,
}

impl Notes {
    /// Records a check; true when this failure is to be reported.
    pub fn observe(&mut self, passed: bool, message: &str, now: time::Instant) -> bool {
        if passed {
            self.last = None;
            return false;
        }
        let due = match &self.last {
            Some((last, at)) => last != message || now.duration_since(*at) >= NOTE_EVERY,
            None => true,
        };
        if due {
            self.last = Some((message.to_owned(), now));
        }
        due
    }
}

/// Waits `initial_delay`, then runs `check` every period until `stop`, reporting crossings
/// (and, now and then, failed checks that cross nothing).
pub(crate) async fn run(
    check: Check,
    schedule: Schedule,
    mut thresholds: Thresholds,
    reporter: Reporter,
    stop: CancellationToken,
) {
    if stop
        .run_until_cancelled(time::sleep(schedule.initial_delay))
        .await
        .is_none()
    {
        return;
    }
    let mut ticker = time::interval(schedule.period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut notes = Notes::default();
    loop {
        if stop.run_until_cancelled(ticker.tick()).await.is_none() {
            return;
        }
        let Some(outcome) = check.run(&stop).await else {
            return;
        };
        let noted = notes.observe(outcome.passed, &outcome.message, time::Instant::now());
        let sent = match thresholds.observe(outcome.passed) {
            Some(passing) => reporter.send(passing, outcome.message, &stop).await,
            None if noted => reporter.report(false, outcome.message, false, &stop).await,
            None => true,
        };
        if !sent {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(success: u32, failure: u32) -> Probe {
        Probe {
            http: None,
            tcp: None,
            exec: None,
            notify: None,
            initial_delay_seconds: 0,
            period_seconds: Some(1),
            timeout_seconds: Some(1),
            success_threshold: Some(success),
            failure_threshold: Some(failure),
        }
    }

    #[test]
    fn readiness_reports_first_result_then_flips_only() {
        let mut t = Thresholds::new(ProbeKind::Readiness, &probe(2, 2));
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), Some(false));
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(true), Some(true));
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(true), None, "a pass resets the failure count");
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), Some(false));
    }

    #[test]
    fn readiness_first_pass_is_reported() {
        let mut t = Thresholds::new(ProbeKind::Readiness, &probe(1, 3));
        assert_eq!(t.observe(true), Some(true));
        assert_eq!(t.observe(true), None);
    }

    #[test]
    fn liveness_starts_passing_and_ignores_success_threshold() {
        let mut t = Thresholds::new(ProbeKind::Liveness, &probe(5, 3));
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(t.observe(false), Some(false));
        assert_eq!(t.observe(true), Some(true));
    }

    #[test]
    fn failures_are_noted_first_on_change_and_then_every_so_often() {
        let mut notes = Notes::default();
        let t0 = time::Instant::now();
        let s = Duration::from_secs;
        assert!(notes.observe(false, "a", t0));
        assert!(!notes.observe(false, "a", t0 + s(1)));
        assert!(notes.observe(false, "b", t0 + s(2)), "a new reason");
        assert!(!notes.observe(false, "b", t0 + s(31)));
        assert!(notes.observe(false, "b", t0 + s(32)), "30 s later");
        assert!(!notes.observe(true, "ok", t0 + s(33)));
        assert!(
            notes.observe(false, "b", t0 + s(34)),
            "a new run of failures"
        );
    }

    #[test]
    fn zero_thresholds_count_as_one() {
        let mut t = Thresholds::new(ProbeKind::Readiness, &probe(0, 0));
        assert_eq!(t.observe(false), Some(false));
        assert_eq!(t.observe(true), Some(true));
        let s = Schedule::from_probe(&Probe {
            period_seconds: Some(0),
            timeout_seconds: Some(0),
            ..probe(1, 1)
        });
        assert_eq!(s.period, Duration::from_secs(1));
        assert_eq!(s.timeout, Duration::from_secs(1));
    }
}
