//! `memory.limit`: an instance over it is replaced the zero-downtime way within
//! two sample intervals; a limit too low ends in back-off, not a replacement storm; an edited
//! limit applies in place.

use crate::common;

use std::time::Duration;

use common::web::{addr, assert_clean, Load, WebApp};
use common::{manifest, wait_for, Controller, SOON};

/// The sample interval the tests run the controller with.
const INTERVAL_MS: u64 = 500;

/// Runs the test app (`app.js`, see `common/web.rs`) after arming a leak: the instance at
/// `LEAK_INDEX` that wins the `LEAK_FLAG` file (so only the first one) allocates and touches
/// 4 MiB every 50 ms once `LEAK_GO` exists, until its RSS is over `LIMIT_BYTES`; then it
/// writes `{at, pid, rss}` (unix ms) to `LEAK_FLAG.crossed` and keeps the memory.
const LEAK_JS: &str = r#"
const fs = require('fs');
const e = process.env;
let mine = false;
if (e.CORRAL_INSTANCE === e.LEAK_INDEX) {
  try { fs.closeSync(fs.openSync(e.LEAK_FLAG, 'wx')); mine = true; } catch (_) {}
}
if (mine) {
  const hog = [];
  const tick = setInterval(() => {
    if (!fs.existsSync(e.LEAK_GO)) return;
    hog.push(Buffer.alloc(4 << 20, 1));
    const rss = process.memoryUsage().rss;
    if (rss > Number(e.LIMIT_BYTES)) {
      clearInterval(tick);
      fs.writeFileSync(e.LEAK_FLAG + '.crossed', JSON.stringify({at: Date.now(), pid: process.pid, rss}));
      setInterval(() => hog.length, 1000);
    }
  }, 50);
}
require(__dirname + '/app.js');
"#;

fn controller() -> Controller {
    Controller::with_args(&["--sample-interval", &format!("{INTERVAL_MS}ms")])
}

#[test]
fn a_leaking_instance_is_replaced_within_two_samples_without_a_failed_request() {
    let ctl = controller();
    let scratch = ctl.scratch().to_path_buf();
    std::fs::write(scratch.join("leak.js"), LEAK_JS).expect("write leak.js");
    let (flag, go) = (scratch.join("leak.flag"), scratch.join("leak.go"));
    let mut app = WebApp::new("web", "http");
    app.set_env("LEAK_INDEX", "0")
        .set_env("LEAK_FLAG", flag.to_str().expect("utf-8"))
        .set_env("LEAK_GO", go.to_str().expect("utf-8"))
        .set_env("LIMIT_BYTES", &(100u64 << 20).to_string());
    app.extra
        .push("readiness: {tcp: {}, periodSeconds: 1}".into());
    app.extra.push("memory: {limit: 100Mi}".into());
    let text = app.manifest(&ctl).replace("/app.js\"", "/leak.js\"");
    ctl.write_manifest("web.yaml", &text);
    ctl.start();
    let first = ctl.wait_rolled_out("web", 2, &[]);
    let load = Load::per_request(addr(app.port), 2);
    load.wait_ok(40);

    std::fs::write(&go, "").expect("write go");
    let crossed: serde_json::Value = wait_for(SOON, "the leak crosses 100Mi", || {
        let text = std::fs::read_to_string(scratch.join("leak.flag.crossed")).ok()?;
        serde_json::from_str(&text).ok()
    });
    let (at, pid) = (
        crossed["at"].as_u64().unwrap(),
        crossed["pid"].as_u64().unwrap(),
    );
    assert_eq!(Some(&(pid as u32)), first.get(&0), "index 0 leaked");
    let now = ctl.wait_rolled_out("web", 2, &[pid as u32]);
    assert_eq!(now.get(&1), first.get(&1), "index 1 was left alone");
    let status = ctl.app("web").expect("listed");
    let fresh = status
        .instances
        .iter()
        .find(|i| i.index == 0)
        .expect("index 0");
    let reaction = fresh.started_ms.expect("started").saturating_sub(at);
    assert!(
        reaction <= 2 * INTERVAL_MS,
        "the replacement started {reaction} ms after the leak crossed its limit\n{}",
        ctl.debug_dump()
    );
    let event = status
        .events
        .iter()
        .find(|e| e.reason == "MemoryLimitExceeded")
        .unwrap_or_else(|| panic!("no MemoryLimitExceeded event: {:#?}", status.events));
    assert!(
        event.message.contains(&format!("pid {pid}"))
            && event.message.contains("over its limit of 100.0Mi")
            && event.message.contains("without downtime"),
        "{event:?}"
    );
    // The old instance exits once out of rotation; the replacement counts as a restart.
    ctl.wait_until(SOON, "index 0 counts one restart", || {
        ctl.app("web")
            .and_then(|a| a.instances.into_iter().find(|i| i.index == 0))
            .is_some_and(|i| {
                i.restarts == 1
                    && i.last_exit
                        .is_some_and(|e| e.contains("MemoryLimitExceeded"))
            })
    });
    let describe = ctl.corral_ok(&["describe", "web"]);
    assert!(describe.contains("MemoryLimitExceeded"), "{describe}");
    load.wait_ok(40);
    assert_clean(&load.finish(), 80);
}

#[test]
fn a_limit_too_low_backs_off_instead_of_a_replacement_storm() {
    let ctl = controller();
    let spec = [
        format!("command: {}", ctl.sleeper()),
        "memory: {limit: 1Mi}".into(),
        "backoff: {initial: 1s, max: 30s}".into(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    ctl.write_manifest("hog.yaml", &manifest("hog", &spec));
    ctl.start();
    let status = ctl.wait_status("hog", "CrashLoopBackOff");
    let backing_off = status
        .instances
        .iter()
        .find(|i| i.phase == "CrashLoopBackOff")
        .unwrap_or_else(|| panic!("no instance backing off: {status:#?}"));
    assert!(
        backing_off
            .last_exit
            .as_deref()
            .is_some_and(|e| e.contains("MemoryLimitExceeded")),
        "{backing_off:?}"
    );
    assert!(backing_off.next_retry_ms.is_some(), "{backing_off:?}");
    // Delays double from 1 s: at most one more start in 2.5 s (a storm would start one per
    // sample, five in that time).
    let restarts = |ctl: &Controller| ctl.app("hog").map_or(0, |a| a.restarts);
    let before = restarts(&ctl);
    ctl.assert_stays(Duration::from_millis(2500), "no replacement storm", || {
        restarts(&ctl) <= before + 1
    });
    let describe = ctl.corral_ok(&["describe", "hog"]);
    assert!(
        describe.contains("CrashLoopBackOff") && describe.contains("over it again"),
        "{describe}"
    );
}

#[test]
fn with_max_surge_zero_the_instance_is_stopped_first_and_the_event_says_so() {
    let ctl = controller();
    let spec = [
        format!("command: {}", ctl.sleeper()),
        "memory: {limit: 1Mi}".into(),
        "strategy: {maxSurge: 0, maxUnavailable: 1}".into(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    ctl.write_manifest("tight.yaml", &manifest("tight", &spec));
    ctl.start();
    let first = ctl.wait_instances("tight", 1)[&0];
    let events = wait_for(SOON, "the first instance stopped over its limit", || {
        let events = ctl.app("tight")?.events;
        let stopped = format!("instance 0 (pid {first}) stopped: MemoryLimitExceeded");
        events
            .iter()
            .any(|e| e.message.starts_with(&stopped))
            .then_some(events)
    });
    let exceeded = events
        .iter()
        .find(|e| e.reason == "MemoryLimitExceeded")
        .expect("the event");
    assert!(
        exceeded
            .message
            .contains("strategy.maxSurge is 0, so it is stopped before its replacement starts"),
        "{exceeded:?}"
    );
    // Nothing else was started at index 0 before the first one was stopped.
    let order: Vec<&str> = events.iter().map(|e| e.reason.as_str()).collect();
    let second_start = order.iter().skip(1).position(|r| *r == "Started");
    let stop = order.iter().position(|r| *r == "Stopping").expect("a stop");
    assert!(second_start.is_none_or(|s| s + 1 > stop), "{order:?}");
}

#[test]
fn an_edited_limit_applies_in_place() {
    let ctl = controller();
    let write = |limit: &str| {
        let spec = [
            format!("command: {}", ctl.sleeper()),
            format!("memory: {{limit: {limit}}}"),
        ];
        let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
        ctl.write_manifest("app.yaml", &manifest("app", &spec));
    };
    write("500Mi");
    ctl.start();
    let pid = ctl.wait_instances("app", 1)[&0];
    let revision = ctl.app("app").expect("listed").revision;
    write("400Mi");
    ctl.wait_until(SOON, "the controller has the new limit", || {
        ctl.corral_ok(&["describe", "app"]).contains("400Mi")
    });
    ctl.assert_stays(
        Duration::from_millis(3 * INTERVAL_MS),
        "same process",
        || ctl.pids("app") == vec![pid],
    );
    assert_eq!(ctl.app("app").expect("listed").revision, revision);
    // Below what it uses: the edited limit is the one checked, on the same process.
    write("1Mi");
    let event = wait_for(SOON, "MemoryLimitExceeded against the new limit", || {
        ctl.app("app")?
            .events
            .into_iter()
            .find(|e| e.reason == "MemoryLimitExceeded")
    });
    assert!(
        event.message.contains(&format!("pid {pid}")) && event.message.contains("limit of 1.0Mi"),
        "{event:?}"
    );
}

/// Apps without a limit are sampled every fifth interval only: one that gets a limit is
/// sampled every interval from then on, not at the next fifth.
#[test]
fn a_limit_added_to_an_app_is_checked_from_the_next_interval() {
    const INTERVAL: Duration = Duration::from_secs(2);
    let ctl = Controller::with_args(&["--sample-interval", "2s"]);
    let write = |extra: &[&str]| {
        let command = format!("command: {}", ctl.sleeper());
        let spec: Vec<&str> = [command.as_str()]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        ctl.write_manifest("app.yaml", &manifest("app", &spec));
    };
    write(&[]);
    ctl.start();
    let pid = ctl.wait_instances("app", 1)[&0];
    // Its first sample is taken at once (a new instance); the next would be 5 intervals on.
    wait_for(SOON, "a first sample", || ctl.app("app")?.memory_bytes);
    write(&["memory: {limit: 1Mi}"]);
    wait_for(SOON, "the controller has the limit", || {
        ctl.corral_ok(&["describe", "app"])
            .contains("1Mi")
            .then_some(())
    });
    let seen = std::time::Instant::now();
    let event = wait_for(SOON, "MemoryLimitExceeded", || {
        ctl.app("app")?
            .events
            .into_iter()
            .find(|e| e.reason == "MemoryLimitExceeded")
    });
    assert!(event.message.contains(&format!("pid {pid}")), "{event:?}");
    // One interval to the next sample, one more of slack for a loaded machine: well short of
    // the five an app without a limit waits.
    assert!(
        seen.elapsed() < 2 * INTERVAL + Duration::from_millis(500),
        "the limit was first checked {:?} after it applied",
        seen.elapsed()
    );
}

#[test]
fn a_sample_interval_out_of_range_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_str().expect("utf-8");
    for bad in ["0", "10ms", "2h", "soon"] {
        let run = common::corral_in(
            tmp.path(),
            &["controller", "--manifests", dir, "--sample-interval", bad],
        );
        assert!(!run.status.success(), "{bad} accepted");
        assert!(
            run.stderr.contains("--sample-interval"),
            "{bad}: {}",
            run.stderr
        );
    }
}
