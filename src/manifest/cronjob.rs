//! The CronJob manifest: Jobs created on a schedule (Kubernetes' `batch/v1 CronJob`).
//!
//! PLACEHOLDER (helper `jobs`): the shape parses, so the kind is known and named in errors and
//! in the schema, but every CronJob is refused at validate as "not supported yet". Helper
//! `cron` replaces this file (schedule parsing, validation, the runtime).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::job::JobSpec;
use super::types::{ApiVersion, Kind, Metadata};

/// One CronJob document: a Job created at each time of `schedule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "corral CronJob")]
pub struct CronJob {
    /// Always `corral/v1`.
    pub api_version: ApiVersion,
    /// Always `CronJob`.
    #[schemars(extend("const" = "CronJob"))]
    pub kind: Kind,
    /// The CronJob's name (unique across every kind in the manifests directory) and labels.
    pub metadata: Metadata,
    /// When to run and what.
    pub spec: CronJobSpec,
}

/// When a CronJob creates its Jobs, and what they run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronJobSpec {
    /// Cron schedule: 5 fields, or 6 with seconds first, or a macro such as `@daily`.
    pub schedule: String,
    /// IANA time zone of the schedule; default the host's local zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// What to do when a run is due while the last one still runs; default `Allow`.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A run missed by more than this many seconds is skipped. Default: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<u32>,
    /// `true` creates no new Job. Default false.
    #[serde(default)]
    pub suspend: bool,
    /// Finished successful Jobs kept; default 3.
    #[serde(default = "three")]
    pub successful_jobs_history_limit: u32,
    /// Finished failed Jobs kept; default 1.
    #[serde(default = "one")]
    pub failed_jobs_history_limit: u32,
    /// The Job each run creates.
    pub job_template: JobTemplate,
}

/// The Job a CronJob creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobTemplate {
    /// A Job's spec.
    pub spec: JobSpec,
}

/// Kubernetes' concurrency policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Runs may overlap.
    #[default]
    Allow,
    /// A run due while one is going is skipped.
    Forbid,
    /// A run due while one is going replaces it.
    Replace,
}

fn one() -> u32 {
    1
}

fn three() -> u32 {
    3
}
