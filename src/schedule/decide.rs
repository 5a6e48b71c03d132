//! When a schedule runs, as Kubernetes' CronJob controller decides it: the most recent fire time
//! not yet run, within `startingDeadlineSeconds`, under the concurrency policy. Pure: the time
//! and the number of active runs are arguments.

use jiff::{SignedDuration, Timestamp};

use super::Schedule;

/// What to do when a fire time is due while earlier runs are still active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Concurrency {
    /// Start the new run beside them.
    #[default]
    Allow,
    /// Skip it while one is active (it starts when they end, if still within the deadline).
    Forbid,
    /// Stop them, then start the new run.
    Replace,
}

/// What a schedule remembers between decisions (saved across controller restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// When it was first seen: fire times before it were never due.
    pub since: Option<Timestamp>,
    /// The fire time of the last run started.
    pub last_schedule: Option<Timestamp>,
    /// The last fire time given up as missed (past the deadline), so it is said once.
    pub last_missed: Option<Timestamp>,
}

/// The inputs of one decision besides the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// Now.
    pub now: Timestamp,
    /// `startingDeadlineSeconds`: a fire time later than this is missed, not run.
    pub deadline: Option<SignedDuration>,
    /// `suspend`.
    pub suspended: bool,
    /// The policy.
    pub concurrency: Concurrency,
    /// Runs still active.
    pub active: usize,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing is due.
    Idle,
    /// Start a run for this fire time; with `replace`, stop the active runs first.
    Start {
        /// The fire time it is for (its name: `NAME-<unix minutes or seconds>`).
        scheduled: Timestamp,
        /// Stop the active runs first (`Replace`).
        replace: bool,
    },
    /// Due, but an earlier run is active under `Forbid`: not started (yet).
    Forbidden {
        /// The fire time held back.
        scheduled: Timestamp,
    },
    /// Due, but later than `startingDeadlineSeconds`: never started.
    Missed {
        /// The fire time given up.
        scheduled: Timestamp,
    },
    /// Suspended, with a fire time that would be due.
    Suspended,
}

/// Decides what is due now. The caller records `last_schedule` on `Start` and `last_missed` on
/// `Missed`; a fire time before `memory.since` (or before the first decision) is never due.
pub fn decide(schedule: &Schedule, memory: &Memory, s: &Situation) -> Decision {
    let Some(since) = [memory.since, memory.last_schedule, memory.last_missed]
        .into_iter()
        .flatten()
        .max()
    else {
        return Decision::Idle;
    };
    // The most recent fire time after the last one handled, at or before now. Only the most
    // recent counts: a controller away for a week starts one run, not a week of them.
    let Some(due) = schedule.next_after(since).filter(|t| *t <= s.now) else {
        return Decision::Idle;
    };
    let due = schedule
        .expr
        .last_at_or_before(s.now, due, &schedule.tz)
        .unwrap_or(due);
    if s.suspended {
        return Decision::Suspended;
    }
    if s.deadline.is_some_and(|d| s.now.duration_since(due) > d) {
        return Decision::Missed { scheduled: due };
    }
    match (s.concurrency, s.active) {
        (_, 0) | (Concurrency::Allow, _) => Decision::Start {
            scheduled: due,
            replace: false,
        },
        (Concurrency::Forbid, _) => Decision::Forbidden { scheduled: due },
        (Concurrency::Replace, _) => Decision::Start {
            scheduled: due,
            replace: true,
        },
    }
}

/// When to decide again: the next fire time after now (and whenever a run ends).
pub fn next_wake(schedule: &Schedule, now: Timestamp) -> Option<Timestamp> {
    schedule.next_after(now)
}

/// A run's name suffix: unix minutes (Kubernetes' naming), or unix seconds for a schedule with
/// a seconds field, whose runs can be less than a minute apart.
pub fn run_suffix(schedule: &Schedule, scheduled: Timestamp) -> i64 {
    if schedule.expr.has_seconds() {
        scheduled.as_second()
    } else {
        scheduled.as_second().div_euclid(60)
    }
}
