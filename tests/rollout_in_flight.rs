//! Requests in flight when an instance is replaced finish (a stopped instance is
//! drained first in tcp/http modes; in inherit mode it closes its own server gracefully): slow
//! requests (1.5 s) run across a reload and none fails.

use crate::common;

use std::time::Instant;

use common::web::{addr, assert_clean, Load, WebApp};
use common::Controller;

fn slow_requests_survive_a_reload(mode: &str) {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", mode);
    if mode != "inherit" {
        app.extra
            .push("readiness: {tcp: {}, periodSeconds: 1}".into());
    }
    app.write(&ctl);
    ctl.start();
    let old: Vec<u32> = ctl.wait_rolled_out("web", 2, &[]).into_values().collect();
    let load = Load::per_request_to(addr(app.port), 6, "/slow");
    load.wait_ok(6);

    let reload_at = Instant::now();
    ctl.corral_ok(&["reload", "web"]);
    let new: Vec<u32> = ctl.wait_rolled_out("web", 2, &old).into_values().collect();
    load.wait_ok(6);
    let tally = load.finish();
    let answered_after = |pid: &u32| tally.last_answer.get(pid).is_some_and(|t| *t > reload_at);
    if mode == "inherit" {
        // The kernel hands connections to whichever instance accepts first: one instance may
        // have had nothing in flight when the reload began, but one of them had.
        assert!(
            old.iter().any(answered_after),
            "an old instance finished requests after the reload began: {:?}",
            tally.last_answer
        );
    } else {
        // The balancer spreads 6 slow requests over both: each had some in flight.
        for pid in &old {
            assert!(
                answered_after(pid),
                "old instance {pid} finished requests after the reload began: {:?}",
                tally.last_answer
            );
        }
    }
    assert!(
        new.iter().any(|p| tally.pids.contains(p)),
        "the new instances served"
    );
    assert_clean(&tally, 18);
}

#[test]
fn inherit_slow_requests_in_flight_finish_across_a_reload() {
    slow_requests_survive_a_reload("inherit");
}

#[test]
fn tcp_slow_requests_in_flight_finish_across_a_reload() {
    slow_requests_survive_a_reload("tcp");
}

#[test]
fn http_slow_requests_in_flight_finish_across_a_reload() {
    slow_requests_survive_a_reload("http");
}
