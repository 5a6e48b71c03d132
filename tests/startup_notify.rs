//! The controller speaks systemd's notification protocol when `$NOTIFY_SOCKET` is set (the unit
//! `corral startup` writes is `Type=notify`): READY=1 once its apps are started, RELOADING=1 then
//! READY=1 around a SIGHUP resync, WATCHDOG=1 pings, STOPPING=1 on shutdown; and apps never
//! inherit the controller's socket.

use crate::common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::{env_map, manifest, Controller};
use nix::sys::signal::Signal;

/// The next notification, waiting at most `within`.
fn next(socket: &UnixDatagram, within: Duration) -> Option<String> {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    socket
        .recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Notifications until one containing `want` (the others, watchdog pings mostly, skipped).
fn until(socket: &UnixDatagram, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(msg) = next(socket, Duration::from_millis(200)) {
            if msg.contains(want) {
                return msg;
            }
        }
    }
    panic!("no {want} within 10 s");
}

#[test]
fn ready_reloading_watchdog_and_stopping_reach_the_service_manager() {
    let mut c = Controller::new();
    let path = c.scratch().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    c.envs
        .push(("NOTIFY_SOCKET".into(), path.display().to_string()));
    c.envs.push(("WATCHDOG_USEC".into(), "400000".into()));
    c.write_manifest(
        "a.yaml",
        &manifest(
            "a",
            &[&format!("  command: {}", c.sleeper()), "  instances: 2"],
        ),
    );
    c.start();
    let ready = until(&socket, "READY=1");
    assert!(ready.contains("READY=1"), "{ready}");
    assert_eq!(
        c.instances("a").len(),
        2,
        "READY=1 comes once the apps are started"
    );
    for pid in c.instances("a").keys() {
        let env = env_map(*pid);
        assert!(
            !env.contains_key("NOTIFY_SOCKET") && !env.contains_key("WATCHDOG_USEC"),
            "{env:?}"
        );
    }
    until(&socket, "WATCHDOG=1");

    c.signal(Signal::SIGHUP);
    let reloading = until(&socket, "RELOADING=1");
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    until(&socket, "READY=1");
    assert_eq!(c.instances("a").len(), 2, "a resync restarts nothing");

    c.signal(Signal::SIGTERM);
    until(&socket, "STOPPING=1");
    assert!(c.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn without_a_socket_sighup_resyncs_and_does_not_end_the_controller() {
    let c = Controller::new();
    c.start();
    c.signal(Signal::SIGHUP);
    c.write_manifest(
        "a.yaml",
        &manifest("a", &[&format!("  command: {}", c.sleeper())]),
    );
    c.wait_instances("a", 1);
    assert!(
        c.corral(&["get"]).status.success(),
        "still running after SIGHUP"
    );
}
