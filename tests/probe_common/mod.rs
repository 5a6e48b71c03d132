//! Shared by the probe tests: probe builders and a harness that runs one prober.
#![allow(dead_code)]

use std::time::Duration;

use corral::manifest::{ExecProbe, HttpProbe, Probe, TcpProbe};
use corral::probe::{spawn_prober, ProbeError, ProbeKind, ProbeReport, ProbeTarget};
use tokio::sync::mpsc;
use tokio::time::{self, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The instance id every harness uses.
pub const ID: u64 = 7;

/// A probe with no handler, period 1 s, timeout 1 s, both thresholds 1.
pub fn bare() -> Probe {
    Probe {
        http: None,
        tcp: None,
        exec: None,
        notify: None,
        initial_delay_seconds: 0,
        period_seconds: Some(1),
        timeout_seconds: Some(1),
        success_threshold: Some(1),
        failure_threshold: Some(1),
    }
}

/// A tcp probe of 127.0.0.1:`port`.
pub fn tcp(port: u16) -> Probe {
    let tcp = TcpProbe {
        port: Some(port),
        host: "127.0.0.1".into(),
    };
    Probe {
        tcp: Some(tcp),
        ..bare()
    }
}

/// An http probe of http://127.0.0.1:`port``path`.
pub fn http(port: u16, path: &str) -> Probe {
    let http = HttpProbe {
        port: Some(port),
        path: path.into(),
        host: "127.0.0.1".into(),
    };
    Probe {
        http: Some(http),
        ..bare()
    }
}

/// An exec probe of `argv`.
pub fn exec(argv: &[&str]) -> Probe {
    let command = argv.iter().map(|s| s.to_string()).collect();
    Probe {
        exec: Some(ExecProbe { command }),
        ..bare()
    }
}

/// A target with the test's own PATH, so `sh`, `true` and friends resolve.
pub fn target() -> ProbeTarget {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    ProbeTarget {
        env: vec![("PATH".into(), path)],
        ..ProbeTarget::default()
    }
}

/// One running prober and its reports.
pub struct Harness {
    /// Reports from the prober.
    pub rx: mpsc::Receiver<ProbeReport>,
    /// Ends the prober.
    pub stop: CancellationToken,
    /// Holds the prober's task.
    pub tasks: TaskTracker,
    /// When it was spawned.
    pub started: Instant,
}

impl Harness {
    /// Spawns a prober for `probe` on `target`.
    pub fn start(
        kind: ProbeKind,
        probe: &Probe,
        target: ProbeTarget,
    ) -> Result<Harness, ProbeError> {
        let (tx, rx) = mpsc::channel(4);
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        let started = Instant::now();
        spawn_prober(ID, kind, probe, target, tx, stop.clone(), &tasks)?;
        Ok(Harness {
            rx,
            stop,
            tasks,
            started,
        })
    }

    /// The next threshold crossing within `within`, or `None` (failed checks that cross
    /// nothing are skipped; [`Harness::next_note_within`] sees every report).
    pub async fn next_within(&mut self, within: Duration) -> Option<ProbeReport> {
        let deadline = time::Instant::now() + within;
        loop {
            let report = time::timeout_at(deadline, self.rx.recv())
                .await
                .ok()
                .flatten()?;
            if report.crossed {
                return Some(report);
            }
        }
    }

    /// The next report of any kind within `within`, or `None`.
    pub async fn next_note_within(&mut self, within: Duration) -> Option<ProbeReport> {
        time::timeout(within, self.rx.recv()).await.ok().flatten()
    }

    /// The next report, failing the test after 10 s.
    pub async fn next(&mut self) -> ProbeReport {
        let report = self.next_within(Duration::from_secs(10)).await;
        let report = report.expect("a probe report within 10 s");
        assert_eq!(report.id, ID);
        report
    }

    /// Cancels the prober and waits (at most 5 s) for its task to end.
    pub async fn finish(self) {
        self.stop.cancel();
        self.tasks.close();
        let ended = time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
        assert!(ended.is_ok(), "prober did not end within 5 s of stop");
    }
}

/// Polls `cond` every 20 ms until it holds, failing the test after `within`.
pub async fn wait_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        time::sleep(Duration::from_millis(20)).await;
    }
}
