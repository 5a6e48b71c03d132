//! The controller's own end: a graceful SIGTERM shutdown, and adoption after a SIGKILL.

use crate::common;

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::time::{Duration, Instant};

use common::web::{addr, get, WebApp};
use common::{manifest, Controller, SOON};
use nix::sys::signal::Signal;

#[test]
fn sigterm_stops_every_process_and_exits_zero() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    // Ignores SIGTERM: only the SIGKILL after stop.timeout ends it.
    let stubborn = ctl.stubborn(&ctl.scratch().join("stubborn-ready"));
    ctl.write_manifest(
        "stubborn.yaml",
        &manifest(
            "stubborn",
            &[&format!("command: {stubborn}"), "stop: {timeout: 1s}"],
        ),
    );
    // The shell dies on SIGTERM; its child in the same group ignores it.
    let family = ctl.sh("(trap '' TERM; exec sleep 100000) & wait");
    ctl.write_manifest(
        "family.yaml",
        &manifest("family", &[&format!("command: {family}")]),
    );
    ctl.start();
    ctl.wait_instances("web", 2);
    ctl.wait_instances("stubborn", 1);
    let leader = ctl.wait_instances("family", 1)[&0];
    ctl.wait_until(
        SOON,
        "the grandchild runs and stubborn ignores TERM",
        || {
            ctl.scratch().join("stubborn-ready").exists()
                && ctl
                    .processes()
                    .iter()
                    .any(|p| *p != leader && common::pgid(*p) == Some(leader))
        },
    );
    ctl.wait_until(
        SOON,
        "5 processes: 2 web, stubborn, sh and its child",
        || ctl.processes().len() == 5,
    );

    let asked = Instant::now();
    ctl.signal(Signal::SIGTERM);
    let status = ctl.wait_exit(SOON);
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "{status}\n{}", ctl.stderr());
    assert!(
        took >= Duration::from_millis(900),
        "waited for stop.timeout before SIGKILL: {took:?}"
    );
    assert!(
        took < Duration::from_secs(8),
        "did not wait for the 10 s default: {took:?}"
    );
    ctl.wait_until(
        Duration::from_secs(2),
        "no process of the test is left",
        || ctl.processes().is_empty(),
    );
    let after = ctl.corral(&["get"]);
    assert!(!after.status.success(), "{after:?}");
    assert!(after.stderr.contains("no controller"), "{after:?}");
}

#[test]
fn a_new_controller_adopts_what_a_killed_one_left() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    ctl.start();
    let before = ctl.wait_instances("web", 2);
    ctl.wait_status("web", "Running");

    ctl.crash();
    assert!(
        before.values().all(|p| common::alive(*p)),
        "instances outlive a crashed controller"
    );
    // Their log pipes are anonymous (re-opened through /proc): no FIFO files on disk.
    let fifos: Vec<_> = std::fs::read_dir(ctl.home.join("run"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_fifo()))
        .map(|e| e.path())
        .collect();
    assert!(fifos.is_empty(), "log FIFOs on disk: {fifos:?}");

    ctl.start();
    let app = ctl.wait_status("web", "Running");
    let listed: BTreeSet<(u32, Option<u32>)> =
        app.instances.iter().map(|i| (i.index, i.pid)).collect();
    let expected: BTreeSet<(u32, Option<u32>)> =
        before.iter().map(|(i, p)| (*i, Some(*p))).collect();
    assert_eq!(listed, expected, "get shows the adopted pids");
    ctl.assert_stays(Duration::from_millis(500), "no duplicates", || {
        let now = ctl.instances("web");
        now.len() == 2 && now.keys().all(|p| before.values().any(|b| b == p))
    });

    common::kill_pid(before[&1]);
    let after = ctl.wait_instances("web", 2);
    assert_eq!(after[&0], before[&0], "instance 0 untouched");
    assert_ne!(after[&1], before[&1], "instance 1 restarted");
    ctl.wait_status("web", "Running");
}

#[test]
fn output_written_while_no_controller_runs_reaches_the_log_after_adoption() {
    capture_survives_a_controller_crash(true);
}

#[test]
fn logs_without_timestamps_stay_without_after_adoption() {
    capture_survives_a_controller_crash(false);
}

/// An app prints a line each time a trigger file appears; lines printed before the crash, while
/// no controller runs, and after a new controller adopted it all reach the log, as configured.
fn capture_survives_a_controller_crash(timestamps: bool) {
    let ctl = Controller::new();
    let trigger = ctl.scratch().join("trigger");
    let cmd = ctl.sh(&format!(
        "n=0; while :; do if [ -e '{t}' ]; then n=$((n+1)); echo \"line $n $0\"; rm '{t}'; fi; sleep 0.05; done",
        t = trigger.display()
    ));
    let logs = format!("logs: {{timestamps: {timestamps}}}");
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), &logs]),
    );
    ctl.start();
    let pid = ctl.wait_instances("web", 1)[&0];
    ctl.wait_status("web", "Running");
    let log = ctl.home.join("logs/web/0.out.log");
    let logged = |n: u32| {
        let want = format!("line {n} {}", ctl.token);
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.ends_with(&want))
            .map(|l| {
                assert_eq!(l != want, timestamps, "timestamps: {timestamps}: {l:?}");
            })
            .is_some()
    };
    let say = |n: u32| {
        std::fs::write(&trigger, "").expect("trigger");
        ctl.wait_until(SOON, &format!("the app writes line {n}"), || {
            !trigger.exists()
        });
    };
    say(1);
    ctl.wait_until(SOON, "line 1 is captured", || logged(1));

    ctl.crash();
    say(2);
    ctl.start();
    ctl.wait_until(
        SOON,
        "line 2, written with no controller, is captured",
        || logged(2),
    );
    say(3);
    ctl.wait_until(SOON, "line 3 is captured", || logged(3));
    assert_eq!(ctl.instances("web").into_keys().collect::<Vec<_>>(), [pid]);
}

#[test]
fn an_instance_that_died_while_no_controller_ran_is_replaced() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    ctl.start();
    let before = ctl.wait_instances("web", 2);
    ctl.wait_status("web", "Running");

    ctl.crash();
    common::kill_pid(before[&0]);
    ctl.wait_until(SOON, "instance 0 is gone", || !common::alive(before[&0]));
    ctl.start();
    let after = ctl.wait_instances("web", 2);
    assert_ne!(after[&0], before[&0], "a new instance 0");
    assert_eq!(after[&1], before[&1], "instance 1 adopted");
    ctl.wait_status("web", "Running");
}

#[test]
fn sigint_stops_like_sigterm() {
    let ctl = Controller::new();
    let cmd = ctl.sleeper();
    ctl.write_manifest("web.yaml", &manifest("web", &[&format!("command: {cmd}")]));
    ctl.start();
    ctl.wait_instances("web", 1);
    ctl.signal(Signal::SIGINT);
    assert_eq!(ctl.wait_exit(SOON).code(), Some(0), "{}", ctl.stderr());
    ctl.wait_until(SOON, "no process is left", || ctl.processes().is_empty());
}

#[test]
fn shutdown_sends_each_apps_own_stop_signal() {
    let ctl = Controller::new();
    // Ignores SIGTERM; exits 0 on SIGUSR1. A 30 s timeout: only the right signal ends it soon.
    let cmd = common::flow(&[
        "python3",
        "-c",
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); \
         signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0)); \
         open(sys.argv[1], 'w').close(); time.sleep(100000)",
        &ctl.scratch().join("ready").display().to_string(),
        &ctl.token,
    ]);
    ctl.write_manifest(
        "usr1.yaml",
        &manifest(
            "usr1",
            &[
                &format!("command: {cmd}"),
                "stop: {signal: SIGUSR1, timeout: 30s}",
            ],
        ),
    );
    ctl.start();
    ctl.wait_instances("usr1", 1);
    ctl.wait_until(SOON, "the handlers are installed", || {
        ctl.scratch().join("ready").exists()
    });
    ctl.signal(Signal::SIGTERM);
    // Within 10 s, so not by the SIGKILL due after 30 s.
    assert_eq!(ctl.wait_exit(SOON).code(), Some(0), "{}", ctl.stderr());
    assert!(ctl.processes().is_empty(), "{:?}", ctl.processes());
}

/// An instance the killed controller was stopping, and that ignores its stop signal, is
/// SIGKILLed by the next controller once its app's `stop.timeout` has passed again.
#[test]
fn an_instance_adopted_while_stopping_still_gets_its_sigkill() {
    let ctl = Controller::new();
    let ready = ctl.scratch().join("stubborn-ready");
    let stubborn = ctl.stubborn(&ready);
    let spec = |instances: u32| {
        manifest(
            "stubborn",
            &[
                &format!("command: {stubborn}"),
                &format!("instances: {instances}"),
                "stop: {timeout: 3s}",
            ],
        )
    };
    ctl.write_manifest("stubborn.yaml", &spec(1));
    ctl.start();
    let pid = ctl.wait_instances("stubborn", 1)[&0];
    ctl.wait_until(SOON, "it ignores SIGTERM from now on", || ready.exists());

    ctl.write_manifest("stubborn.yaml", &spec(0));
    let record = ctl.home.join("instances.json");
    ctl.wait_until(SOON, "the record says it is stopping", || {
        std::fs::read_to_string(&record).is_ok_and(|r| r.contains("\"stopping\": true"))
    });
    ctl.crash();
    assert!(common::alive(pid), "SIGTERM alone does not end it");

    ctl.start();
    ctl.wait_until(
        Duration::from_secs(20),
        "the adopted, stopping instance is SIGKILLed after stop.timeout",
        || !common::alive(pid),
    );
    ctl.wait_until(SOON, "no process of the test is left", || {
        ctl.processes().is_empty()
    });
}

#[test]
fn instances_of_a_revision_changed_while_no_controller_ran_are_probed_and_serve() {
    // Adopted instances of the revision the manifest no longer names are probed with their own
    // revision's template (from the history): before, they were never probed, stayed unready
    // and the app had no backend until the new revision's first instance was ready.
    let ctl = Controller::new();
    let mut app = WebApp::new("web", "http");
    app.instances = 2;
    app.extra
        .push("readiness: {http: {path: /healthz}, periodSeconds: 1}".into());
    app.write(&ctl);
    ctl.start();
    let old = ctl.wait_instances("web", 2);
    ctl.wait_status("web", "Running");
    ctl.crash();
    // The new revision takes long to turn ready: the old one must serve meanwhile.
    app.set_env("READY_AFTER_MS", "60000");
    app.write(&ctl);
    ctl.start();
    // One of them at least: the rolling update may replace the other before its first probe.
    ctl.wait_until(SOON, "an adopted instance is ready again", || {
        let Some(app) = ctl.app("web") else {
            return false;
        };
        let ready: BTreeSet<u32> = app
            .instances
            .iter()
            .filter(|i| i.ready)
            .filter_map(|i| i.pid)
            .collect();
        old.values().any(|p| ready.contains(p))
    });
    let r = get(addr(app.port), "/").expect("served by an adopted instance");
    assert_eq!(r.status, 200, "{r:?}");
    let pid: u32 = r.field("pid").and_then(|p| p.parse().ok()).expect("pid");
    assert!(old.values().any(|p| *p == pid), "{r:?} from {old:?}");
}
