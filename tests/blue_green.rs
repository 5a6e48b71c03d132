//! `strategy.type: BlueGreen` with the real controller, real Node apps and real clients: the
//! new revision comes up in full behind the preview port while the public port serves only the
//! old one; the promotion switches the public port at once with no failed request; the old
//! revision stays for `scaleDownDelay`, so an abort in that time sends the traffic back at once.

use crate::common;

use common::web::{addr, free_port, get, Load, WebApp, ROLLOUT};
use common::{wait_for, Controller};

fn blue_green(name: &str, preview: u16, extra: &str) -> WebApp {
    let mut app = WebApp::new(name, "http");
    app.instances = 2;
    app.extra.push(format!(
        "strategy: {{type: BlueGreen, previewPort: {preview}{extra}}}"
    ));
    app
}

/// The live instances as `(revision, ready)`.
fn revisions(ctl: &Controller, name: &str) -> Vec<(String, bool)> {
    ctl.app(name)
        .map(|a| {
            a.instances
                .iter()
                .filter(|i| i.pid.is_some())
                .map(|i| (i.revision.clone(), i.ready))
                .collect()
        })
        .unwrap_or_default()
}

fn marker(port: u16) -> Option<String> {
    get(addr(port), "/")
        .ok()?
        .field("marker")
        .map(str::to_owned)
}

#[test]
fn the_preview_serves_the_new_revision_until_promote_switches_the_public_port() {
    let ctl = Controller::new();
    let preview = free_port();
    let mut app = blue_green("bg", preview, ", scaleDownDelay: 4s");
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("bg", 2, &[]);
    let load = Load::keep_alive(addr(app.port), 2);
    load.wait_ok(100);
    app.set_env("MARKER", "v2");
    app.write(&ctl);
    // The new revision in full beside the old one; the preview answers v2, the public port v1.
    ctl.wait_until(ROLLOUT, "2 old + 2 new ready", || {
        let revs = revisions(&ctl, "bg");
        revs.len() == 4 && revs.iter().all(|(_, ok)| *ok)
    });
    wait_for(ROLLOUT, "the preview answers v2", || {
        (marker(preview).as_deref() == Some("v2")).then_some(())
    });
    let before = load.tally();
    load.wait_ok(before.ok + 200);
    assert_eq!(
        load.tally().markers.get("v2"),
        None,
        "the public port stays on v1"
    );
    let status = ctl.corral_ok(&["rollout", "status", "bg"]);
    assert!(status.contains("paused"), "waits for promote: {status}");
    ctl.corral_ok(&["rollout", "promote", "bg"]);
    assert_eq!(
        revisions(&ctl, "bg").len(),
        4,
        "the old revision is kept for scaleDownDelay"
    );
    // Switched: after the requests in flight at the switch, every public request is v2 while
    // v1 still runs (the route changes before `promote` answers).
    load.wait_ok(load.tally().ok + 50);
    let switched = load.tally();
    load.wait_ok(switched.ok + 200);
    let after = load.tally();
    let v1 = after.markers.get("v1").copied().unwrap_or(0)
        - switched.markers.get("v1").copied().unwrap_or(0);
    assert_eq!(v1, 0, "v1 answered {v1} public requests after the switch");
    // After the delay the old revision goes, and nothing failed.
    ctl.wait_until(ROLLOUT, "the new revision alone", || {
        let revs = revisions(&ctl, "bg");
        let app = ctl.app("bg").unwrap();
        revs.len() == 2 && revs.iter().all(|(r, ok)| *ok && *r == app.revision)
    });
    wait_for(ROLLOUT, "the preview port closed", || {
        get(addr(preview), "/").is_err().then_some(())
    });
    let tally = load.finish();
    assert_eq!(tally.failed, 0, "{:?}", tally.failures);
}

#[test]
fn an_abort_after_the_switch_sends_traffic_back_at_once() {
    let ctl = Controller::new();
    let preview = free_port();
    let mut app = blue_green(
        "undo",
        preview,
        ", autoPromotionSeconds: 0, scaleDownDelay: 1m",
    );
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("undo", 2, &[]);
    app.set_env("MARKER", "v2");
    app.write(&ctl);
    // autoPromotionSeconds: 0 switches as soon as the new revision is ready in full.
    wait_for(ROLLOUT, "the public port answers v2", || {
        (marker(app.port).as_deref() == Some("v2")).then_some(())
    });
    let load = Load::keep_alive(addr(app.port), 2);
    load.wait_ok(50);
    ctl.corral_ok(&["rollout", "abort", "undo"]);
    // Back on v1 at once: after the requests in flight, no public request reaches v2, which
    // still runs until it is drained and stopped.
    load.wait_ok(load.tally().ok + 50);
    let aborted = load.tally();
    load.wait_ok(aborted.ok + 200);
    let after = load.tally();
    let v2 = after.markers.get("v2").copied().unwrap_or(0)
        - aborted.markers.get("v2").copied().unwrap_or(0);
    assert_eq!(v2, 0, "v2 answered {v2} public requests after the abort");
    ctl.wait_until(ROLLOUT, "the old revision alone", || {
        let revs = revisions(&ctl, "undo");
        revs.len() == 2
            && revs
                .iter()
                .all(|(r, _)| *r != ctl.app("undo").unwrap().revision)
    });
    assert_eq!(ctl.app("undo").unwrap().status, "Degraded");
    assert_eq!(load.finish().failed, 0);
}

#[test]
fn a_preview_port_taken_by_another_process_is_said_and_the_rollout_goes_on() {
    let ctl = Controller::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let preview = taken.local_addr().expect("addr").port();
    let mut app = blue_green("busy", preview, "");
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("busy", 2, &[]);
    app.set_env("MARKER", "v2");
    app.write(&ctl);
    wait_for(ROLLOUT, "PreviewBindFailed", || {
        ctl.corral_ok(&["events", "busy"])
            .contains("PreviewBindFailed")
            .then_some(())
    });
    ctl.wait_until(ROLLOUT, "2 old + 2 new ready", || {
        let revs = revisions(&ctl, "busy");
        revs.len() == 4 && revs.iter().all(|(_, ok)| *ok)
    });
    ctl.corral_ok(&["rollout", "promote", "busy", "--full"]);
    wait_for(ROLLOUT, "the public port answers v2", || {
        (marker(app.port).as_deref() == Some("v2")).then_some(())
    });
    drop(taken);
}
