//! Readiness and liveness probes (docs/manifest.md, "Probes"): one task per probe and instance,
//! checking with `tcp`, `http`, `exec` or `notify` on the Kubernetes schedule, and reporting to the
//! controller loop when the result crosses a threshold (and, now and then, a failed check that
//! crossed nothing, so that its reason can be shown).
//!
//! The supervisor calls [`spawn_prober`] once per instance and probe kind and cancels `stop`
//! when the instance goes away; the controller loop reads the [`ProbeReport`]s. For a
//! `notify` probe it first binds a [`NotifySocket`], puts [`NotifySocket::path`] into the
//! child's `NOTIFY_SOCKET`, and hands the socket over in [`ProbeTarget::notify`].
//!
//! A prober belongs to one process: cancel its `stop` when the instance exits or is restarted
//! (a liveness prober left running would report `passing=true` again after one pass).

mod exec;
mod http;
mod notify;
mod runner;
mod tcp;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::manifest::Probe;

pub use notify::NotifySocket;

/// Which check a probe is: it decides the starting state and what a failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeKind {
    /// Starts not ready; gates traffic and rollouts. Can flip back and forth.
    Readiness,
    /// Starts passing; failing it restarts the instance.
    Liveness,
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeKind::Readiness => "readiness",
            ProbeKind::Liveness => "liveness",
        })
    }
}

/// Where and how an instance is probed.
#[derive(Debug, Default)]
pub struct ProbeTarget {
    /// Port for `tcp`/`http` probes without their own `port`: the instance's `PORT` (tcp and
    /// http modes) or the app's listen port (inherit mode).
    pub default_port: Option<u16>,
    /// Working directory of `exec` probes (the instance's cwd).
    pub cwd: PathBuf,
    /// The whole environment of `exec` probes (the instance's env, `PATH` included); nothing
    /// else is inherited from the controller.
    pub env: Vec<(String, String)>,
    /// The user and limits `exec` probes run with: the instance's own (Kubernetes runs them
    /// inside the container). `None`: the controller's.
    pub confine: Option<std::sync::Arc<crate::confine::Confinement>>,
    /// The socket a `notify` probe listens on; required for `notify`, ignored otherwise.
    pub notify: Option<NotifySocket>,
}

/// A threshold crossing: sent when the state flips, and once for the first readiness result;
/// also a failed check that crossed nothing (`crossed: false`), now and then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// The instance, as passed to [`spawn_prober`].
    pub id: u64,
    /// Which probe crossed.
    pub kind: ProbeKind,
    /// The new state.
    pub passing: bool,
    /// What the last check saw, e.g. `HTTP GET http://127.0.0.1:8080/healthz: 503`.
    pub message: String,
    /// False for a failed check that crossed no threshold, sent so its reason can be shown
    /// (at most once per [`runner::NOTE_EVERY`] while the reason stays the same).
    pub crossed: bool,
}

/// A probe that cannot run as configured; each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// None of `tcp`, `http`, `exec`, `notify` is set.
    #[error("{kind} probe has no handler: set one of tcp, http, exec or notify")]
    NoHandler {
        /// The probe.
        kind: ProbeKind,
    },
    /// More than one handler is set.
    #[error("{kind} probe sets {handlers}: set exactly one handler")]
    SeveralHandlers {
        /// The probe.
        kind: ProbeKind,
        /// The handlers found, e.g. `tcp and http`.
        handlers: String,
    },
    /// `notify` only signals readiness.
    #[error("liveness probe uses notify, which only signals readiness: use tcp, http or exec")]
    NotifyLiveness,
    /// A `notify` probe needs the socket the instance was given.
    #[error("{kind} notify probe has no socket: bind a NotifySocket and pass it in ProbeTarget")]
    NoNotifySocket {
        /// The probe.
        kind: ProbeKind,
    },
    /// A `tcp`/`http` probe has no port and the instance has none to inherit.
    #[error("{kind} {handler} probe has no port and the app has no PORT or listen port: set {handler}.port")]
    NoPort {
        /// The probe.
        kind: ProbeKind,
        /// `tcp` or `http`.
        handler: &'static str,
    },
    /// An `exec` probe with an empty argv.
    #[error("{kind} exec probe has an empty command: set exec.command to an argv")]
    EmptyCommand {
        /// The probe.
        kind: ProbeKind,
    },
}

/// One resolved check, ready to run repeatedly.
#[derive(Debug, Clone)]
enum Check {
    /// TCP connect.
    Tcp(tcp::TcpCheck),
    /// HTTP GET.
    Http(http::HttpCheck),
    /// A command.
    Exec(exec::ExecCheck),
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    /// Whether the check passed.
    passed: bool,
    /// What it saw.
    message: String,
}

/// Starts probing instance `id` until `stop` is cancelled, sending threshold crossings on `tx`.
///
/// The task is spawned on `tasks` (so call this inside a tokio runtime) and ends on `stop` or
/// when `tx` is closed; an `exec` check in flight is killed and reaped first, and a
/// `notify` socket file is removed. Errors are configuration problems, found before spawning.
pub fn spawn_prober(
    id: u64,
    kind: ProbeKind,
    probe: &Probe,
    mut target: ProbeTarget,
    tx: mpsc::Sender<ProbeReport>,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> Result<(), ProbeError> {
    let schedule = runner::Schedule::from_probe(probe);
    let reporter = runner::Reporter { id, kind, tx };
    match resolve(kind, probe, &mut target)? {
        Resolved::Periodic(check) => {
            let thresholds = runner::Thresholds::new(kind, probe);
            tasks.spawn(runner::run(check, schedule, thresholds, reporter, stop));
        }
        Resolved::Notify(socket) => {
            tasks.spawn(notify::run(socket, schedule.initial_delay, reporter, stop));
        }
    }
    Ok(())
}

/// A probe checked against its target.
enum Resolved {
    /// Checked every period.
    Periodic(Check),
    /// Waits for `READY=1`.
    Notify(NotifySocket),
}

/// Validates `probe` for `kind` and binds it to `target`.
fn resolve(
    kind: ProbeKind,
    probe: &Probe,
    target: &mut ProbeTarget,
) -> Result<Resolved, ProbeError> {
    let mut set = Vec::new();
    for (name, on) in [
        ("tcp", probe.tcp.is_some()),
        ("http", probe.http.is_some()),
        ("exec", probe.exec.is_some()),
        ("notify", probe.notify.is_some()),
    ] {
        if on {
            set.push(name);
        }
    }
    if set.len() > 1 {
        let handlers = set.join(" and ");
        return Err(ProbeError::SeveralHandlers { kind, handlers });
    }
    let timeout = runner::Schedule::from_probe(probe).timeout;
    if let Some(tcp) = &probe.tcp {
        let port = tcp.port.or(target.default_port);
        let port = port.ok_or(ProbeError::NoPort {
            kind,
            handler: "tcp",
        })?;
        let check = tcp::TcpCheck {
            host: tcp.host.clone(),
            port,
            timeout,
        };
        return Ok(Resolved::Periodic(Check::Tcp(check)));
    }
    if let Some(http) = &probe.http {
        let port = http.port.or(target.default_port);
        let port = port.ok_or(ProbeError::NoPort {
            kind,
            handler: "http",
        })?;
        let check = http::HttpCheck::new(&http.host, port, &http.path, timeout);
        return Ok(Resolved::Periodic(Check::Http(check)));
    }
    if let Some(exec) = &probe.exec {
        if exec.command.is_empty() {
            return Err(ProbeError::EmptyCommand { kind });
        }
        let check = exec::ExecCheck {
            field: match kind {
                ProbeKind::Readiness => "spec.readiness.exec.command",
                ProbeKind::Liveness => "spec.liveness.exec.command",
            },
            argv: exec.command.clone(),
            cwd: target.cwd.clone(),
            env: target.env.clone(),
            confine: target.confine.clone(),
            timeout,
        };
        return Ok(Resolved::Periodic(Check::Exec(check)));
    }
    if probe.notify.is_some() {
        if kind == ProbeKind::Liveness {
            return Err(ProbeError::NotifyLiveness);
        }
        let socket = target
            .notify
            .take()
            .ok_or(ProbeError::NoNotifySocket { kind })?;
        return Ok(Resolved::Notify(socket));
    }
    Err(ProbeError::NoHandler { kind })
}

impl Check {
    /// Runs the check once, within its timeout; `stop` aborts it (cleaning up after itself).
    async fn run(&self, stop: &CancellationToken) -> Option<Outcome> {
        match self {
            Check::Tcp(c) => stop.run_until_cancelled(c.run()).await,
            Check::Http(c) => stop.run_until_cancelled(c.run()).await,
            Check::Exec(c) => c.run(stop).await,
        }
    }
}

/// `err` as a short lowercase phrase: `connection refused`, not `Connection refused (os error 111)`.
fn describe_io(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// `d` in whole seconds or milliseconds, for messages.
fn show_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}
