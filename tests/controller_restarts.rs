//! Crashing apps: restarts with exponential back-off, CrashLoopBackOff, restart policies.

use crate::common;

use std::time::Duration;

use common::{manifest, now_ms, Controller, SOON};

/// Start times (ns since the epoch) an app appended to `file`, one per line.
fn starts(file: &std::path::Path) -> Vec<u128> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn crash_loop_backs_off_from_initial_to_max() {
    let ctl = Controller::new();
    let log = ctl.scratch().join("starts");
    let cmd = ctl.sh(&format!("date +%s%N >> '{}'; exit 1", log.display()));
    ctl.write_manifest(
        "crashy.yaml",
        &manifest(
            "crashy",
            &[
                &format!("command: {cmd}"),
                "backoff: {initial: 200ms, max: 400ms}",
            ],
        ),
    );
    ctl.start();

    let now = now_ms();
    let app = ctl.wait_status("crashy", "CrashLoopBackOff");
    let retry = app.instances.iter().find_map(|i| i.next_retry_ms);
    let retry = retry.unwrap_or_else(|| panic!("nextRetryMs in back-off: {app:#?}"));
    assert!(
        retry + 100 >= now && retry <= now_ms() + 2_000,
        "next retry {retry} is soon after {now}"
    );
    let phase = &app.instances[0];
    assert_eq!(phase.phase, "CrashLoopBackOff", "{app:#?}");
    assert_eq!(phase.last_exit.as_deref(), Some("exit code 1"), "{app:#?}");

    ctl.wait_until(SOON, "6 starts", || starts(&log).len() >= 6);
    let times = starts(&log);
    let gaps: Vec<u128> = times
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    // Delays are 200ms, then 400ms (doubled, capped): lower bounds are exact, upper ones loose.
    assert!(
        gaps.iter().all(|g| *g >= 180),
        "never below initial: {gaps:?}"
    );
    assert!(
        gaps[1..].iter().all(|g| *g >= 360),
        "doubles to max: {gaps:?}"
    );
    assert!(gaps.iter().all(|g| *g < 2_500), "capped at max: {gaps:?}");

    let app = ctl.app("crashy").expect("crashy listed");
    assert!(app.restarts >= 5, "restarts counted: {app:#?}");
}

#[test]
fn restart_policies_decide_who_comes_back() {
    let ctl = Controller::new();
    let mut files = Vec::new();
    for (name, policy, code) in [
        ("never", "Never", 1),
        ("ok-once", "OnFailure", 0),
        ("fails", "OnFailure", 1),
    ] {
        let log = ctl.scratch().join(name);
        let cmd = ctl.sh(&format!("date +%s%N >> '{}'; exit {code}", log.display()));
        ctl.write_manifest(
            &format!("{name}.yaml"),
            &manifest(
                name,
                &[
                    &format!("command: {cmd}"),
                    &format!("restartPolicy: {policy}"),
                    "backoff: {initial: 50ms, max: 50ms}",
                ],
            ),
        );
        files.push(log);
    }
    ctl.start();

    ctl.wait_until(SOON, "OnFailure restarts a failing app", || {
        starts(&files[2]).len() >= 3
    });
    ctl.wait_until(SOON, "the others ran once", || {
        starts(&files[0]).len() == 1 && starts(&files[1]).len() == 1
    });
    for (name, exit) in [("never", "exit code 1"), ("ok-once", "exit code 0")] {
        let app = ctl.wait_status(name, "Exited");
        assert_eq!(app.instances.len(), 1, "{app:#?}");
        let inst = &app.instances[0];
        assert_eq!(
            (inst.phase.as_str(), inst.pid, inst.next_retry_ms),
            ("Exited", None, None),
            "{app:#?}"
        );
        assert_eq!(inst.last_exit.as_deref(), Some(exit), "{app:#?}");
        assert_eq!(app.restarts, 0, "{app:#?}");
    }
    ctl.assert_stays(Duration::from_millis(600), "not restarted", || {
        starts(&files[0]).len() == 1 && starts(&files[1]).len() == 1
    });
    assert!(ctl.instances("never").is_empty() && ctl.instances("ok-once").is_empty());
}
