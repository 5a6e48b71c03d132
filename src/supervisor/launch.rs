//! Starting one process of a template (an instance's, or a hook's): through the spawner when
//! it runs, else by forking the controller; and waiting for its exit status.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::Arc;

use super::process::{self, PidFd};
use super::reports::Exit;
use super::spawn::Prepared;
use super::start_error;
use super::start_request;
use super::template::Template;
use crate::cgroup::InstanceCgroup;
use crate::net;

/// Starts the process of `template` with `env` and its stdout and stderr on `out` and `err`:
/// through the spawner when it runs, else by forking the controller. Blocking.
pub(super) fn launch(
    (template, prepared): (&Template, &Prepared),
    env: &[(String, String)],
    (out, err): (File, File),
    inherit: Option<Vec<(OwnedFd, String)>>,
    cgroup: Option<&InstanceCgroup>,
) -> io::Result<(Waiter, crate::children::Owned)> {
    if crate::children::spawner::enabled() {
        let program = start_request::Program {
            found: prepared.program.as_deref(),
            argv: &template.argv,
            shim: inherit.is_some(),
        };
        start_request::build(
            program,
            (env, &template.cwd),
            prepared.confine.steps(),
            (out.into(), err.into()),
            inherit.unwrap_or_default(),
            cgroup.map(|c| c.path.as_path()),
        )
        .and_then(|(req, fds)| crate::children::spawner::start(&req, fds))
        .map(|owned| (Waiter::Spawned(owned.pid()), owned))
    } else {
        fork(template, prepared, env, (out, err), inherit, cgroup)
            .map(|(child, owned)| (Waiter::Forked(child), owned))
    }
}

/// A failed [`launch`] in the app's words: a failed step of the user switch has its own
/// sentence; the rest say what is wrong with the program. `env` is the process's environment.
pub(super) fn explain(
    e: io::Error,
    (template, prepared): (&Template, &Prepared),
    env: &[(String, String)],
) -> io::Error {
    let program = template.argv.first().map_or("", String::as_str);
    let e = prepared.confine.explain(e, program);
    match e.raw_os_error() {
        Some(_) => start_error::explain(&e, template, env),
        None => e,
    }
}

/// Starts an instance by forking the controller (when the spawner process is not running):
/// the `Command` with its `pre_exec` steps, through the reaper's gate.
fn fork(
    template: &Template,
    prepared: &Prepared,
    env: &[(String, String)],
    (out, err): (File, File),
    inherit: Option<Vec<(OwnedFd, String)>>,
    cgroup: Option<&InstanceCgroup>,
) -> io::Result<(tokio::process::Child, crate::children::Owned)> {
    let Some((program, args)) = template.argv.split_first() else {
        return Err(io::Error::other("the command is empty"));
    };
    let mut cmd = match &inherit {
        Some(_) => net::shim_command(&template.argv)?,
        None => {
            let mut cmd = tokio::process::Command::new(
                prepared.program.as_deref().unwrap_or(program.as_ref()),
            );
            cmd.arg0(program).args(args);
            cmd
        }
    };
    cmd.current_dir(&template.cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0)
        .kill_on_drop(false);
    if let Some(fds) = inherit {
        net::pass_fds(&mut cmd, fds);
    }
    if let Some(cgroup) = cgroup {
        let procs = cgroup.procs.clone();
        // SAFETY: the closure only calls the async-signal-safe `enter_from_child`.
        unsafe {
            cmd.pre_exec(move || InstanceCgroup::enter_from_child(&procs));
        }
    }
    // Last of the pre_exec hooks (after the cgroup's and the fds'): it gives up root.
    let confine = Arc::clone(&prepared.confine);
    // SAFETY: `apply_in_child` only makes async-signal-safe syscalls and does not allocate.
    unsafe {
        cmd.pre_exec(move || confine.apply_in_child());
    }
    crate::children::spawn(&mut cmd)
    // `cmd` drops here with our copies of the child's pipe ends: only the child holds them.
}

/// How an instance's exit status is collected.
pub(super) enum Waiter {
    /// Forked by tokio's `Command`.
    Forked(tokio::process::Child),
    /// Started by the spawner: our child all the same, waited for by pid.
    Spawned(u32),
}

impl Waiter {
    /// Waits for the process to exit and collects its status.
    pub(super) async fn wait(self) -> Exit {
        match self {
            Waiter::Forked(mut child) => match child.wait().await {
                Ok(status) => Exit::from_status(status),
                Err(_) => Exit::Unknown,
            },
            Waiter::Spawned(pid) => {
                // Readable at its exit; without one, the blocking wait below does it all.
                if let Ok(fd) = PidFd::open(pid) {
                    fd.exited().await;
                }
                let waited = tokio::task::spawn_blocking(move || process::wait_child(pid)).await;
                waited.unwrap_or(Exit::Unknown)
            }
        }
    }
}
