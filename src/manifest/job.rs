//! The Job manifest: a program run to completion (Kubernetes' `batch/v1 Job`, docs/manifest.md
//! "Job"). Its process is described by an App's spec (`spec.template`, Kubernetes' pod template);
//! the App fields that mean nothing for a run to completion are refused at validate.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::fields;
use super::locate::Seg::{self, Key};
use super::types::{ApiVersion, AppSpec, Kind, Metadata};

/// One Job document: a program run until it succeeded `completions` times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "corral Job")]
pub struct Job {
    /// Always `corral/v1`.
    pub api_version: ApiVersion,
    /// Always `Job`.
    #[schemars(extend("const" = "Job"))]
    pub kind: Kind,
    /// The Job's name (unique across every kind in the manifests directory) and labels.
    pub metadata: Metadata,
    /// What to run and how many times.
    pub spec: JobSpec,
}

/// How a Job runs: its process (`template`) and how many runs it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    /// Successful runs needed for the Job to be `Complete`; default 1.
    #[serde(default = "one", deserialize_with = "fields::positive")]
    #[schemars(range(min = 1))]
    pub completions: u32,
    /// Runs at once, at most (never more than the successes still needed); default 1.
    #[serde(default = "one", deserialize_with = "fields::positive")]
    #[schemars(range(min = 1))]
    pub parallelism: u32,
    /// Failed runs tolerated: one more and the Job is `Failed` (runs still going are stopped);
    /// default 6, as in Kubernetes.
    #[serde(default = "six")]
    pub backoff_limit: u32,
    /// Seconds from the Job's first start after which it is `Failed` (reason
    /// `DeadlineExceeded`) and its runs are stopped. Default: no deadline.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fields::opt_positive"
    )]
    #[schemars(range(min = 1))]
    pub active_deadline_seconds: Option<u32>,
    /// Seconds after the Job finished (`Complete` or `Failed`) when its runs and logs are
    /// forgotten: `corral get` no longer lists it (the unchanged manifest does not run again).
    /// Default: kept until the manifest is deleted or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<u32>,
    /// `true` starts no run and stops the runs going (they count as neither success nor
    /// failure); `false` again resumes. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
    /// Apps and Jobs to wait for before the first run (as an App's `spec.dependsOn`): no run
    /// starts while none is going and one of them does not meet its condition (`Waiting`).
    /// `restart: true` is refused here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<super::DependsOn>,
    /// The process of each run: an App's `spec` (command, cwd, env, envFiles, user, group,
    /// ulimits, nice, oomScoreAdjust, umask, cpu, pids, stop, logs, backoff — the delay
    /// between a failed run and the next). App fields that mean nothing for a run to
    /// completion (instances, suspend, listen, readiness, liveness, strategy, watch,
    /// restartPolicy, profiles, memory, dependsOn, hooks, restartSchedule) are refused.
    #[schemars(extend("not" = {"anyOf": [
        {"required": ["instances"]}, {"required": ["suspend"]}, {"required": ["listen"]},
        {"required": ["readiness"]}, {"required": ["liveness"]}, {"required": ["strategy"]},
        {"required": ["watch"]}, {"required": ["restartPolicy"]}, {"required": ["profiles"]},
        {"required": ["memory"]}, {"required": ["dependsOn"]}, {"required": ["hooks"]},
        {"required": ["restartSchedule"]},
    ]}))]
    pub template: AppSpec,
}

fn one() -> u32 {
    1
}

fn six() -> u32 {
    6
}

/// The App fields a Job's template refuses, with why (read before the template deserializes,
/// so a field another kind has is named as such rather than as unknown).
const REFUSED: &[(&str, &str)] = &[
    ("instances", "use the Job's `completions` and `parallelism`"),
    ("suspend", "use the Job's own `spec.suspend`"),
    ("listen", "a run to completion serves no port"),
    ("readiness", "a run is done when it exits, never \"ready\""),
    ("liveness", "not supported yet for a Job"),
    ("strategy", "a Job has no rollout: a changed Job runs again"),
    (
        "watch",
        "a changed Job manifest runs again; files are not watched",
    ),
    (
        "restartPolicy",
        "a failed run is retried up to the Job's `backoffLimit`",
    ),
    ("profiles", "not supported yet for a Job"),
    (
        "memory",
        "not supported yet for a Job (`cpu` and `pids` are)",
    ),
    ("dependsOn", "write it on the Job's spec, beside `template`"),
    ("hooks", "hooks run around an App's rollout; a Job has none"),
    ("restartSchedule", "a Job is not restarted; use a CronJob"),
];

/// The first refused field written under `template` of the Job spec `spec` found at `at`
/// (`[spec]` in a Job, `[spec, jobTemplate, spec]` in a CronJob), with the message.
pub fn refused_template_field(
    spec: &serde_yaml::Value,
    at: &[Seg<'static>],
) -> Option<(Vec<Seg<'static>>, String)> {
    let template = spec.get("template")?.as_mapping()?;
    REFUSED.iter().find_map(|&(field, why)| {
        template.contains_key(field).then(|| {
            let mut path = at.to_vec();
            path.extend([Key("template"), Key(field)]);
            let dotted = super::validate::dotted(&path);
            let message = format!("{dotted}: a Job's template has no `{field}`: {why}; remove it");
            (path, message)
        })
    })
}

impl JobSpec {
    /// The template as an App with `metadata`, read from `file` (its `cwd`, `envFiles` and
    /// `logs.dir` resolve against the file's folder): what a run's process is made from.
    pub fn app_named(
        &self,
        metadata: &Metadata,
        file: &std::path::Path,
        doc_index: usize,
        line: usize,
    ) -> super::Located {
        super::Located {
            app: super::App {
                api_version: ApiVersion::V1,
                kind: Kind::App,
                metadata: metadata.clone(),
                spec: self.template.clone(),
            },
            file: file.to_path_buf(),
            doc_index,
            line,
        }
    }

    /// The revision: a short hash of what its runs are (the template's revision and the run
    /// counts); `suspend` and `ttlSecondsAfterFinished` are left out (a changed one does not
    /// run the Job again).
    pub fn revision(&self) -> String {
        let shaping = format!(
            "template={} completions={} parallelism={} backoffLimit={} activeDeadlineSeconds={:?}",
            self.template.revision(None),
            self.completions,
            self.parallelism,
            self.backoff_limit,
            self.active_deadline_seconds,
        );
        let digest = Sha256::digest(shaping.as_bytes());
        digest[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
#[path = "job_tests.rs"]
mod tests;
