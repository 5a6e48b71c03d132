//! `spec.hooks`: a failing `preRollout` holds a new revision back while the old one serves
//! every request; a succeeding one runs once per revision change, before the first new
//! instance, and `postRollout` after the rollout; a hook past its timeout, or interrupted by a
//! controller crash, is killed.

use std::time::Duration;

use crate::common;

use common::procs::{env_map, pgid};
use common::web::{addr, assert_clean, Load, WebApp, ROLLOUT};
use common::{manifest, wait_for, Controller, SOON};

/// The live hook processes of the test leading their group (their `CORRAL_HOOK`), by pid.
fn hook_processes(ctl: &Controller) -> Vec<(u32, String)> {
    ctl.processes()
        .into_iter()
        .filter(|pid| pgid(*pid) == Some(*pid))
        .filter_map(|pid| Some((pid, env_map(pid).get("CORRAL_HOOK")?.clone())))
        .collect()
}

/// Whether any process of the test carries `CORRAL_HOOK` (a hook or what it started).
fn any_hook_process(ctl: &Controller) -> bool {
    ctl.processes()
        .into_iter()
        .any(|pid| env_map(pid).contains_key("CORRAL_HOOK"))
}

/// The messages of `app`'s events whose reason is `reason`.
fn events(ctl: &Controller, app: &str, reason: &str) -> Vec<String> {
    ctl.app(app)
        .map(|a| a.events)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.reason == reason)
        .map(|e| e.message)
        .collect()
}

#[test]
fn a_failing_pre_rollout_leaves_the_old_revision_serving_until_fixed() {
    let ctl = Controller::new();
    let mut app = WebApp::new("web", "http");
    app.extra
        .push("readiness: {tcp: {}, periodSeconds: 1}".into());
    app.write(&ctl);
    ctl.start();
    let old = ctl.wait_rolled_out("web", 2, &[]);
    let revision = ctl.app("web").expect("listed").revision;
    let load = Load::per_request(addr(app.port), 2);
    load.wait_ok(40);

    // A new revision whose migration prints 25 lines, one on stderr, and exits 3.
    let failing = ctl.sh(
        "for i in $(seq -w 1 25); do echo \"migrating step $i of $MARKER\"; done; \
         echo 'relation users already exists' >&2; exit 3",
    );
    app.set_env("MARKER", "v2");
    app.extra
        .push(format!("hooks: {{preRollout: {{command: {failing}}}}}"));
    app.write(&ctl);
    let failed = ctl.wait_status("web", "HookFailed");
    assert_eq!(
        failed.revision, revision,
        "the revision in force is the old one"
    );
    ctl.assert_stays(Duration::from_secs(2), "the old instances serve on", || {
        let a = ctl.app("web").expect("listed");
        let mut pids: Vec<u32> = a.instances.iter().filter_map(|i| i.pid).collect();
        pids.sort_unstable();
        let mut was: Vec<u32> = old.values().copied().collect();
        was.sort_unstable();
        a.status == "HookFailed" && pids == was && a.instances.iter().all(|i| i.ready)
    });
    load.wait_ok(40);

    let describe = ctl.corral_ok(&["describe", "web"]);
    assert!(
        describe.contains("preRollout: Failed, exit code 3"),
        "{describe}"
    );
    assert!(describe.contains("PreRolloutHook"), "{describe}");
    // The last 20 lines: steps 07 to 25 and the stderr line, not the first ones.
    assert!(describe.contains("migrating step 25 of v2"), "{describe}");
    assert!(describe.contains("migrating step 07 of v2"), "{describe}");
    assert!(!describe.contains("migrating step 06"), "{describe}");
    assert!(
        describe.contains("! relation users already exists"),
        "{describe}"
    );
    let failures = events(&ctl, "web", "HookFailed");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("exit code 3")
            && failures[0].contains("relation users already exists"),
        "{failures:?}"
    );
    let logs = ctl.corral_ok(&["logs", "web", "--tail", "100"]);
    assert!(
        logs.contains("web-preRollout | migrating step 25 of v2")
            && logs.contains("web-preRollout ! relation users already exists"),
        "{logs}"
    );

    // `rollout retry` runs it again (and it fails again).
    ctl.corral_ok(&["rollout", "retry", "web"]);
    ctl.wait_until(SOON, "a second failure", || {
        events(&ctl, "web", "HookFailed").len() == 2
    });
    assert_eq!(ctl.app("web").expect("listed").status, "HookFailed");

    // A fixed hook (same revision: hooks are not part of it) lets the rollout go on.
    let fixed = ctl.sh("echo migrated $MARKER");
    app.extra.pop();
    app.extra
        .push(format!("hooks: {{preRollout: {{command: {fixed}}}}}"));
    app.write(&ctl);
    let old_pids: Vec<u32> = old.values().copied().collect();
    ctl.wait_rolled_out("web", 2, &old_pids);
    load.wait_marker("v2");
    load.wait_ok(20);
    let tally = load.finish();
    assert_clean(&tally, 100);
    assert_eq!(events(&ctl, "web", "HookSucceeded").len(), 1);
}

#[test]
fn a_pre_rollout_runs_once_per_revision_before_the_first_new_instance_and_post_after() {
    let mut ctl = Controller::new();
    let log = ctl.scratch().join("order.log");
    let log = log.to_str().expect("utf-8");
    // Each line: what, the revision, nanoseconds since the epoch.
    let note = |what: &str| format!("echo \"{what} $CORRAL_REVISION $(date +%s%N)\" >> {log}");
    let write = |v: &str| {
        let app = ctl.sh(&format!("{}; while :; do sleep 1; done", note("start")));
        let pre = ctl.sh(&format!("{}; sleep 0.5", note("pre")));
        let post = ctl.sh(&note("post"));
        let hooks =
            format!("hooks: {{preRollout: {{command: {pre}}}, postRollout: {{command: {post}}}}}");
        let text = manifest(
            "api",
            &[
                &format!("command: {app}"),
                "instances: 2",
                &format!("env: {{V: \"{v}\"}}"),
                &hooks,
            ],
        );
        ctl.write_manifest("api.yaml", &text);
    };
    let lines = || -> Vec<(String, String, u128)> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split(' ');
                Some((w.next()?.into(), w.next()?.into(), w.next()?.parse().ok()?))
            })
            .collect()
    };
    let check = |revision: &str| {
        let all = lines();
        let of = |what: &str| -> Vec<u128> {
            all.iter()
                .filter(|(w, r, _)| w == what && r == revision)
                .map(|(_, _, t)| *t)
                .collect()
        };
        let (pre, starts, post) = (of("pre"), of("start"), of("post"));
        assert_eq!(pre.len(), 1, "one preRollout for {revision}: {all:?}");
        assert_eq!(starts.len(), 2, "two instances of {revision}: {all:?}");
        assert!(
            starts.iter().all(|s| *s > pre[0] + 400_000_000),
            "the hook ran before: {all:?}"
        );
        assert_eq!(post.len(), 1, "one postRollout for {revision}: {all:?}");
        assert!(
            starts.iter().all(|s| *s < post[0]),
            "post after the rollout: {all:?}"
        );
    };

    write("1");
    ctl.start();
    ctl.wait_status("api", "Running");
    let first = ctl.app("api").expect("listed").revision;
    ctl.wait_until(SOON, "postRollout of the first deployment", || {
        lines().iter().any(|(w, _, _)| w == "post")
    });
    check(&first);

    write("2");
    let second = wait_for(ROLLOUT, "the second revision rolled out", || {
        let a = ctl.app("api")?;
        (a.revision != first
            && a.status == "Running"
            && lines()
                .iter()
                .any(|(w, r, _)| w == "post" && *r == a.revision))
        .then_some(a.revision)
    });
    check(&second);

    // Neither a reload nor a controller crash runs a hook again.
    let before = lines().len();
    ctl.corral_ok(&["reload", "api"]);
    ctl.wait_until(ROLLOUT, "reloaded", || {
        lines().iter().filter(|(w, _, _)| w == "start").count() == 6
    });
    ctl.crash();
    ctl.start();
    ctl.wait_status("api", "Running");
    ctl.assert_stays(Duration::from_secs(2), "no hook runs again", || {
        lines().iter().filter(|(w, _, _)| w != "start").count() == before - 4
    });
    let _ = &mut ctl;
}

#[test]
fn a_hook_is_killed_at_its_timeout_and_an_interrupted_one_runs_again() {
    let mut ctl = Controller::new();
    let hook = ctl.sh("echo waiting for the database; sleep 60");
    let text = manifest(
        "db-app",
        &[
            &format!("command: {}", ctl.sleeper()),
            &format!("hooks: {{preRollout: {{command: {hook}, timeout: 4s}}}}"),
        ],
    );
    ctl.write_manifest("db-app.yaml", &text);
    ctl.start();
    ctl.wait_status("db-app", "HookRunning");
    let first = wait_for(SOON, "the hook runs", || {
        hook_processes(&ctl).first().map(|(p, _)| *p)
    });
    assert!(
        ctl.instances("db-app").is_empty(),
        "nothing starts before the hook succeeds"
    );

    // A crash of the controller: the next one ends the hook left behind and runs it again.
    ctl.crash();
    ctl.start();
    let second = wait_for(SOON, "the hook runs again, alone", || {
        let hooks = hook_processes(&ctl);
        (hooks.len() == 1 && hooks[0].0 != first && hooks[0].1 == "preRollout").then(|| hooks[0].0)
    });

    // Past its 4 s it is killed, with its whole tree.
    let failed = ctl.wait_status("db-app", "HookFailed");
    assert!(failed.instances.is_empty(), "{failed:?}");
    ctl.wait_until(SOON, "the hook and its child are gone", || {
        !any_hook_process(&ctl)
    });
    let describe = ctl.corral_ok(&["describe", "db-app"]);
    assert!(
        describe.contains("killed after its timeout of 4s"),
        "{describe}"
    );
    assert!(describe.contains("waiting for the database"), "{describe}");
    assert!(!ctl.processes().contains(&second));
    let _ = &mut ctl;
}

#[test]
fn a_canary_waits_for_its_pre_rollout_before_any_canary_instance() {
    let ctl = Controller::new();
    let mut app = WebApp::new("shop", "http");
    app.extra.push(
        "strategy: {type: Canary, steps: [{setWeight: 50}, {pause: {}}], analysis: {interval: 1h}}"
            .into(),
    );
    app.write(&ctl);
    ctl.start();
    let old = ctl.wait_rolled_out("shop", 2, &[]);
    let stable = ctl.app("shop").expect("listed").revision;
    let go = ctl.scratch().join("go");
    let hook = ctl.sh(&format!(
        "while [ ! -e {} ]; do sleep 0.1; done; echo migrated",
        go.display()
    ));
    app.set_env("MARKER", "v2");
    app.extra
        .push(format!("hooks: {{preRollout: {{command: {hook}}}}}"));
    app.write(&ctl);
    ctl.wait_status("shop", "HookRunning");
    ctl.assert_stays(
        Duration::from_secs(2),
        "no canary while the hook runs",
        || {
            let a = ctl.app("shop").expect("listed");
            a.rollout.is_none()
                && a.revision == stable
                && a.instances.len() == 2
                && a.instances.iter().all(|i| i.revision == stable)
        },
    );
    std::fs::write(&go, "").expect("write go");
    wait_for(ROLLOUT, "1 canary beside 2 stable", || {
        let a = ctl.app("shop")?;
        let canaries = a
            .instances
            .iter()
            .filter(|i| i.ready && i.revision != stable);
        (a.revision != stable && canaries.count() == 1 && a.instances.len() == 3).then_some(())
    });
    let reasons: Vec<String> = ctl
        .app("shop")
        .expect("listed")
        .events
        .into_iter()
        .map(|e| e.reason)
        .filter(|r| r.starts_with("Hook") || r == "CanaryStarted")
        .collect();
    assert_eq!(reasons, ["HookStarted", "HookSucceeded", "CanaryStarted"]);
    let pids: Vec<u32> = ctl.pids("shop");
    assert!(
        old.values().all(|p| pids.contains(p)),
        "the stable instances run on"
    );
}

#[test]
fn an_upgrade_during_a_hook_runs_it_again_under_the_new_controller_never_twice_at_once() {
    let mut ctl = Controller::new();
    let go = ctl.scratch().join("go");
    let runs = ctl.scratch().join("runs.log");
    let hook = ctl.sh(&format!(
        "echo start >> {runs}; while [ ! -e {go} ]; do sleep 0.1; done; echo done >> {runs}",
        runs = runs.display(),
        go = go.display()
    ));
    let text = manifest(
        "queue",
        &[
            &format!("command: {}", ctl.sleeper()),
            &format!("hooks: {{preRollout: {{command: {hook}, timeout: 1m}}}}"),
        ],
    );
    ctl.write_manifest("queue.yaml", &text);
    ctl.start();
    ctl.wait_status("queue", "HookRunning");
    let first = wait_for(SOON, "the hook runs", || {
        hook_processes(&ctl).first().map(|(p, _)| *p)
    });
    let run = ctl.corral(&["upgrade"]);
    assert!(run.status.success(), "corral upgrade failed: {run:?}");
    let new = run
        .stdout
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("the new controller's pid");
    ctl.took_over(new);
    let second = wait_for(SOON, "the hook runs again, alone", || {
        let hooks = hook_processes(&ctl);
        (hooks.len() == 1 && hooks[0].0 != first).then(|| hooks[0].0)
    });
    assert!(!ctl.processes().contains(&first));
    std::fs::write(&go, "").expect("write go");
    ctl.wait_instances("queue", 1);
    ctl.wait_status("queue", "Running");
    let log = std::fs::read_to_string(&runs).expect("runs.log");
    assert_eq!(
        log, "start\nstart\ndone\n",
        "interrupted once, then run to its end"
    );
    assert!(!ctl.processes().contains(&second));
    let _ = &mut ctl;
}

#[test]
fn validate_warns_of_a_hook_program_missing_here_and_refuses_a_zero_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.yaml");
    let text = |timeout: &str| {
        manifest(
            "a",
            &[
                "command: [sleep, '100']",
                &format!(
                    "hooks: {{preRollout: {{command: [./migrate.sh, up], timeout: {timeout}}}}}"
                ),
            ],
        )
    };
    std::fs::write(&file, text("1m")).expect("write");
    let path = file.to_str().expect("utf-8");
    let run = common::corral_in(&dir.path().join("home"), &["validate", path]);
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("a.yaml:7:")
            && run.stderr.contains("spec.hooks.preRollout.command")
            && run.stderr.contains("migrate.sh does not exist"),
        "{run:?}"
    );
    std::fs::write(&file, text("0s")).expect("write");
    let run = common::corral_in(&dir.path().join("home"), &["validate", path]);
    assert!(!run.status.success(), "{run:?}");
    assert!(
        run.stderr.contains("a.yaml:7:")
            && run
                .stderr
                .contains("spec.hooks.preRollout.timeout: 0 would kill the hook"),
        "{run:?}"
    );
}
