//! Readiness gates traffic: an instance whose `http` probe fails is not a
//! backend, and a `notify` instance is ready only once it sent `READY=1`.

use crate::common;

use std::time::Duration;

use common::web::{addr, get, WebApp};
use common::{env_map, flow, manifest, now_ms, wait_for, Controller, SOON};

/// How long the test app's `/healthz` answers 500 after it started.
const WARMUP_MS: u64 = 2500;

#[test]
fn an_http_app_gets_no_request_before_its_probe_passes() {
    no_request_before_ready("http");
}

#[test]
fn a_tcp_app_gets_no_connection_before_its_probe_passes() {
    no_request_before_ready("tcp");
}

/// One instance whose `/healthz` fails for [`WARMUP_MS`]: `get` shows it unready all along,
/// and no client request reaches it before (the proxy holds them until it is ready).
fn no_request_before_ready(mode: &str) {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", mode);
    app.instances = 1;
    app.set_env("READY_AFTER_MS", &WARMUP_MS.to_string());
    app.extra
        .push("readiness: {http: {path: /healthz}, periodSeconds: 1}".into());
    app.write(&ctl);
    ctl.start();
    let public = addr(app.port);

    // A client asks at once, and keeps asking: the proxy holds (or 503s) requests while no
    // instance is ready; the app counts requests that reach it before it is healthy (`early`).
    let tcp = mode == "tcp";
    let client = std::thread::spawn(move || {
        let mut answers = Vec::new();
        for _ in 0..400 {
            let asked = std::time::Instant::now();
            match get(public, "/") {
                Ok(r) if r.status == 200 => {
                    answers.push(r);
                    if answers.len() == 5 {
                        break;
                    }
                }
                Ok(r) => assert_eq!(r.status, 503, "{r:?}"),
                // tcp has no 503: a connection held for the proxy's whole wait for a ready
                // instance (5 s; a loaded machine can take longer to warm up) is closed.
                Err(_) if tcp && asked.elapsed() >= Duration::from_secs(4) => {}
                Err(e) => panic!("request failed after {:?}: {e}", asked.elapsed()),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        answers
    });

    // READY stays 0/1 for the whole warm-up.
    let started = wait_for(SOON, "the instance started", || {
        ctl.app("web")
            .and_then(|a| a.instances.first().and_then(|i| i.started_ms))
    });
    loop {
        let a = ctl.app("web").expect("listed");
        let up_ms = now_ms().saturating_sub(started);
        if a.ready == 1 {
            assert!(
                up_ms >= WARMUP_MS,
                "ready after {up_ms} ms, before the probe could pass: {a:?}"
            );
            break;
        }
        assert!(a.instances.iter().all(|i| !i.ready), "{a:?}");
        assert_ne!(a.status, "Running", "{a:?}");
        assert!(up_ms < WARMUP_MS + 10_000, "never ready: {a:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let answers = client.join().expect("client thread");
    assert_eq!(answers.len(), 5, "the client got through once ready");
    for r in &answers {
        assert_eq!(
            r.field("early"),
            Some("0"),
            "a request reached it early: {r:?}"
        );
    }
    ctl.wait_status("web", "Running");
}

/// Waits for a flag file, then tells systemd's socket it is ready, then sleeps.
const NOTIFY_APP: &str = r#"
import os, socket, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.02)
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
time.sleep(100000)
"#;

#[test]
fn a_notify_app_is_ready_only_after_it_sends_ready() {
    let ctl = Controller::new();
    let flag = ctl.scratch().join("go");
    let command = flow(&[
        "python3",
        "-c",
        NOTIFY_APP,
        flag.to_str().expect("utf-8"),
        &ctl.token,
    ]);
    let command = format!("command: {command}");
    ctl.write_manifest(
        "svc.yaml",
        &manifest("svc", &[&command, "readiness: {notify: {}}"]),
    );
    ctl.start();
    let pid = *ctl.wait_instances("svc", 1).values().next().expect("one");
    assert!(
        env_map(pid).contains_key("NOTIFY_SOCKET"),
        "NOTIFY_SOCKET is set"
    );
    // Longer than the 1 s after which an app without a probe would count as ready.
    ctl.assert_stays(Duration::from_millis(1800), "svc is not ready", || {
        ctl.app("svc")
            .is_some_and(|a| a.ready == 0 && a.status != "Running")
    });
    std::fs::write(&flag, "").expect("flag");
    let a = ctl.wait_status("svc", "Running");
    assert_eq!((a.ready, a.desired), (1, 1), "{a:?}");
    assert_eq!(a.instances[0].pid, Some(pid), "the same process got ready");
}
