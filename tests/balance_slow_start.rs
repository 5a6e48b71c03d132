//! Without a readiness probe an instance counts as ready after 1 s up, which a
//! slow start (a busy machine, a big app) can beat. The proxy then meets a refused connect on
//! a ready instance; the client should still be served once the instance listens, within the
//! proxy's wait for a backend (no connection is refused).

use crate::common;

use std::time::Duration;

use common::web::{addr, get, WebApp};
use common::{wait_for, Controller};

/// The app listens this long after it started: ready (1 s up) before it accepts.
const LISTEN_DELAY_MS: &str = "2500";

fn served_once_listening(mode: &str) {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", mode);
    app.instances = 1;
    app.set_env("LISTEN_DELAY_MS", LISTEN_DELAY_MS);
    app.write(&ctl);
    ctl.start();
    wait_for(Duration::from_secs(10), "web is ready (1 s up)", || {
        ctl.app("web").filter(|a| a.ready == 1)
    });
    // Ready, not listening yet: the proxy's connect is refused.
    let started = std::time::Instant::now();
    let answer = get(addr(app.port), "/");
    let took = started.elapsed();
    let answer = answer.unwrap_or_else(|e| panic!("request failed after {took:?}: {e}"));
    eprintln!("served after {took:?}: {answer:?}");
    assert_eq!(answer.status, 200, "after {took:?}: {answer:?}");
    assert!(took < Duration::from_secs(4), "served only after {took:?}");
}

#[test]
fn tcp_a_ready_instance_that_listens_late_still_gets_the_connection() {
    served_once_listening("tcp");
}

#[test]
fn http_a_ready_instance_that_listens_late_still_gets_the_request() {
    served_once_listening("http");
}
