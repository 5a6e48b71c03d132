//! Running an app's hook (`spec.hooks.preRollout`, `postRollout`): one process of the app's
//! template with the hook's command, started through the same path as instances (environment,
//! user, limits, program checks, the spawner), its output in the app's log folder
//! (`preRollout.out.log`), killed with its whole tree at its timeout.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::launch::{self, Waiter};
use super::reports::Exit;
use super::shared::Shared;
use super::spawn;
use super::template::Template;
use super::tree::{self, Tree};
use crate::logs::{self, AnonymousPipe, CaptureOptions, Rotation, Stream};

/// Lines of a hook's output kept for `describe` and its events.
pub const TAIL_LINES: usize = 20;
/// How long a hook's output may take to reach its files once it exited.
const CAPTURE_WAIT: Duration = Duration::from_secs(2);

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HookKind {
    /// Before the rollout to a new revision.
    PreRollout,
    /// After the rollout completed.
    PostRollout,
}

impl HookKind {
    /// The manifest's name for it: `preRollout`, `postRollout` (also its log files' name).
    pub fn name(self) -> &'static str {
        match self {
            HookKind::PreRollout => "preRollout",
            HookKind::PostRollout => "postRollout",
        }
    }
}

/// A hook to run with an app's template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookRun {
    /// Which one.
    pub kind: HookKind,
    /// Its argv (a shell line already wrapped in `sh -c`).
    pub argv: Vec<String>,
    /// When it is killed.
    pub timeout: Duration,
}

/// How a hook run ended, sent to the controller loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDone {
    /// The app.
    pub app: String,
    /// The revision it ran with.
    pub revision: String,
    /// Which hook.
    pub kind: HookKind,
    /// `Ok` for exit code 0; else why it failed.
    pub result: Result<(), HookFailure>,
    /// The last lines it wrote (stderr's prefixed with `! `), at most [`TAIL_LINES`].
    pub tail: Vec<String>,
}

/// Why a hook failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    /// Its exit code, if it exited with one.
    pub exit_code: Option<i32>,
    /// What happened, in words: `exit code 3`, `killed after its timeout of 5m`.
    pub reason: String,
}

/// A hook's process once started: how to wait for it, its tree, its output.
struct Started {
    waiter: Waiter,
    owned: crate::children::Owned,
    tree: std::sync::Arc<Tree>,
    captures: Vec<logs::Capture>,
    /// Its log files and their lengths before it began.
    files: Vec<(PathBuf, u64, Stream)>,
}

/// Starts `run` with `template` (the revision it belongs to) in a task of `shared`'s tracker;
/// its end goes to `done`. Cancelling `stop` kills it (the controller is leaving).
pub(super) fn start(
    shared: &Shared,
    template: &Template,
    run: HookRun,
    id: u64,
    (done, stop): (mpsc::Sender<HookDone>, CancellationToken),
) {
    let (shared2, mut hook) = (shared.clone(), template.clone());
    hook.argv = run.argv.clone();
    // Not an instance: no shared ports, no probes.
    hook.listen.clear();
    hook.readiness = None;
    hook.liveness = None;
    shared.tasks.spawn(async move {
        let (app, revision) = (hook.app.clone(), hook.revision.clone());
        let to_start = hook.clone();
        let launched =
            tokio::task::spawn_blocking(move || launch(&shared2, &to_start, run.kind, id))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
        let (result, tail) = match launched {
            Ok(started) => finish(started, run.timeout, stop).await,
            Err(e) => {
                let reason = format!("cannot start: {e}");
                (
                    Err(HookFailure {
                        exit_code: None,
                        reason,
                    }),
                    Vec::new(),
                )
            }
        };
        let kind = run.kind;
        let _ = done
            .send(HookDone {
                app,
                revision,
                kind,
                result,
                tail,
            })
            .await;
    });
}

/// Starts the hook's process (blocking): the app's checks and environment, its log pipes.
fn launch(shared: &Shared, hook: &Template, kind: HookKind, id: u64) -> io::Result<Started> {
    let prepared = spawn::prepare(shared, hook)?;
    let mut env = prepared.env.clone();
    env.push(("CORRAL_APP".into(), hook.app.clone()));
    env.push(("CORRAL_REVISION".into(), hook.revision.clone()));
    env.push(("CORRAL_HOOK".into(), kind.name().into()));
    let mark = tree::new_mark(id);
    let mut child_env = env.clone();
    // The owner's marker and its mark find what it leaves behind; without `CORRAL_INSTANCE`
    // it is never adopted as an instance, and `CORRAL_HOOK` lets the next controller end it
    // after a crash ([`end_orphaned`]).
    child_env.push((
        super::orphans::MARKER.into(),
        super::orphans::owner(&shared.home),
    ));
    child_env.push((super::orphans::INSTANCE_MARK.into(), mark.clone()));
    let opts = CaptureOptions {
        timestamps: hook.logs.timestamps,
        rotation: Rotation::of(&hook.logs),
    };
    let (mut ends, mut captures, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for stream in [Stream::Out, Stream::Err] {
        let file = logs::hook_file(
            &shared.home,
            &hook.app,
            hook.log_dir.as_deref(),
            kind.name(),
            stream,
        );
        let start = std::fs::metadata(&file).map_or(0, |m| m.len());
        let pipe = AnonymousPipe::new()?;
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe.read)?;
        let owner = (
            shared.captures_stop.clone(),
            None,
            shared.captures_pause.clone(),
        );
        captures.push(logs::spawn_capture_from(
            receiver,
            file.clone(),
            opts,
            owner,
            None,
        )?);
        ends.push(pipe.child_end);
        files.push((file, start, stream));
    }
    let (Some(err), Some(out)) = (ends.pop(), ends.pop()) else {
        return Err(io::Error::other("no log pipes"));
    };
    let (waiter, owned) = launch::launch((hook, &prepared), &child_env, (out, err), None, None)
        .map_err(|e| launch::explain(e, (hook, &prepared), &env))?;
    let pid = owned.pid();
    let parts = tree::Parts {
        mark: Some(mark),
        cgroup: None,
        who: (id, &hook.app, 0),
        stop: (hook.stop.signal.0, hook.stop.timeout.0),
        local: true,
    };
    let tree = Tree::new(
        shared,
        (pid, super::process::start_ticks(pid).unwrap_or(0)),
        parts,
    );
    // Whatever it leaves behind is killed once it exits, without a `ProcessesLeftBehind`.
    tree.set_planned();
    Ok(Started {
        waiter,
        owned,
        tree,
        captures,
        files,
    })
}

/// Waits for the hook to exit (killing its tree at `timeout`, or when `stop` is cancelled),
/// ends what it left, and reads its last lines.
async fn finish(
    started: Started,
    timeout: Duration,
    stop: CancellationToken,
) -> (Result<(), HookFailure>, Vec<String>) {
    let Started {
        waiter,
        owned,
        tree,
        captures,
        files,
    } = started;
    let wait = waiter.wait();
    tokio::pin!(wait);
    let mut killed = None;
    let exit = tokio::select! {
        exit = &mut wait => exit,
        _ = tokio::time::sleep(timeout) => {
            killed = Some(format!(
                "killed after its timeout of {}",
                crate::manifest::quantity::DurationSpec(timeout)
            ));
            tree.clone().kill().await;
            (&mut wait).await
        }
        _ = stop.cancelled() => {
            killed = Some("killed: the controller is leaving (it runs again at the next start)".into());
            tree.clone().kill().await;
            (&mut wait).await
        }
    };
    owned.reaped();
    tree.sweep().await;
    for capture in captures {
        let _ = tokio::time::timeout(CAPTURE_WAIT, capture.finished()).await;
    }
    let tail = tokio::task::spawn_blocking(move || logs::last_lines(&files, TAIL_LINES))
        .await
        .unwrap_or_default();
    let result = match (killed, exit) {
        (None, exit) if exit.success() => Ok(()),
        (Some(reason), _) => Err(HookFailure {
            exit_code: None,
            reason,
        }),
        (None, exit) => Err(HookFailure {
            exit_code: match exit {
                Exit::Code(c) => Some(c),
                _ => None,
            },
            reason: exit.to_string(),
        }),
    };
    (result, tail)
}

/// Kills the hooks a crashed controller of this home left running (marked with `owner` and
/// `CORRAL_HOOK`), with their process groups, and waits a little for them to go: the next run
/// of the hook must not run beside them. Returns how many there were. Blocking (reads /proc).
pub fn end_orphaned(owner: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let hooks: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_orphaned_hook(*pid, owner))
        .collect();
    for pid in &hooks {
        tracing::warn!(pid, "ending a hook a previous controller left running");
        let _ = super::process::signal_group(*pid, nix::sys::signal::Signal::SIGKILL);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while hooks.iter().any(|p| is_orphaned_hook(*p, owner)) && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    hooks.len()
}

/// Whether `pid` is a live hook process of `owner` leading its group.
fn is_orphaned_hook(pid: u32, owner: &str) -> bool {
    let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let (mut ours, mut hook) = (false, false);
    for kv in environ.split(|b| *b == 0) {
        match std::str::from_utf8(kv).ok().and_then(|s| s.split_once('=')) {
            Some((k, v)) if k == super::orphans::MARKER => ours = v == owner,
            Some(("CORRAL_HOOK", _)) => hook = true,
            _ => {}
        }
    }
    let leads = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|close| stat[close + 1..].split_whitespace().nth(2))
            .and_then(|f| f.parse::<u32>().ok())
            == Some(pid)
    });
    ours && hook && leads
}
