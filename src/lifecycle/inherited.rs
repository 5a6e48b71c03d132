//! Sockets this process was started with, by systemd's socket-passing protocol (`LISTEN_FDS`,
//! `LISTEN_FDNAMES`, `LISTEN_PID`, fds from 3): from the controller it replaces (`corral
//! upgrade`) or from systemd's fd store after a restart or a crash.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// The first passed fd, per sd_listen_fds(3).
const FIRST_FD: RawFd = 3;

/// More than this many passed fds is not believed (a garbled environment).
const MAX_FDS: usize = 4096;

/// The passed sockets not yet claimed, by name.
#[derive(Debug, Default)]
pub struct Inherited {
    fds: Mutex<Vec<(String, OwnedFd)>>,
}

impl Inherited {
    /// Takes the fds passed to this process, if `LISTEN_PID` names it, marks them CLOEXEC
    /// (no app inherits them by accident) and removes the three variables from the
    /// environment. Call before any thread starts.
    pub fn from_env() -> Self {
        let vars = (
            std::env::var("LISTEN_PID").ok(),
            std::env::var("LISTEN_FDS").ok(),
            std::env::var("LISTEN_FDNAMES").ok(),
        );
        for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
            // SAFETY (of the call's contract): called before the controller starts threads.
            std::env::remove_var(var);
        }
        let fds = parse(vars, std::process::id())
            .into_iter()
            .filter_map(|(fd, name)| {
                // SAFETY: fcntl on an fd number; a closed one fails with EBADF and is skipped.
                let ok = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } == 0;
                // SAFETY: the fd is open and was passed to us to own (sd_listen_fds(3)).
                ok.then(|| (name, unsafe { OwnedFd::from_raw_fd(fd) }))
            })
            .collect();
        Self {
            fds: Mutex::new(fds),
        }
    }

    /// Claims the first passed fd named `name`.
    pub fn take(&self, name: &str) -> Option<OwnedFd> {
        let mut fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        let at = fds.iter().position(|(n, _)| n == name)?;
        Some(fds.remove(at).1)
    }

    /// Whether an fd named `name` was passed and not claimed yet.
    pub fn has(&self, name: &str) -> bool {
        let fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        fds.iter().any(|(n, _)| n == name)
    }

    /// Claims every fd left (the caller closes those it has no use for).
    pub fn take_rest(&self) -> Vec<(String, OwnedFd)> {
        let mut fds = self.fds.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *fds)
    }
}

/// The passed fds and their names, if `LISTEN_PID` is `pid`: `(LISTEN_PID, LISTEN_FDS,
/// LISTEN_FDNAMES)`. Unnamed fds are `unknown`, as systemd names them.
fn parse(
    (listen_pid, count, names): (Option<String>, Option<String>, Option<String>),
    pid: u32,
) -> Vec<(RawFd, String)> {
    if listen_pid.and_then(|p| p.trim().parse::<u32>().ok()) != Some(pid) {
        return Vec::new();
    }
    let Some(count) = count.and_then(|n| n.trim().parse::<usize>().ok()) else {
        return Vec::new();
    };
    let count = count.min(MAX_FDS);
    let names: Vec<String> = names
        .map(|n| n.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    (0..count)
        .map(|i| {
            let name = names.get(i).cloned().unwrap_or_else(|| "unknown".into());
            (FIRST_FD + i as RawFd, name)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(
        pid: &str,
        n: &str,
        names: Option<&str>,
    ) -> (Option<String>, Option<String>, Option<String>) {
        (Some(pid.into()), Some(n.into()), names.map(str::to_owned))
    }

    #[test]
    fn fds_are_ours_only_when_listen_pid_names_us() {
        assert_eq!(
            parse(vars("42", "2", Some("a:b")), 42),
            vec![(3, "a".to_owned()), (4, "b".to_owned())]
        );
        assert!(parse(vars("41", "2", Some("a:b")), 42).is_empty());
        assert!(parse((None, Some("2".into()), None), 42).is_empty());
        assert!(parse(vars("42", "x", None), 42).is_empty());
    }

    #[test]
    fn missing_names_are_unknown() {
        assert_eq!(
            parse(vars("7", "2", Some("a")), 7),
            vec![(3, "a".to_owned()), (4, "unknown".to_owned())]
        );
    }
}
