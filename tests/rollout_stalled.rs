//! A new revision that never gets ready does not advance the rollout: the old instances keep
//! serving, status says `ProgressDeadlineExceeded` after `progressDeadline`, `rollout status -w`
//! fails, and fixing the manifest completes the rollout.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::web::{addr, assert_clean, get, Load, WebApp};
use common::{alive, corral_in, wait_for, Controller, SOON};

#[test]
fn http_a_never_ready_revision_keeps_the_old_instances_serving_until_fixed() {
    never_ready_then_fixed("http");
}

#[test]
fn tcp_a_never_ready_revision_keeps_the_old_instances_serving_until_fixed() {
    never_ready_then_fixed("tcp");
}

/// Rolls out a revision whose `/healthz` fails for ever, checks it stalls harmlessly, then
/// rolls out a fixed one.
fn never_ready_then_fixed(mode: &str) {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", mode);
    app.extra.extend([
        "readiness: {http: {path: /healthz}, periodSeconds: 1, failureThreshold: 1}".into(),
        "strategy: {progressDeadline: 3s}".into(),
    ]);
    app.write(&ctl);
    ctl.start();
    let old: BTreeSet<u32> = ctl.wait_rolled_out("web", 2, &[]).into_values().collect();
    let good = ctl.app("web").expect("listed").revision;
    let public = addr(app.port);
    let load = Load::per_request(public, 2);
    load.wait_ok(30);

    // v2 answers 500 on /healthz for ever.
    app.set_env("MARKER", "v2").set_env("UNHEALTHY", "1");
    app.write(&ctl);
    let progressing = wait_for(SOON, "web is Progressing to the new revision", || {
        ctl.app("web")
            .filter(|a| a.revision != good && a.status == "Progressing")
    });
    let bad = progressing.revision.clone();
    let cond = progressing
        .conditions
        .iter()
        .find(|c| c.kind == "Progressing")
        .expect("a Progressing condition");
    assert!(cond.status, "still progressing: {cond:?}");

    // `rollout status -w` waits, then fails once the deadline passes.
    let home = ctl.home.clone();
    let watcher = std::thread::spawn(move || corral_in(&home, &["rollout", "status", "web", "-w"]));
    let stalled = wait_for(SOON, "web is ProgressDeadlineExceeded", || {
        ctl.app("web")
            .filter(|a| a.status == "ProgressDeadlineExceeded")
    });
    let run = watcher.join().expect("watcher thread");
    assert!(
        !run.status.success(),
        "rollout status -w must fail on a stalled rollout: {run:?}"
    );
    assert!(run.stdout.contains("progress deadline"), "{run:?}");
    let cond = stalled
        .conditions
        .iter()
        .find(|c| c.kind == "Progressing")
        .expect("a Progressing condition");
    assert!(
        !cond.status && cond.reason == "ProgressDeadlineExceeded",
        "{cond:?}"
    );
    let new: Vec<_> = stalled
        .instances
        .iter()
        .filter(|i| i.revision == bad && i.pid.is_some())
        .collect();
    assert!(!new.is_empty(), "a new instance was started: {stalled:?}");
    assert!(new.iter().all(|i| !i.ready), "{new:?}");

    // The old instances are untouched and keep serving.
    ctl.assert_stays(Duration::from_secs(1), "the old instances run", || {
        old.iter().all(|p| alive(*p)) && old.iter().all(|p| ctl.pids("web").contains(p))
    });
    load.wait_ok(30);
    assert_eq!(
        load.tally().markers.get("v2"),
        None,
        "the unready v2 served"
    );

    // The fix rolls out.
    app.unset_env("UNHEALTHY").set_env("MARKER", "v3");
    app.write(&ctl);
    wait_for(SOON, "the fixed revision is picked up", || {
        ctl.app("web")
            .filter(|a| a.revision != good && a.revision != bad)
    });
    let run = ctl.corral(&["rollout", "status", "web", "-w"]);
    assert!(run.status.success(), "{run:?}");
    assert!(run.stdout.contains("successfully rolled out"), "{run:?}");
    let olds: Vec<u32> = old.iter().copied().collect();
    ctl.wait_rolled_out("web", 2, &olds);
    load.wait_marker("v3");
    load.wait_ok(30);
    let tally = load.finish();
    assert_eq!(tally.markers.get("v2"), None, "the unready v2 served");
    assert_eq!(
        get(public, "/").expect("request").field("marker"),
        Some("v3")
    );
    assert_eq!(ctl.app("web").expect("listed").status, "Running");
    assert_clean(&tally, 100);
}
