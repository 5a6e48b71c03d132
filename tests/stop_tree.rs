//! Nothing escapes a stop: the controller is a child subreaper, a daemonized
//! grandchild (double fork + `setsid`) is re-parented to it, ended with its instance, reported
//! and ended before a restart when its main process exits, and no zombie is left.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::orphans::zombie_children;
use common::{manifest, procs, Controller, SOON};
use nix::sys::signal::Signal;
use serde_json::Value;

/// A python3 app: `daemon.py PIDFILE PORT HOLD MODE TOKEN`. It forks, the child calls
/// `setsid` and forks the daemon, and exits; the daemon ignores SIGTERM, binds PORT (when not
/// 0) and writes its pid to PIDFILE. MODE `stay`: the main process sleeps; `crash-once`: the
/// main process first checks that PORT is free (appending `conflict` to HOLD when not, and
/// exiting 1), then on its first run only starts the daemon and exits 1 (`runs` counts in HOLD).
const DAEMON: &str = r#"
import os, signal, socket, sys, time
pidfile, port, hold, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def note(word):
    with open(hold, "a") as f:
        f.write(word + "\n")
def free():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
def daemonize():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            s = None
            if port:
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                s.listen()
            tmp = "%s.%d.tmp" % (pidfile, os.getpid())  # instances' daemons race for one name
            with open(tmp, "w") as f:
                f.write(str(os.getpid()))
            os.rename(tmp, pidfile)
            while True:
                time.sleep(1000)
        os._exit(0)
    os.wait()
if mode == "stay":
    daemonize()
    while True:
        time.sleep(1000)
if port and not free():
    note("conflict")
    sys.exit(1)
runs = open(hold).read().count("run") if os.path.exists(hold) else 0
note("run")
if runs == 0:
    daemonize()
    sys.exit(1)
while True:
    time.sleep(1000)
"#;

/// The app's argv (YAML flow list).
fn daemon_argv(ctl: &Controller, pidfile: &Path, port: u16, hold: &Path, mode: &str) -> String {
    let script = ctl.scratch().join("daemon.py");
    std::fs::write(&script, DAEMON).expect("write daemon.py");
    common::flow(&[
        "python3",
        &script.display().to_string(),
        &pidfile.display().to_string(),
        &port.to_string(),
        &hold.display().to_string(),
        mode,
        &ctl.token,
    ])
}

/// The pid a daemon wrote, once it has.
fn daemon_pid(pidfile: &Path) -> u32 {
    common::wait_for(SOON, "the daemon writes its pid", || {
        std::fs::read_to_string(pidfile).ok()?.trim().parse().ok()
    })
}

/// A free loopback port.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn a_daemonized_grandchild_is_reparented_and_ended_by_delete() {
    let ctl = Controller::new();
    ctl.start();
    let pidfile = ctl.scratch().join("daemon.pid");
    let argv = daemon_argv(&ctl, &pidfile, 0, &ctl.scratch().join("hold"), "stay");
    ctl.write_manifest(
        "d.yaml",
        &manifest("d", &[&format!("command: {argv}"), "stop: {timeout: 1s}"]),
    );
    let main = ctl.wait_instances("d", 1)[&0];
    let daemon = daemon_pid(&pidfile);
    assert_ne!(procs::pgid(daemon), Some(main), "the daemon left the group");
    ctl.wait_until(SOON, "the daemon is re-parented to the controller", || {
        procs::ppid(daemon) == Some(ctl.pid())
    });
    let env = common::env_map(daemon);
    let mark = env
        .get("CORRAL_INSTANCE_UID")
        .expect("the daemon carries the mark");
    assert_eq!(
        common::env_map(main).get("CORRAL_INSTANCE_UID"),
        Some(mark),
        "the mark is the instance's"
    );
    ctl.remove_manifest("d.yaml");
    ctl.wait_until(SOON, "every process of the app is gone", || {
        ctl.processes().is_empty()
    });
    ctl.wait_until(SOON, "no zombie among the controller's children", || {
        zombie_children(ctl.pid()).is_empty()
    });
}

#[test]
fn nothing_outlives_a_controller_stopped_with_sigterm() {
    let ctl = Controller::new();
    ctl.start();
    let pidfile = ctl.scratch().join("daemon.pid");
    let argv = daemon_argv(&ctl, &pidfile, 0, &ctl.scratch().join("hold"), "stay");
    ctl.write_manifest(
        "d.yaml",
        &manifest(
            "d",
            &[
                &format!("command: {argv}"),
                "instances: 2",
                "stop: {timeout: 1s}",
            ],
        ),
    );
    ctl.wait_instances("d", 2);
    daemon_pid(&pidfile);
    ctl.wait_until(SOON, "both daemons run", || ctl.processes().len() >= 4);
    ctl.signal(Signal::SIGTERM);
    let status = ctl.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "the controller exits 0: {status}");
    let left = ctl.processes();
    assert!(left.is_empty(), "left behind after exit 0: {left:?}");
}

#[test]
fn a_daemon_left_by_a_crash_is_reported_and_gone_before_the_restart() {
    let ctl = Controller::new();
    ctl.start();
    let (pidfile, hold, port) = (
        ctl.scratch().join("daemon.pid"),
        ctl.scratch().join("hold"),
        free_port(),
    );
    let argv = daemon_argv(&ctl, &pidfile, port, &hold, "crash-once");
    ctl.write_manifest(
        "c.yaml",
        &manifest(
            "c",
            &[
                &format!("command: {argv}"),
                // The daemon ignores SIGTERM: it takes the SIGKILL after 1 s.
                "stop: {timeout: 1s}",
                "backoff: {initial: 10ms, max: 10ms}",
            ],
        ),
    );
    let daemon = daemon_pid(&pidfile);
    ctl.wait_until(SOON, "the second run is up", || {
        std::fs::read_to_string(&hold).is_ok_and(|h| h.matches("run").count() >= 2)
    });
    let notes = std::fs::read_to_string(&hold).expect("hold");
    assert!(
        !notes.contains("conflict"),
        "the restart found the port held by the daemon:\n{notes}"
    );
    assert!(!procs::alive(daemon), "the daemon is gone");
    let events = ctl.corral(&["events", "c", "-o", "json"]);
    assert!(events.status.success(), "{events:?}");
    let left: Vec<Value> = events
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["reason"] == "ProcessesLeftBehind")
        .collect();
    assert_eq!(left.len(), 1, "{}", events.stdout);
    let message = left[0]["message"].as_str().unwrap_or_default();
    assert_eq!(left[0]["kind"], "Warning", "{message}");
    assert!(
        message.contains(&format!("pid {daemon}")) && message.contains("1 process(es)"),
        "{message}"
    );
    ctl.wait_instances("c", 1);
}

#[test]
fn after_a_controller_crash_a_daemon_is_still_its_instances_and_not_an_instance() {
    let ctl = Controller::new();
    ctl.start();
    // `setsid` makes the daemon lead a group of its own, as an instance does.
    let script = "(setsid sleep 100000 &); exec sleep 100000";
    ctl.write_manifest(
        "d.yaml",
        &manifest(
            "d",
            &[
                &format!("command: {}", ctl.sh(script)),
                "stop: {timeout: 1s}",
            ],
        ),
    );
    // (Both lead a group and carry CORRAL_APP: `wait_instances` would count two.)
    let listed = || -> Vec<u32> {
        ctl.app("d")
            .map(|a| a.instances.iter().filter_map(|i| i.pid).collect())
            .unwrap_or_default()
    };
    let main = common::wait_for(SOON, "the instance runs", || listed().first().copied());
    ctl.wait_until(SOON, "the daemon runs", || ctl.processes().len() == 2);
    ctl.crash();
    ctl.start();
    ctl.wait_status("d", "Running");
    assert_eq!(
        listed(),
        vec![main],
        "the instance is adopted, the daemon is not"
    );
    let events = ctl.corral(&["events", "d", "-o", "json"]).stdout;
    assert!(!events.contains("AdoptedOrphan"), "{events}");
    assert_eq!(ctl.processes().len(), 2);
    ctl.remove_manifest("d.yaml");
    ctl.wait_until(SOON, "the instance and its daemon are gone", || {
        ctl.processes().is_empty()
    });
}

#[test]
fn a_stop_sends_its_signal_to_a_child_that_left_the_group_before_any_sigkill() {
    let ctl = Controller::new();
    ctl.start();
    let got = ctl.scratch().join("got-term");
    // The main process ignores SIGTERM (from after the fork: an ignored signal cannot be
    // trapped by the child shell) and waits; its child left the group with `setsid` and notes
    // the SIGTERM it gets (a SIGKILL would leave no note).
    let script = format!(
        "setsid sh -c 'trap \"echo term > {}; exit 0\" TERM; while :; do sleep 0.05; done' & trap '' TERM; wait",
        got.display()
    );
    ctl.write_manifest(
        "g.yaml",
        &manifest(
            "g",
            &[
                &format!("command: {}", ctl.sh(&script)),
                "stop: {timeout: 5s}",
            ],
        ),
    );
    ctl.wait_status("g", "Running");
    ctl.wait_until(SOON, "the child left the group", || {
        ctl.processes()
            .iter()
            .any(|p| procs::pgid(*p) == Some(*p) && procs::cmdline(*p).contains("trap"))
    });
    ctl.remove_manifest("g.yaml");
    ctl.wait_until(Duration::from_secs(4), "the child got SIGTERM", || {
        got.exists()
    });
    ctl.wait_until(SOON, "every process of the app is gone", || {
        ctl.processes().is_empty()
    });
}
