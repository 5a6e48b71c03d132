//! A Job becomes a `batch/v1 Job` (its template a pod template with `restartPolicy: Never`, so
//! each failed run is a new pod counted against `backoffLimit`, as in corral).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::{Job as K8sJob, JobSpec as K8sJobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{env_config_map, object, pod, ExportError, Exported, Options, NAME_LABEL};
use crate::manifest::{Backoff, LocatedJob};

/// Exports one Job (env files are read: blocking I/O).
pub fn export_job(located: &LocatedJob, opts: &Options) -> Result<Exported, ExportError> {
    let job = &located.job;
    let name = job.metadata.name.as_str().to_owned();
    let mut out = Exported::default();
    let mut warnings = Vec::new();
    let mut warn = |w: String| warnings.push(format!("job/{name}: {w}"));
    let base = located.file.parent().unwrap_or(Path::new("."));
    let mut labels: BTreeMap<String, String> = job.metadata.labels.clone();
    labels.insert(NAME_LABEL.into(), name.clone());

    let mut app = located.template_app();
    let template = &job.spec.template;
    if template.backoff != Backoff::default() {
        warn("template.backoff is not exported: Kubernetes' Job controller waits 10s doubling to 6m between failed pods".into());
    }
    // The App-level back-off warning does not apply: said above in a Job's terms.
    app.app.spec.backoff = Backoff::default();
    let config_map = env_config_map(&name, &template.env_files, base)?;
    if config_map.is_some() {
        warn(format!(
            "envFiles become ConfigMap {name}-env; move secrets into a Secret and reference it instead"
        ));
    }
    let container = pod::container(
        &app,
        opts,
        config_map.as_ref().map(|_| format!("{name}-env")),
        &mut warn,
    );
    let mut pod_spec = pod::pod_spec(&app.app.spec, container, &mut warn);
    pod_spec.restart_policy = Some("Never".into());
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let spec = K8sJobSpec {
        completions: Some(int(job.spec.completions)),
        parallelism: Some(int(job.spec.parallelism)),
        backoff_limit: Some(int(job.spec.backoff_limit)),
        active_deadline_seconds: job.spec.active_deadline_seconds.map(i64::from),
        ttl_seconds_after_finished: job.spec.ttl_seconds_after_finished.map(int),
        suspend: job.spec.suspend.then_some(true),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            }),
            spec: Some(pod_spec),
        },
        ..K8sJobSpec::default()
    };
    let k8s_job = K8sJob {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..K8sJob::default()
    };
    if let Some(cm) = config_map {
        out.objects
            .push(object(&name, "ConfigMap", &cm, Vec::new())?);
    }
    out.objects
        .push(object(&name, "Job", &k8s_job, Vec::new())?);
    out.warnings = warnings;
    Ok(out)
}
