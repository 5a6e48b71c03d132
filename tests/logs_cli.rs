//! `corral logs` against hand-written log files: tail, filters, interleaving, errors, `-f`.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Generous bound for anything that should happen "soon".
const DEADLINE: Duration = Duration::from_secs(10);

/// A temporary `$CORRAL_HOME`.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        Home(tempfile::tempdir().expect("tempdir"))
    }

    /// Writes `logs/APP/NAME` with the given lines.
    fn write(&self, app: &str, name: &str, lines: &[String]) {
        let dir = self.0.path().join("logs").join(app);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.join(name), body).expect("write log");
    }

    /// Appends raw text to `logs/APP/NAME`.
    fn append(&self, app: &str, name: &str, text: &str) {
        let path = self.0.path().join("logs").join(app).join(name);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open log");
        file.write_all(text.as_bytes()).expect("append");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_corral"));
        cmd.arg("logs").args(args).env("CORRAL_HOME", self.0.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run corral")
    }
}

/// A timestamp `secs` seconds after a fixed instant, in the capture format.
fn at(secs: u64) -> String {
    let base = humantime::parse_rfc3339("2026-11-25T12:00:00Z").expect("base");
    humantime::format_rfc3339_millis(base + Duration::from_secs(secs)).to_string()
}

/// Successful stdout, as lines.
fn stdout_lines(out: &Output) -> Vec<String> {
    assert!(
        out.status.success(),
        "corral failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// web-0 stdout at odd seconds, web-1 stderr at even seconds, 10 lines each.
fn two_instances() -> Home {
    let home = Home::new();
    let out: Vec<String> = (0..10)
        .map(|i| format!("{} o{}", at(2 * i + 1), 2 * i + 1))
        .collect();
    let err: Vec<String> = (0..10)
        .map(|i| format!("{} e{}", at(2 * i + 2), 2 * i + 2))
        .collect();
    home.write("web", "0.out.log", &out);
    home.write("web", "1.err.log", &err);
    home
}

/// The expected interleaved lines for `two_instances`, seconds `from..=20`.
fn expected(from: u64) -> Vec<String> {
    (from..=20)
        .map(|s| match s % 2 {
            1 => format!("web-0 | o{s}"),
            _ => format!("web-1 ! e{s}"),
        })
        .collect()
}

#[test]
fn default_tail_is_15_lines_interleaved_by_time() {
    let home = two_instances();
    assert_eq!(stdout_lines(&home.run(&["web"])), expected(6));
}

#[test]
fn tail_counts_and_all() {
    let home = two_instances();
    assert_eq!(
        stdout_lines(&home.run(&["web", "--tail", "3"])),
        expected(18)
    );
    assert_eq!(
        stdout_lines(&home.run(&["web", "--tail", "all"])),
        expected(1)
    );
    assert_eq!(
        stdout_lines(&home.run(&["web", "--tail", "-1"])),
        expected(1)
    );
    assert!(stdout_lines(&home.run(&["web", "--tail", "0"])).is_empty());
    let bad = home.run(&["web", "--tail", "lots"]);
    assert!(!bad.status.success());
}

#[test]
fn equal_times_keep_instance_order_and_plain_lines_keep_file_order() {
    let home = Home::new();
    home.write(
        "api",
        "0.out.log",
        &[format!("{} a", at(1)), "plain a2".into()],
    );
    home.write("api", "0.err.log", &[format!("{} b", at(1))]);
    home.write(
        "api",
        "1.out.log",
        &[format!("{} c", at(1)), format!("{} d", at(0))],
    );
    assert_eq!(
        stdout_lines(&home.run(&["api", "--tail", "all"])),
        [
            "api-0 | a",
            "api-0 | plain a2",
            "api-0 ! b",
            "api-1 | c",
            "api-1 | d"
        ]
    );
}

#[test]
fn instance_and_stream_filters() {
    let home = two_instances();
    home.write("web", "1.out.log", &[format!("{} one-out", at(100))]);
    assert_eq!(
        stdout_lines(&home.run(&["web", "--instance", "1", "--tail", "2"])),
        ["web-1 ! e20", "web-1 | one-out"]
    );
    assert_eq!(
        stdout_lines(&home.run(&["web", "--out", "--tail", "2"])),
        ["web-0 | o19", "web-1 | one-out"]
    );
    assert_eq!(
        stdout_lines(&home.run(&["web", "--err", "--tail", "1"])),
        ["web-1 ! e20"]
    );
    assert!(stdout_lines(&home.run(&["web", "--instance", "7"])).is_empty());
}

#[test]
fn since_keeps_recent_lines_only() {
    let home = Home::new();
    let now = SystemTime::now();
    let stamp =
        |ago: u64| humantime::format_rfc3339_millis(now - Duration::from_secs(ago)).to_string();
    home.write(
        "web",
        "0.out.log",
        &[
            format!("{} an hour ago", stamp(3600)),
            format!("{} a minute ago", stamp(60)),
            "continuation".into(),
        ],
    );
    assert_eq!(
        stdout_lines(&home.run(&["web", "--since", "10m"])),
        ["web-0 | a minute ago", "web-0 | continuation"]
    );
    assert_eq!(stdout_lines(&home.run(&["web", "--since", "2h"])).len(), 3);
}

#[test]
fn timestamps_flag_shows_the_stored_time() {
    let home = two_instances();
    assert_eq!(
        stdout_lines(&home.run(&["web", "--tail", "1", "--timestamps"])),
        [format!("web-1 ! {} e20", at(20))]
    );
}

#[test]
fn unknown_app_is_a_clear_error() {
    let home = two_instances();
    for name in ["nope", "../web"] {
        let out = home.run(&[name]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("no logs for app \"{name}\"")),
            "{err}"
        );
        assert!(err.contains("corral get"), "{err}");
    }
}

#[test]
fn closed_stdout_ends_quietly() {
    let home = Home::new();
    let many: Vec<String> = (0..50_000).map(|i| format!("{} line {i}", at(i))).collect();
    home.write("web", "0.out.log", &many);
    let mut child = home
        .command(&["web", "--tail", "all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("read");
    assert_eq!(first, "web-0 | line 0\n");
    drop(stdout);
    let status = wait_with_deadline(&mut child);
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read stderr");
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(err, "");
}

/// Waits for `child` to exit, killing it and failing after [`DEADLINE`].
fn wait_with_deadline(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("corral did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running `corral logs -f` whose stdout lines arrive on a channel; killed on drop.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(home: &Home, args: &[&str]) -> Self {
        let mut child = home
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn corral logs -f");
        let lines = common::stdout_lines(child.stdout.take().expect("stdout"));
        Follower { child, lines }
    }

    /// The next line, failing after [`DEADLINE`].
    fn next(&self) -> String {
        self.lines
            .recv_timeout(DEADLINE)
            .expect("a line from corral logs -f")
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn follow_prints_the_tail_then_appended_lines_and_new_files() {
    let home = two_instances();
    let f = Follower::start(&home, &["web", "-f", "--tail", "2"]);
    assert_eq!([f.next(), f.next()], ["web-0 | o19", "web-1 ! e20"]);
    home.append("web", "0.out.log", &format!("{} appended\n", at(30)));
    assert_eq!(f.next(), "web-0 | appended");
    // A partial line waits for its newline.
    home.append("web", "0.out.log", &format!("{} part", at(31)));
    home.append("web", "0.out.log", "ial\n");
    assert_eq!(f.next(), "web-0 | partial");
    // A new instance's file is picked up.
    home.append("web", "2.out.log", &format!("{} new instance\n", at(32)));
    assert_eq!(f.next(), "web-2 | new instance");
    // A truncated file is read again from the start.
    home.write(
        "web",
        "1.err.log",
        &[format!("{} after truncation", at(33))],
    );
    assert_eq!(f.next(), "web-1 ! after truncation");
}

#[test]
fn follow_exits_0_on_sigint() {
    let home = two_instances();
    let mut f = Follower::start(&home, &["web", "-f", "--tail", "1"]);
    assert_eq!(f.next(), "web-1 ! e20");
    let pid = Pid::from_raw(i32::try_from(f.child.id()).expect("pid"));
    kill(pid, Signal::SIGINT).expect("SIGINT");
    let status = wait_with_deadline(&mut f.child);
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn logs_dir_without_files_prints_nothing() {
    let home = Home::new();
    std::fs::create_dir_all(home.0.path().join("logs/idle")).expect("mkdir");
    assert!(stdout_lines(&home.run(&["idle"])).is_empty());
}
