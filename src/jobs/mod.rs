//! Jobs (`kind: Job`): the state of each Job's runs and the decisions on them, as plain data
//! (what to start, whether to stop, when to look again), and `$CORRAL_HOME/jobs.json`, the
//! results that outlive the controller. Never touches a process: the controller carries the
//! decisions out through the supervisor, as it does an app's instances.

pub mod record;
mod state;

pub use state::{backoff_delay, JobState, Step};

/// Job status words (Kubernetes' for Jobs).
pub mod phase {
    /// Runs are going or due.
    pub const RUNNING: &str = "Running";
    /// `completions` runs succeeded.
    pub const COMPLETE: &str = "Complete";
    /// Over `backoffLimit` or past `activeDeadlineSeconds`.
    pub const FAILED: &str = "Failed";
    /// `spec.suspend: true`.
    pub const SUSPENDED: &str = "Suspended";
    /// Held back by `spec.dependsOn` (the reason says which).
    pub const WAITING: &str = "Waiting";
}
