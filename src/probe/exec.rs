//! `exec` probes: a command run in the instance's cwd and env; exit 0 passes.
//!
//! Each check runs in its own process group, which is SIGKILLed when the check ends (on
//! timeout, on stop, and after a normal exit, to end anything it left in the background);
//! the command itself is always reaped.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::{self, Instant};
use tokio_util::sync::CancellationToken;

use super::{describe_io, show_duration, Outcome};
use crate::launch::Program;

/// How much of the command's stdout and stderr goes into a failure message.
const OUTPUT_CAP: usize = 256;

/// How long to wait for the output pipes to close once the process group is gone.
const OUTPUT_GRACE: Duration = Duration::from_millis(250);

/// A command to run per check.
#[derive(Debug, Clone)]
pub(crate) struct ExecCheck {
    /// The field that names the command, for messages (`spec.readiness.exec.command`).
    pub field: &'static str,
    /// argv; never empty.
    pub argv: Vec<String>,
    /// Working directory; empty means the controller's.
    pub cwd: PathBuf,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// The instance's user and limits, applied before exec; `None`: the controller's.
    pub confine: Option<std::sync::Arc<crate::confine::Confinement>>,
    /// Bound on one run.
    pub timeout: Duration,
}

/// How a run ended.
enum End {
    /// The command exited (or waiting for it failed).
    Exited(std::io::Result<ExitStatus>),
    /// The timeout passed first.
    TimedOut,
    /// `stop` was cancelled first.
    Stopped,
}

impl ExecCheck {
    /// Why the command could not start, naming the field to fix (a look at its file, so off
    /// the runtime's threads).
    async fn explain(&self, err: std::io::Error) -> String {
        let (argv, cwd, env, field) = (
            self.argv.clone(),
            self.cwd.clone(),
            self.env.clone(),
            self.field,
        );
        let explained = tokio::task::spawn_blocking(move || {
            let path = env
                .iter()
                .rev()
                .find(|(k, _)| k == "PATH")
                .map(|(_, v)| v.as_str());
            Program::find(&argv[0], &cwd, path, field).explain(&err)
        });
        explained
            .await
            .unwrap_or_else(|e| describe_io(&std::io::Error::other(e)))
    }

    /// Runs the command once; `None` when `stop` fired (the group is killed and reaped first).
    pub async fn run(&self, stop: &CancellationToken) -> Option<Outcome> {
        let what = format!("exec {}", self.argv.join(" "));
        let mut command = Command::new(&self.argv[0]);
        command
            .args(&self.argv[1..])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if !self.cwd.as_os_str().is_empty() {
            command.current_dir(&self.cwd);
        }
        if let Some(confine) = self.confine.clone() {
            // SAFETY: `apply_in_child` only makes async-signal-safe syscalls, no allocation.
            unsafe {
                command.pre_exec(move || confine.apply_in_child());
            }
        }
        // Through the controller's gate: its reaper leaves this child to us.
        let (mut child, owned) = match crate::children::spawn(&mut command) {
            Ok(spawned) => spawned,
            Err(err) => {
                // A failed step of the user switch has its own sentence; the rest say what is
                // wrong with the program.
                let err = match &self.confine {
                    Some(confine) => confine.explain(err, &self.argv[0]),
                    None => err,
                };
                let why = match err.raw_os_error() {
                    Some(_) => self.explain(err).await,
                    None => describe_io(&err),
                };
                let message = format!("{what}: {why}");
                return Some(Outcome {
                    passed: false,
                    message,
                });
            }
        };
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let output = read_output(child.stdout.take(), child.stderr.take());
        let mut output = std::pin::pin!(output);
        let mut collected = None;
        let deadline = Instant::now() + self.timeout;
        let end = loop {
            tokio::select! {
                status = child.wait() => break End::Exited(status),
                text = &mut output, if collected.is_none() => collected = Some(text),
                _ = time::sleep_until(deadline) => break End::TimedOut,
                _ = stop.cancelled() => break End::Stopped,
            }
        };
        // Ends whatever the check left running in its group. In the `Exited` case the leader
        // was reaped a moment ago; for its pid to lead an unrelated group already, the pid
        // space would have to wrap around in between (pids are allocated cyclically).
        if let Some(pgid) = pgid {
            match killpg(pgid, Signal::SIGKILL) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(err) => tracing::warn!(%pgid, %err, "cannot kill exec probe process group"),
            }
        }
        if !matches!(end, End::Exited(Ok(_))) {
            if let Err(err) = child.wait().await {
                tracing::warn!(%err, "cannot reap exec probe");
            }
        }
        owned.reaped();
        if matches!(end, End::Stopped) {
            return None;
        }
        let text = match collected {
            Some(text) => text,
            None => time::timeout(OUTPUT_GRACE, output)
                .await
                .unwrap_or_default(),
        };
        let (passed, result) = match end {
            End::Stopped => return None,
            End::TimedOut => {
                let after = show_duration(self.timeout);
                (
                    false,
                    format!("timed out after {after}, process group killed"),
                )
            }
            End::Exited(Err(err)) => (false, format!("cannot wait: {}", describe_io(&err))),
            End::Exited(Ok(status)) => (status.success(), describe_status(status)),
        };
        let message = if passed || text.is_empty() {
            format!("{what}: {result}")
        } else {
            format!("{what}: {result}: {text}")
        };
        Some(Outcome { passed, message })
    }
}

/// `exit 1` or `killed by signal 9`.
fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Reads stdout and stderr to their end, keeping the first [`OUTPUT_CAP`] bytes, trimmed.
async fn read_output(
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
) -> String {
    let (mut out, err) = tokio::join!(read_capped(stdout), read_capped(stderr));
    out.extend_from_slice(&err);
    out.truncate(OUTPUT_CAP);
    String::from_utf8_lossy(&out).trim().to_string()
}

/// Reads `pipe` to its end (so the command never blocks on a full pipe), keeping the start.
async fn read_capped(pipe: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut buf = [0u8; 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = OUTPUT_CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}
