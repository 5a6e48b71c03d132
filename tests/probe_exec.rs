//! exec probes: exit codes, cwd and env, and a timed-out check leaves no process behind.

use crate::probe_common;

use std::path::Path;
use std::time::Duration;

use corral::probe::{ProbeKind, ProbeTarget};
use probe_common::{exec, target, wait_until, Harness};

#[tokio::test]
async fn true_passes() {
    let mut h = Harness::start(ProbeKind::Readiness, &exec(&["true"]), target()).expect("valid");
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    assert_eq!(report.message, "exec true: exit 0");
    h.finish().await;
}

#[tokio::test]
async fn false_fails_with_its_output() {
    let probe = exec(&["sh", "-c", "echo not yet >&2; exit 3"]);
    let mut h = Harness::start(ProbeKind::Readiness, &probe, target()).expect("valid");
    let report = h.next().await;
    assert!(!report.passing, "{report:?}");
    assert_eq!(
        report.message,
        "exec sh -c echo not yet >&2; exit 3: exit 3: not yet"
    );
    h.finish().await;
}

#[tokio::test]
async fn runs_in_the_instance_cwd_with_only_its_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = "test \"$(pwd -P)\" = \"$WANT\" && test \"$GREETING\" = hi && test -z \"$HOME\"";
    let cwd = dir.path().canonicalize().expect("canonical");
    let mut target = ProbeTarget {
        cwd: cwd.clone(),
        ..target()
    };
    target.env.push(("WANT".into(), cwd.display().to_string()));
    target.env.push(("GREETING".into(), "hi".into()));
    let mut h =
        Harness::start(ProbeKind::Readiness, &exec(&["sh", "-c", script]), target).expect("valid");
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    h.finish().await;
}

#[tokio::test]
async fn a_missing_program_fails() {
    let mut h = Harness::start(
        ProbeKind::Readiness,
        &exec(&["/nonexistent/check"]),
        target(),
    )
    .expect("valid");
    let report = h.next().await;
    assert!(!report.passing);
    assert!(
        report.message.contains(
            "spec.readiness.exec.command: /nonexistent/check does not exist: fix spec.readiness.exec.command"
        ),
        "{report:?}"
    );
    h.finish().await;
}

/// Reads a pid a script wrote, waiting for the file to be complete.
async fn read_pid(path: &Path) -> i32 {
    let mut pid = None;
    wait_until(Duration::from_secs(5), "the pid file", || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        pid.is_some()
    })
    .await;
    pid.unwrap_or_default()
}

/// Whether `pid` is a live (not zombie) process.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_timed_out_check_kills_and_reaps_its_whole_process_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The leader (the probe's own child) is `sleep 100` itself; a second sleep runs in the
    // background of a wrapper shell in the same group.
    let script = "sleep 100 & echo $! > bg; echo $$ > leader; exec sleep 100";
    let target = ProbeTarget {
        cwd: dir.path().to_path_buf(),
        ..target()
    };
    let mut h =
        Harness::start(ProbeKind::Readiness, &exec(&["sh", "-c", script]), target).expect("valid");
    let leader = read_pid(&dir.path().join("leader")).await;
    let background = read_pid(&dir.path().join("bg")).await;
    assert!(running(leader) && running(background));

    let report = h.next().await;
    assert!(!report.passing, "{report:?}");
    assert!(
        report
            .message
            .ends_with(": timed out after 1s, process group killed"),
        "{report:?}"
    );
    // Our own child is reaped: no /proc entry at all, not even a zombie.
    assert!(
        !Path::new(&format!("/proc/{leader}")).exists(),
        "leader {leader} left behind"
    );
    wait_until(
        Duration::from_secs(5),
        "the background sleep to die",
        || !running(background),
    )
    .await;
    h.finish().await;
}

#[tokio::test]
async fn stop_during_a_check_kills_and_reaps_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = corral::manifest::Probe {
        timeout_seconds: Some(30),
        ..exec(&["sh", "-c", "echo $$ > leader; exec sleep 100"])
    };
    let target = ProbeTarget {
        cwd: dir.path().to_path_buf(),
        ..target()
    };
    let h = Harness::start(ProbeKind::Liveness, &probe, target).expect("valid");
    let leader = read_pid(&dir.path().join("leader")).await;
    h.finish().await;
    assert!(
        !Path::new(&format!("/proc/{leader}")).exists(),
        "leader {leader} left behind"
    );
}
