//! The record of running instances across versions and damage: a record of today's format
//! (v1, a committed fixture) is adopted; a truncated, garbage, newer or missing record is
//! reported and the instances are found by their marker, never duplicated.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{manifest, Controller, SOON};
use nix::sys::signal::Signal;

/// A python3 program printing a line every 100 ms.
const TICKER: &str = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.1)";

/// Starts `web` with 2 ticking instances and waits until they run; returns the revision.
fn start_web(ctl: &Controller) -> String {
    let cmd = common::flow(&["python3", "-c", TICKER, &ctl.token]);
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {cmd}"), "instances: 2"]),
    );
    ctl.start();
    ctl.wait_instances("web", 2);
    ctl.wait_status("web", "Running").revision
}

/// Lines in `web`'s stdout log of instance `index`.
fn log_lines(ctl: &Controller, index: u32) -> usize {
    let path = ctl.home.join(format!("logs/web/{index}.out.log"));
    fs::read_to_string(path).map_or(0, |s| s.lines().count())
}

#[test]
fn a_record_of_format_v1_is_adopted_with_its_log_pipes() {
    let ctl = Controller::new();
    let revision = start_web(&ctl);
    ctl.signal(Signal::SIGTERM);
    ctl.wait_exit(SOON);
    ctl.wait_until(SOON, "the first controller's instances are gone", || {
        ctl.processes().is_empty()
    });

    // Processes a v1 controller left: not marked, known only from the record.
    let mut fixture: serde_json::Value = serde_json::from_str(
        &fs::read_to_string("tests/fixtures/instances-v1.json").expect("fixture"),
    )
    .expect("fixture json");
    let mut children: Vec<Child> = Vec::new();
    let mut expected = BTreeMap::new();
    for (index, entry) in fixture["instances"]
        .as_array_mut()
        .expect("instances")
        .iter_mut()
        .enumerate()
    {
        let pipes: Vec<String> = entry["pipes"]
            .as_array()
            .expect("pipes")
            .iter()
            .map(|p| {
                let p = p.as_str().expect("path");
                p.replace("CORRAL_HOME", ctl.home.to_str().expect("utf-8"))
            })
            .collect();
        let ends: Vec<fs::File> = pipes
            .iter()
            .map(|p| {
                nix::unistd::mkfifo(p.as_str(), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
                fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(p)
                    .expect("open fifo")
            })
            .collect();
        let [out, err]: [fs::File; 2] = ends.try_into().expect("two pipes");
        let child = Command::new("python3")
            .args(["-c", TICKER, &ctl.token])
            .env("CORRAL_TEST_TOKEN", &ctl.token)
            .env("CORRAL_APP", "web")
            .env("CORRAL_INSTANCE", index.to_string())
            .env("CORRAL_REVISION", &revision)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("spawn ticker");
        let pid = child.id();
        let ticks = corral::supervisor::process::start_ticks(pid).expect("start ticks");
        entry["pid"] = pid.into();
        entry["startTicks"] = ticks.into();
        entry["revision"] = revision.clone().into();
        entry["pipes"] = pipes.into();
        expected.insert(index as u32, pid);
        children.push(child);
    }
    assert!(fixture.get("version").is_none(), "the fixture is format v1");
    fs::write(
        ctl.home.join("instances.json"),
        serde_json::to_vec_pretty(&fixture).expect("json"),
    )
    .expect("write record");

    let before = log_lines(&ctl, 0);
    ctl.start();
    assert_eq!(
        ctl.wait_instances("web", 2),
        expected,
        "the v1 record's pids"
    );
    ctl.assert_stays(Duration::from_millis(500), "no duplicates", || {
        ctl.instances("web").len() == 2
    });
    ctl.wait_until(SOON, "the adopted output reaches the log", || {
        log_lines(&ctl, 0) > before + 2
    });
    let describe = ctl.corral_ok(&["describe", "web"]);
    assert!(
        describe.contains("adopted from the previous controller"),
        "{describe}"
    );
    // The new controller writes the current format.
    let record = fs::read_to_string(ctl.home.join("instances.json")).expect("record");
    assert!(record.contains("\"version\": 2"), "{record}");
    ctl.signal(Signal::SIGTERM);
    ctl.wait_exit(SOON);
    for mut child in children {
        let _ = child.wait();
    }
}

#[test]
fn a_damaged_or_missing_record_is_reported_and_instances_found_by_their_marker() {
    let ctl = Controller::new();
    start_web(&ctl);
    let damages: [(&str, &[u8]); 4] = [
        (
            "truncated",
            b"{\"version\": 2, \"instances\": [{\"id\": 1, \"app",
        ),
        ("garbage", b"\x00\x17not json at all"),
        ("newer", b"{\"version\": 99, \"instances\": {}}"),
        ("missing", b""),
    ];
    for (what, bytes) in damages {
        let before = ctl.wait_instances("web", 2);
        ctl.crash();
        let record = ctl.home.join("instances.json");
        if what == "missing" {
            fs::remove_file(&record).expect("remove record");
        } else {
            fs::write(&record, bytes).expect("damage record");
        }
        ctl.start();
        assert_eq!(
            ctl.wait_instances("web", 2),
            before,
            "{what}: adopted, not replaced"
        );
        ctl.assert_stays(Duration::from_millis(300), "no duplicates", || {
            ctl.instances("web") == before.iter().map(|(i, p)| (*p, *i)).collect()
        });
        let describe = ctl.corral_ok(&["describe", "web"]);
        assert!(
            describe.contains("adopted by its marker"),
            "{what}: {describe}"
        );
        if what != "missing" {
            let reason = if what == "newer" {
                "version 99"
            } else {
                "corrupt"
            };
            assert!(ctl.stderr().contains(reason), "{what}: {}", ctl.stderr());
            assert!(describe.contains(reason), "{what}: {describe}");
        }
        ctl.wait_status("web", "Running");
    }
}
