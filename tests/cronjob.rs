//! `kind: CronJob` through the binary, on schedules with a seconds field (corral's extension;
//! no injected clock): each concurrency policy, and a run missed while no controller ran
//! started once when it comes back.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral::api::CronJobStatus;
use nix::sys::signal::Signal;

use crate::common::{self, Controller};

const WITHIN: Duration = Duration::from_secs(30);

/// A CronJob whose runs append `start` and `end` to `log`, sleeping `secs` in between.
fn cronjob(c: &Controller, schedule: &str, spec: &[&str], log: &Path, secs: u32) -> String {
    let script = c.sh(&format!(
        "echo start $CORRAL_APP >> {f}; sleep {secs}; echo end $CORRAL_APP >> {f}",
        f = log.display()
    ));
    let mut text = format!(
        "apiVersion: corral/v1\nkind: CronJob\nmetadata:\n  name: tick\nspec:\n  schedule: \"{schedule}\"\n  timeZone: UTC\n"
    );
    for line in spec {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str(&format!(
        "  jobTemplate:\n    spec:\n      backoffLimit: 0\n      template:\n        command: {script}\n"
    ));
    text
}

fn status(c: &Controller) -> Option<CronJobStatus> {
    c.get().cronjobs.into_iter().find(|j| j.name == "tick")
}

fn lines(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn starts(log: &Path) -> usize {
    lines(log).iter().filter(|l| l.starts_with("start")).count()
}

/// How many runs were going at once at most, from the start/end lines.
fn most_at_once(log: &Path) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for l in lines(log) {
        if l.starts_with("start") {
            now += 1;
            most = most.max(now);
        } else {
            now = now.saturating_sub(1);
        }
    }
    most
}

#[test]
fn allow_lets_runs_overlap() {
    let c = Controller::new();
    let log = c.scratch().join("runs.log");
    c.write_manifest("tick.yaml", &cronjob(&c, "*/1 * * * * *", &[], &log, 3));
    c.start();
    c.wait_until(WITHIN, "two runs at once", || most_at_once(&log) >= 2);
    let s = status(&c).expect("listed");
    assert_eq!(
        (s.schedule.as_str(), s.time_zone.as_str()),
        ("*/1 * * * * *", "UTC")
    );
    assert!(s.last_schedule_ms.is_some() && s.next_ms.is_some(), "{s:?}");
    // Runs are Jobs named tick-<unix seconds>.
    let job = &s.jobs[0];
    let secs: u64 = job
        .strip_prefix("tick-")
        .expect("named")
        .parse()
        .expect("seconds");
    assert!(secs * 1000 <= s.last_schedule_ms.unwrap(), "{s:?}");
    assert!(c.get().jobs.iter().any(|j| &j.name == job));
    let table = c.corral_ok(&["get", "cronjobs"]);
    assert!(
        table.contains("LAST SCHEDULE") && table.contains("NEXT"),
        "{table}"
    );
    assert!(
        table.contains("tick") && table.contains("*/1 * * * * *"),
        "{table}"
    );
}

#[test]
fn forbid_never_overlaps_and_replace_stops_the_one_going() {
    let c = Controller::new();
    let log = c.scratch().join("runs.log");
    let forbid = cronjob(&c, "*/1 * * * * *", &["concurrencyPolicy: Forbid"], &log, 2);
    c.write_manifest("tick.yaml", &forbid);
    c.start();
    c.wait_until(WITHIN, "three runs, one after the other", || {
        lines(&log).iter().filter(|l| l.starts_with("end")).count() >= 3
    });
    assert_eq!(most_at_once(&log), 1, "{:?}", lines(&log));

    // Replace: each fire time stops the run going (it never writes `end`), one at a time.
    let replace_log = c.scratch().join("replace.log");
    let replace = cronjob(
        &c,
        "*/2 * * * * *",
        &["concurrencyPolicy: Replace"],
        &replace_log,
        30,
    );
    c.write_manifest("tick.yaml", &replace);
    c.wait_until(WITHIN, "three runs under Replace", || {
        starts(&replace_log) >= 3
    });
    assert!(
        !lines(&replace_log).iter().any(|l| l.starts_with("end")),
        "a replaced run was stopped: {:?}",
        lines(&replace_log)
    );
    let s = status(&c).expect("listed");
    assert!(s.active.len() <= 1, "one run at a time: {s:?}");
}

#[test]
fn a_run_missed_while_the_controller_was_down_starts_once_on_return() {
    let c = Controller::new();
    let log = c.scratch().join("runs.log");
    let text = cronjob(
        &c,
        "*/3 * * * * *",
        &["startingDeadlineSeconds: 100", "concurrencyPolicy: Forbid"],
        &log,
        0,
    );
    c.write_manifest("tick.yaml", &text);
    c.start();
    c.wait_until(WITHIN, "a first run", || starts(&log) >= 1);
    let before = status(&c).expect("listed");
    c.signal(Signal::SIGTERM);
    c.wait_exit(WITHIN);
    let down = SystemTime::now();
    let runs_before = starts(&log);
    // Away past at least one fire time (they are 3 s apart).
    common::wait_for(WITHIN, "a fire time to pass", || {
        (down.elapsed().unwrap_or_default() >= Duration::from_secs(4)).then_some(())
    });
    let back = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    c.start();
    c.wait_until(WITHIN, "the missed run", || starts(&log) > runs_before);
    let after = status(&c).expect("listed");
    // The run started on return is for a fire time from while it was down.
    let caught_up: Vec<u64> = (after.jobs.iter())
        .filter(|j| !before.jobs.contains(j))
        .filter_map(|j| j.strip_prefix("tick-")?.parse().ok())
        .collect();
    assert!(
        caught_up.iter().any(|&t| t < back),
        "no run for a time while it was down: back at {back}, {after:?}"
    );
    assert!(
        after.created_ms == before.created_ms,
        "the CronJob was remembered: {before:?} {after:?}"
    );
    let missed_runs = caught_up.iter().filter(|&&t| t < back).count();
    assert_eq!(
        missed_runs, 1,
        "only the most recent missed time runs: {after:?}"
    );
}
