//! A Job becomes a `batch/v1 Job` (its template a pod template with `restartPolicy: Never`, so
//! each failed run is a new pod counted against `backoffLimit`, as in corral). [`job_spec`] is
//! the part a CronJob's `jobTemplate` shares.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::batch::v1::{Job as K8sJob, JobSpec as K8sJobSpec};
use k8s_openapi::api::core::v1::{ConfigMap, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{depends, env_config_map, object, pod, ExportError, Exported, Options, NAME_LABEL};
use crate::manifest::{Backoff, JobSpec, LocatedJob, Metadata};

/// Exports one Job (env files are read: blocking I/O).
pub fn export_job(located: &LocatedJob, opts: &Options) -> Result<Exported, ExportError> {
    let job = &located.job;
    let name = job.metadata.name.as_str().to_owned();
    let mut out = Exported::default();
    let mut warnings = Vec::new();
    let mut warn = |w: String| warnings.push(format!("job/{name}: {w}"));
    let at = (located.file.as_path(), located.doc_index, located.line);
    let (spec, config_map) = job_spec(&job.metadata, &job.spec, at, opts, &mut warn)?;
    let k8s_job = K8sJob {
        metadata: meta(&job.metadata, name.clone()),
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

/// The object metadata of a Job, CronJob or their ConfigMap named `object_name`: the
/// manifest's labels and the name label.
pub(super) fn meta(metadata: &Metadata, object_name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(object_name),
        labels: Some(labels(metadata)),
        ..ObjectMeta::default()
    }
}

/// The manifest's labels and [`NAME_LABEL`].
fn labels(metadata: &Metadata) -> BTreeMap<String, String> {
    let mut labels = metadata.labels.clone();
    labels.insert(NAME_LABEL.into(), metadata.name.as_str().to_owned());
    labels
}

/// A corral Job spec as Kubernetes' (the pod template, an init container per `dependsOn`
/// entry that has a Service), and the ConfigMap of its env files (`NAME-env`), if any. `at` is
/// the manifest's file, document index and line; `metadata` the Job's or CronJob's.
pub(super) fn job_spec(
    metadata: &Metadata,
    spec: &JobSpec,
    at: (&Path, usize, usize),
    opts: &Options,
    warn: &mut impl FnMut(String),
) -> Result<(K8sJobSpec, Option<ConfigMap>), ExportError> {
    let name = metadata.name.as_str().to_owned();
    let (file, doc_index, line) = at;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut app = spec.app_named(metadata, file, doc_index, line);
    let template = &spec.template;
    if template.backoff != Backoff::default() {
        warn("template.backoff is not exported: Kubernetes' Job controller waits 10s doubling to 6m between failed pods".into());
    }
    // The App-level back-off warning does not apply: said above in a Job's terms.
    app.app.spec.backoff = Backoff::default();
    let config_map = env_config_map(&name, &template.env_files, base)?.map(|cm| ConfigMap {
        metadata: meta(metadata, format!("{name}-env")),
        ..cm
    });
    if config_map.is_some() {
        warn(format!(
            "envFiles become ConfigMap {name}-env; move secrets into a Secret and reference it instead"
        ));
    }
    let container = pod::container(
        &app,
        opts,
        config_map.as_ref().map(|_| format!("{name}-env")),
        warn,
    );
    let pod_spec = PodSpec {
        restart_policy: Some("Never".into()),
        init_containers: depends::init_containers(&spec.depends_on, &opts.services, warn),
        ..pod::pod_spec(&app.app.spec, container, warn)
    };
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let k8s = K8sJobSpec {
        completions: Some(int(spec.completions)),
        parallelism: Some(int(spec.parallelism)),
        backoff_limit: Some(int(spec.backoff_limit)),
        active_deadline_seconds: spec.active_deadline_seconds.map(i64::from),
        ttl_seconds_after_finished: spec.ttl_seconds_after_finished.map(int),
        suspend: spec.suspend.then_some(true),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels(metadata)),
                ..ObjectMeta::default()
            }),
            spec: Some(pod_spec),
        },
        ..K8sJobSpec::default()
    };
    Ok((k8s, config_map))
}
