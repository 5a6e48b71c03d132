//! Low-level process facts and signals: start times from /proc, process-group signals, and
//! waiting for a process that is not our child (pidfd).

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

/// The process's start time in clock ticks since boot (`/proc/PID/stat` field 22): with the
/// pid, it identifies a process across pid reuse.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is a live (not zombie) process that started at `ticks`.
pub fn is_same_process(pid: u32, ticks: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next();
    let started = fields.nth(18).and_then(|f| f.parse::<u64>().ok());
    state != Some("Z") && started == Some(ticks)
}

/// Sends `signal` to the process group led by `pgid`; a group already gone is not an error.
pub fn signal_group(pgid: u32, signal: Signal) -> io::Result<()> {
    let Ok(raw) = i32::try_from(pgid) else {
        return Ok(());
    };
    match killpg(Pid::from_raw(raw), signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(io::Error::from(e)),
    }
}

/// Waits for our child `pid` and collects how it ended. Blocking.
pub fn wait_child(pid: u32) -> super::reports::Exit {
    use super::reports::Exit;
    use nix::sys::wait::{waitpid, WaitStatus};
    let Ok(raw) = i32::try_from(pid) else {
        return Exit::Unknown;
    };
    loop {
        return match waitpid(Pid::from_raw(raw), None) {
            Ok(WaitStatus::Exited(_, code)) => Exit::Code(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => Exit::Signal(signal as i32),
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) | Err(_) => Exit::Unknown,
        };
    }
}

/// A handle that becomes readable when a process exits, for processes we did not spawn
/// (adopted from a previous controller).
pub struct PidFd(AsyncFd<OwnedFd>);

impl PidFd {
    /// Opens a pidfd for `pid` (Linux ≥ 5.3).
    pub fn open(pid: u32) -> io::Result<Self> {
        let raw_pid =
            i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; no memory is shared.
        let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, raw_pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a fresh fd that nothing else owns (and it is CLOEXEC).
        let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: `owned` is a valid open fd that the AsyncFd owns until it is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE) }?;
        Ok(Self(fd))
    }

    /// Waits until the process has exited.
    pub async fn exited(&self) {
        loop {
            match self.0.readable().await {
                Ok(_guard) => return,
                Err(_) => tokio::task::yield_now().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_start_time() {
        let me = std::process::id();
        let ticks = start_ticks(me).expect("own stat");
        assert!(is_same_process(me, ticks));
        assert!(!is_same_process(me, ticks + 1));
    }

    #[tokio::test]
    async fn pidfd_reports_exit_of_a_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.05")
            .spawn()
            .expect("spawn");
        let fd = PidFd::open(child.id()).expect("pidfd");
        fd.exited().await;
        assert!(child.wait().expect("wait").success());
    }
}
