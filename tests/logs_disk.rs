//! A full disk and a log directory that turns read-only: the app and the controller carry on,
//! and the lost lines are counted, exactly, in a `LogLinesDropped` event once writing works.
//!
//! These tests mount (a tiny tmpfs, a read-only bind mount) and so need root; without it they
//! print a note and pass.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{flow, manifest, Controller, SOON};

/// Prints `argv[1]` numbered lines at once, then (once `argv[2]` exists, right away if empty)
/// as many again, then one more every 20 ms, forever.
const PRINTER: &str = "import os, sys, time
n, go = int(sys.argv[1]), sys.argv[2]
i = 0
def burst():
    global i
    for _ in range(n):
        print(f'line {i:07}')
        i += 1
    sys.stdout.flush()
burst()
while go and not os.path.exists(go):
    time.sleep(0.01)
burst()
while True:
    print(f'line {i:07}', flush=True)
    i += 1
    time.sleep(0.02)";

/// A mount made by the test, lazily unmounted when it ends (even on failure).
struct Mount(PathBuf);

impl Mount {
    /// Runs `mount ARGS DIR`; `None` (with a note) when mounting is not allowed here.
    fn new(args: &[&str], dir: &Path) -> Option<Mount> {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount")
            .args(args)
            .arg(dir)
            .output()
            .expect("run mount");
        if !out.status.success() {
            eprintln!(
                "note: skipped, cannot mount here ({}): run the tests as root to cover it",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Mount(dir.to_path_buf()))
    }

    /// Runs `mount ARGS DIR` on the mounted directory (a remount).
    fn remount(&self, args: &[&str]) {
        let status = Command::new("mount")
            .args(args)
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success(), "mount {args:?} failed");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Starts app `web` running [`PRINTER`] with `n` lines per burst and small log files.
fn start_printer(ctl: &Controller, n: usize, go: &str, logs: &str) {
    let cmd = flow(&["python3", "-c", PRINTER, &n.to_string(), go, &ctl.token]);
    ctl.write_manifest(
        "web.yaml",
        &manifest(
            "web",
            &[&format!("command: {cmd}"), &format!("logs: {logs}")],
        ),
    );
    ctl.start();
}

/// The pid of `web`'s single instance, once it runs.
fn pid(ctl: &Controller) -> u32 {
    ctl.wait_status("web", "Running");
    ctl.wait_instances("web", 1)[&0]
}

/// Waits for the controller to log that lines are being dropped.
fn wait_dropping(ctl: &Controller) {
    ctl.wait_until(SOON, "the controller drops lines", || {
        ctl.stderr().contains("log lines dropped")
    });
}

/// The app and the controller carry on: same process, status Running, API answering.
fn assert_undisturbed(ctl: &Controller, pid: u32) {
    assert!(common::alive(pid), "the app died");
    assert_eq!(ctl.wait_instances("web", 1)[&0], pid);
    assert_eq!(ctl.app("web").expect("web listed").status, "Running");
}

/// The lines reported lost by `LogLinesDropped` events so far.
fn reported_loss(ctl: &Controller) -> u64 {
    ctl.app("web")
        .expect("web listed")
        .events
        .iter()
        .filter(|e| e.reason == "LogLinesDropped")
        .map(|e| {
            assert!(
                e.message
                    .contains(" lines of stdout of instance 0 were lost between "),
                "{}",
                e.message
            );
            e.message
                .split(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .expect("a count first")
        })
        .sum()
}

/// The line numbers in `web`'s stdout log files (current and rotated), read while no rotation
/// renamed them (a file read before and after a rotation would count its lines twice).
fn numbers_written(dir: &Path) -> BTreeSet<u64> {
    loop {
        let before = listing(dir);
        let mut numbers = BTreeSet::new();
        let mut repeated = None;
        for (path, _) in &before {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue; // rotated away under us: the listing below differs
            };
            for line in text.lines() {
                let n = line.strip_prefix("line ").and_then(|n| n.parse().ok());
                if !numbers.insert(n.expect("a whole numbered line")) {
                    repeated = Some(line.to_owned());
                }
            }
        }
        if listing(dir) == before {
            assert!(repeated.is_none(), "{} twice", repeated.unwrap_or_default());
            return numbers;
        }
    }
}

/// `web`'s stdout log files and their inodes (a rotation renames them, so inodes move).
fn listing(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new(); // not created yet
    };
    let mut files: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("0.out.log"))
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.ino())))
        .collect();
    files.sort();
    files
}

/// Lines missing from the files: below the highest one written, yet not there.
fn missing(dir: &Path) -> u64 {
    let written = numbers_written(dir);
    written
        .last()
        .map_or(0, |highest| highest + 1 - written.len() as u64)
}

/// The loss reported matches the gap in the files, once every run of losses was reported.
fn assert_loss_counted_exactly(ctl: &Controller, dir: &Path) {
    let deadline = Instant::now() + SOON;
    loop {
        let (reported, missing) = (reported_loss(ctl), missing(dir));
        if reported == missing && reported > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lines reported lost: {reported}, missing from the files: {missing}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_full_disk_drops_lines_counted_and_reported_without_disturbing_anyone() {
    let ctl = Controller::new();
    let dir = ctl.home.join("logs/web");
    let Some(disk) = Mount::new(&["-t", "tmpfs", "-o", "size=64k", "tmpfs"], &dir) else {
        return;
    };
    // 10 000 lines of 13 bytes: twice what the 64 KiB disk holds.
    start_printer(
        &ctl,
        10_000,
        "",
        "{maxSize: 10Mi, maxFiles: 2, timestamps: false}",
    );
    let pid = pid(&ctl);
    wait_dropping(&ctl);
    assert_undisturbed(&ctl, pid);
    disk.remount(&["-o", "remount,size=4m"]);
    assert_loss_counted_exactly(&ctl, &dir);
    assert_undisturbed(&ctl, pid);
}

#[test]
fn a_read_only_log_dir_drops_lines_counted_and_reported_without_disturbing_anyone() {
    let ctl = Controller::new();
    let dir = ctl.home.join("logs/web");
    let go = ctl.scratch().join("go");
    // 4 KiB files: the next rotation (a rename in the read-only directory) fails.
    start_printer(
        &ctl,
        1000,
        &go.display().to_string(),
        "{maxSize: 4Ki, maxFiles: 1000, timestamps: false}",
    );
    let pid = pid(&ctl);
    ctl.wait_until(SOON, "the first burst is written", || {
        numbers_written(&dir).len() == 1000
    });
    let source = dir.display().to_string();
    let Some(read_only) = Mount::new(&["--bind", &source], &dir) else {
        return;
    };
    read_only.remount(&["-o", "remount,bind,ro"]);
    std::fs::write(&go, b"").expect("go");
    wait_dropping(&ctl);
    assert_undisturbed(&ctl, pid);
    drop(read_only);
    assert_loss_counted_exactly(&ctl, &dir);
    assert_undisturbed(&ctl, pid);
}

/// The instance record on a full disk: a failed write keeps the last good record (it was once
/// replaced by an empty file), says so in an event, and the next controller adopts from it.
#[test]
fn a_full_home_keeps_the_last_good_instance_record() {
    let ctl = Controller::new();
    let Some(disk) = Mount::new(
        &["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs"],
        &ctl.home,
    ) else {
        return;
    };
    // 40 000 lines of 13 bytes: twice what the 256 KiB disk holds.
    start_printer(&ctl, 20_000, "", "{maxSize: 10Mi, timestamps: false}");
    let first = pid(&ctl);
    wait_dropping(&ctl);
    let record = ctl.home.join("instances.json");
    let good = std::fs::read_to_string(&record).expect("the record");
    assert!(good.contains(&format!("\"pid\": {first}")), "{good}");
    let scale = ctl.corral(&["scale", "web", "2"]);
    assert!(scale.status.success(), "{}", scale.stderr);
    ctl.wait_until(SOON, "a RecordWriteFailed event", || {
        let events = ctl.corral(&["events", "-o", "json"]).stdout;
        events.contains("RecordWriteFailed") && events.contains("last good record is kept")
    });
    let kept = std::fs::read_to_string(&record).expect("the record");
    assert!(
        kept.contains(&format!("\"pid\": {first}")),
        "the last good record is kept, not emptied: {kept:?}"
    );
    assert!(
        !ctl.home.join("instances.json.tmp").exists(),
        "no temp file is left behind"
    );
    // Room again: the next write succeeds and names both instances.
    disk.remount(&["-o", "remount,size=8m"]);
    let pids = ctl.wait_instances("web", 2);
    let _ = ctl.corral(&["scale", "web", "3"]);
    ctl.wait_until(SOON, "the record written again", || {
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        pids.values()
            .all(|p| text.contains(&format!("\"pid\": {p}")))
    });
}
