//! `strategy.type: Canary` with the real controller, real Node apps and real clients: a share
//! of requests goes to the new revision, a bad one is aborted by itself (the manifest stays as
//! written), a good one is promoted with no failed request, testers reach it by header, and a
//! controller killed mid-canary comes back to the same step. Without the http proxy a canary is
//! a share of instances, judged by its exits.

use crate::common;

use std::time::Duration;

use common::web::{addr, get_with_header, Load, WebApp, ROLLOUT};
use common::{wait_for, Controller};

/// Requests the app must have answered before the test looks at shares.
const WARM: u64 = 200;

fn canary_app(name: &str, steps: &str, analysis: &str) -> WebApp {
    let mut app = WebApp::new(name, "http");
    app.instances = 2;
    // Ready when it answers: the 1 s rule can call a Node app ready before it listens on a
    // loaded machine, and the proxy then sends a tester's header request to stable instead.
    app.extra
        .push("readiness: {http: {path: /healthz}, periodSeconds: 1}".into());
    app.extra.push(format!(
        "strategy: {{type: Canary, steps: {steps}, analysis: {analysis}, canaryHeader: {{name: X-Corral-Canary, value: always}}}}"
    ));
    app
}

/// The app's instances as `(revision, ready)` pairs from `get`, live ones only.
fn revisions(ctl: &Controller, name: &str) -> Vec<(String, bool)> {
    let Some(app) = ctl.app(name) else {
        return Vec::new();
    };
    app.instances
        .iter()
        .filter(|i| i.pid.is_some())
        .map(|i| (i.revision.clone(), i.ready))
        .collect()
}

/// Waits until `name` runs `stable` ready instances of one revision and `canary` of another.
fn wait_split(ctl: &Controller, name: &str, stable: usize, canary: usize) -> (String, String) {
    wait_for(
        ROLLOUT,
        &format!("{stable} stable + {canary} canary ready"),
        || {
            let app = ctl.app(name)?;
            let revs = revisions(ctl, name);
            let new = revs
                .iter()
                .filter(|(r, ok)| *ok && *r == app.revision)
                .count();
            let old: Vec<&String> = revs
                .iter()
                .filter(|(r, ok)| *ok && *r != app.revision)
                .map(|(r, _)| r)
                .collect();
            (new == canary && old.len() == stable && revs.len() == stable + canary)
                .then(|| (old[0].clone(), app.revision.clone()))
        },
    )
}

fn events(ctl: &Controller, name: &str) -> String {
    ctl.corral_ok(&["events", name])
}

#[test]
fn a_canary_that_answers_errors_is_aborted_by_itself_and_the_manifest_stays() {
    let ctl = Controller::new();
    let mut app = canary_app(
        "bad",
        "[{setWeight: 20}, {pause: {}}]",
        "{interval: 1s, minRequests: 20}",
    );
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("bad", 2, &[]);
    let load = Load::keep_alive(addr(app.port), 2);
    load.wait_ok(WARM);
    // The new revision answers 500 to every other request.
    app.set_env("MARKER", "v2").set_env("FAIL_EVERY", "2");
    app.write(&ctl);
    let written = std::fs::read_to_string(ctl.manifests.join("bad.yaml")).expect("manifest");
    wait_for(ROLLOUT, "RolloutAborted", || {
        events(&ctl, "bad").contains("RolloutAborted").then_some(())
    });
    let tally = load.finish();
    assert!(
        tally.failed > 0,
        "the canary answered some requests: {tally:?}"
    );
    // Back to stable: the canary instances are stopped, the two stable ones never were.
    ctl.wait_until(ROLLOUT, "only stable instances", || {
        let revs = revisions(&ctl, "bad");
        revs.len() == 2
            && revs
                .iter()
                .all(|(r, ok)| *ok && *r != ctl.app("bad").unwrap().revision)
    });
    let log = events(&ctl, "bad");
    assert!(
        log.contains("error rate"),
        "the figures that decided it: {log}"
    );
    let after = std::fs::read_to_string(ctl.manifests.join("bad.yaml")).expect("manifest");
    assert_eq!(after, written, "an abort never rewrites the manifest");
    let described = ctl.corral_ok(&["describe", "bad"]);
    assert!(described.contains("Degraded"), "{described}");
    // Every request now goes to stable.
    let load = Load::keep_alive(addr(app.port), 2);
    load.wait_ok(100);
    let tally = load.finish();
    assert_eq!(
        (tally.failed, tally.markers.get("v2")),
        (0, None),
        "{tally:?}"
    );
    // Retry runs the same bad canary again, and it is aborted again.
    ctl.corral_ok(&["rollout", "retry", "bad"]);
    let load = Load::keep_alive(addr(app.port), 2);
    wait_for(ROLLOUT, "a second RolloutAborted", || {
        (events(&ctl, "bad").matches("RolloutAborted").count() >= 2).then_some(())
    });
    drop(load.finish());
}

#[test]
fn a_good_canary_gets_its_share_and_the_header_then_is_promoted_without_a_failure() {
    let ctl = Controller::new();
    let mut app = canary_app(
        "good",
        "[{setWeight: 25}, {pause: {}}]",
        "{interval: 1s, minRequests: 20}",
    );
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("good", 2, &[]);
    let load = Load::keep_alive(addr(app.port), 2);
    load.wait_ok(WARM);
    app.set_env("MARKER", "v2");
    app.write(&ctl);
    wait_split(&ctl, "good", 2, 1);
    // Testers reach the canary by header, whatever the weight.
    for _ in 0..10 {
        let r =
            get_with_header(addr(app.port), "/", ("X-Corral-Canary", "always")).expect("request");
        assert_eq!(r.field("marker"), Some("v2"), "{r:?}");
    }
    // A quarter of the requests of keep-alive clients go to the canary.
    let before = load.tally();
    load.wait_ok(before.ok + 400);
    let after = load.tally();
    let v2 = after.markers.get("v2").copied().unwrap_or(0)
        - before.markers.get("v2").copied().unwrap_or(0);
    let all = after.ok - before.ok;
    let share = v2 as f64 / all as f64;
    if !(0.18..0.32).contains(&share) {
        eprintln!("{}\n{:?}", ctl.corral_ok(&["describe", "good"]), after);
    }
    assert!(
        (0.18..0.32).contains(&share),
        "canary share {share:.2} ({v2} of {all})"
    );
    ctl.corral_ok(&["rollout", "promote", "good"]);
    ctl.wait_until(ROLLOUT, "the new revision alone", || {
        let revs = revisions(&ctl, "good");
        let app = ctl.app("good").unwrap();
        revs.len() == 2
            && revs.iter().all(|(r, ok)| *ok && *r == app.revision)
            && app.status == "Running"
    });
    let before = load.tally().ok;
    load.wait_ok(before + 50);
    let tally = load.finish();
    assert_eq!(tally.failed, 0, "no failed request: {:?}", tally.failures);
    assert!(!std::fs::read_to_string(ctl.home.join("rollouts.json"))
        .unwrap_or_default()
        .contains("good"));
}

#[test]
fn a_controller_killed_mid_canary_comes_back_to_the_same_step() {
    let mut ctl = Controller::new();
    let mut app = canary_app(
        "steady",
        "[{setWeight: 50}, {pause: {}}]",
        "{interval: 1s, minRequests: 20}",
    );
    app.instances = 2;
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("steady", 2, &[]);
    app.set_env("MARKER", "v2");
    app.write(&ctl);
    wait_split(&ctl, "steady", 2, 1);
    let pids = ctl.pids("steady");
    ctl.crash();
    ctl.start();
    let (_, canary) = wait_split(&ctl, "steady", 2, 1);
    let mut now = ctl.pids("steady");
    let mut was = pids.clone();
    now.sort_unstable();
    was.sort_unstable();
    assert_eq!(now, was, "the same instances, adopted");
    // Still split by weight, and never both revisions in full.
    let load = Load::keep_alive(addr(app.port), 2);
    load.wait_ok(WARM);
    let tally = load.tally();
    let v2 = tally.markers.get("v2").copied().unwrap_or(0);
    let share = v2 as f64 / tally.ok as f64;
    assert!(
        (0.4..0.6).contains(&share),
        "the weight of 50% holds: {share:.2} ({tally:?})"
    );
    ctl.assert_stays(Duration::from_secs(2), "2 stable + 1 canary", || {
        revisions(&ctl, "steady").len() == 3
    });
    ctl.corral_ok(&["rollout", "promote", "steady"]);
    ctl.wait_until(ROLLOUT, "promoted", || {
        let revs = revisions(&ctl, "steady");
        revs.len() == 2 && revs.iter().all(|(r, ok)| *ok && *r == canary)
    });
    assert_eq!(load.finish().failed, 0);
    let _ = &mut ctl;
}

#[test]
fn a_manifest_changed_while_the_controller_was_down_starts_a_canary_not_a_rollout() {
    let ctl = Controller::new();
    let mut app = canary_app("late", "[{setWeight: 34}, {pause: {}}]", "{interval: 1h}");
    app.instances = 3;
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("late", 3, &[]);
    let pids = ctl.pids("late");
    ctl.crash();
    app.set_env("MARKER", "v2");
    app.write(&ctl);
    ctl.start();
    // The three adopted instances are the stable revision; ceil(3 × 34%) = 2 canaries beside.
    wait_split(&ctl, "late", 3, 2);
    let run = ctl
        .app("late")
        .and_then(|a| a.rollout)
        .expect("a canary run");
    assert_eq!((run.step, run.weight, run.paused), (2, 34, true), "{run:?}");
    ctl.assert_stays(Duration::from_secs(1), "3 stable + 2 canary", || {
        revisions(&ctl, "late").len() == 5
    });
    let mut now: Vec<u32> = ctl
        .pids("late")
        .into_iter()
        .filter(|p| pids.contains(p))
        .collect();
    now.sort_unstable();
    let mut was = pids;
    was.sort_unstable();
    assert_eq!(now, was, "the stable instances were adopted, not replaced");
}

#[test]
fn a_reloaded_app_restarted_after_a_crash_starts_no_canary() {
    let ctl = Controller::new();
    let app = canary_app("again", "[{setWeight: 50}, {pause: {}}]", "{interval: 1h}");
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("again", 2, &[]);
    // A reload is a revision `HASH.1`; its canary is promoted.
    ctl.corral_ok(&["reload", "again"]);
    wait_split(&ctl, "again", 2, 1);
    ctl.corral_ok(&["rollout", "promote", "again"]);
    ctl.wait_until(ROLLOUT, "the reload rolled out", || {
        ctl.app("again")
            .is_some_and(|a| a.rollout.is_none() && a.status == "Running" && a.ready == 2)
    });
    ctl.crash();
    ctl.start();
    // The reload count is not kept across a crash: the same manifest is no new revision.
    ctl.assert_stays(Duration::from_secs(3), "no canary run", || {
        ctl.app("again").is_some_and(|a| a.rollout.is_none())
    });
}

#[test]
fn without_the_http_proxy_a_canary_is_a_share_of_instances_judged_by_its_exits() {
    let ctl = Controller::new();
    // A worker that crashes after a second in its second revision.
    let spec = |marker: &str| {
        let script = format!(
            "if [ {marker} = v2 ]; then sleep 1.5; exit 3; fi; exec sleep 600 # {}",
            ctl.token
        );
        common::manifest(
            "worker",
            &[
                &format!("command: {}", common::flow(&["sh", "-c", &script])),
                "instances: 4",
                "strategy: {type: Canary, steps: [{setWeight: 50}, {pause: {}}]}",
            ],
        )
    };
    ctl.write_manifest("worker.yaml", &spec("v1"));
    ctl.start();
    ctl.wait_instances("worker", 4);
    ctl.wait_status("worker", "Running");
    ctl.write_manifest("worker.yaml", &spec("v2"));
    // Half of 4: two canary instances beside the four stable ones.
    ctl.wait_until(ROLLOUT, "2 canary instances beside 4 stable", || {
        revisions(&ctl, "worker").len() == 6
    });
    wait_for(ROLLOUT, "RolloutAborted after a canary exit", || {
        events(&ctl, "worker")
            .contains("RolloutAborted")
            .then_some(())
    });
    ctl.wait_until(ROLLOUT, "the four stable instances alone", || {
        let revs = revisions(&ctl, "worker");
        let app = ctl.app("worker").unwrap();
        revs.len() == 4 && revs.iter().all(|(r, _)| *r != app.revision)
    });
    assert!(events(&ctl, "worker").contains("exited"));
}

#[test]
fn a_rolling_update_past_its_deadline_rolls_back_with_auto_rollback() {
    let ctl = Controller::new();
    let mut app = WebApp::new("roll", "http");
    app.extra.push(
        "strategy: {maxSurge: 1, maxUnavailable: 0, progressDeadline: 2s, autoRollback: true}"
            .into(),
    );
    app.extra
        .push("readiness: {http: {path: /healthz}, periodSeconds: 1}".into());
    app.write(&ctl);
    ctl.start();
    ctl.wait_rolled_out("roll", 2, &[]);
    let stable = ctl.app("roll").unwrap().revision;
    app.set_env("MARKER", "v2").set_env("UNHEALTHY", "1");
    app.write(&ctl);
    wait_for(ROLLOUT, "RolloutAborted", || {
        events(&ctl, "roll")
            .contains("RolloutAborted")
            .then_some(())
    });
    ctl.wait_until(ROLLOUT, "back to the stable revision alone", || {
        let revs = revisions(&ctl, "roll");
        revs.len() == 2 && revs.iter().all(|(r, ok)| *ok && *r == stable)
    });
}
