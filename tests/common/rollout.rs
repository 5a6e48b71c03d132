//! The zero-downtime scenario shared by the `rollout_*` tests: the test app under continuous
//! client load while it is reloaded, updated or scaled, and not one request may fail.

use std::collections::BTreeSet;

use super::web::{addr, assert_clean, get, Load, WebApp};
use super::Controller;

/// What happens to the app while the clients run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `corral reload web`: every pid changes, the revision does not.
    Reload,
    /// `MARKER` v1 → v2 in the manifest: a rolling update to a new revision.
    Env,
    /// `corral scale web 4`, then `corral scale web 2`.
    Scale,
    /// A file written under the app's `spec.watch` path: a reload like `corral reload`.
    Watch,
    /// `spec.restartSchedule` added (in place) for a time a few seconds ahead: a reload like
    /// `corral reload` when it comes.
    Schedule,
}

/// How the clients connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clients {
    /// Two clients, a new connection per request.
    PerRequest,
    /// Four clients, each on one keep-alive connection for the whole test.
    KeepAlive,
}

/// Runs `change` on a 2-instance app in `mode` under `clients` load; asserts zero failed
/// requests, a real amount of traffic, and that the change really happened.
pub fn zero_downtime(mode: &str, change: Change, clients: Clients) {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", mode);
    if mode != "inherit" {
        // Ready = listening on its PORT (without a probe it would be "up for 1 s", which a
        // slow start on a busy machine can beat: see balance_slow_start.rs).
        app.extra
            .push("readiness: {tcp: {}, periodSeconds: 1}".into());
    }
    let watched = ctl.scratch().join("watched");
    if change == Change::Watch {
        std::fs::create_dir(&watched).expect("watched dir");
        let path = serde_json::to_string(watched.to_str().expect("utf-8")).expect("json");
        app.extra
            .push(format!("watch: {{paths: [{path}], debounce: 100ms}}"));
    }
    app.write(&ctl);
    ctl.start();
    let first: BTreeSet<u32> = ctl.wait_rolled_out("web", 2, &[]).into_values().collect();
    let revision = ctl.app("web").expect("listed").revision;

    let public = addr(app.port);
    let (load, n_clients) = match clients {
        Clients::PerRequest => (Load::per_request(public, 2), 2),
        Clients::KeepAlive => (Load::keep_alive(public, 4), 4),
    };
    load.wait_ok(40);

    let old: Vec<u32> = first.iter().copied().collect();
    match change {
        Change::Reload => {
            ctl.corral_ok(&["reload", "web"]);
            ctl.wait_rolled_out("web", 2, &old);
            assert_eq!(
                ctl.app("web").expect("listed").revision.split('.').next(),
                revision.split('.').next(),
                "a reload keeps the manifest's revision"
            );
        }
        Change::Watch => {
            ctl.wait_until(super::SOON, "the watch is set up", || {
                ctl.app("web")
                    .and_then(|a| a.watch)
                    .is_some_and(|w| w.state == "Watching")
            });
            std::fs::write(watched.join("server.js"), "v2").expect("write a watched file");
            ctl.wait_rolled_out("web", 2, &old);
            let now = ctl.app("web").expect("listed").revision;
            assert_eq!(now, format!("{revision}.1"), "one reload");
        }
        Change::Schedule => {
            // One fire time, 6 s ahead, in UTC (a seconds field: corral's extension).
            let at = std::time::SystemTime::now() + std::time::Duration::from_secs(6);
            let secs = at
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_secs();
            let (s, m, h) = (secs % 60, secs / 60 % 60, secs / 3600 % 24);
            app.extra
                .push(format!("restartSchedule: \"{s} {m} {h} * * *\""));
            app.extra.push("restartTimeZone: UTC".into());
            app.write(&ctl);
            ctl.wait_until(super::SOON, "describe shows the next restart", || {
                ctl.app("web")
                    .and_then(|a| a.restart_schedule)
                    .is_some_and(|r| r.next_ms == Some(secs * 1000))
            });
            assert_eq!(
                ctl.pids("web").into_iter().collect::<BTreeSet<u32>>(),
                first,
                "adding restartSchedule restarts nothing by itself"
            );
            ctl.wait_rolled_out("web", 2, &old);
            let text = ctl.corral_ok(&["describe", "web"]);
            assert!(text.contains("ScheduledRestart"), "{text}");
            assert!(text.contains("Restart schedule:"), "{text}");
            assert_eq!(
                ctl.app("web").expect("listed").revision,
                format!("{revision}.1"),
                "one reload"
            );
        }
        Change::Env => {
            app.set_env("MARKER", "v2");
            app.write(&ctl);
            ctl.wait_rolled_out("web", 2, &old);
            assert_ne!(ctl.app("web").expect("listed").revision, revision);
            load.wait_marker("v2");
        }
        Change::Scale => {
            ctl.corral_ok(&["scale", "web", "4"]);
            let four: BTreeSet<u32> = ctl.wait_rolled_out("web", 4, &[]).into_values().collect();
            assert!(
                first.is_subset(&four),
                "scaling up kept {first:?}: {four:?}"
            );
            load.wait_ok(40);
            ctl.corral_ok(&["scale", "web", "2"]);
            let two: BTreeSet<u32> = ctl.wait_rolled_out("web", 2, &[]).into_values().collect();
            assert!(
                two.is_subset(&four),
                "scaling down keeps survivors: {two:?}"
            );
        }
    }

    // Traffic after the change: the new instances serve, and only they do.
    load.wait_ok(10);
    let stale = load.tally().markers.get("v1").copied();
    load.wait_ok(40);
    let tally = load.finish();
    if change == Change::Env {
        assert_eq!(
            tally.markers.get("v1").copied(),
            stale,
            "v1 answered after the rollout finished"
        );
        let fresh = get(public, "/").expect("a request after the rollout");
        assert_eq!(fresh.field("marker"), Some("v2"), "{fresh:?}");
    }
    // The kernel spreads inherit-mode connections as it likes; the proxies balance.
    let live: BTreeSet<u32> = ctl.pids("web").into_iter().collect();
    if mode == "inherit" {
        assert!(
            !live.is_disjoint(&tally.pids),
            "no live instance took traffic ({live:?} vs {:?})",
            tally.pids
        );
    } else {
        assert!(
            live.is_subset(&tally.pids),
            "every live instance took traffic ({live:?} vs {:?})",
            tally.pids
        );
        if change != Change::Scale {
            assert!(
                first.is_subset(&tally.pids),
                "the old instances served before the change"
            );
        }
    }
    assert_clean(&tally, 120);
    if clients == Clients::KeepAlive {
        assert_eq!(
            tally.connects, n_clients,
            "each keep-alive client kept its one connection throughout"
        );
    }
}
