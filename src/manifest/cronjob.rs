//! The CronJob manifest: Jobs created on a schedule (Kubernetes' `batch/v1 CronJob`,
//! docs/manifest.md "CronJob"). `schedule` and `timeZone` are checked while they deserialize
//! (`cron.rs`), so their errors carry a line and column; [`CronJob::warnings`] says what is
//! valid but likely not meant.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::cron::{CronSchedule, TimeZoneName};
use super::job::JobSpec;
use super::locate::Seg::{self, Key};
use super::types::{ApiVersion, Kind, Metadata};
use crate::schedule::{decide::Concurrency, Schedule};

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
    /// Cron schedule: 5 fields, 6 with seconds first (corral's extension), or a macro such as
    /// `@daily`.
    pub schedule: CronSchedule,
    /// IANA time zone of the schedule; default the host's local zone (as cron).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<TimeZoneName>,
    /// What to do when a run is due while earlier ones still run; default `Allow`.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A run started later than this many seconds after its time is missed instead (also
    /// after a controller restart). Default: no deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<u32>,
    /// `true` creates no new Job (runs going on finish). Default false.
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
    /// A run due while one is going is not started; it starts when that one ends, if still
    /// within `startingDeadlineSeconds`.
    Forbid,
    /// A run due while one is going stops it, then starts.
    Replace,
}

impl From<ConcurrencyPolicy> for Concurrency {
    fn from(p: ConcurrencyPolicy) -> Self {
        match p {
            ConcurrencyPolicy::Allow => Concurrency::Allow,
            ConcurrencyPolicy::Forbid => Concurrency::Forbid,
            ConcurrencyPolicy::Replace => Concurrency::Replace,
        }
    }
}

fn one() -> u32 {
    1
}

fn three() -> u32 {
    3
}

/// How many fire times the `Forbid` warning looks at (a year of a daily schedule).
const GAPS_LOOKED_AT: usize = 400;

impl CronJobSpec {
    /// The schedule in its zone (the host's without `timeZone`).
    pub fn schedule(&self) -> Schedule {
        self.schedule.in_zone(self.time_zone.as_ref())
    }
}

impl CronJob {
    /// What is valid but likely not meant, with the key to point at: under `Forbid`, a
    /// schedule that fires again before `activeDeadlineSeconds` lets a run end (those fire
    /// times are skipped while a run is going). `now` is where the fire times are looked at.
    pub fn warnings(&self, now: jiff::Timestamp) -> Vec<(Vec<Seg<'static>>, String)> {
        let spec = &self.spec;
        let mut out = Vec::new();
        let deadline = spec.job_template.spec.active_deadline_seconds;
        if let (ConcurrencyPolicy::Forbid, Some(deadline)) = (spec.concurrency_policy, deadline) {
            let gap = spec.schedule().shortest_gap(now, GAPS_LOOKED_AT);
            if let Some(gap) = gap.filter(|g| g.as_secs() < i64::from(deadline)) {
                out.push((
                    vec![Key("spec"), Key("concurrencyPolicy")],
                    format!(
                        "Forbid with a schedule that fires every {}s while a run may last up to activeDeadlineSeconds={deadline}: the fire times during a run are not started (a long run delays the next); make the schedule sparser or the deadline shorter if every time must run",
                        gap.as_secs()
                    ),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cronjob(spec: &str) -> CronJob {
        let text = format!(
            "apiVersion: corral/v1\nkind: CronJob\nmetadata: {{name: report}}\nspec:\n{spec}\n  jobTemplate:\n    spec:\n      activeDeadlineSeconds: 600\n      template: {{command: [true]}}\n"
        );
        serde_yaml::from_str(&text).unwrap()
    }

    #[test]
    fn defaults_are_kubernetes_ones() {
        let c = cronjob("  schedule: \"0 3 * * *\"");
        assert_eq!(c.spec.concurrency_policy, ConcurrencyPolicy::Allow);
        assert_eq!(c.spec.successful_jobs_history_limit, 3);
        assert_eq!(c.spec.failed_jobs_history_limit, 1);
        assert_eq!(c.spec.starting_deadline_seconds, None);
        assert!(!c.spec.suspend);
        assert!(c.spec.time_zone.is_none());
    }

    #[test]
    fn the_schedule_is_read_in_its_zone() {
        let c = cronjob("  schedule: \"0 3 * * *\"\n  timeZone: Europe/Paris");
        let next = c
            .spec
            .schedule()
            .next_after("2026-12-04T22:00:00Z".parse().unwrap());
        assert_eq!(next, Some("2026-12-05T02:00:00Z".parse().unwrap()));
    }

    #[test]
    fn forbid_warns_when_runs_may_outlast_the_gap() {
        let now = "2026-12-04T22:00:00Z".parse().unwrap();
        let tight = cronjob("  schedule: \"*/5 * * * *\"\n  concurrencyPolicy: Forbid");
        let w = tight.warnings(now);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].0, vec![Key("spec"), Key("concurrencyPolicy")]);
        assert!(w[0].1.contains("every 300s"), "{}", w[0].1);
        assert!(w[0].1.contains("activeDeadlineSeconds=600"), "{}", w[0].1);
        let sparse = cronjob("  schedule: \"@hourly\"\n  concurrencyPolicy: Forbid");
        assert!(sparse.warnings(now).is_empty());
        let allow = cronjob("  schedule: \"*/5 * * * *\"\n  concurrencyPolicy: Allow");
        assert!(allow.warnings(now).is_empty());
    }
}
