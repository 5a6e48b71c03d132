//! Starting a process from a template (or adopting one from the record), with its output
//! going through pipes into the log files, its probers, and a task that reports its exit.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use super::instance::Instance;
use super::launch::{explain, launch};
use super::orphans;
use super::probes::{self, Target};
use super::process::{self, PidFd};
use super::program;
use super::record::RecordEntry;
use super::reports::{Exit, Exited};
use super::shared::Shared;
use super::start_error;
use super::template::Template;
use super::tree::{self, Tree};
use crate::cgroup::{self, Cgroups, InstanceCgroup};
use crate::confine::Confinement;
use crate::logs::{self, AnonymousPipe, CaptureOptions, LogPipe, LossReporter, Rotation, Stream};
use crate::manifest::ListenMode;
use crate::net;
use crate::probe::NotifySocket;
use crate::reconcile::{InstanceId, Phase};

/// The environment of instance `index`: the controller's, then the app's, then corral's.
pub fn instance_env(template: &Template, index: u32) -> Vec<(String, String)> {
    let mut env = app_env(template);
    push_instance_env(&mut env, template, index);
    env
}

/// The controller's environment (minus its own variables), then the app's.
fn app_env(template: &Template) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| !is_controller_only(k))
        .collect();
    env.extend(template.env.iter().cloned());
    env
}

/// Appends corral's variables for instance `index` to its app's environment.
fn push_instance_env(env: &mut Vec<(String, String)>, template: &Template, index: u32) {
    env.push(("CORRAL_APP".into(), template.app.clone()));
    env.push(("CORRAL_INSTANCE".into(), index.to_string()));
    env.push(("CORRAL_REVISION".into(), template.revision.clone()));
    env.push(("NODE_APP_INSTANCE".into(), index.to_string()));
}

/// Variables that describe the controller's own process and must not reach an app.
fn is_controller_only(key: &str) -> bool {
    matches!(
        key,
        "LISTEN_FDS"
            | "LISTEN_PID"
            | "LISTEN_FDNAMES"
            | "NOTIFY_SOCKET"
            | "CORRAL_LOG"
            | crate::children::spawner::SWITCH_ENV
            | super::orphans::MARKER
            | super::orphans::INSTANCE_MARK
    )
}

/// The port a probe without one targets: the instance's own `PORT` (tcp/http modes), else
/// the listen port of the first inherit entry.
fn default_probe_port(template: &Template, ports: &[(String, u16)]) -> Option<u16> {
    ports.first().map(|(_, p)| *p).or_else(|| {
        template
            .listen
            .iter()
            .find(|l| l.mode == ListenMode::Inherit)
            .map(|l| l.port)
    })
}

/// Starts capturing one stream of instance `index` of `app` from `receiver` into `file`; the
/// capture task belongs to the supervisor's tracker and reports lost lines to the controller.
fn capture(
    shared: &Shared,
    receiver: io::Result<tokio::net::unix::pipe::Receiver>,
    (app, index, stream): (&str, u32, Stream),
    file: PathBuf,
    opts: CaptureOptions,
) -> io::Result<()> {
    let losses = LossReporter {
        tx: shared.log_losses.clone(),
        app: app.to_owned(),
        index,
        stream,
    };
    let stop = (
        shared.captures_stop.clone(),
        Some(&shared.tasks),
        shared.captures_pause.clone(),
    );
    // Tracked by the supervisor's tracker: shutdown waits for it.
    logs::spawn_capture_from(receiver?, file, opts, stop, Some(losses))?;
    Ok(())
}

/// The child's end of one log pipe, and the pipe's inode.
type ChildEnd = (File, u64);

/// Creates the two log pipes of an instance and starts capturing them into its log files;
/// returns the pipes (the child's ends to give it: stdout, stderr) and the files, per stream.
fn log_pipes(
    shared: &Shared,
    template: &Template,
    index: u32,
) -> io::Result<([ChildEnd; 2], Vec<PathBuf>)> {
    let one = |stream: Stream| -> io::Result<(ChildEnd, PathBuf)> {
        let pipe = AnonymousPipe::new()?;
        let opts = CaptureOptions {
            timestamps: template.logs.timestamps,
            rotation: Rotation::of(&template.logs),
        };
        let layout = (template.log_dir.as_deref(), template.logs.merge);
        let file = logs::stream_file(&shared.home, &template.app, layout, index, stream);
        let who = (template.app.as_str(), index, stream);
        let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(pipe.read);
        capture(shared, receiver, who, file.clone(), opts)?;
        Ok(((pipe.child_end, pipe.inode), file))
    };
    let (out, out_file) = one(Stream::Out)?;
    let (err, err_file) = one(Stream::Err)?;
    Ok(([out, err], vec![out_file, err_file]))
}

/// What every start of one template shares, worked out once for many instances ([`prepare`]).
#[derive(Debug)]
pub struct Prepared {
    /// The app's environment, without the per-instance variables.
    pub(super) env: Vec<(String, String)>,
    /// The program as found in that environment's `PATH` (None: left to `execvp`).
    pub(super) program: Option<PathBuf>,
    /// The user and limits of its instances, set in each child before exec.
    pub(super) confine: Arc<Confinement>,
}

/// What every start of `template` needs first, done once for many instances: the template is
/// usable, its paths trusted, the run and log directories exist, its environment and program
/// are known. Blocking I/O.
pub fn prepare(shared: &Shared, template: &Template) -> io::Result<Prepared> {
    if let Some(err) = &template.error {
        return Err(io::Error::other(err.clone()));
    }
    template.check_paths().map_err(io::Error::other)?;
    std::fs::create_dir_all(shared.home.run_dir())?;
    logs::prepare_dir(&shared.home, &template.app, template.log_dir.as_deref())
        .map_err(|e| start_error::logs_dir(e, template))?;
    let mut env = app_env(template);
    let confine = crate::confine::prepare(&template.confine, &template.cwd)?;
    env.extend(confine.login_env(&template.env));
    start_error::check_program(template, &env)?;
    let program = template
        .argv
        .first()
        .and_then(|p| program::resolve(p, program::path_of(&env)));
    let inherit = template
        .listen
        .iter()
        .any(|l| l.mode == ListenMode::Inherit);
    confine.check_start(&template.cwd, program.as_deref(), inherit)?;
    Ok(Prepared {
        env,
        program,
        confine: Arc::new(confine),
    })
}

/// Spawns instance `id` of `template` at `index` (after [`prepare`]); `inherit` are dups of
/// the app's shared sockets to pass (inherit mode). Blocking: the caller runs it off the
/// runtime's workers.
pub fn spawn(
    shared: &Shared,
    (template, prepared): (&Template, &Prepared),
    (id, index): (InstanceId, u32),
    inherit: Option<Vec<(OwnedFd, String)>>,
    cgroups: Option<&Cgroups>,
) -> io::Result<Instance> {
    if template.argv.is_empty() {
        return Err(io::Error::other("the command is empty"));
    }
    let run_dir = shared.home.run_dir();
    let ([(out_end, out_inode), (err_end, err_inode)], log_files) =
        log_pipes(shared, template, index)?;
    // On an error below, dropping the child's ends ends the captures: nothing to remove.
    let notify = match template.readiness.as_ref().and_then(|p| p.notify.as_ref()) {
        Some(_) => {
            let name = format!("{}.{index}.{id}.notify", template.app);
            Some(match prepared.confine.other_user() {
                Some((uid, gid)) => {
                    NotifySocket::bind_for_user(&std::env::temp_dir(), &name, uid, gid)?
                }
                None => NotifySocket::bind(&run_dir.join(name))?,
            })
        }
        None => None,
    };
    let ports = net::instance_ports(&template.listen)?;
    let mut env = prepared.env.clone();
    push_instance_env(&mut env, template, index);
    env.extend(net::port_env(&ports));
    if let Some(socket) = &notify {
        env.push(("NOTIFY_SOCKET".into(), socket.path().display().to_string()));
    }
    let inherit = inherit.filter(|fds| !fds.is_empty());
    let mark = tree::new_mark(id);
    let mut child_env = env.clone();
    child_env.push((orphans::MARKER.into(), orphans::owner(&shared.home)));
    child_env.push((orphans::INSTANCE_MARK.into(), mark.clone()));
    let cgroup = cgroup::for_instance(cgroups, (&template.app, index, id), &template.limits)?;
    let launched = launch(
        (template, prepared),
        &child_env,
        (out_end, err_end),
        inherit,
        cgroup.as_ref(),
    );
    let (waiter, owned) = match launched {
        Ok(started) => started,
        Err(e) => {
            if let Some(cgroup) = &cgroup {
                cgroup::remove(&cgroup.path);
            }
            return Err(explain(e, (template, prepared), &env));
        }
    };
    let pid = owned.pid();
    let start_ticks = process::start_ticks(pid).unwrap_or(0);
    let parts = tree::Parts {
        mark: Some(mark),
        cgroup: cgroup.as_ref().map(|c| c.path.clone()),
        who: (id, &template.app, index),
        stop: (template.stop.signal.0, template.stop.timeout.0),
        local: true,
    };
    let tree = Tree::new(shared, (pid, start_ticks), parts);
    let (exits, swept) = (shared.exits.clone(), tree.clone());
    shared.tasks.spawn(async move {
        let exit = waiter.wait().await;
        owned.reaped();
        swept.sweep().await; // its exit is reported once what it left is gone

        let _ = exits.send(Exited { id, exit }).await;
    });
    let target = Target {
        env,
        default_port: default_probe_port(template, &ports),
        confine: Some(Arc::clone(&prepared.confine)),
    };
    let pipes = vec![
        LogPipe::in_process(pid, 1, out_inode),
        LogPipe::in_process(pid, 2, err_inode),
    ];
    let mut inst = Instance::new(id, template, index, (pid, start_ticks, tree), pipes, ports);
    inst.cgroup = cgroup.map(InstanceCgroup::into_group);
    inst.log_files = log_files;
    if let Err(e) = probes::start(shared, template, id, &target, notify, true, &inst.probes) {
        tracing::warn!(app = %template.app, "instance {index}: {e}");
    }
    Ok(inst)
}

/// Adopts the process of a record entry if it is still the same process; `None` if it is gone.
pub fn adopt(
    shared: &Shared,
    entry: &RecordEntry,
    now: Instant,
    wall_now: SystemTime,
) -> Option<Instance> {
    if !process::is_same_process(entry.pid, entry.start_ticks) {
        return None;
    }
    let pidfd = PidFd::open(entry.pid).ok()?;
    // Checked again with the pidfd held: the pid can no longer be reused under us.
    if !process::is_same_process(entry.pid, entry.start_ticks) {
        return None;
    }
    let mut pipes = Vec::new();
    let streams = [Stream::Out, Stream::Err];
    let log_files: Vec<PathBuf> = match &entry.log_files[..] {
        [out, err] => vec![out.clone(), err.clone()],
        _ => streams
            .iter()
            .map(|s| logs::log_file(&shared.home, &entry.app, entry.index, *s))
            .collect(),
    };
    for (n, ((path, stream), file)) in entry.pipes.iter().zip(streams).zip(&log_files).enumerate() {
        let pipe = LogPipe::existing(path.clone(), entry.pipe_inodes.get(n).copied());
        let opts = CaptureOptions {
            timestamps: entry.timestamps,
            rotation: entry.rotation,
        };
        let who = (entry.app.as_str(), entry.index, stream);
        if let Err(e) = capture(shared, pipe.open_receiver(), who, file.clone(), opts) {
            tracing::warn!(app = %entry.app, "cannot re-open the log pipe {}: {e}", path.display())
        }
        pipes.push(pipe);
    }
    let (id, exits) = (entry.id, shared.exits.clone());
    // Its app's stop settings are not known yet: the defaults for what it leaves behind.
    let defaults = crate::manifest::Stop::default();
    let parts = tree::Parts {
        mark: entry.mark.clone(),
        cgroup: None,
        who: (id, &entry.app, entry.index),
        stop: (defaults.signal.0, defaults.timeout.0),
        local: false,
    };
    let tree = Tree::new(shared, (entry.pid, entry.start_ticks), parts);
    let swept = tree.clone();
    shared.tasks.spawn(async move {
        pidfd.exited().await;
        swept.sweep().await;
        let _ = exits
            .send(Exited {
                id,
                exit: Exit::Unknown,
            })
            .await;
    });
    let age = wall_now
        .duration_since(SystemTime::UNIX_EPOCH + Duration::from_millis(entry.started_ms))
        .unwrap_or_default();
    let started = now.checked_sub(age).unwrap_or(now);
    let phase = if entry.stopping {
        Phase::Stopping
    } else if entry.ready {
        Phase::Ready { since: started }
    } else {
        Phase::Starting
    };
    Some(Instance {
        id: entry.id,
        app: entry.app.clone(),
        index: entry.index,
        revision: entry.revision.clone(),
        pid: entry.pid,
        start_ticks: entry.start_ticks,
        started,
        started_ms: entry.started_ms,
        phase,
        stop_reason: None,
        pipes,
        timestamps: entry.timestamps,
        rotation: entry.rotation,
        log_files,
        ports: entry.ports.clone(),
        escalation: CancellationToken::new(),
        probes: CancellationToken::new(),
        probed: false,
        memory: crate::reconcile::MemoryState::Within,
        memory_exceeded: None,
        cgroup: None,
        tree,
    })
}

/// Starts the probers of an adopted instance once its template is known again: liveness,
/// and readiness unless it was already ready or uses `notify` (its socket is gone).
pub fn probe_adopted(shared: &Shared, template: &Template, inst: &mut Instance) {
    let readiness = inst.phase == Phase::Starting
        && template
            .readiness
            .as_ref()
            .is_some_and(|p| p.notify.is_none());
    let mut env = instance_env(template, inst.index);
    env.extend(net::port_env(&inst.ports));
    let confine = match &template.confinement {
        Ok(confine) => Some(Arc::clone(confine)),
        Err(e) => {
            tracing::warn!(app = %template.app, "instance {}: no probes: {e}", inst.index);
            inst.probed = true;
            return;
        }
    };
    env.extend(confine.iter().flat_map(|c| c.login_env(&template.env)));
    let target = Target {
        env,
        default_port: default_probe_port(template, &inst.ports),
        confine,
    };
    if let Err(e) = probes::start(
        shared,
        template,
        inst.id,
        &target,
        None,
        readiness,
        &inst.probes,
    ) {
        tracing::warn!(app = %template.app, "instance {}: {e}", inst.index);
    }
    inst.probed = true;
}
