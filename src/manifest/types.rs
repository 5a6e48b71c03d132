//! The App manifest types: what users write in `manifests/*.yaml` (docs/manifest.md).
//!
//! Every field has a default except `apiVersion`, `kind`, `metadata.name` and `spec.command`.
//! Unknown fields are rejected so a typo never silently does nothing. Doc comments become the
//! JSON Schema descriptions that editors show.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::confine::{self, IdRef, Ulimits, Umask};
pub use super::cpu::CpuQuantity;
pub use super::cron::{CronSchedule, TimeZoneName};
use super::defaults::*;
pub use super::depends::DependsOn;
use super::fields;
pub use super::hooks::{Hook, Hooks, DEFAULT_HOOK_TIMEOUT};
use super::quantity::{ByteSize, DurationSpec};
pub use super::strategy::{Analysis, CanaryHeader, CanaryStep, Strategy, StrategyType};

/// One App document: a program corral keeps running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "corral App")]
pub struct App {
    /// Always `corral/v1`.
    pub api_version: ApiVersion,
    /// Always `App`.
    #[schemars(extend("const" = "App"))]
    pub kind: Kind,
    /// The app's name and labels.
    pub metadata: Metadata,
    /// What to run and how.
    pub spec: AppSpec,
}

/// The manifest API version; only `corral/v1` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum ApiVersion {
    /// The first and only version.
    #[serde(rename = "corral/v1")]
    V1,
}

/// The manifest kind: what a document describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Kind {
    /// A long-running program with one or more instances.
    App,
    /// A program run to completion (`src/manifest/job.rs`).
    Job,
    /// Jobs created on a schedule (`src/manifest/cronjob.rs`).
    CronJob,
}

impl Kind {
    /// The kind as written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::App => "App",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
        }
    }
}

/// Identity of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// DNS label: lowercase letters, digits and `-`, 1 to 63 characters, starting and ending with
    /// a letter or digit. Unique across the manifests directory.
    pub name: AppName,
    /// Free-form labels, selectable with `-l key=value` in the CLI.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A validated app name (a DNS label).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct AppName(pub(super) String);

/// What to run and how to keep it running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSpec {
    /// The program: a list is exec'd directly (argv); a string runs under `sh -c 'exec …'`.
    pub command: Command,
    /// Working directory; a relative path resolves against the manifest file's folder.
    /// Default: the manifest file's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// How many instances to run: an integer ≥ 0, or `"max"` for one per online CPU.
    #[serde(default)]
    pub instances: Instances,
    /// `true` runs no instances while keeping `instances` (what `corral stop` sets).
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
    /// Apps to wait for before starting (docker compose's `depends_on`): each
    /// `{app: NAME, condition: Started|Ready|Completed, restart: false}`. The app stays
    /// `Waiting` while none of its instances runs and a dependency is not met; apps without
    /// one start together. Shutdown stops dependents first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependsOn>,
    /// Environment variables for every instance; these win over `envFiles`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "fields::env"
    )]
    #[schemars(extend("propertyNames" = {"pattern": fields::ENV_NAME_PATTERN}))]
    pub env: BTreeMap<String, String>,
    /// dotenv files read at start, relative to the manifest's folder; later files win.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<String>,
    /// Run as this user: a name from `/etc/passwd` or a numeric uid that has an entry there
    /// (systemd's `User=`, PM2's `uid`). The child switches before exec, with the user's
    /// supplementary groups (`initgroups`) and `HOME`, `USER`, `LOGNAME`, `SHELL` from its
    /// passwd entry unless `env` sets them. Needs a root controller, unless it names the
    /// controller's own user. Default: the controller's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<IdRef>,
    /// Run with this primary group: a name from `/etc/group` or a numeric gid that has an
    /// entry there. Default: the primary group of `user` (without `user`: the controller's
    /// user with this group and no other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<IdRef>,
    /// Resource limits (docker compose's `ulimits`): `{nofile: 65536}` or
    /// `{nofile: {soft: 4096, hard: 65536}}`; `-1` or `unlimited` for no limit. Default: the
    /// controller's own limits.
    #[serde(default, skip_serializing_if = "Ulimits::is_empty")]
    pub ulimits: Ulimits,
    /// Scheduling niceness, -20 (most favoured) to 19 (least). Below the controller's own
    /// needs a root controller. Default: the controller's.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "confine::opt_nice"
    )]
    #[schemars(range(min = -20, max = 19))]
    pub nice: Option<i32>,
    /// `/proc/PID/oom_score_adj`, -1000 (never OOM-killed) to 1000 (killed first). Default: 0,
    /// or the controller's own plus 100 when that is higher (the kernel must pick an app before
    /// the controller). Below the controller's own needs a root controller.
    #[serde(
        rename = "oomScoreAdjust",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "confine::opt_oom_score_adj"
    )]
    #[schemars(range(min = -1000, max = 1000))]
    pub oom_score_adj: Option<i32>,
    /// File mode creation mask, a quoted octal string such as `"0022"` or `"0077"`. Default:
    /// the controller's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umask: Option<Umask>,
    /// Named variants picked with `corral controller --profile NAME` (PM2's `env_production`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, Profile>,
    /// Ports shared by all instances, load-balanced by the controller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<Listen>,
    /// When an instance is ready to serve. Default: it stayed up for 1 second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
    /// When an instance is alive; failing it restarts the instance. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
    /// Memory limit for each instance's whole process tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// CPU limit for each instance (cgroup v2 `cpu.max`); Kubernetes' `resources.limits.cpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Process count limit for each instance (cgroup v2 `pids.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
    /// When an exited instance is started again.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Delay between restarts of a crashing instance.
    #[serde(default)]
    pub backoff: Backoff,
    /// How an instance is stopped.
    #[serde(default)]
    pub stop: Stop,
    /// How a new revision replaces the old one.
    #[serde(default)]
    pub strategy: Strategy,
    /// Restart-on-change: files whose change reloads the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
    /// Log capture settings.
    #[serde(default)]
    pub logs: Logs,
    /// Commands run around a rollout: `preRollout` (migrations) and `postRollout`.
    #[serde(default, skip_serializing_if = "Hooks::is_empty")]
    pub hooks: Hooks,
    /// A rolling reload on a cron schedule (PM2's `cron_restart`), zero downtime as `corral
    /// reload`: 5 fields, 6 with seconds first, or a macro such as `@daily`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_schedule: Option<CronSchedule>,
    /// The IANA time zone `restartSchedule` is read in. Default: the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_time_zone: Option<TimeZoneName>,
}

/// The program to run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Command {
    /// argv, exec'd directly: `["node", "server.js"]`.
    Argv(Vec<String>),
    /// A shell line, run under `sh -c` (as `exec LINE` when it is one simple command).
    Shell(String),
}

/// Instance count: a number or `"max"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instances {
    /// Exactly this many.
    Count(u32),
    /// One per online CPU.
    Max,
}

/// Variant settings chosen by `--profile`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// Extra environment, winning over `spec.env`.
    #[serde(default, deserialize_with = "fields::env")]
    #[schemars(extend("propertyNames" = {"pattern": fields::ENV_NAME_PATTERN}))]
    pub env: BTreeMap<String, String>,
}

/// A port shared by all instances.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listen {
    /// Name of the socket (`LISTEN_FDNAMES`); default `http`.
    #[serde(default = "default_listen_name")]
    pub name: String,
    /// The public port, 1 to 65535.
    #[serde(deserialize_with = "fields::port")]
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Address to bind; default `127.0.0.1`.
    #[serde(default = "default_host")]
    pub host: String,
    /// `inherit` (fd passing), `tcp` (connection proxy) or `http` (request balancer).
    #[serde(default)]
    pub mode: ListenMode,
}

/// How a listen port reaches instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListenMode {
    /// The controller binds once and passes the socket as fd 3+ (systemd socket activation).
    #[default]
    Inherit,
    /// Each instance listens on its own `PORT`; the controller forwards connections.
    Tcp,
    /// Each instance listens on its own `PORT`; the controller balances HTTP requests.
    Http,
}

/// A readiness or liveness check (Kubernetes names). Exactly one of `http`, `tcp`, `exec`,
/// `notify` must be set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["http"]},
    {"required": ["tcp"]},
    {"required": ["exec"]},
    {"required": ["notify"]},
]))]
pub struct Probe {
    /// HTTP GET; 2xx and 3xx pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// A TCP connect succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// A command exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecProbe>,
    /// The app sends `READY=1` on `NOTIFY_SOCKET` (systemd's protocol). Readiness only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyProbe>,
    /// Seconds after start before the first check.
    #[serde(default)]
    pub initial_delay_seconds: u32,
    /// Seconds between checks; default 10. Not for `notify`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_positive"
    )]
    #[schemars(range(min = 1))]
    pub period_seconds: Option<u32>,
    /// Seconds before a check counts as failed; default 1. Not for `notify`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_positive"
    )]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// Consecutive passes to count as passing; default 1 (and only 1 for liveness, as in
    /// Kubernetes). Not for `notify`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_positive"
    )]
    #[schemars(range(min = 1))]
    pub success_threshold: Option<u32>,
    /// Consecutive failures to count as failing; default 3. Not for `notify`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_positive"
    )]
    #[schemars(range(min = 1))]
    pub failure_threshold: Option<u32>,
}

impl Probe {
    /// `periodSeconds`, defaulted.
    pub fn period(&self) -> u32 {
        self.period_seconds.unwrap_or(10)
    }

    /// `timeoutSeconds`, defaulted.
    pub fn timeout(&self) -> u32 {
        self.timeout_seconds.unwrap_or(1)
    }

    /// `successThreshold`, defaulted.
    pub fn successes(&self) -> u32 {
        self.success_threshold.unwrap_or(1)
    }

    /// `failureThreshold`, defaulted.
    pub fn failures(&self) -> u32 {
        self.failure_threshold.unwrap_or(3)
    }
}

/// HTTP GET probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpProbe {
    /// Port to probe; default the instance's `PORT` (tcp/http modes) or the listen port (inherit).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_port"
    )]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Path to GET; default `/`.
    #[serde(default = "default_path")]
    pub path: String,
    /// Host to connect to; default `127.0.0.1`.
    #[serde(default = "default_host")]
    pub host: String,
}

/// TCP connect probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpProbe {
    /// Port to connect to; default as for `http`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_port"
    )]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// Host to connect to; default `127.0.0.1`.
    #[serde(default = "default_host")]
    pub host: String,
}

/// Command probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecProbe {
    /// argv of the check, run in the app's cwd and env; exit 0 passes.
    #[serde(deserialize_with = "fields::argv")]
    #[schemars(length(min = 1))]
    pub command: Vec<String>,
}

/// systemd-style readiness notification; no settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyProbe {}

/// Memory limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Memory {
    /// RSS limit of an instance's process tree (`300Mi`, `1Gi`, `500M`; not 0), checked on every
    /// sample (`corral controller --sample-interval`, default 1s): over it, the instance is
    /// replaced without downtime (a new one at its index is made ready first, per `strategy`);
    /// over it again within `backoff.resetAfter` of a failed run at its index, it is stopped and
    /// restarted after the back-off delay (CrashLoopBackOff). RSS is the sum over the tree of
    /// each process's resident set, the MEM of `corral get`: pages shared between forked
    /// workers count once per process, so leave headroom for them. Where the instance has its
    /// own cgroup (a delegated cgroup v2 subtree), MEM is the group's `memory.current` instead
    /// (shared pages once, page cache included).
    pub limit: ByteSize,
    /// Kernel-enforced ceiling per instance (cgroup v2 `memory.max`, no swap beyond it), at
    /// least `limit`: the kernel reclaims, then OOM-kills inside the instance, above it. Needs a
    /// delegated cgroup v2 subtree (root, or systemd `Delegate=yes`); where there is none,
    /// `corral validate` and `corral describe` say why and only `limit` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<ByteSize>,
}

/// CPU limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cpu {
    /// CPU time each instance may use, all its processes together, as a Kubernetes quantity:
    /// `500m` (half a core), `1.5`, `2`. Enforced by the kernel (cgroup v2 `cpu.max`, over
    /// periods of 100ms): beyond it the instance is throttled, never killed. Needs a delegated
    /// cgroup v2 subtree with the cpu controller; where there is none, `corral validate` and
    /// `corral describe` say why and the app runs unlimited. An edit applies in place.
    pub max: CpuQuantity,
}

/// Process count limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pids {
    /// Most processes and threads each instance may have at once, an integer ≥ 1 (cgroup v2
    /// `pids.max`): beyond it `fork` and thread creation fail inside the instance (a fork bomb
    /// stops there). Needs a delegated cgroup v2 subtree with the pids controller; where there
    /// is none, `corral validate` and `corral describe` say why and the app runs unlimited. An
    /// edit applies in place.
    #[serde(deserialize_with = "fields::positive")]
    #[schemars(range(min = 1))]
    pub max: u32,
}

/// When an exited instance is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum RestartPolicy {
    /// Always restart.
    #[default]
    Always,
    /// Restart only after a non-zero exit or a signal.
    OnFailure,
    /// Never restart.
    Never,
}

/// Exponential restart delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backoff {
    /// First delay; default `100ms`.
    #[serde(default = "default_backoff_initial")]
    pub initial: DurationSpec,
    /// Longest delay; default `30s`.
    #[serde(default = "default_backoff_max")]
    pub max: DurationSpec,
    /// Running this long resets the delay to `initial`; default `60s`, at least `1s`.
    #[serde(default = "default_backoff_reset")]
    pub reset_after: DurationSpec,
}

/// How an instance is stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Stop {
    /// Signal sent first to the instance's process group and every process of it that left
    /// the group; default `SIGTERM`.
    #[serde(default = "default_stop_signal")]
    pub signal: StopSignal,
    /// Then, after this long, SIGKILL to the whole instance: its group, its descendants and
    /// the daemons carrying its mark; default `10s`.
    #[serde(default = "default_stop_timeout")]
    pub timeout: DurationSpec,
}

/// A signal name such as `SIGTERM`, `SIGINT`, `SIGQUIT`, `SIGHUP`, `SIGUSR1`, `SIGUSR2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct StopSignal(pub nix::sys::signal::Signal);

/// Reload (rolling, zero downtime) when files under the watched paths change, once per burst.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Watch {
    /// Paths to watch recursively, relative to `cwd` (directories or files); default `["."]`.
    /// Not `/` nor under `/proc`, `/sys` or `/dev` (refused, also when a symlink leads there).
    #[serde(default = "default_watch_paths")]
    #[schemars(length(min = 1))]
    pub paths: Vec<String>,
    /// More gitignore-style globs to ignore, relative to each watched path (`dist/`, `*.tmp`,
    /// a bare name matches at any depth). Always ignored besides: `.git`, `node_modules`,
    /// `*.log`, editor temp files (`*.swp`, `*~`, `.#*`), `$CORRAL_HOME`, and what the
    /// `.gitignore` files under the watched paths ignore. Default: none.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Quiet time after the last change before reloading (a burst of changes is one reload);
    /// default `500ms`, at least `50ms`.
    #[serde(default = "default_watch_debounce")]
    pub debounce: DurationSpec,
}

/// Log capture settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logs {
    /// Rotate a log file when it reaches this size; default `10Mi`, at least `1Ki`.
    #[serde(default = "default_log_size")]
    pub max_size: ByteSize,
    /// Rotated files kept per log; default 5.
    #[serde(default = "default_log_files", deserialize_with = "fields::positive")]
    #[schemars(range(min = 1))]
    pub max_files: u32,
    /// Prefix each line with an RFC 3339 UTC timestamp; default true.
    #[serde(default = "default_true")]
    pub timestamps: bool,
    /// Folder of this app's log files instead of `$CORRAL_HOME/logs/APP` (same file names
    /// inside); a relative path resolves against the manifest file's folder. One app per folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// One file per stream for all instances (`out.log`, `err.log`) instead of one per
    /// instance (`INDEX.out.log`), like PM2's `merge_logs`; default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub merge: bool,
}
