//! Log rotation with a real controller and real apps: at most `maxFiles` rotated files of at
//! most `maxSize`, `corral logs --tail` spanning them, `-f` following through rotations.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{flow, manifest, Controller, BIN, SOON};

/// Prints `argv[1]` numbered lines `line NNNNN` once `argv[2]` exists (right away if empty),
/// pausing a little every 50 lines so that rotations happen while someone follows, then
/// sleeps.
const PRINTER: &str = "import os, sys, time
n, go = int(sys.argv[1]), sys.argv[2]
print('ready', flush=True)
while go and not os.path.exists(go):
    time.sleep(0.01)
for i in range(n):
    print(f'line {i:05}')
    if i % 50 == 49:
        sys.stdout.flush()
        time.sleep(0.002)
sys.stdout.flush()
time.sleep(100000)";

/// Starts app `web` printing `n` lines (after `go` exists, if given) with `logs`.
fn start_printer(ctl: &Controller, n: usize, go: Option<&Path>, logs: &str) {
    let go = go.map(|p| p.display().to_string()).unwrap_or_default();
    let cmd = flow(&["python3", "-c", PRINTER, &n.to_string(), &go, &ctl.token]);
    ctl.write_manifest(
        "web.yaml",
        &manifest(
            "web",
            &[&format!("command: {cmd}"), &format!("logs: {logs}")],
        ),
    );
    ctl.start();
}

/// Starts the printer waiting for a go file (returned) and waits for its `ready` line.
fn start_ready(ctl: &Controller, logs: &str) -> PathBuf {
    let go = ctl.scratch().join("go");
    start_printer(ctl, 3000, Some(&go), logs);
    ctl.wait_until(SOON, "the app printed ready", || {
        try_logs(ctl, &["--tail", "1"]).is_some_and(|l| l == ["ready"])
    });
    go
}

/// Instance 0's stdout log files in `dir` (current and rotated), sorted; none over `max_size`.
fn stdout_files(dir: &Path, max_size: u64) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("log dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("0.out.log"))
        .collect();
    names.sort();
    for name in &names {
        let len = std::fs::metadata(dir.join(name)).expect("stat").len();
        assert!(len <= max_size, "{name} has {len} bytes, more than maxSize");
    }
    names
}

/// The messages of `corral logs web ARGS` (prefix and timestamp stripped).
fn logs(ctl: &Controller, args: &[&str]) -> Vec<String> {
    try_logs(ctl, args).expect("corral logs succeeds")
}

/// [`logs`], or `None` when `corral logs` fails (no log file yet).
fn try_logs(ctl: &Controller, args: &[&str]) -> Option<Vec<String>> {
    let mut all = vec!["logs", "web"];
    all.extend_from_slice(args);
    let run = ctl.corral(&all);
    run.status.success().then(|| {
        run.stdout
            .lines()
            .map(|l| l.split_once(" | ").map_or(l, |(_, m)| m).to_string())
            .collect()
    })
}

/// `line NNNNN` for each number in the range.
fn numbered(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("line {i:05}")).collect()
}

#[test]
fn rotation_keeps_max_files_of_max_size_and_tail_spans_them() {
    let ctl = Controller::new();
    start_printer(&ctl, 3000, None, "{maxSize: 8Ki, maxFiles: 3}");
    ctl.wait_until(SOON, "the last line is written", || {
        try_logs(&ctl, &["--tail", "1"]).is_some_and(|l| l == ["line 02999"])
    });
    let dir = ctl.home.join("logs/web");
    let names = stdout_files(&dir, 8192);
    assert_eq!(
        names,
        ["0.out.log", "0.out.log.1", "0.out.log.2", "0.out.log.3"]
    );
    for name in &names {
        let len = std::fs::metadata(dir.join(name)).expect("stat").len();
        if name != "0.out.log" {
            assert!(len > 8000, "{name} has only {len} bytes: rotated too early");
        }
    }
    // 400 lines of ~36 bytes span at least two files; every line once, in order.
    assert_eq!(logs(&ctl, &["--tail", "400"]), numbered(2600..3000));
    let all = logs(&ctl, &["--tail", "all"]);
    let first: usize = all[0]["line ".len()..].parse().expect("a numbered line");
    assert!(first > 2000, "older lines were deleted, kept from {first}");
    assert_eq!(all, numbered(first..3000));
}

/// Kills a `corral logs -f` when the test ends, even when it fails.
struct Follower(Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The lines `corral logs -f` wrote so far, prefixes stripped.
fn followed(out: &PathBuf) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split_once(" | ").map_or(l, |(_, m)| m).to_string())
        .collect()
}

#[test]
fn follow_reads_through_rotations_without_losing_or_repeating_a_line() {
    let ctl = Controller::new();
    // 2 KiB files: about 186 lines each, 16 rotations while `-f` polls.
    let go = start_ready(&ctl, "{maxSize: 2Ki, maxFiles: 1000, timestamps: false}");
    let out = ctl.scratch().join("followed");
    let child = Command::new(BIN)
        .args(["logs", "web", "-f", "--tail", "1"])
        .env("CORRAL_HOME", &ctl.home)
        .env("CORRAL_TEST_TOKEN", &ctl.token)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).expect("output file"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("corral logs -f");
    let _follower = Follower(child);
    ctl.wait_until(SOON, "-f printed the tail", || followed(&out) == ["ready"]);
    std::fs::write(&go, b"").expect("go");
    ctl.wait_until(SOON, "-f printed the last line", || {
        followed(&out).last().map(String::as_str) == Some("line 02999")
    });
    let rotated = std::fs::read_dir(ctl.home.join("logs/web"))
        .expect("log dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("0.out.log."))
        })
        .count();
    assert!(rotated > 10, "only {rotated} rotations");
    let mut want = vec!["ready".to_string()];
    want.extend(numbered(0..3000));
    assert_eq!(followed(&out), want);
}

#[test]
fn an_adopted_instance_keeps_rotating_in_its_logs_dir() {
    let ctl = Controller::new();
    let go = start_ready(
        &ctl,
        "{dir: ./weblogs, maxSize: 2Ki, maxFiles: 2, timestamps: false}",
    );
    let pid = ctl.wait_instances("web", 1)[&0];
    ctl.crash();
    ctl.start();
    ctl.wait_until(SOON, "the instance is adopted", || {
        ctl.app("web")
            .is_some_and(|a| a.instances.iter().any(|i| i.pid == Some(pid)))
    });
    std::fs::write(&go, b"").expect("go");
    ctl.wait_until(SOON, "the last line is written", || {
        try_logs(&ctl, &["--tail", "1"]).is_some_and(|l| l == ["line 02999"])
    });
    let names = stdout_files(&ctl.manifests.join("weblogs"), 2048);
    assert_eq!(names, ["0.out.log", "0.out.log.1", "0.out.log.2"]);
    assert_eq!(logs(&ctl, &["--tail", "300"]), numbered(2700..3000));
    assert_eq!(ctl.wait_instances("web", 1)[&0], pid, "the same process");
}
