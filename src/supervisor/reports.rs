//! What instances report to the controller loop: how a process ended, and what a main process
//! left behind. Plain data, below everything else in `supervisor/` that sends or reads them.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::reconcile::InstanceId;

/// Pids named in a `ProcessesLeftBehind` message, at most.
const PIDS_SHOWN: usize = 10;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Not our child (adopted): the status is not known.
    Unknown,
}

impl Exit {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// From a wait status.
    pub fn from_status(status: std::process::ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Unknown,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => match Signal::try_from(*s) {
                Ok(sig) => write!(f, "signal {}", sig.as_str()),
                Err(_) => write!(f, "signal {s}"),
            },
            Exit::Unknown => write!(f, "exit status unknown (adopted process)"),
        }
    }
}

/// A wait task's report: process `id` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited {
    /// Which instance.
    pub id: InstanceId,
    /// How.
    pub exit: Exit,
}

/// The report of processes an instance left behind when its main process exited unplanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    /// Which instance.
    pub id: InstanceId,
    /// Its app.
    pub app: String,
    /// Its index.
    pub index: u32,
    /// Its main process.
    pub main: u32,
    /// The processes left, by pid.
    pub pids: Vec<u32>,
    /// The signal they were sent.
    pub signal: Signal,
    /// How long they get before SIGKILL.
    pub timeout: Duration,
}

impl std::fmt::Display for LeftBehind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<String> = self
            .pids
            .iter()
            .take(PIDS_SHOWN)
            .map(u32::to_string)
            .collect();
        let more = match self.pids.len().saturating_sub(PIDS_SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        write!(
            f,
            "instance {} (pid {}) exited and left {} process(es) behind (pid {}{more}): sent {}, SIGKILL after {:?}; the restart waits until they are gone",
            self.index,
            self.main,
            self.pids.len(),
            shown.join(", "),
            self.signal.as_str(),
            self.timeout,
        )
    }
}
