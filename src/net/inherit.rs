//! `mode: inherit`: hand the controller's listening sockets to a child as fd 3, 4, …
//! (systemd socket activation: `LISTEN_FDS`, `LISTEN_FDNAMES`, `LISTEN_PID`).
//!
//! `LISTEN_PID` must be the child's own pid, which the parent learns only after fork. So the
//! child is spawned as `corral __exec -- CMD…` ([`shim_command`]): [`pass_fds`] places the
//! sockets and sets `LISTEN_FDS`/`LISTEN_FDNAMES`, then the shim, already running as the
//! child's pid, adds `LISTEN_PID=getpid()` and execs `CMD` ([`exec_with_listen_pid`]), which
//! keeps that pid and the fds.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt as _;

/// The hidden subcommand that runs [`exec_with_listen_pid`]: `corral __exec -- CMD…`.
pub const EXEC_SUBCOMMAND: &str = "__exec";

/// The first fd number of passed sockets (after stdin, stdout, stderr), per systemd.
const FIRST_FD: RawFd = 3;

/// Makes `cmd`'s child receive `fds` as fd 3, 4, … in order, named for `LISTEN_FDNAMES`.
///
/// `fds` are the caller's dups (see `AppListeners::dup_inherit_fds`); they are CLOEXEC in
/// the controller and are placed, without CLOEXEC, only inside this child's `pre_exec`, so no
/// other child inherits them. They close in the controller when `cmd` is dropped. Sets
/// `LISTEN_FDS` and `LISTEN_FDNAMES` and removes any inherited `LISTEN_PID`: spawn through
/// [`shim_command`] so the child gets its own pid there. With no fds it only clears the three.
pub fn pass_fds(cmd: &mut tokio::process::Command, fds: Vec<(OwnedFd, String)>) {
    cmd.env_remove("LISTEN_PID");
    if fds.is_empty() {
        cmd.env_remove("LISTEN_FDS").env_remove("LISTEN_FDNAMES");
        return;
    }
    let names: Vec<&str> = fds.iter().map(|(_, name)| name.as_str()).collect();
    cmd.env("LISTEN_FDS", fds.len().to_string())
        .env("LISTEN_FDNAMES", names.join(":"));
    let fds: Vec<OwnedFd> = fds.into_iter().map(|(fd, _)| fd).collect();
    // Allocated here: the pre_exec hook must not allocate (it runs between fork and exec).
    let mut scratch: Vec<RawFd> = vec![-1; fds.len()];
    // SAFETY: the hook only calls fcntl and dup2, which are async-signal-safe, and touches
    // memory allocated before the fork.
    unsafe {
        cmd.pre_exec(move || place_fds(&fds, &mut scratch));
    }
}

/// In the forked child: puts `fds[i]` at `3 + i` without FD_CLOEXEC.
///
/// First every source is copied above the target range (CLOEXEC, so the copies vanish at
/// exec), so a source that already sits at a target number is not overwritten early.
fn place_fds(fds: &[OwnedFd], scratch: &mut [RawFd]) -> io::Result<()> {
    let above = FIRST_FD + fds.len() as RawFd;
    for (fd, slot) in fds.iter().zip(scratch.iter_mut()) {
        // SAFETY: plain fcntl on an fd this closure owns.
        *slot = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, above) };
        if *slot < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    for (target, &high) in (FIRST_FD..).zip(scratch.iter()) {
        // SAFETY: dup2 onto a low fd number; whatever the child had there was CLOEXEC.
        if unsafe { libc::dup2(high, target) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: clears FD_CLOEXEC on the fd just placed so it survives exec.
        if unsafe { libc::fcntl(target, libc::F_SETFD, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A command running `argv` through the shim: `current_exe() __exec -- argv…`.
///
/// Add cwd, env, stdio and [`pass_fds`] to it as to any instance command.
pub fn shim_command(argv: &[String]) -> io::Result<tokio::process::Command> {
    let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
    cmd.arg(EXEC_SUBCOMMAND).arg("--").args(argv);
    Ok(cmd)
}

/// The shim's body: sets `LISTEN_PID` to this process's pid and execs `argv` in place.
///
/// Returns only if the exec failed (like `CommandExt::exec`); the caller prints the error and
/// exits 127. Call it before starting any runtime or thread:
///
/// ```no_run
/// let argv: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
/// let error = corral::net::exec_with_listen_pid(&argv);
/// eprintln!("corral __exec: cannot run {:?}: {error}", argv.first());
/// std::process::exit(127);
/// ```
pub fn exec_with_listen_pid(argv: &[String]) -> io::Error {
    let Some((program, args)) = argv.split_first() else {
        return io::Error::new(io::ErrorKind::InvalidInput, "no command given after --");
    };
    std::process::Command::new(program)
        .args(args)
        .env("LISTEN_PID", std::process::id().to_string())
        .exec()
}
