//! `mode: inherit`: every instance gets the controller's socket as fd 3 with
//! systemd's `LISTEN_FDS`, `LISTEN_PID` (its own pid) and `LISTEN_FDNAMES`, and the public port
//! never refuses a connection during a reload.

use crate::common;

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::web::{addr, get, WebApp};
use common::{env_map, Controller};

/// Checks the socket-activation variables and fd 3 of each instance.
fn check_listen_env(instances: &BTreeMap<u32, u32>) {
    for pid in instances.values() {
        let env = env_map(*pid);
        assert_eq!(
            env.get("LISTEN_FDS").map(String::as_str),
            Some("1"),
            "{env:?}"
        );
        assert_eq!(env.get("LISTEN_PID"), Some(&pid.to_string()), "{env:?}");
        assert_eq!(
            env.get("LISTEN_FDNAMES").map(String::as_str),
            Some("web"),
            "{env:?}"
        );
        assert!(
            !env.contains_key("PORT"),
            "no PORT in inherit mode: {env:?}"
        );
        let fd3 = std::fs::read_link(format!("/proc/{pid}/fd/3")).expect("fd 3");
        assert!(
            fd3.to_string_lossy().starts_with("socket:"),
            "fd 3 is a socket: {fd3:?}"
        );
    }
}

#[test]
fn instances_see_listen_fds_and_their_own_pid_and_the_port_stays_open() {
    let ctl = Controller::new();
    let app = WebApp::new("web", "inherit");
    app.write(&ctl);
    ctl.start();
    let first = ctl.wait_rolled_out("web", 2, &[]);
    check_listen_env(&first);

    // What the app itself sees, through the public port.
    let public = addr(app.port);
    let seen = get(public, "/env").expect("GET /env");
    let env: BTreeMap<String, String> = serde_json::from_str(&seen.body).expect("json");
    assert_eq!(env.get("LISTEN_PID"), env.get("pid"), "{env:?}");
    assert_eq!(env.get("LISTEN_FDNAMES").map(String::as_str), Some("web"));
    assert!(first
        .values()
        .any(|p| Some(&p.to_string()) == env.get("pid")));

    // Bare connects in a loop through a reload: none refused.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let connector = {
        let (stop, ok, refused) = (stop.clone(), ok.clone(), refused.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match TcpStream::connect_timeout(&public, Duration::from_secs(5)) {
                    Ok(_) => ok.fetch_add(1, Ordering::SeqCst),
                    Err(_) => refused.fetch_add(1, Ordering::SeqCst),
                };
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let old: Vec<u32> = first.values().copied().collect();
    ctl.corral_ok(&["reload", "web"]);
    let second = ctl.wait_rolled_out("web", 2, &old);
    stop.store(true, Ordering::SeqCst);
    connector.join().expect("connector");
    check_listen_env(&second);
    let (ok, refused) = (ok.load(Ordering::SeqCst), refused.load(Ordering::SeqCst));
    assert_eq!(
        refused, 0,
        "{refused} connects failed during the reload ({ok} ok)"
    );
    assert!(ok >= 100, "only {ok} connects: the loop did not really run");
    assert_eq!(get(public, "/").expect("GET /").status, 200);
}
