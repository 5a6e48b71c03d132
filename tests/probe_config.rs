//! Probes that cannot run are refused before anything is spawned, with a message saying the fix.

use crate::probe_common;

use corral::manifest::{NotifyProbe, Probe};
use corral::probe::{NotifySocket, ProbeError, ProbeKind, ProbeTarget};
use probe_common::{bare, exec, http, target, tcp, Harness};

fn refused(kind: ProbeKind, probe: &Probe, target: ProbeTarget) -> ProbeError {
    match Harness::start(kind, probe, target) {
        Ok(_) => panic!("{probe:?} was accepted"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn a_probe_without_handler_is_refused() {
    let err = refused(ProbeKind::Readiness, &bare(), target());
    assert_eq!(
        err,
        ProbeError::NoHandler {
            kind: ProbeKind::Readiness
        }
    );
    assert_eq!(
        err.to_string(),
        "readiness probe has no handler: set one of tcp, http, exec or notify"
    );
}

#[tokio::test]
async fn a_probe_with_two_handlers_is_refused() {
    let probe = Probe {
        http: http(80, "/").http,
        ..tcp(80)
    };
    let err = refused(ProbeKind::Liveness, &probe, target());
    assert_eq!(
        err.to_string(),
        "liveness probe sets tcp and http: set exactly one handler"
    );
}

#[tokio::test]
async fn notify_liveness_is_refused() {
    let probe = Probe {
        notify: Some(NotifyProbe {}),
        ..bare()
    };
    let err = refused(ProbeKind::Liveness, &probe, target());
    assert_eq!(err, ProbeError::NotifyLiveness);
    let err = refused(ProbeKind::Readiness, &probe, target());
    assert_eq!(
        err,
        ProbeError::NoNotifySocket {
            kind: ProbeKind::Readiness
        }
    );
}

#[tokio::test]
async fn a_refused_notify_probe_still_removes_its_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = NotifySocket::bind(&dir.path().join("n.sock")).expect("bind");
    let path = socket.path().to_path_buf();
    let target = ProbeTarget {
        notify: Some(socket),
        ..target()
    };
    let probe = Probe {
        notify: Some(NotifyProbe {}),
        ..bare()
    };
    refused(ProbeKind::Liveness, &probe, target);
    assert!(!path.exists());
}

#[tokio::test]
async fn tcp_and_http_need_a_port() {
    let mut probe = tcp(1);
    if let Some(tcp) = probe.tcp.as_mut() {
        tcp.port = None;
    }
    let err = refused(ProbeKind::Readiness, &probe, target());
    assert_eq!(
        err.to_string(),
        "readiness tcp probe has no port and the app has no PORT or listen port: set tcp.port"
    );
    let mut probe = http(1, "/");
    if let Some(http) = probe.http.as_mut() {
        http.port = None;
    }
    let err = refused(ProbeKind::Liveness, &probe, target());
    assert_eq!(
        err,
        ProbeError::NoPort {
            kind: ProbeKind::Liveness,
            handler: "http"
        }
    );
}

#[tokio::test]
async fn exec_needs_a_command() {
    let err = refused(ProbeKind::Readiness, &exec(&[]), target());
    assert_eq!(
        err.to_string(),
        "readiness exec probe has an empty command: set exec.command to an argv"
    );
}
