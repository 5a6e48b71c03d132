//! Starting a process from a template (or adopting one from the record), with its output
//! going through FIFOs into the log files and a task that reports its exit.

use std::io;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::events::unix_ms;
use super::instance::{Exit, Exited, Instance};
use super::process::{self, PidFd};
use super::record::RecordEntry;
use super::template::Template;
use crate::home::Home;
use crate::logs::{self, CaptureOptions, LogPipe, Stream};
use crate::reconcile::{InstanceId, Phase};

/// Spawns instance `id` of `template` at `index`.
pub fn spawn(
    home: &Home,
    template: &Template,
    id: InstanceId,
    index: u32,
    exits: &mpsc::Sender<Exited>,
    tasks: &TaskTracker,
    captures_stop: &CancellationToken,
) -> io::Result<Instance> {
    if let Some(err) = &template.error {
        return Err(io::Error::other(err.clone()));
    }
    let Some((program, args)) = template.argv.split_first() else {
        return Err(io::Error::other("the command is empty"));
    };
    let run_dir = home.run_dir();
    std::fs::create_dir_all(&run_dir)?;
    let mut pipes = Vec::new();
    let mut ends = Vec::new();
    for stream in [Stream::Out, Stream::Err] {
        let suffix = if stream == Stream::Out { "out" } else { "err" };
        let pipe =
            LogPipe::create(&run_dir.join(format!("{}.{index}.{id}.{suffix}", template.app)))?;
        ends.push(pipe.child_end()?);
        let opts = CaptureOptions {
            timestamps: template.logs.timestamps,
        };
        let file = logs::log_file(home, &template.app, index, stream);
        let capture = logs::spawn_capture(&pipe, file, opts, captures_stop.clone())?;
        tasks.spawn(capture.finished());
        pipes.push(pipe);
    }
    let cleanup = |pipes: &[LogPipe]| pipes.iter().for_each(LogPipe::remove);
    let (err_end, out_end) = (ends.pop(), ends.pop());
    let (Some(out_end), Some(err_end)) = (out_end, err_end) else {
        return Err(io::Error::other("log pipes missing"));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(&template.cwd)
        .envs(template.env.iter().map(|(k, v)| (k, v)))
        .env("CORRAL_APP", &template.app)
        .env("CORRAL_INSTANCE", index.to_string())
        .env("CORRAL_REVISION", &template.revision)
        .env("NODE_APP_INSTANCE", index.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(out_end))
        .stderr(Stdio::from(err_end))
        .process_group(0)
        .kill_on_drop(false);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            cleanup(&pipes);
            let what = if e.kind() == io::ErrorKind::NotFound {
                format!(
                    "{program:?} not found (or cwd {} missing)",
                    template.cwd.display()
                )
            } else {
                e.to_string()
            };
            return Err(io::Error::new(e.kind(), what));
        }
    };
    drop(cmd); // our copies of the child's pipe ends: only the child holds them now
    let pid = child.id().unwrap_or(0);
    let start_ticks = process::start_ticks(pid).unwrap_or(0);
    let exits = exits.clone();
    tasks.spawn(async move {
        let exit = match child.wait().await {
            Ok(status) => Exit::from_status(status),
            Err(_) => Exit::Unknown,
        };
        let _ = exits.send(Exited { id, exit }).await;
    });
    Ok(Instance {
        id,
        app: template.app.clone(),
        index,
        revision: template.revision.clone(),
        pid,
        start_ticks,
        started: Instant::now(),
        started_ms: unix_ms(SystemTime::now()),
        phase: Phase::Starting,
        stop_reason: None,
        pipes,
        escalation: CancellationToken::new(),
    })
}

/// Adopts the process of a record entry if it is still the same process; `None` if it is gone.
pub fn adopt(
    home: &Home,
    entry: &RecordEntry,
    now: Instant,
    wall_now: SystemTime,
    exits: &mpsc::Sender<Exited>,
    tasks: &TaskTracker,
    captures_stop: &CancellationToken,
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
    for (path, stream) in entry.pipes.iter().zip([Stream::Out, Stream::Err]) {
        let pipe = LogPipe::open_existing(path);
        let file = logs::log_file(home, &entry.app, entry.index, stream);
        match logs::spawn_capture(
            &pipe,
            file,
            CaptureOptions { timestamps: true },
            captures_stop.clone(),
        ) {
            Ok(capture) => {
                tasks.spawn(capture.finished());
            }
            Err(e) => {
                tracing::warn!(app = %entry.app, "cannot re-open the log pipe {}: {e}", path.display())
            }
        }
        pipes.push(pipe);
    }
    let (id, exits_tx) = (entry.id, exits.clone());
    tasks.spawn(async move {
        pidfd.exited().await;
        let _ = exits_tx
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
        escalation: CancellationToken::new(),
    })
}
