//! A CronJob becomes a `batch/v1 CronJob` whose `jobTemplate` is what a Job exports to
//! ([`super::job::job_spec`]). Its schedule must be one Kubernetes' cron reads (robfig/cron's
//! standard parser: 5 fields, names, `*`, `?`, ranges, lists, steps, and the macros `@yearly`,
//! `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`, in lower case);
//! corral's extensions (a seconds field, croner's `L`, `W` and `#`, 7 for Sunday) are refused
//! at the schedule's file:line:column, never exported as something else.

use k8s_openapi::api::batch::v1::{CronJob as K8sCronJob, CronJobSpec, JobTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::job::{job_spec, meta};
use super::{object, ExportError, Exported, Options};
use crate::manifest::cronjob::ConcurrencyPolicy;
use crate::manifest::locate::Seg::Key;
use crate::manifest::{locate_in_file, LocatedCronJob, ManifestError};

/// Exports one CronJob (env files and the manifest are read: blocking I/O).
pub fn export_cronjob(located: &LocatedCronJob, opts: &Options) -> Result<Exported, ExportError> {
    let cronjob = &located.cronjob;
    let name = cronjob.metadata.name.as_str().to_owned();
    let spec = &cronjob.spec;
    let schedule = kubernetes_schedule(spec.schedule.0.as_str()).map_err(|why| {
        let text = std::fs::read_to_string(&located.file).ok();
        let path = [Key("spec"), Key("schedule")];
        let (line, column) = text
            .and_then(|t| locate_in_file(&t, located.doc_index, &path))
            .unwrap_or((located.line, 1));
        ExportError::Unexportable(ManifestError {
            file: located.file.clone(),
            line,
            column,
            message: format!(
                "cronjob/{name}: spec.schedule {:?} {why}",
                spec.schedule.0.as_str()
            ),
        })
    })?;
    let mut out = Exported::default();
    let mut warnings = Vec::new();
    let mut warn = |w: String| warnings.push(format!("cronjob/{name}: {w}"));
    if spec.time_zone.is_none() {
        warn("no timeZone: corral reads the schedule in this host's zone, Kubernetes in the kube-controller-manager's; set spec.timeZone to keep the same times".into());
    }
    let at = (located.file.as_path(), located.doc_index, located.line);
    let template = &spec.job_template.spec;
    let (job, config_map) = job_spec(&cronjob.metadata, template, at, opts, &mut warn)?;
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let policy = match spec.concurrency_policy {
        ConcurrencyPolicy::Allow => "Allow",
        ConcurrencyPolicy::Forbid => "Forbid",
        ConcurrencyPolicy::Replace => "Replace",
    };
    let k8s = K8sCronJob {
        metadata: meta(&cronjob.metadata, name.clone()),
        spec: Some(CronJobSpec {
            schedule,
            time_zone: spec.time_zone.as_ref().map(|z| z.as_str().to_owned()),
            concurrency_policy: Some(policy.into()),
            starting_deadline_seconds: spec.starting_deadline_seconds.map(i64::from),
            suspend: spec.suspend.then_some(true),
            successful_jobs_history_limit: Some(int(spec.successful_jobs_history_limit)),
            failed_jobs_history_limit: Some(int(spec.failed_jobs_history_limit)),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: meta(&cronjob.metadata, name.clone()).labels,
                    ..ObjectMeta::default()
                }),
                spec: Some(job),
            },
        }),
        ..K8sCronJob::default()
    };
    if let Some(cm) = config_map {
        out.objects
            .push(object(&name, "ConfigMap", &cm, Vec::new())?);
    }
    out.objects
        .push(object(&name, "CronJob", &k8s, Vec::new())?);
    out.warnings = warnings;
    Ok(out)
}

/// The five fields of Kubernetes' cron: name, largest value, names it takes.
const FIELDS: [(&str, u32, &[&str]); 5] = [
    ("minute", 59, &[]),
    ("hour", 23, &[]),
    ("day of month", 31, &[]),
    (
        "month",
        12,
        &[
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ],
    ),
    (
        "day of week",
        6,
        &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
    ),
];

/// `schedule` (valid for corral) as Kubernetes' cron reads it, or what it cannot read and the
/// fix (a sentence that follows the schedule in the error).
pub fn kubernetes_schedule(schedule: &str) -> Result<String, String> {
    let text = schedule.trim();
    if text.starts_with('@') {
        // corral's macros are all Kubernetes' descriptors, which it matches in lower case only.
        return Ok(text.to_ascii_lowercase());
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() == 6 {
        return Err(format!(
            "has 6 fields, seconds first: a corral extension Kubernetes' cron does not have (it takes 5: minute hour day-of-month month day-of-week); drop the seconds field (\"{}\"), or export without this CronJob",
            fields[1..].join(" ")
        ));
    }
    for (field, (what, max, names)) in fields.iter().zip(FIELDS) {
        for part in field.split(',') {
            let (range, step) = part.split_once('/').unwrap_or((part, "1"));
            let atoms = range.split('-').map(|a| (a, true));
            for (atom, in_range) in atoms.chain([(step, false)]) {
                let upper = atom.to_ascii_uppercase();
                let known = atom == "*" || atom == "?" || names.contains(&upper.as_str());
                let value = atom.parse::<u32>();
                if value.is_err() && !known {
                    return Err(format!(
                        "has `{part}` in its {what}: an extension (croner's L, W or #) Kubernetes' cron does not have; list the days instead (`*`, numbers, names, ranges, lists and steps)"
                    ));
                }
                let dow = in_range && what == "day of week";
                if let Some(n) = value.ok().filter(|n| dow && *n > max) {
                    return Err(format!(
                        "has {n} in its day of week: Kubernetes' cron takes 0-6 (0 is Sunday); write 0 or SUN for Sunday"
                    ));
                }
            }
        }
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::kubernetes_schedule;

    #[test]
    fn what_kubernetes_reads_passes_and_the_extensions_are_named() {
        for ok in ["0 3 * * *", "*/5 1-5 ? JAN-MAR mon,wed", "0 0 1 */2 0"] {
            assert_eq!(kubernetes_schedule(ok).as_deref(), Ok(ok));
        }
        assert_eq!(kubernetes_schedule("@Daily").as_deref(), Ok("@daily"));
        assert_eq!(kubernetes_schedule("@midnight").as_deref(), Ok("@midnight"));
        let six = kubernetes_schedule("*/10 * * * * *").unwrap_err();
        assert!(
            six.contains("drop the seconds field (\"* * * * *\")"),
            "{six}"
        );
        let last = kubernetes_schedule("0 0 L * *").unwrap_err();
        assert!(last.contains("`L` in its day of month"), "{last}");
        let nth = kubernetes_schedule("0 0 * * 5#2").unwrap_err();
        assert!(nth.contains("`5#2` in its day of week"), "{nth}");
        let sunday = kubernetes_schedule("0 0 * * 1-7").unwrap_err();
        assert!(sunday.contains("write 0 or SUN"), "{sunday}");
    }
}
