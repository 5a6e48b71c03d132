//! The JSON shapes of the control API, shared by the server and the CLI.

use serde::{Deserialize, Serialize};

/// What `GET /v1/apps` returns: every app the controller knows, and the manifest errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppList {
    /// Apps sorted by name.
    pub apps: Vec<AppStatus>,
    /// Manifest files that failed to parse or validate, and name conflicts.
    pub errors: Vec<ManifestProblem>,
    /// Jobs sorted by name (none from a controller older than Jobs).
    #[serde(default)]
    pub jobs: Vec<JobStatus>,
    /// CronJobs sorted by name (none from a controller older than CronJobs).
    #[serde(default)]
    pub cronjobs: Vec<CronJobStatus>,
}

/// One CronJob as the controller sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobStatus {
    /// `metadata.name`.
    pub name: String,
    /// Manifest file that defines it.
    pub file: String,
    /// The cron expression.
    pub schedule: String,
    /// The IANA zone it is read in.
    pub time_zone: String,
    /// `spec.suspend`.
    pub suspend: bool,
    /// `Allow`, `Forbid` or `Replace`.
    pub concurrency_policy: String,
    /// Its Jobs still running.
    pub active: Vec<String>,
    /// Every Job of it still kept, oldest first.
    pub jobs: Vec<String>,
    /// The fire time of its last run (unix ms).
    pub last_schedule_ms: Option<u64>,
    /// Its next fire time (unix ms); none when suspended.
    pub next_ms: Option<u64>,
    /// When this controller (or an earlier one) first saw it (unix ms).
    pub created_ms: u64,
}

/// One Job as the controller sees it (also what `$CORRAL_HOME/jobs.json` keeps of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// `metadata.name`.
    pub name: String,
    /// Manifest file that defines it (or the CronJob that made it).
    pub file: String,
    /// The Job's revision (its template and run counts).
    pub revision: String,
    /// `Waiting`, `Running`, `Complete`, `Failed` or `Suspended`.
    pub status: String,
    /// Why it failed (`BackoffLimitExceeded`, `DeadlineExceeded`), or why it is `Waiting`
    /// (`waiting for db to be Ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Successful runs needed (`spec.completions`).
    pub completions: u32,
    /// Runs that exited 0.
    pub succeeded: u32,
    /// Runs that failed (non-zero exit, signal, failure to start).
    pub failed: u32,
    /// When the first run started (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    /// When it became `Complete` or `Failed` (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_ms: Option<u64>,
    /// Its runs, oldest first.
    #[serde(default)]
    pub runs: Vec<JobRun>,
}

/// One run of a Job: one process.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRun {
    /// 0-based run number (`CORRAL_INSTANCE`; its log files are `INDEX.out.log`/`INDEX.err.log`).
    pub index: u32,
    /// Its pid, while known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// When it started (unix ms).
    pub start_ms: u64,
    /// When it ended (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// How it ended: `exit code 0`, `signal SIGKILL`, `failed to start: ...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// Whether it succeeded (exit 0); `None` while running or when stopped by the Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<bool>,
}

/// One app as the controller sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppStatus {
    /// `metadata.name`.
    pub name: String,
    /// Manifest file that defines it.
    pub file: String,
    /// Labels from the manifest.
    pub labels: std::collections::BTreeMap<String, String>,
    /// Current desired revision (short hash).
    pub revision: String,
    /// Desired instance count (0 when suspended or deleted).
    pub desired: u32,
    /// Instances that are ready, of any revision (kubectl's READY: during a rollout the old
    /// ones that still serve count, so it never reads 0 while the app serves).
    pub ready: u32,
    /// Live instances at the desired revision, ready or not (kubectl's UP-TO-DATE).
    #[serde(default)]
    pub updated: u32,
    /// Instances of any revision ready for at least `minReadySeconds` (kubectl's AVAILABLE).
    #[serde(default)]
    pub available: u32,
    /// One word for people: `Running`, `Starting`, `Progressing`, `CrashLoopBackOff`,
    /// `ProgressDeadlineExceeded`, `Suspended`, `Stopping`, `Stopped`, `Exited`, `Failed`; with a
    /// canary, `Paused` or `Degraded` too.
    pub status: String,
    /// Restarts of all current instances.
    pub restarts: u32,
    /// CPU percent of all instances (None until sampled).
    pub cpu_percent: Option<f32>,
    /// RSS bytes of all instances (None until sampled).
    pub memory_bytes: Option<u64>,
    /// When the app was first started by this controller (unix ms).
    pub created_ms: u64,
    /// The manifest error that keeps this app on its last good version, if any.
    pub error: Option<String>,
    /// Kubernetes-style conditions (Available, Progressing…).
    pub conditions: Vec<Condition>,
    /// Per-instance detail.
    pub instances: Vec<InstanceStatus>,
    /// Recent events, oldest first (bounded).
    pub events: Vec<Event>,
    /// The spec in force, as YAML.
    pub spec_yaml: String,
    /// `spec.watch` at work, when the app has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<WatchStatus>,
    /// The git commit the definition in force was read at (manifests in a git work tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<crate::gitops::AppliedCommit>,
    /// Who its instances run as: `nobody (65534:65534)` (`spec.user`, else the controller's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A canary in flight or aborted (`strategy.type: Canary`): its step and both revisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,
    /// The last run of each of the app's hooks (`spec.hooks`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookStatus>,
    /// `spec.restartSchedule`: when the next scheduled rolling reload is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_schedule: Option<RestartScheduleStatus>,
}

/// The last run of one hook of an app, for `describe`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookStatus {
    /// `preRollout` or `postRollout`.
    pub hook: String,
    /// The revision it ran for.
    pub revision: String,
    /// `Running`, `Succeeded` or `Failed`.
    pub state: String,
    /// The argv it ran.
    pub command: Vec<String>,
    /// Its exit code, when it exited with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its last lines of output (stderr's prefixed with `! `).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tail: Vec<String>,
    /// When it started (unix ms).
    pub started_ms: u64,
    /// When it ended (unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_ms: Option<u64>,
    /// A revision held back waiting for this hook (`preRollout`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding: Option<String>,
}

/// An app's scheduled rolling reloads (`spec.restartSchedule`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestartScheduleStatus {
    /// The cron expression.
    pub schedule: String,
    /// The IANA zone it is read in.
    pub time_zone: String,
    /// The next one, in that zone (RFC 3339 with the zone), if the schedule fires again.
    pub next: Option<String>,
    /// The next one (unix ms).
    pub next_ms: Option<u64>,
    /// The last one this controller did (unix ms).
    pub last_ms: Option<u64>,
}

/// Where a canary stands (Argo Rollouts' view): the step, the weight, both revisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The strategy at work: `Canary`.
    pub strategy: String,
    /// The step reached, 1-based (0: before the first).
    pub step: u32,
    /// How many steps `strategy.steps` has.
    pub steps: u32,
    /// The share of requests (http mode) or of instances (other modes) the canary gets, 0..=100.
    pub weight: u8,
    /// What `weight` is a share of: `requests` (mode http) or `instances`.
    #[serde(default)]
    pub share_of: String,
    /// Waiting at a `pause` step (or `corral rollout pause`): `corral rollout promote` goes on.
    pub paused: bool,
    /// The revision that served before the rollout.
    pub stable: RevisionCount,
    /// The revision being tried.
    pub canary: RevisionCount,
    /// Why the canary was aborted (traffic is back on stable), until the manifest changes or
    /// `corral rollout retry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
}

#[cfg(test)]
impl RolloutStatus {
    /// For rendering tests: a canary at step 1 of 4, 10% of requests, with 4 ready stable
    /// instances at `stable` and 1 ready canary instance at `canary`.
    pub fn canary_at_10_percent(stable: &str, canary: &str) -> Self {
        let count = |revision: &str, n| RevisionCount {
            revision: revision.into(),
            ready: n,
            instances: n,
            traffic: None,
        };
        Self {
            strategy: "Canary".into(),
            step: 1,
            steps: 4,
            weight: 10,
            share_of: "requests".into(),
            paused: false,
            stable: count(stable, 4),
            canary: count(canary, 1),
            aborted: None,
        }
    }
}

/// One revision's instances in a canary.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionCount {
    /// Its revision (short hash).
    pub revision: String,
    /// Its instances that are ready.
    pub ready: u32,
    /// Its live instances.
    pub instances: u32,
    /// Its requests over the last analysis window (http mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

/// One revision's requests over a canary's last analysis window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    /// Requests answered or failed.
    pub requests: u64,
    /// 5xx answers and failed backend attempts.
    pub errors: u64,
    /// The analysis' latency percentile, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Which percentile `latency_ms` is (`analysis.latencyPercentile`).
    pub percentile: f64,
}

impl Traffic {
    /// `1.2% errors of 340 requests, p95 12ms`.
    pub fn summary(&self) -> String {
        let percent = match self.requests {
            0 => 0.0,
            n => self.errors as f64 * 100.0 / n as f64,
        };
        let latency = self
            .latency_ms
            .map(|ms| format!(", p{} {ms:.1}ms", self.percentile))
            .unwrap_or_default();
        format!(
            "{percent:.1}% errors of {} requests{latency}",
            self.requests
        )
    }
}

/// An app's file watch (`spec.watch`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchStatus {
    /// The watched paths (absolute).
    pub paths: Vec<String>,
    /// `Starting`, `Watching` or `Failed`.
    pub state: String,
    /// Why the watch failed and how to fix it (the app keeps running unwatched).
    pub error: Option<String>,
    /// The change that last triggered a reload.
    pub last_trigger: Option<WatchTrigger>,
    /// A change came during a rollout: one more reload follows when it is over.
    pub pending: bool,
}

/// A burst of file changes that triggered a reload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchTrigger {
    /// When (unix ms).
    pub at_ms: u64,
    /// The first changed paths (relative to `cwd` when under it).
    pub paths: Vec<String>,
    /// How many other paths changed.
    pub more: u64,
}

/// One instance (a process and its restarts at one index).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceStatus {
    /// 0-based index (`CORRAL_INSTANCE`).
    pub index: u32,
    /// Process id, while running.
    pub pid: Option<u32>,
    /// Revision this instance runs.
    pub revision: String,
    /// `Starting`, `Running`, `Stopping`, `Exited`, `CrashLoopBackOff`.
    pub phase: String,
    /// Whether it passed readiness.
    pub ready: bool,
    /// Times this slot was restarted.
    pub restarts: u32,
    /// When the current process started (unix ms).
    pub started_ms: Option<u64>,
    /// In back-off: when the next start is due (unix ms).
    pub next_retry_ms: Option<u64>,
    /// How the last process ended, e.g. `exit code 1` or `signal SIGKILL`.
    pub last_exit: Option<String>,
    /// Why its probe last failed (`Readiness probe failed: …`), unless it passed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_failure: Option<String>,
    /// CPU percent, when sampled.
    pub cpu_percent: Option<f32>,
    /// RSS of the process tree in bytes, when sampled.
    pub memory_bytes: Option<u64>,
}

/// A Kubernetes-style condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Available`, `Progressing`, `ManifestValid`.
    pub kind: String,
    /// `True`/`False`.
    pub status: bool,
    /// Short CamelCase reason.
    pub reason: String,
    /// Sentence for people.
    pub message: String,
}

/// Something that happened to an app, one of its instances, or the controller.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Place in the controller's event stream: 1, 2, … for its lifetime (0: not from the stream).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
    /// When (unix ms).
    pub at_ms: u64,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// Short CamelCase reason: `Started`, `Exited`, `BackOff`, `Stopped`, `InvalidManifest`…
    pub reason: String,
    /// The app it is about; none for the controller's own (a commit applied, a new broken file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The instance index (`CORRAL_INSTANCE`), when it is about one instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Sentence for people.
    pub message: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A manifest that could not be used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestProblem {
    /// The file.
    pub file: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Apps affected (kept on their last good version).
    pub apps: Vec<String>,
}

impl std::fmt::Display for ManifestProblem {
    /// `file:line:column: message`, or `file: message` when there is no place in the file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// What `GET /v1/controller` returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerInfo {
    /// The manifests directory the controller reconciles from (absolute).
    pub manifests: String,
    /// `--profile`, if any.
    pub profile: Option<String>,
    /// The controller's pid.
    pub pid: u32,
    /// corral version.
    pub version: String,
    /// The git commit the manifests directory was last read at, inside a git work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<crate::gitops::AppliedCommit>,
}

/// A plain reply for commands (`restart`, `reload`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// What was done, for people.
    pub message: String,
}

/// An error reply: status code plus this body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong and how to fix it.
    pub error: String,
    /// A CamelCase reason for programs, when there is one (`UnknownRoute`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One entry of `corral rollout history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevisionInfo {
    /// Increasing revision number.
    pub number: u64,
    /// Revision hash.
    pub revision: String,
    /// When it was first rolled out (unix ms).
    pub created_ms: u64,
    /// Whether it is the revision in force.
    pub current: bool,
    /// Its manifest, as YAML.
    pub manifest: String,
}

/// What `POST /v1/upgrade` returns: the controller that handed over and the one that took over.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeReply {
    /// The controller that handed over (and now drains and exits).
    pub old_pid: u32,
    /// Its version.
    pub old_version: String,
    /// The controller that took over.
    pub new_pid: u32,
    /// Its version.
    pub new_version: String,
    /// From the request to the new controller ready to take over, in milliseconds.
    pub took_ms: u64,
}

/// What `POST /v1/console/login` returns: a one-time login link to the web console.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleLogin {
    /// `http(s)://HOST:PORT/login?token=T`.
    pub url: String,
    /// How long the link works, in seconds (once).
    pub expires_seconds: u64,
    /// Whether the session it opens is read-only.
    pub read_only: bool,
}
