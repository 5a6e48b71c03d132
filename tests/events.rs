//! `corral events [-w] [NAME] [-o json]` against a real controller: a watcher sees a start, a
//! crash and a reload in order; the list filters by name and prints kubectl's table; a watcher
//! ends, with an error, when the controller stops.

use crate::common;

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{manifest, wait_for, Controller, BIN, SOON};
use nix::sys::signal::Signal;
use serde_json::Value;

/// A `corral events -w …` child whose stdout lines arrive on a channel; killed on drop.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    seen: Vec<String>,
}

impl Watcher {
    fn start(ctl: &Controller, args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("CORRAL_HOME", &ctl.home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn corral events");
        let lines = common::stdout_lines(child.stdout.take().expect("stdout"));
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one satisfies `found` (lines already read are not looked at again).
    fn wait_line(&mut self, what: &str, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SOON;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if found(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line {what} within {SOON:?}; lines so far:\n{:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Reads JSON lines until an event with `reason` comes.
    fn wait_event(&mut self, reason: &str) -> Value {
        let line = self.wait_line(reason, |l| parse(l)["reason"] == reason);
        parse(&line)
    }

    /// Waits for the command to exit by itself; its status, remaining stdout lines and stderr.
    fn finish(&mut self) -> (ExitStatus, String) {
        let status = wait_for(SOON, "corral events exits", || {
            self.child.try_wait().expect("try_wait")
        });
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.seen.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        (status, stderr)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not a JSON line: {line}"))
}

/// Whether `events` holds `want` (reason, index) in this order, other events between.
fn in_order(events: &[Value], want: &[(&str, Option<u64>)]) -> bool {
    let mut want = want.iter().peekable();
    for e in events {
        if let Some((reason, index)) = want.peek() {
            if e["reason"] == *reason && index.is_none_or(|i| e["index"] == i) {
                want.next();
            }
        }
    }
    want.peek().is_none()
}

#[test]
fn a_watcher_sees_a_start_a_crash_and_a_reload_in_order() {
    let ctl = Controller::new();
    let marker = ctl.scratch().join("crashed-once");
    let script = format!(
        "if [ -e {m} ]; then exec sleep 100000; fi; touch {m}; exit 3",
        m = marker.display()
    );
    ctl.write_manifest(
        "crashy.yaml",
        &manifest(
            "crashy",
            &[
                &format!("command: {}", ctl.sh(&script)),
                "backoff: {initial: 100ms, max: 1s}",
            ],
        ),
    );
    let other = ctl.sleeper();
    ctl.write_manifest(
        "other.yaml",
        &manifest("other", &[&format!("command: {other}")]),
    );
    ctl.start();
    let mut w = Watcher::start(&ctl, &["events", "-w", "crashy", "-o", "json"]);
    w.wait_event("RolloutComplete");
    let run = ctl.corral(&["reload", "crashy"]);
    assert!(run.status.success(), "{run:?}");
    w.wait_event("Reloading");
    w.wait_event("RolloutComplete");

    let events: Vec<Value> = w.seen.iter().map(|l| parse(l)).collect();
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(
        seqs.len(),
        events.len(),
        "every event has a seq: {events:#?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order: {seqs:?}"
    );
    assert!(
        events.iter().all(|e| e["app"] == "crashy"),
        "only crashy's events: {events:#?}"
    );
    assert!(events[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let exited = events.iter().find(|e| e["reason"] == "Exited");
    let exited = exited.and_then(|e| e["message"].as_str()).unwrap_or("");
    assert!(exited.ends_with("exited: exit code 3"), "{exited}");
    let zero = Some(0);
    assert!(
        in_order(
            &events,
            &[
                ("Started", zero),
                ("Exited", zero),
                ("BackOff", zero),
                ("Started", zero),
                ("Ready", zero),
                ("RolloutComplete", None),
                ("Reloading", None),
                ("Started", zero),
                ("RolloutStarted", None),
                ("Ready", zero),
                ("Stopping", zero),
                ("Stopped", zero),
                ("RolloutComplete", None),
            ]
        ),
        "start, crash, back-off, restart, reload in order: {:#?}",
        events
            .iter()
            .map(|e| format!("{} {} {}", e["seq"], e["reason"], e["message"]))
            .collect::<Vec<_>>()
    );
}

/// `corral events ARGS`'s stdout as JSON lines, once `ready` holds for them.
fn events_when(ctl: &Controller, args: &[&str], ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait_for(
        SOON,
        &format!("corral {args:?} shows what the test waits for"),
        || {
            let run = ctl.corral(args);
            assert!(run.status.success(), "{run:?}");
            let events: Vec<Value> = run.stdout.lines().map(parse).collect();
            ready(&events).then_some(events)
        },
    )
}

#[test]
fn the_list_filters_by_name_and_prints_kubectls_table() {
    let ctl = Controller::new();
    let sleeper = ctl.sleeper();
    for (name, n) in [("web", 2), ("api", 1)] {
        ctl.write_manifest(
            &format!("{name}.yaml"),
            &manifest(
                name,
                &[&format!("command: {sleeper}"), &format!("instances: {n}")],
            ),
        );
    }
    ctl.start();
    let web = events_when(&ctl, &["events", "web", "-o", "json"], |events| {
        in_order(events, &[("Ready", Some(0))]) && in_order(events, &[("Ready", Some(1))])
    });
    assert!(web.iter().all(|e| e["app"] == "web"), "{web:#?}");
    events_when(&ctl, &["events", "-o", "json"], |events| {
        events
            .iter()
            .any(|e| e["app"] == "api" && e["reason"] == "Ready")
    });

    let table = ctl.corral(&["events"]);
    assert!(table.status.success(), "{table:?}");
    let mut lines = table.stdout.lines();
    let header = lines.next().unwrap_or("");
    let columns: Vec<&str> = header.split("   ").map(str::trim).collect();
    let columns: Vec<&str> = columns.into_iter().filter(|c| !c.is_empty()).collect();
    assert_eq!(
        columns,
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{}",
        table.stdout
    );
    let started = |object: &str| {
        table
            .stdout
            .lines()
            .any(|l| l.contains("Normal") && l.contains("Started") && l.contains(object))
    };
    assert!(
        started("app/web-1") && started("app/api-0"),
        "{}",
        table.stdout
    );

    let none = ctl.corral(&["events", "nosuch"]);
    assert!(none.status.success(), "{none:?}");
    assert_eq!(none.stdout, "");
    assert_eq!(none.stderr.trim(), "No events found.");

    // A new file that does not even parse names no app: the event is the controller's.
    ctl.write_manifest("broken.yaml", "apiVersion: corral/v1\nkind: [\n");
    let all = events_when(&ctl, &["events", "-o", "json"], |events| {
        events.iter().any(|e| e["reason"] == "InvalidManifest")
    });
    let invalid = all.iter().find(|e| e["reason"] == "InvalidManifest");
    let invalid = invalid.expect("InvalidManifest");
    assert_eq!(invalid["kind"], "Warning");
    assert!(invalid.get("app").is_none(), "{invalid}");
    let message = invalid["message"].as_str().unwrap_or("");
    assert!(message.contains("broken.yaml:"), "{message}");
}

#[test]
fn a_watcher_ends_with_an_error_once_the_controller_has_stopped() {
    let ctl = Controller::new();
    let sleeper = ctl.sleeper();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {sleeper}")]),
    );
    ctl.start();
    let mut w = Watcher::start(&ctl, &["events", "-w"]);
    let header = w.wait_line("header", |l| l.starts_with("LAST SEEN"));
    assert!(header.contains("OBJECT"), "{header}");
    w.wait_line("web-0 ready", |l| {
        l.contains("Ready") && l.contains("app/web-0")
    });
    ctl.signal(Signal::SIGTERM);
    assert!(ctl.wait_exit(SOON).success());
    let (status, stderr) = w.finish();
    assert!(
        !status.success(),
        "exit non-zero once the controller is gone"
    );
    assert!(
        stderr.contains("the controller ended the event stream"),
        "a clean end, not a dropped connection: {stderr}"
    );
    let stopped = w
        .seen
        .iter()
        .any(|l| l.contains("Stopped") && l.contains("app/web-0"));
    assert!(
        stopped,
        "the shutdown's own events come first: {:#?}",
        w.seen
    );
}
