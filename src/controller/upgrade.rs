//! `corral upgrade` (and SIGUSR2) on the controller loop (DESIGN §12): the binary now at the
//! controller's path is started with the listening sockets, the control socket and the state
//! no file holds; once it says it is ready, this controller stops accepting, lets what is in
//! flight finish and exits without stopping any app. A successor that cannot take over
//! changes nothing.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{rollout, Controller};
use crate::api::{ApiRequest, Reply, UpgradeReply};
use crate::lifecycle::protocol::{Channel, Message, State, CONTROL, HANDOVER};
use crate::lifecycle::Inherited;
use crate::supervisor::About;

/// What a controller needs to hand over to a successor, and to take over from a predecessor.
#[derive(Debug)]
pub struct Succession {
    /// The path this controller was started from, read at start: what an upgrade runs.
    pub exe: PathBuf,
    /// The controller's arguments, given to the successor as they are.
    pub args: Vec<OsString>,
    /// Duplicates of the controller's own listening sockets (the control socket, the
    /// `--metrics-addr` port), by the name the successor takes them under.
    pub own_sockets: Vec<(String, OwnedFd)>,
    /// Fired once the successor serves the control socket: this one stops accepting there.
    pub released: CancellationToken,
    /// Fired once this controller may accept (at once, or after a predecessor's `Go`).
    pub accepting: CancellationToken,
    /// Sockets passed at start, taken as apps are bound.
    pub inherited: Arc<Inherited>,
    /// How long the successor has to get ready (`--upgrade-timeout`).
    pub ready_timeout: Duration,
    /// How long connections and requests in flight may take to finish (`--drain-timeout`).
    pub drain_timeout: Duration,
}

/// How a successor took over.
#[derive(Debug)]
pub(super) struct HandedOver {
    /// The successor's pid.
    pub pid: u32,
    /// What the requester is told.
    pub reply: UpgradeReply,
}

impl Controller {
    /// Runs one upgrade: `Some` once the successor took over (this controller then drains and
    /// exits), `None` when it could not (the reason is in an `UpgradeFailed` event and the reply).
    pub(super) async fn upgrade(
        &mut self,
        api: &mut mpsc::Receiver<ApiRequest>,
        requester: Option<oneshot::Sender<Result<UpgradeReply, String>>>,
    ) -> Option<HandedOver> {
        let started = Instant::now();
        tracing::info!(exe = %self.config.succession.exe.display(), "upgrading: starting the new controller");
        match self.try_upgrade(api, started).await {
            Ok(handed) => {
                // The event is the successor's (its `Upgraded`): ours are no longer listed.
                tracing::info!(
                    "handed over to pid {} (corral {}) in {} ms; draining, then exiting: every app keeps running",
                    handed.pid,
                    handed.reply.new_version,
                    handed.reply.took_ms
                );
                if let Some(requester) = requester {
                    let _ = requester.send(Ok(handed.reply.clone()));
                }
                Some(handed)
            }
            Err(why) => {
                let msg = format!("upgrade failed, nothing changed: {why}");
                self.supervisor
                    .events
                    .warning_about(About::Controller, "UpgradeFailed", msg);
                if let Some(requester) = requester {
                    let _ = requester.send(Err(why));
                }
                None
            }
        }
    }

    /// Starts the successor and waits until it is ready, answering the API meanwhile; on any
    /// failure it is killed and everything here goes on as before.
    async fn try_upgrade(
        &mut self,
        api: &mut mpsc::Receiver<ApiRequest>,
        started: Instant,
    ) -> Result<HandedOver, String> {
        let exe = self.config.succession.exe.clone();
        check_binary(&exe)?;
        // The successor re-opens every instance's log pipes: ours read nothing meanwhile.
        let paused = self.supervisor.pause_captures().await;
        self.save_record().await;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| format!("cannot create the hand-over socket: {e}"))?;
        let fds = self.successor_fds(theirs.into())?;
        let (mut child, owned) = self.spawn_successor(&exe, fds)?;
        let new_pid = child.id().unwrap_or(0);
        let result = async {
            ours.set_nonblocking(true)
                .map_err(|e| format!("cannot use the hand-over socket: {e}"))?;
            let stream = tokio::net::UnixStream::from_std(ours)
                .map_err(|e| format!("cannot use the hand-over socket: {e}"))?;
            let mut channel = Channel::new(stream);
            let state = self.export_state();
            if let Err(e) = channel.send(&Message::State(Box::new(state))).await {
                return Err(gone_before_ready(&mut child, new_pid, &e).await);
            }
            let version = self
                .wait_ready(api, &mut channel, &mut child, new_pid)
                .await?;
            let notifier = &self.config.notifier;
            // Before Go: the successor's READY=1 and watchdog pings come from the main pid.
            let moved = notifier.is_on() && notifier.main_pid(new_pid);
            if let Err(e) = channel.send(&Message::Go).await {
                if moved {
                    notifier.main_pid(std::process::id());
                }
                return Err(format!(
                    "the new controller (pid {new_pid}) went away as it was taking over: {e}"
                ));
            }
            Ok(version)
        }
        .await;
        match result {
            Ok(version) => {
                // The successor owns the pipes now: ours stay held until this process exits.
                self.paused_captures = Some(paused);
                // Its exit is no longer ours to wait for: init reaps it once we are gone.
                drop(owned);
                drop(child);
                Ok(HandedOver {
                    pid: new_pid,
                    reply: UpgradeReply {
                        old_pid: std::process::id(),
                        old_version: env!("CARGO_PKG_VERSION").into(),
                        new_pid,
                        new_version: version,
                        took_ms: started.elapsed().as_millis() as u64,
                    },
                })
            }
            Err(why) => {
                let _ = child.start_kill();
                if child.wait().await.is_ok() {
                    owned.reaped();
                }
                drop(paused);
                Err(why)
            }
        }
    }

    /// Waits for the successor's `Ready`, its exit or the deadline, answering the API meanwhile.
    async fn wait_ready(
        &mut self,
        api: &mut mpsc::Receiver<ApiRequest>,
        channel: &mut Channel,
        child: &mut tokio::process::Child,
        pid: u32,
    ) -> Result<String, String> {
        let within = self.config.succession.ready_timeout;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            tokio::select! {
                message = channel.recv() => return match message {
                    Ok(Some(Message::Ready { version, .. })) => Ok(version),
                    Ok(Some(other)) => Err(format!("the new controller (pid {pid}) said {other:?} instead of being ready")),
                    Ok(None) => Err(gone_before_ready(child, pid, &"it closed the hand-over").await),
                    Err(e) => Err(gone_before_ready(child, pid, &e).await),
                },
                status = child.wait() => return Err(match status {
                    Ok(status) => format!("the new controller (pid {pid}) exited before it was ready ({status}); its log says why"),
                    Err(e) => format!("cannot wait for the new controller (pid {pid}): {e}"),
                }),
                Some(req) = api.recv() => self.answer_while_upgrading(req).await,
                _ = tokio::time::sleep_until(deadline) => return Err(format!(
                    "the new controller (pid {pid}) was not ready within {}s (--upgrade-timeout)",
                    within.as_secs()
                )),
            }
        }
    }

    /// Exits leaving every app running, if a successor took over (`handed`) or
    /// `--live-restore` says so (SIGTERM, unless `corral shutdown` asked or the system is
    /// going down): stops accepting, lets what is in flight finish, answers the API meanwhile.
    /// Returns whether it did; then the caller only stops its own tasks.
    pub(super) async fn leave_apps_running(
        &mut self,
        api: &mut mpsc::Receiver<ApiRequest>,
        handed: bool,
        shutdown_asked: bool,
    ) -> bool {
        let live_restore = !handed
            && self.config.live_restore
            && !shutdown_asked
            && !crate::startup::manager::shutting_down().await;
        if live_restore {
            // The next controller adopts the apps (and, under systemd, takes the sockets from
            // the fd store): nothing is read from the log pipes meanwhile, nothing lost.
            tracing::info!(
                "--live-restore: exiting without stopping any app; the next controller adopts them"
            );
            self.config.notifier.stopping_alone();
            self.paused_captures = Some(self.supervisor.pause_captures().await);
            self.save_record().await;
        }
        if !handed && !live_restore {
            return false;
        }
        tracing::info!("draining, then exiting without stopping any app");
        self.config.succession.released.cancel();
        self.watches.shutdown().await;
        let drained = self
            .listening
            .hand_over(self.config.succession.drain_timeout);
        tokio::pin!(drained);
        loop {
            tokio::select! {
                () = &mut drained => return true,
                Some(req) = api.recv() => self.answer_while_upgrading(req).await,
            }
        }
    }

    /// Answers an API request while an upgrade is under way or this controller drains:
    /// what reads is answered, what would change something is refused with a reason.
    pub(super) async fn answer_while_upgrading(&mut self, req: ApiRequest) {
        const BUSY: &str =
            "the controller is handing over to a new one (corral upgrade); try again in a few seconds";
        match req {
            ApiRequest::Restart { reply, .. } | ApiRequest::Reload { reply, .. } => {
                let _ = reply.send(Err(BUSY.into()));
            }
            ApiRequest::Upgrade { reply } => {
                let _ = reply.send(Err(format!("an upgrade is already under way: {BUSY}")));
            }
            ApiRequest::Shutdown { reply } => {
                let _ = reply.send(Reply {
                    message: format!("not now: {BUSY}"),
                });
            }
            ApiRequest::Resync { reply } => {
                let _ = reply.send(Reply {
                    message: "the controller is handing over to a new one, which watches the manifests directory too".into(),
                });
            }
            other => self.on_api(other).await,
        }
    }

    /// The fds the successor gets: the hand-over socket, the controller's own sockets and
    /// every app's listening sockets, each a CLOEXEC duplicate placed only in its process.
    fn successor_fds(&self, handover: OwnedFd) -> Result<Vec<(OwnedFd, String)>, String> {
        let dup_err = |e| format!("cannot duplicate a listening socket: {e}");
        let mut fds = vec![(handover, HANDOVER.to_owned())];
        for (name, fd) in &self.config.succession.own_sockets {
            fds.push((fd.try_clone().map_err(dup_err)?, name.clone()));
        }
        for (name, fd) in self.listening.sockets() {
            fds.push((fd.try_clone_to_owned().map_err(dup_err)?, name));
        }
        Ok(fds)
    }

    /// Starts `exe controller ARGS…` through the socket-activation shim (so `LISTEN_PID` is
    /// its own pid), with `fds` from 3 and the service manager's variables.
    fn spawn_successor(
        &self,
        exe: &Path,
        fds: Vec<(OwnedFd, String)>,
    ) -> Result<(tokio::process::Child, crate::children::Owned), String> {
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg(crate::net::EXEC_SUBCOMMAND)
            .arg("--")
            .arg(exe)
            .args(&self.config.succession.args)
            .envs(
                self.config
                    .notifier
                    .env_for_successor()
                    .iter()
                    .map(|(k, v)| (*k, v.as_str())),
            )
            .stdin(std::process::Stdio::null());
        crate::net::pass_fds(&mut cmd, fds);
        crate::children::spawn(&mut cmd).map_err(|e| format!("cannot start {}: {e}", exe.display()))
    }

    /// What no file holds, for the successor.
    fn export_state(&self) -> State {
        let (last_seq, events) = self.supervisor.events.export();
        State {
            from_pid: std::process::id(),
            from_version: env!("CARGO_PKG_VERSION").into(),
            last_seq,
            events,
            reloads: self.reloads.clone(),
            created: self.created.clone(),
            rollouts: self.rollouts.export(Instant::now()),
        }
    }

    /// Starts from a predecessor's state (before anything records an event).
    pub(super) fn import_state(&mut self, state: State) {
        self.supervisor.events.import(state.last_seq, state.events);
        self.reloads = state.reloads;
        self.created = state.created;
        self.rollouts = rollout::Rollouts::import(state.rollouts, Instant::now());
    }
}

/// Why a successor that stopped talking is gone: its exit status if it exited (within 2 s),
/// else what the hand-over socket said.
async fn gone_before_ready(
    child: &mut tokio::process::Child,
    pid: u32,
    why: &dyn std::fmt::Display,
) -> String {
    match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(Ok(status)) => {
            format!("the new controller (pid {pid}) exited before it was ready ({status}); its log says why")
        }
        _ => format!(
            "the new controller (pid {pid}) broke off the hand-over before it was ready: {why}"
        ),
    }
}

/// Why `exe` cannot be the next controller, before anything is touched.
fn check_binary(exe: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(exe).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{} does not exist: install the new corral there (the path this controller was started from), then run corral upgrade again",
            exe.display()
        ),
        _ => format!("cannot inspect {}: {e}", exe.display()),
    })?;
    if !meta.is_file() {
        return Err(format!(
            "{} is not a file: put the new corral binary there",
            exe.display()
        ));
    }
    let runnable = nix::unistd::access(exe, nix::unistd::AccessFlags::X_OK).is_ok();
    if !runnable {
        return Err(format!(
            "{} is not executable: chmod +x {} and run corral upgrade again",
            exe.display(),
            exe.display()
        ));
    }
    Ok(())
}

/// The name the control socket is passed under (re-exported for the CLI).
pub const CONTROL_SOCKET: &str = CONTROL;

/// The name the `--metrics-addr` socket is passed under.
pub const METRICS_SOCKET: &str = "corral-metrics";
