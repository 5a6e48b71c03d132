//! One Job's state machine: its runs, counts and status, and the step that decides what to
//! start and whether to stop, from the time it is given (wall-clock unix ms; no clock read here).

use std::time::Duration;

use super::phase::{COMPLETE, FAILED, RUNNING, SUSPENDED, WAITING};
use crate::api::{JobRun, JobStatus};
use crate::manifest::{Backoff, JobSpec};

/// A Job's spec and everything seen of its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    /// What `get` and `describe` show, and what `jobs.json` keeps.
    pub status: JobStatus,
    /// The spec it runs.
    pub spec: JobSpec,
    /// No run starts before this (the back-off after a failed run), unix ms.
    next_start_ms: u64,
    /// Why its dependencies hold it back now (`spec.dependsOn`), as the controller last said.
    held: Option<String>,
}

/// What one step decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// Run indices to start now.
    pub start: Vec<u32>,
    /// Run indices to stop now (not counted as failures).
    pub stop: Vec<u32>,
    /// When to step again at the latest (unix ms).
    pub wake_ms: Option<u64>,
    /// Events to tell, in order: (is a warning, reason, message).
    pub events: Vec<(bool, &'static str, String)>,
    /// Whether the status changed (to be saved).
    pub changed: bool,
}

impl JobState {
    /// A Job with no run yet.
    pub fn new(name: &str, file: &str, revision: &str, spec: JobSpec) -> Self {
        Self {
            status: JobStatus {
                name: name.to_owned(),
                file: file.to_owned(),
                revision: revision.to_owned(),
                status: RUNNING.to_owned(),
                completions: spec.completions,
                ..JobStatus::default()
            },
            spec,
            next_start_ms: 0,
            held: None,
        }
    }

    /// A Job from its saved status: kept when it had finished at this revision (it does not
    /// run again), else `None` (it starts over: runs cut short by a controller restart are
    /// not resumed).
    pub fn restored(saved: JobStatus, revision: &str, spec: JobSpec) -> Option<Self> {
        (saved.revision == revision && is_finished(&saved.status)).then_some(Self {
            status: saved,
            spec,
            next_start_ms: 0,
            held: None,
        })
    }

    /// Whether it is `Complete` or `Failed`.
    pub fn finished(&self) -> bool {
        is_finished(&self.status.status)
    }

    /// Runs started and not ended.
    pub fn active(&self) -> impl Iterator<Item = &JobRun> {
        self.status.runs.iter().filter(|r| r.end_ms.is_none())
    }

    /// Whether `ttlSecondsAfterFinished` has passed.
    pub fn expired(&self, now_ms: u64) -> bool {
        match (
            self.spec.ttl_seconds_after_finished,
            self.status.completion_ms,
        ) {
            (Some(ttl), Some(done)) => now_ms >= done + u64::from(ttl) * 1000,
            _ => false,
        }
    }

    /// Decides what to do at `now_ms`: runs to start and to stop, the status to take.
    pub fn step(&mut self, now_ms: u64) -> Step {
        let mut step = Step::default();
        let active: Vec<u32> = self.active().map(|r| r.index).collect();
        if self.finished() {
            step.stop = active;
            if let (Some(ttl), Some(done)) = (
                self.spec.ttl_seconds_after_finished,
                self.status.completion_ms,
            ) {
                step.wake_ms = Some(done + u64::from(ttl) * 1000);
            }
            return step;
        }
        if self.spec.suspend {
            step.stop = active;
            if self.status.status != SUSPENDED {
                self.status.status = SUSPENDED.to_owned();
                self.status.reason = None; // a `Waiting` reason no longer holds
                step.changed = true;
                let event = (false, "JobSuspended", "suspended: no run starts".into());
                step.events.push(event);
            }
            return step;
        }
        if self.status.status == SUSPENDED {
            self.status.status = RUNNING.to_owned();
            step.changed = true;
        }
        let (succeeded, failed) = (self.status.succeeded, self.status.failed);
        let deadline = self.deadline_ms();
        let outcome = if succeeded >= self.spec.completions {
            Some((COMPLETE, None))
        } else if failed > self.spec.backoff_limit {
            Some((FAILED, Some("BackoffLimitExceeded")))
        } else if deadline.is_some_and(|d| now_ms >= d) {
            Some((FAILED, Some("DeadlineExceeded")))
        } else {
            None
        };
        if let Some((status, reason)) = outcome {
            self.finish(status, reason, now_ms, &mut step);
            step.stop = active;
            return step;
        }
        if self.wait(&mut step) {
            step.wake_ms = deadline;
            return step;
        }
        let needed = self.spec.completions - succeeded;
        let going = active.len() as u32;
        let want = self.spec.parallelism.min(needed).saturating_sub(going);
        if want > 0 && now_ms >= self.next_start_ms {
            let first = self.status.runs.len() as u32;
            step.start = (first..first + want).collect();
            if self.status.start_ms.is_none() {
                self.status.start_ms = Some(now_ms);
                step.events
                    .push((false, "JobStarted", self.started_message()));
            }
            step.changed = true;
        } else if want > 0 {
            step.wake_ms = Some(self.next_start_ms);
        }
        step.wake_ms = [step.wake_ms, self.deadline_ms()]
            .into_iter()
            .flatten()
            .min();
        step
    }

    /// Says whether its dependencies hold it back now, and why (`None`: every one is met).
    pub fn hold(&mut self, reason: Option<String>) {
        self.held = reason;
    }

    /// `Waiting` while held and no run is going (a run going goes on, as an App's instance
    /// does); `true` when no run may start now. Back to `Running` once released.
    fn wait(&mut self, step: &mut Step) -> bool {
        let going = self.active().next().is_some();
        match &self.held {
            Some(reason) if !going => {
                let same = self.status.reason.as_deref() == Some(reason.as_str());
                if self.status.status != WAITING || !same {
                    self.status.status = WAITING.to_owned();
                    self.status.reason = Some(reason.clone());
                    step.changed = true;
                    step.events.push((false, "Waiting", reason.clone()));
                }
                true
            }
            _ => {
                if self.status.status == WAITING {
                    self.status.status = RUNNING.to_owned();
                    self.status.reason = None;
                    step.changed = true;
                    let message = "every dependency is met: starting".to_owned();
                    step.events.push((false, "DependenciesMet", message));
                }
                false
            }
        }
    }

    /// Records a run as started (its pid) or as failed to start (`Err(why)`).
    pub fn run_started(&mut self, index: u32, started: Result<u32, String>, now_ms: u64) {
        let mut run = JobRun {
            index,
            start_ms: now_ms,
            ..JobRun::default()
        };
        match started {
            Ok(pid) => run.pid = Some(pid),
            Err(why) => {
                run.end_ms = Some(now_ms);
                run.exit = Some(why);
                run.succeeded = Some(false);
                self.count_failure(now_ms);
            }
        }
        self.status.runs.push(run);
    }

    /// Records how run `index` (process `pid`) ended; a run the Job stopped counts as neither
    /// success nor failure.
    pub fn run_exited(&mut self, index: u32, pid: u32, exit: String, success: bool, now_ms: u64) {
        // Finished or suspended: the run was stopped by the Job.
        let stopped = self.finished() || self.spec.suspend;
        let found = (self.status.runs.iter_mut()).find(|r| r.index == index && r.pid == Some(pid));
        let Some(run) = found else {
            return;
        };
        if run.end_ms.is_some() {
            return;
        }
        run.end_ms = Some(now_ms);
        run.exit = Some(exit);
        run.pid = None;
        if stopped {
            return;
        }
        run.succeeded = Some(success);
        if success {
            self.status.succeeded += 1;
        } else {
            self.count_failure(now_ms);
        }
    }

    /// When `activeDeadlineSeconds` passes (unix ms), once a run started.
    fn deadline_ms(&self) -> Option<u64> {
        let secs = self.spec.active_deadline_seconds?;
        Some(self.status.start_ms? + u64::from(secs) * 1000)
    }

    /// Counts a failed run; the next starts after the back-off.
    fn count_failure(&mut self, now_ms: u64) {
        self.status.failed += 1;
        let delay = backoff_delay(&self.spec.template.backoff, self.status.failed);
        self.next_start_ms = now_ms + delay.as_millis() as u64;
    }

    /// Takes a final status.
    fn finish(&mut self, status: &str, reason: Option<&str>, now_ms: u64, step: &mut Step) {
        self.status.status = status.to_owned();
        self.status.reason = reason.map(str::to_owned);
        self.status.completion_ms = Some(now_ms);
        step.changed = true;
        let counts = format!(
            "{}/{} runs succeeded, {} failed",
            self.status.succeeded, self.spec.completions, self.status.failed
        );
        step.events.push(match reason {
            None => (false, "JobCompleted", format!("completed: {counts}")),
            Some(r) => (
                true,
                "JobFailed",
                format!("failed ({r}): {counts}{}", self.why(r)),
            ),
        });
    }

    /// The rule behind a failure reason, for its event.
    fn why(&self, reason: &str) -> String {
        match reason {
            "DeadlineExceeded" => format!(
                "; activeDeadlineSeconds {} passed, its runs are stopped",
                self.spec.active_deadline_seconds.unwrap_or_default()
            ),
            _ => format!(
                "; more than backoffLimit {} failed runs",
                self.spec.backoff_limit
            ),
        }
    }

    fn started_message(&self) -> String {
        format!(
            "started (revision {}): {} completion(s), {} at once",
            self.status.revision, self.spec.completions, self.spec.parallelism
        )
    }
}

/// Whether a status word is final.
fn is_finished(status: &str) -> bool {
    status == COMPLETE || status == FAILED
}

/// The delay before the run after the `failures`-th failed run: `initial`, doubling each time,
/// at most `max`.
pub fn backoff_delay(backoff: &Backoff, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    backoff
        .initial
        .0
        .saturating_mul(1u32 << doublings)
        .min(backoff.max.0.max(backoff.initial.0))
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
