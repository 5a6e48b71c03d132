//! Log capture with real processes: FIFO transport, timestamps, no SIGPIPE, adoption after a
//! controller crash, dropped-line counting, bounded lines.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use corral::home::Home;
use corral::logs::{
    fifo_path, log_file, spawn_capture, Capture, CaptureOptions, LogPipe, Stream, MAX_LINE,
};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

/// Generous bound for anything that should happen "soon".
const DEADLINE: Duration = Duration::from_secs(10);

/// Polls `cond` every 10 ms until it holds, failing the test after [`DEADLINE`].
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The lines of a file, or none if it does not exist yet.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Strips and checks the timestamp prefix of a captured line: RFC 3339 UTC millis, recent.
fn message(line: &str) -> &str {
    let (stamp, msg) = line.split_once(' ').expect("a timestamp then a space");
    assert_eq!(stamp.len(), 24, "millisecond precision: {stamp}");
    assert!(stamp.ends_with('Z'), "UTC: {stamp}");
    let time = humantime::parse_rfc3339(stamp).expect("RFC 3339 timestamp");
    let age = SystemTime::now()
        .duration_since(time)
        .expect("not in the future");
    assert!(age < Duration::from_secs(60), "recent: {stamp}");
    msg
}

/// One instance's two pipes and captures.
struct Instance {
    pipes: [LogPipe; 2],
    files: [PathBuf; 2],
    captures: Vec<Capture>,
}

/// Creates both FIFOs of `web-0`, opens the child ends, starts both captures, spawns `script`.
async fn start(home: &Home, script: &str, opts: CaptureOptions) -> (Instance, Child) {
    let mut pipes = Vec::new();
    let mut files = Vec::new();
    let mut ends = Vec::new();
    let mut captures = Vec::new();
    for stream in [Stream::Out, Stream::Err] {
        let pipe = LogPipe::create(&fifo_path(home, "web-0-r1", stream)).expect("mkfifo");
        let file = log_file(home, "web", 0, stream);
        ends.push(pipe.child_end().expect("child end"));
        let capture = spawn_capture(&pipe, file.clone(), opts, CancellationToken::new(), None);
        captures.push(capture.expect("capture"));
        pipes.push(pipe);
        files.push(file);
    }
    let err_end = ends.pop().expect("err end");
    let out_end = ends.pop().expect("out end");
    let child = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(out_end)
        .stderr(err_end)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    let pipes: [LogPipe; 2] = pipes.try_into().expect("two pipes");
    let files: [PathBuf; 2] = files.try_into().expect("two files");
    (
        Instance {
            pipes,
            files,
            captures,
        },
        child,
    )
}

/// Waits for the child to exit successfully and for every capture to reach EOF.
async fn finish(instance: Instance, mut child: Child) -> [PathBuf; 2] {
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("child exits")
        .expect("wait");
    assert!(status.success(), "child failed: {status:?}");
    for capture in instance.captures {
        assert_eq!(capture.dropped_lines(), 0);
        tokio::time::timeout(DEADLINE, capture.finished())
            .await
            .expect("capture sees EOF once the child exited");
    }
    for pipe in &instance.pipes {
        pipe.remove();
    }
    instance.files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_both_streams_with_timestamps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let (instance, child) = start(
        &home,
        "echo out; echo err >&2; printf 'two\\r\\nbad \\377 byte\\npartial'",
        CaptureOptions {
            timestamps: true,
            ..Default::default()
        },
    )
    .await;
    let [out, err] = finish(instance, child).await;
    let out_lines = lines(&out);
    let got: Vec<&str> = out_lines.iter().map(|l| message(l)).collect();
    assert_eq!(got, ["out", "two", "bad \u{fffd} byte", "partial"]);
    let err_lines = lines(&err);
    let got: Vec<&str> = err_lines.iter().map(|l| message(l)).collect();
    assert_eq!(got, ["err"]);
    assert_eq!(out, dir.path().join("logs/web/0.out.log"));
    let mode = std::fs::metadata(&out).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_timestamps_lines_are_bare_and_long_lines_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let script = "echo hello; head -c 200000 /dev/zero | tr '\\0' x; echo; echo bye";
    let (instance, child) = start(
        &home,
        script,
        CaptureOptions {
            timestamps: false,
            ..Default::default()
        },
    )
    .await;
    let [out, _] = finish(instance, child).await;
    let got = lines(&out);
    assert_eq!(got.first().map(String::as_str), Some("hello"));
    assert_eq!(got.last().map(String::as_str), Some("bye"));
    let long = &got[1..got.len() - 1];
    assert_eq!(long.len(), 200_000_usize.div_ceil(MAX_LINE));
    assert!(long
        .iter()
        .all(|l| l.len() <= MAX_LINE && l.bytes().all(|b| b == b'x')));
    assert_eq!(long.iter().map(String::len).sum::<usize>(), 200_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_without_a_reader_gets_no_sigpipe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let pipe = LogPipe::create(&fifo_path(&home, "web-0-r1", Stream::Out)).expect("mkfifo");
    let end = pipe.child_end().expect("child end");
    let mut child = Command::new("sh")
        .args(["-c", "for i in 1 2 3 4 5; do echo line $i; done"])
        .stdout(end)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("child does not block")
        .expect("wait");
    assert_eq!(status.signal(), None, "killed by a signal: {status:?}");
    assert!(status.success(), "{status:?}");
    pipe.remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_reader_adopts_the_fifo_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let path = fifo_path(&home, "web-0-r1", Stream::Out);
    let file = log_file(&home, "web", 0, Stream::Out);
    let (go1, go2, wrote) = (
        dir.path().join("go1"),
        dir.path().join("go2"),
        dir.path().join("wrote"),
    );
    let script = format!(
        "echo before; until [ -e {go1} ]; do sleep 0.01; done; echo during; touch {wrote}; \
         until [ -e {go2} ]; do sleep 0.01; done; echo after",
        go1 = go1.display(),
        go2 = go2.display(),
        wrote = wrote.display(),
    );
    let pipe = LogPipe::create(&path).expect("mkfifo");
    let end = pipe.child_end().expect("child end");
    let stop = CancellationToken::new();
    let first = spawn_capture(
        &pipe,
        file.clone(),
        CaptureOptions::default(),
        stop.clone(),
        None,
    )
    .expect("first capture");
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(end)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    wait_until("the first line", || lines(&file).len() == 1).await;

    // The first controller goes away; the instance writes while nobody reads.
    stop.cancel();
    tokio::time::timeout(DEADLINE, first.finished())
        .await
        .expect("stopped capture ends while the child still runs");
    std::fs::write(&go1, b"").expect("go1");
    wait_until("the child to write with no reader", || wrote.exists()).await;

    // The next controller finds the FIFO by path.
    let adopted = LogPipe::open_existing(&path);
    let second = spawn_capture(
        &adopted,
        file.clone(),
        CaptureOptions::default(),
        CancellationToken::new(),
        None,
    )
    .expect("second capture");
    std::fs::write(&go2, b"").expect("go2");
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("child exits")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    tokio::time::timeout(DEADLINE, second.finished())
        .await
        .expect("EOF after the child exited");
    let got: Vec<String> = lines(&file)
        .iter()
        .map(|l| message(l).to_string())
        .collect();
    assert_eq!(got, ["before", "during", "after"]);
    adopted.remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_drains_what_is_buffered_without_waiting_for_eof() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let wrote = dir.path().join("wrote");
    let script = format!("echo a; echo b; touch {}; exec sleep 30", wrote.display());
    let pipe = LogPipe::create(&fifo_path(&home, "w", Stream::Out)).expect("mkfifo");
    let file = log_file(&home, "web", 0, Stream::Out);
    let end = pipe.child_end().expect("child end");
    let stop = CancellationToken::new();
    let capture = spawn_capture(
        &pipe,
        file.clone(),
        CaptureOptions {
            timestamps: false,
            ..Default::default()
        },
        stop.clone(),
        None,
    )
    .expect("capture");
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(end)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    wait_until("the child to write", || wrote.exists()).await;
    stop.cancel();
    tokio::time::timeout(DEADLINE, capture.finished())
        .await
        .expect("capture ends on stop although the child holds the pipe");
    assert_eq!(lines(&file), ["a", "b"]);
    child.kill().await.expect("kill child");
    pipe.remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_errors_count_dropped_lines_and_later_lines_retry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let go = dir.path().join("go");
    let script = format!(
        "echo lost1; echo lost2; until [ -e {go} ]; do sleep 0.01; done; echo kept",
        go = go.display()
    );
    // A plain file where the app's log directory should be: every write fails (ENOTDIR).
    let blocker = home.app_logs("web");
    std::fs::create_dir_all(blocker.parent().expect("parent")).expect("mkdir");
    std::fs::write(&blocker, b"").expect("blocker");
    let pipe = LogPipe::create(&fifo_path(&home, "w", Stream::Out)).expect("mkfifo");
    let file = log_file(&home, "web", 0, Stream::Out);
    let end = pipe.child_end().expect("child end");
    let capture = spawn_capture(
        &pipe,
        file.clone(),
        CaptureOptions {
            timestamps: false,
            ..Default::default()
        },
        CancellationToken::new(),
        None,
    )
    .expect("capture");
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdout(end)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    wait_until("two dropped lines", || capture.dropped_lines() == 2).await;
    std::fs::remove_file(&blocker).expect("unblock");
    std::fs::write(&go, b"").expect("go");
    assert!(tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("exit")
        .expect("wait")
        .success());
    wait_until("the later line", || lines(&file) == ["kept"]).await;
    assert_eq!(capture.dropped_lines(), 2);
    tokio::time::timeout(DEADLINE, capture.finished())
        .await
        .expect("EOF");
    pipe.remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_drops_lines_visibly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let pipe = LogPipe::create(&fifo_path(&home, "w", Stream::Out)).expect("mkfifo");
    let end = pipe.child_end().expect("child end");
    // /dev/full fails every write with ENOSPC.
    let capture = spawn_capture(
        &pipe,
        PathBuf::from("/dev/full"),
        CaptureOptions::default(),
        CancellationToken::new(),
        None,
    )
    .expect("capture");
    let mut child = Command::new("sh")
        .args(["-c", "echo 1; echo 2; echo 3"])
        .stdout(end)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sh");
    assert!(tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("exit")
        .expect("wait")
        .success());
    wait_until("three dropped lines", || capture.dropped_lines() == 3).await;
    tokio::time::timeout(DEADLINE, capture.finished())
        .await
        .expect("EOF");
    pipe.remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_and_new_instance_at_one_index_append_whole_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let file = log_file(&home, "web", 0, Stream::Out);
    let mut running = Vec::new();
    for rev in ["old", "new"] {
        let pipe = LogPipe::create(&fifo_path(&home, &format!("web-0-{rev}"), Stream::Out))
            .expect("mkfifo");
        let end = pipe.child_end().expect("child end");
        let opts = CaptureOptions {
            timestamps: false,
            ..Default::default()
        };
        let capture = spawn_capture(&pipe, file.clone(), opts, CancellationToken::new(), None)
            .expect("capture");
        let script =
            format!("i=0; while [ $i -lt 2000 ]; do echo {rev}-$i-{rev}; i=$((i+1)); done");
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdout(end)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sh");
        running.push((pipe, capture, child));
    }
    for (pipe, capture, mut child) in running {
        let status = tokio::time::timeout(DEADLINE, child.wait())
            .await
            .expect("exit")
            .expect("wait");
        assert!(status.success());
        tokio::time::timeout(DEADLINE, capture.finished())
            .await
            .expect("EOF");
        pipe.remove();
    }
    let got = lines(&file);
    assert_eq!(got.len(), 4000);
    for line in &got {
        let (rev, rest) = line.split_once('-').expect("rev-i-rev");
        assert!(rest.ends_with(&format!("-{rev}")), "torn line: {line}");
    }
}
