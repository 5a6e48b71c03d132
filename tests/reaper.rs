//! The controller reaps every orphan its instances leave (it is a child subreaper) without
//! taking the exit status of a child someone else waits for: zero zombies after hundreds of
//! daemonizing starts, and exec probes keep reporting their exit codes meanwhile.

use crate::common;

use std::time::Duration;

use common::orphans::{count, daemonizing_crash_loop, run_crash_loop};
use common::{manifest, wait_for, Controller, SOON};

#[test]
fn two_hundred_daemonizing_starts_leave_no_zombie() {
    // 200 starts (4 instances crash-looping with a 1 ms back-off, each leaving a daemon that
    // exits by itself) keep this under ~20 s here; tests/soak.rs runs 1 000.
    let ctl = Controller::new();
    ctl.start();
    let (most, took) = run_crash_loop(&ctl, 200, Duration::from_secs(60));
    eprintln!("200 daemonizing starts in {took:?}, at most {most} zombie(s) at once");
    // Without reaping they pile up, one per start; reaped on SIGCHLD they never do.
    assert!(most < 40, "{most} zombies at once: orphans are not reaped");
}

#[test]
fn exec_probes_report_their_exit_codes_while_orphans_are_reaped() {
    let ctl = Controller::new();
    ctl.start();
    let flag = ctl.scratch().join("healthy");
    std::fs::write(&flag, "").expect("flag");
    let check = common::flow(&["sh", "-c", &format!("test -e {}", flag.display())]);
    ctl.write_manifest(
        "probed.yaml",
        &manifest(
            "probed",
            &[
                &format!("command: {}", ctl.sleeper()),
                "instances: 3",
                &format!(
                    "readiness: {{exec: {{command: {check}}}, periodSeconds: 1, failureThreshold: 1}}"
                ),
            ],
        ),
    );
    ctl.wait_status("probed", "Running");
    let starts = ctl.scratch().join("starts");
    ctl.write_manifest("loop.yaml", &daemonizing_crash_loop(&ctl, &starts));
    ctl.wait_until(SOON, "the crash loop has run a while", || {
        count(&starts) >= 20
    });
    // Orphans are reaped all the while; exit 0 keeps passing (a stolen status would fail it).
    ctl.assert_stays(
        Duration::from_secs(3),
        "every probed instance stays ready",
        || ctl.app("probed").is_some_and(|a| a.ready == 3),
    );
    std::fs::remove_file(&flag).expect("remove flag");
    let events = wait_for(SOON, "readiness fails with exit 1", || {
        let run = ctl.corral(&["events", "probed", "-o", "json"]);
        run.stdout.contains("exit 1").then_some(run.stdout)
    });
    assert!(
        !events.contains("cannot wait") && !events.contains("No child"),
        "an exec probe lost its exit status:\n{events}"
    );
    assert!(count(&starts) > 20, "the crash loop kept running");
}
