//! What every spawned or adopted instance needs from its supervisor: where state lives, where
//! to report exits and probe results, and the task tracker that owns every helper task.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::census::Census;
use super::reports::{Exited, LeftBehind};
use crate::home::Home;
use crate::logs::LogLoss;
use crate::probe::ProbeReport;

/// The supervisor's channels and task owner, lent to spawn and adopt.
#[derive(Debug, Clone)]
pub struct Shared {
    /// `$CORRAL_HOME`.
    pub home: Home,
    /// Exit reports to the controller loop.
    pub exits: mpsc::Sender<Exited>,
    /// Probe reports to the controller loop.
    pub probes: mpsc::Sender<ProbeReport>,
    /// Owns every helper task (waits, captures, probers, stop timers).
    pub tasks: TaskTracker,
    /// Runs of log lines lost to write errors, to the controller loop (bounded).
    pub log_losses: mpsc::Sender<LogLoss>,
    /// Ends log capture at shutdown (after every instance exited).
    pub captures_stop: CancellationToken,
    /// Holds every capture still between two reads while a successor takes the pipes over.
    pub captures_pause: crate::logs::CapturePause,
    /// Finds the processes of instance trees in /proc (shared by every stop and sweep).
    pub census: Arc<Census>,
    /// Reports of processes left behind by an instance, to the controller loop (bounded).
    pub left_behind: mpsc::Sender<LeftBehind>,
}
