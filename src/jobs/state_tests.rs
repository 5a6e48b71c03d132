//! The Job state machine on plain numbers: completions, parallelism, back-off, deadline.

use super::*;

fn spec(yaml: &str) -> JobSpec {
    let text =
        format!("{yaml}\ntemplate: {{command: [x], backoff: {{initial: 100ms, max: 1s}}}}\n");
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn fails_twice_then_succeeds_within_the_back_off_limit() {
    let mut job = JobState::new("m", "f", "r", spec("backoffLimit: 3"));
    let s = job.step(1000);
    assert_eq!(s.start, [0]);
    assert_eq!(s.events.last().map(|e| e.1), Some("JobStarted"));
    job.run_started(0, Ok(10), 1000);
    assert!(job.step(1001).start.is_empty());
    job.run_exited(0, 10, "exit code 1".into(), false, 1100);
    // Back-off: 100ms after the first failure, 200ms after the second.
    assert_eq!(job.step(1150).wake_ms, Some(1200));
    assert_eq!(job.step(1200).start, [1]);
    job.run_started(1, Ok(11), 1200);
    job.run_exited(1, 11, "exit code 1".into(), false, 1300);
    assert_eq!(job.step(1400).wake_ms, Some(1500));
    assert_eq!(job.step(1500).start, [2]);
    job.run_started(2, Ok(12), 1500);
    job.run_exited(2, 12, "exit code 0".into(), true, 1600);
    let s = job.step(1600);
    assert_eq!(s.events.last().map(|e| e.1), Some("JobCompleted"));
    assert_eq!(job.status.status, "Complete");
    assert_eq!((job.status.succeeded, job.status.failed), (1, 2));
    assert_eq!(job.status.runs.len(), 3);
    assert!(job.step(99_999).start.is_empty());
}

#[test]
fn one_failure_over_the_limit_fails_the_job() {
    let mut job = JobState::new("m", "f", "r", spec("backoffLimit: 1"));
    for (i, t) in [(0, 0), (1, 1000)] {
        assert_eq!(job.step(t).start, [i]);
        job.run_started(i, Ok(1), t);
        job.run_exited(i, 1, "exit code 2".into(), false, t + 1);
    }
    let s = job.step(5000);
    assert!(s.start.is_empty());
    assert_eq!(job.status.status, "Failed");
    assert_eq!(job.status.reason.as_deref(), Some("BackoffLimitExceeded"));
}

#[test]
fn parallelism_never_starts_more_than_the_successes_needed() {
    let mut job = JobState::new("m", "f", "r", spec("completions: 3\nparallelism: 2"));
    assert_eq!(job.step(0).start, [0, 1]);
    job.run_started(0, Ok(1), 0);
    job.run_started(1, Ok(2), 0);
    job.run_exited(0, 1, "exit code 0".into(), true, 10);
    job.run_exited(1, 2, "exit code 0".into(), true, 11);
    assert_eq!(job.step(20).start, [2]);
    job.run_started(2, Ok(3), 20);
    job.run_exited(2, 3, "exit code 0".into(), true, 30);
    job.step(40);
    assert_eq!(job.status.status, "Complete");
}

#[test]
fn the_deadline_stops_the_runs_and_fails_the_job() {
    let mut job = JobState::new("m", "f", "r", spec("activeDeadlineSeconds: 2"));
    assert_eq!(job.step(0).start, [0]);
    job.run_started(0, Ok(1), 0);
    assert_eq!(job.step(100).wake_ms, Some(2000));
    let s = job.step(2000);
    assert_eq!(s.stop, [0]);
    assert_eq!(job.status.reason.as_deref(), Some("DeadlineExceeded"));
    // The stopped run's exit is not a failure.
    job.run_exited(0, 1, "signal SIGTERM".into(), false, 2100);
    assert_eq!(job.status.failed, 0);
}

#[test]
fn only_a_finished_job_at_the_same_revision_is_restored() {
    let mut job = JobState::new("m", "f", "r1", spec(""));
    job.step(0);
    let running = job.status.clone();
    assert!(JobState::restored(running, "r1", spec("")).is_none());
    job.run_started(0, Ok(1), 0);
    job.run_exited(0, 1, "exit code 0".into(), true, 5);
    job.step(6);
    assert!(JobState::restored(job.status.clone(), "r1", spec("")).is_some());
    assert!(JobState::restored(job.status.clone(), "r2", spec("")).is_none());
}

#[test]
fn a_held_job_waits_with_the_reason_and_starts_once_released() {
    let mut job = JobState::new("m", "f", "r", spec("completions: 1"));
    job.hold(Some("waiting for db to be Ready".into()));
    let s = job.step(1000);
    assert!(s.start.is_empty());
    assert_eq!(job.status.status, "Waiting");
    assert_eq!(
        job.status.reason.as_deref(),
        Some("waiting for db to be Ready")
    );
    assert_eq!(s.events.last().map(|e| e.1), Some("Waiting"));
    // Told once: the same reason again is no new event.
    assert!(job.step(1001).events.is_empty());
    job.hold(None);
    let s = job.step(1002);
    assert_eq!(s.start, [0]);
    let reasons: Vec<&str> = s.events.iter().map(|e| e.1).collect();
    assert_eq!(reasons, ["DependenciesMet", "JobStarted"]);
    assert_eq!(
        (job.status.status.as_str(), job.status.reason.as_deref()),
        ("Running", None)
    );
    // A run going goes on whatever happens to the dependencies.
    job.run_started(0, Ok(10), 1002);
    job.hold(Some("waiting for db to be Ready".into()));
    assert_eq!(job.step(1003).stop, Vec::<u32>::new());
    assert_eq!(job.status.status, "Running");
}
