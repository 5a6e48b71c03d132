//! `corral upgrade` (DESIGN §12): the controller hands its sockets, instances and state to the
//! binary now at its path, under client load in every listen mode: not one request fails, no
//! instance is restarted, `corral get` answers throughout. A binary that cannot take over
//! changes nothing.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::web::{addr, assert_clean, Load, WebApp};
use common::{corral_in, try_corral_in, wait_for, Controller, BIN, SOON};
use nix::sys::signal::Signal;

/// A copy of the binary under test in the fixture's scratch dir, which the tests replace.
fn own_binary(ctl: &Controller) -> PathBuf {
    let dir = ctl.scratch().join("bin");
    std::fs::create_dir_all(&dir).expect("bin dir");
    let path = dir.join("corral");
    install(BIN.as_ref(), &path);
    path
}

/// Puts `from` at `to` the way a package manager does: a new file renamed over the old one.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).expect("copy the binary");
    std::fs::rename(&tmp, to).expect("install the binary");
}

/// `corral get` run in a loop: how many failed, and the longest time without an answer.
struct GetPoller {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<(u32, u32, Duration)>>,
    thread: Option<JoinHandle<()>>,
}

impl GetPoller {
    fn start(home: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new((0, 0, Duration::ZERO)));
        let (home, flag, out) = (home.to_owned(), Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            let mut last = Instant::now();
            while !flag.load(Ordering::SeqCst) {
                let ok = try_corral_in(&home, &["get"]).is_some_and(|r| r.status.success());
                let mut seen = out.lock().unwrap();
                if ok {
                    seen.0 += 1;
                    seen.2 = seen.2.max(last.elapsed());
                    last = Instant::now();
                } else {
                    seen.1 += 1;
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// (answers, failures, longest gap between two answers).
    fn finish(mut self) -> (u32, u32, Duration) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("poller");
        }
        *self.seen.lock().unwrap()
    }
}

/// The second pid in `corral upgrade`'s line: the new controller's.
fn new_pid(stdout: &str) -> u32 {
    let pids: Vec<u32> = stdout
        .split("(pid ")
        .skip(1)
        .filter_map(|s| s.split(')').next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "old and new pid in {stdout:?}");
    pids[1]
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn pids_of(ctl: &Controller, apps: &[&str]) -> BTreeMap<String, BTreeMap<u32, u32>> {
    apps.iter()
        .map(|a| (a.to_string(), ctl.wait_instances(a, 2)))
        .collect()
}

#[test]
fn upgrade_keeps_every_instance_and_every_request_in_every_mode() {
    let mut ctl = Controller::with_args(&["--drain-timeout", "20s"]);
    ctl.binary = own_binary(&ctl);
    let mut apps = Vec::new();
    for mode in ["http", "tcp", "inherit"] {
        let mut app = WebApp::new(&format!("web-{mode}"), mode);
        if mode != "inherit" {
            app.extra
                .push("readiness: {tcp: {}, periodSeconds: 1}".into());
        }
        app.write(&ctl);
        apps.push(app);
    }
    ctl.start();
    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    for name in &names {
        ctl.wait_rolled_out(name, 2, &[]);
    }
    let before = pids_of(&ctl, &names);
    let loads: Vec<(Load, Load)> = apps
        .iter()
        .map(|a| {
            let public = addr(a.port);
            (
                Load::per_request(public, 1),
                Load::keep_alive_reconnecting(public, 1),
            )
        })
        .collect();
    for (fresh, kept) in &loads {
        fresh.wait_ok(20);
        kept.wait_ok(20);
    }
    let poller = GetPoller::start(&ctl.home);
    let old_pid = ctl.pid();

    let run = ctl.corral(&["upgrade"]);
    assert!(run.status.success(), "corral upgrade failed: {run:?}");
    let new = new_pid(&run.stdout);
    ctl.took_over(new);
    assert!(
        run.stdout.contains(&format!("(pid {old_pid})")),
        "{}",
        run.stdout
    );
    assert_ne!(new, old_pid);

    // Traffic after the hand-over, served through the new controller's sockets.
    for (fresh, kept) in &loads {
        fresh.wait_ok(30);
        kept.wait_ok(30);
    }
    let (answers, get_failures, gap) = poller.finish();
    for (i, (fresh, kept)) in loads.into_iter().enumerate() {
        for (clients, load) in [("per-request", fresh), ("keep-alive", kept)] {
            let tally = load.finish();
            eprintln!(
                "{} {clients}: {} ok, {} closes",
                names[i], tally.ok, tally.closes
            );
            assert_clean(&tally, 50);
        }
    }
    eprintln!("corral get: {answers} answers, {get_failures} failures, longest gap {gap:?}");
    assert_eq!(get_failures, 0, "corral get failed during the upgrade");
    assert!(answers > 0);

    // The old controller drains and exits 0; the new one owns the same processes.
    let status = ctl.wait_exit(Duration::from_secs(40));
    assert!(status.success(), "the old controller exited with {status}");
    assert!(alive(new), "the new controller runs");
    assert_eq!(pids_of(&ctl, &names), before, "an instance was restarted");
    let listed = ctl.get();
    for app in &listed.apps {
        assert_eq!(app.restarts, 0, "{} restarted: {listed:?}", app.name);
    }
    // The events went on from the old controller's, numbered on.
    let events = corral_in(&ctl.home, &["events", "-o", "json"]).stdout;
    let upgraded = events
        .lines()
        .find(|l| l.contains("\"Upgraded\""))
        .unwrap_or_else(|| panic!("no Upgraded event in {events}"));
    assert!(events.contains("\"Started\""), "the old events are kept");
    assert!(
        upgraded.contains(&format!("(pid {new}) took over from"))
            && upgraded.contains(&format!("(pid {old_pid})")),
        "{upgraded}"
    );

    // The new controller is in charge: SIGTERM to it stops every app.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(new as i32), Signal::SIGTERM)
        .expect("SIGTERM the new controller");
    wait_for(SOON, "the new controller stops every app", || {
        ctl.processes().is_empty().then_some(())
    });
    wait_for(SOON, "the new controller exits", || {
        (!alive(new)).then_some(())
    });
}

#[test]
fn a_binary_that_cannot_take_over_changes_nothing() {
    let mut ctl = Controller::with_args(&["--upgrade-timeout", "3s"]);
    let binary = own_binary(&ctl);
    ctl.binary = binary.clone();
    let app = WebApp::new("web", "http");
    let mut app = app;
    app.extra
        .push("readiness: {tcp: {}, periodSeconds: 1}".into());
    app.write(&ctl);
    let ticker = ctl.sh("i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.05; done");
    let ticker = common::manifest("ticker", &[&format!("command: {ticker}")]);
    ctl.write_manifest("ticker.yaml", &ticker);
    ctl.start();
    ctl.wait_rolled_out("web", 2, &[]);
    let before = ctl.wait_instances("web", 2);
    let ticker_pid = ctl.wait_instances("ticker", 1);
    let ticks = ctl.home.join("logs/ticker/0.out.log");
    let ticked = || {
        let text = std::fs::read_to_string(&ticks).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.rsplit("tick ").next()?.parse::<u64>().ok())
            .collect::<Vec<u64>>()
    };
    let grows = |from: usize| {
        wait_for(SOON, "the ticker's log grows", || {
            (ticked().len() > from + 5).then_some(())
        })
    };
    let load = Load::keep_alive_reconnecting(addr(app.port), 1);
    load.wait_ok(20);
    let old_pid = ctl.pid();
    let script = |body: &str| {
        let tmp = binary.with_extension("script");
        std::fs::write(&tmp, format!("#!/bin/sh\n{body}\n")).expect("script");
        let perms = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&tmp, perms).expect("chmod");
        std::fs::rename(&tmp, &binary).expect("install the script");
    };
    let marker = ctl.scratch().join("slow-started");
    type Breakage<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Breakage)> = vec![
        (
            "does not exist",
            Box::new(|| std::fs::remove_file(&binary).expect("remove")),
        ),
        (
            "is not executable",
            Box::new(|| {
                install(BIN.as_ref(), &binary);
                let perms = std::os::unix::fs::PermissionsExt::from_mode(0o644);
                std::fs::set_permissions(&binary, perms).expect("chmod");
            }),
        ),
        (
            "exited before it was ready",
            Box::new(|| script("echo 'not a controller' >&2; exit 3")),
        ),
        (
            "was not ready within 3s",
            Box::new(|| script(&format!("echo $$ > {}; exec sleep 600", marker.display()))),
        ),
    ];
    for (why, break_it) in &cases {
        break_it();
        let run = ctl.corral(&["upgrade"]);
        assert!(!run.status.success(), "{why}: {run:?}");
        assert!(run.stderr.contains(why), "{why}: {}", run.stderr);
        assert!(run.stderr.contains("nothing changed"), "{}", run.stderr);
        // Nothing changed: the same controller answers, with the same instances.
        let info = corral_in(&ctl.home, &["get", "web", "-o", "json"]);
        assert!(info.status.success(), "{info:?}");
        assert_eq!(ctl.wait_instances("web", 2), before, "{why}");
        assert!(alive(old_pid));
        load.wait_ok(10);
    }
    // The successor that never got ready was stopped.
    let slow: u32 = std::fs::read_to_string(&marker)
        .expect("the slow script ran")
        .trim()
        .parse()
        .expect("pid");
    wait_for(SOON, "the slow successor is gone", || {
        (!alive(slow)).then_some(())
    });
    let events = corral_in(&ctl.home, &["events", "-o", "json"]).stdout;
    let failed = events.matches("\"UpgradeFailed\"").count();
    assert_eq!(failed, cases.len(), "{events}");

    // Log capture goes on after the failed hand-overs, and the right binary then takes over
    // on SIGUSR2, capturing on.
    grows(ticked().len());
    // A reload's count is part of the revision: the successor must know it, or it would roll
    // the reloaded instances out again.
    let old_pids: Vec<u32> = before.values().copied().collect();
    ctl.corral_ok(&["reload", "web"]);
    let before = ctl.wait_rolled_out("web", 2, &old_pids);
    let revision = ctl.app("web").expect("listed").revision;
    install(BIN.as_ref(), &binary);
    ctl.signal(Signal::SIGUSR2);
    let status = ctl.wait_exit(Duration::from_secs(40));
    assert!(status.success(), "the old controller exited with {status}");
    let tally = load.finish();
    assert_clean(&tally, 50);
    let events = corral_in(&ctl.home, &["events", "-o", "json"]).stdout;
    let upgraded = events
        .lines()
        .rfind(|l| l.contains("\"Upgraded\""))
        .expect("an Upgraded event");
    let info: serde_json::Value = serde_json::from_str(upgraded).expect("json");
    let message = info["message"].as_str().expect("message");
    let new: u32 = message
        .split("(pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .expect("the new pid");
    ctl.took_over(new);
    assert_eq!(ctl.wait_instances("web", 2), before);
    ctl.assert_stays(
        Duration::from_secs(2),
        "no rollout after the upgrade",
        || {
            ctl.app("web")
                .is_some_and(|a| a.revision == revision && a.restarts == 0)
        },
    );
    assert_eq!(ctl.wait_instances("web", 2), before);
    assert_eq!(ctl.wait_instances("ticker", 1), ticker_pid);
    grows(ticked().len());
    // Every line once, in order: no line lost or doubled between the two controllers.
    let all = ticked();
    let first = all[0];
    let expected: Vec<u64> = (first..first + all.len() as u64).collect();
    assert_eq!(all, expected, "ticks lost or doubled");
}
