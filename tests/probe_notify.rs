//! notify readiness: real datagrams from python3 and systemd-notify on a bound NotifySocket.

use crate::probe_common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use corral::manifest::{NotifyProbe, Probe};
use corral::probe::{NotifySocket, ProbeKind, ProbeTarget};
use probe_common::{bare, target, Harness};

fn notify() -> Probe {
    Probe {
        notify: Some(NotifyProbe {}),
        ..bare()
    }
}

/// Sends each of `datagrams` to `path` from a python3 process, in order.
async fn send_python(path: &Path, datagrams: &[&str]) {
    let script = "import socket, sys\n\
                  s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
                  for d in sys.argv[2:]: s.sendto(d.encode(), sys.argv[1])\n";
    let status = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .args(datagrams)
        .status()
        .await
        .expect("run python3");
    assert!(status.success(), "python3 failed: {status}");
}

/// A socket in a fresh 0700 directory, and the target holding it.
fn bound(dir: &Path) -> (std::path::PathBuf, ProbeTarget) {
    let socket = NotifySocket::bind(&dir.join("notify.sock")).expect("bind");
    let path = socket.path().to_path_buf();
    (
        path,
        ProbeTarget {
            notify: Some(socket),
            ..target()
        },
    )
}

#[tokio::test]
async fn ready_passes_and_status_alone_does_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, target) = bound(dir.path());
    let meta = std::fs::symlink_metadata(&path).expect("socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let mut h = Harness::start(ProbeKind::Readiness, &notify(), target).expect("valid");

    send_python(&path, &["STATUS=warming"]).await;
    assert_eq!(
        h.next_within(Duration::from_millis(300)).await,
        None,
        "STATUS alone made it ready"
    );

    send_python(&path, &["MAINPID=1\nSTATUS=listening on 8080\nREADY=1\n"]).await;
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    assert_eq!(
        report.message,
        "notify: READY=1 (status: listening on 8080)"
    );

    h.finish().await;
    assert!(!path.exists(), "socket file left after stop");
}

#[tokio::test]
async fn systemd_notify_ready_passes() {
    if !Path::new("/usr/bin/systemd-notify").exists() && !Path::new("/bin/systemd-notify").exists()
    {
        eprintln!("systemd-notify not installed; skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, target) = bound(dir.path());
    let mut h = Harness::start(ProbeKind::Readiness, &notify(), target).expect("valid");
    let status = tokio::process::Command::new("systemd-notify")
        .args(["--ready", "--status=up"])
        .env("NOTIFY_SOCKET", &path)
        .status()
        .await
        .expect("run systemd-notify");
    assert!(status.success(), "systemd-notify failed: {status}");
    let report = h.next().await;
    assert!(report.passing, "{report:?}");
    assert_eq!(report.message, "notify: READY=1 (status: up)");
    h.finish().await;
}

#[tokio::test]
async fn ready_before_the_initial_delay_is_reported_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (path, target) = bound(dir.path());
    let probe = Probe {
        initial_delay_seconds: 1,
        ..notify()
    };
    let mut h = Harness::start(ProbeKind::Readiness, &probe, target).expect("valid");
    send_python(&path, &["READY=1"]).await;
    let report = h.next().await;
    assert!(report.passing);
    assert!(
        h.started.elapsed() >= Duration::from_secs(1),
        "reported before initialDelaySeconds"
    );
    h.finish().await;
}

#[test]
fn bind_replaces_a_stale_socket_but_not_another_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notify.sock");
    let first = NotifySocket::bind(&path).expect("bind");
    std::mem::forget(first); // a crashed controller's socket: file left behind
    assert!(path.exists());
    let second = NotifySocket::bind(&path).expect("rebind over a stale socket");
    drop(second);
    assert!(!path.exists(), "dropping the socket removes its file");

    let plain = dir.path().join("plain");
    std::fs::write(&plain, "data").expect("write");
    let err = NotifySocket::bind(&plain).expect_err("a regular file is not replaced");
    assert!(err.to_string().contains("is not a socket"), "{err}");
    assert!(plain.exists());
}
