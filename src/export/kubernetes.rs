//! `corral export kubernetes`: each App becomes a Deployment (a canary an Argo Rollouts `Rollout`
//! with `--rollouts`), each Job a `batch/v1 Job`, each CronJob a `batch/v1 CronJob`, each `listen` entry a Service and its
//! `envFiles` a ConfigMap (README "To Kubernetes"), built from the k8s-openapi types so that every
//! object is valid by construction. What has no counterpart is a warning, never dropped silently.

mod cronjob;
mod depends;
mod job;
mod pod;
mod rollout;
mod security;

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplateSpec, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::manifest::quantity::IntOrPercent;
use crate::manifest::{Instances, ListenMode, Located, StrategyType};
pub use cronjob::{export_cronjob, kubernetes_schedule};
pub use job::export_job;
use rollout::{Rollout, RolloutSpec, RolloutStrategy};

/// The label every exported object carries and selects pods by.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";

/// What the export is told besides the manifests.
#[derive(Debug, Clone)]
pub struct Options {
    /// Image reference; `{name}` is replaced by the app's name.
    pub image: String,
    /// The profile whose env applies (`--profile`), as the controller would.
    pub profile: Option<String>,
    /// Online CPUs, for `instances: max`.
    pub cpus: u32,
    /// A `Canary` app becomes an Argo Rollouts `Rollout` instead of a Deployment (`--rollouts`).
    pub rollouts: bool,
    /// Every exported app's first Service and its port (none without `listen`), for the init
    /// containers of `dependsOn` (see [`first_service`]).
    pub services: BTreeMap<String, Option<(String, u16)>>,
}

/// The Service of an app's first listen entry and its port, as [`export`] names it: the app's
/// name, or `NAME-LISTEN` when it has several entries.
pub fn first_service(app: &crate::manifest::App) -> Option<(String, u16)> {
    let name = app.metadata.name.as_str();
    let listen = &app.spec.listen;
    let first = listen.first()?;
    let service = if listen.len() > 1 {
        format!("{name}-{}", first.name)
    } else {
        name.to_owned()
    };
    Some((service, first.port))
}

/// One exported object, with the comment lines to print above it.
#[derive(Debug, Clone)]
pub struct Object {
    /// Comment lines (without `# `).
    pub comments: Vec<String>,
    /// The object as YAML.
    pub yaml: String,
}

/// Everything an App becomes.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    /// The objects, in apply order (ConfigMap, Deployment or Rollout, Services).
    pub objects: Vec<Object>,
    /// What could not be translated, one sentence each (prefixed by the app name).
    pub warnings: Vec<String>,
}

/// Why an app could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// An env file cannot be read into its ConfigMap.
    #[error("app/{app}: cannot read env file {}: {why}", file.display())]
    EnvFile {
        /// The app.
        app: String,
        /// The env file.
        file: std::path::PathBuf,
        /// Why.
        why: String,
    },
    /// A manifest has something Kubernetes cannot express (a CronJob's schedule), at its
    /// file:line:column.
    #[error("{0}")]
    Unexportable(crate::manifest::ManifestError),
    /// An object could not be written as YAML (a bug).
    #[error("app/{app}: cannot write its {kind} as YAML: {why}")]
    Yaml {
        /// The app.
        app: String,
        /// Deployment, Rollout, Service or ConfigMap.
        kind: &'static str,
        /// Why.
        why: String,
    },
}

/// Exports one app (env files are read: blocking I/O).
pub fn export(located: &Located, opts: &Options) -> Result<Exported, ExportError> {
    let app = &located.app;
    let name = app.metadata.name.as_str().to_owned();
    let spec = &app.spec;
    let mut out = Exported::default();
    let mut warn = |w: String| out.warnings.push(format!("app/{name}: {w}"));
    let base = located.file.parent().unwrap_or(Path::new("."));

    let mut labels: BTreeMap<String, String> = app.metadata.labels.clone();
    labels.insert(NAME_LABEL.into(), name.clone());
    let selector: BTreeMap<String, String> = [(NAME_LABEL.to_owned(), name.clone())].into();
    let meta = |object_name: String| ObjectMeta {
        name: Some(object_name),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };

    let config_map = env_config_map(&name, &spec.env_files, base)?;
    if config_map.is_some() {
        warn(format!(
            "envFiles become ConfigMap {name}-env; move secrets into a Secret and reference it instead"
        ));
    }
    let container = pod::container(
        located,
        opts,
        config_map.as_ref().map(|_| format!("{name}-env")),
        &mut warn,
    );
    let replicas = match (spec.suspend, spec.instances) {
        (true, _) => 0,
        (false, Instances::Count(n)) => n,
        (false, Instances::Max) => {
            warn(format!(
                "instances: max became {} replicas (this host's CPUs); set the count you want per cluster",
                opts.cpus
            ));
            opts.cpus
        }
    };
    let s = &spec.strategy;
    let int_or_percent = |v: IntOrPercent| match v {
        IntOrPercent::Int(n) => IntOrString::Int(n as i32),
        IntOrPercent::Percent(p) => IntOrString::String(format!("{p}%")),
    };
    let deployment_spec = DeploymentSpec {
        replicas: Some(replicas as i32),
        selector: LabelSelector {
            match_labels: Some(selector.clone()),
            ..LabelSelector::default()
        },
        min_ready_seconds: (s.min_ready_seconds > 0).then_some(s.min_ready_seconds as i32),
        progress_deadline_seconds: Some(
            s.progress_deadline.0.as_secs().max(1).min(i32::MAX as u64) as i32,
        ),
        strategy: Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(int_or_percent(s.max_surge)),
                max_unavailable: Some(int_or_percent(s.max_unavailable)),
            }),
        }),
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels.clone()),
                ..ObjectMeta::default()
            }),
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                init_containers: depends::init_containers(
                    &spec.depends_on,
                    &opts.services,
                    &mut warn,
                ),
                ..pod::pod_spec(spec, container, &mut warn)
            }),
        },
        ..DeploymentSpec::default()
    };
    let canary = s.kind == StrategyType::Canary;
    let blue_green = s.kind == StrategyType::BlueGreen;
    // The Service of the first listen entry (named as the loop below names it).
    let active_service = match (spec.listen.len(), spec.listen.first()) {
        (1, _) | (_, None) => name.clone(),
        (_, Some(l)) => format!("{name}-{}", l.name),
    };
    if blue_green && !opts.rollouts {
        warn("strategy BlueGreen became a rolling Deployment (no preview, no switch); pass --rollouts for an Argo Rollouts Rollout".into());
    }
    if s.auto_rollback {
        warn("autoRollback is not exported: a Deployment past progressDeadlineSeconds is only reported, never rolled back".into());
    }
    for (hook, set, (when, helm, argo)) in [
        (
            "preRollout",
            spec.hooks.pre_rollout.is_some(),
            ("before", "pre-install,pre-upgrade", "PreSync"),
        ),
        (
            "postRollout",
            spec.hooks.post_rollout.is_some(),
            ("after", "post-install,post-upgrade", "PostSync"),
        ),
    ] {
        if set {
            warn(format!(
                "hooks.{hook} is not exported: Kubernetes has no hook of its own; run it as a Job {when} the rollout (a Helm `helm.sh/hook: {helm}` Job, or an Argo CD {argo} hook)"
            ));
        }
    }
    let workload = if (canary || blue_green) && opts.rollouts {
        for w in rollout::warnings(spec) {
            warn(w);
        }
        let strategy = if blue_green {
            RolloutStrategy {
                canary: None,
                blue_green: Some(rollout::BlueGreen {
                    active_service: active_service.clone(),
                    preview_service: format!("{active_service}-preview"),
                    auto_promotion_enabled: s.auto_promotion_seconds.is_some(),
                    auto_promotion_seconds: s
                        .auto_promotion_seconds
                        .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
                    scale_down_delay_seconds: s
                        .scale_down_delay
                        .map_or(30, |d| i32::try_from(d.0.as_secs()).unwrap_or(i32::MAX)),
                }),
            }
        } else {
            RolloutStrategy {
                canary: Some(rollout::Canary {
                    max_surge: int_or_percent(s.max_surge),
                    max_unavailable: int_or_percent(s.max_unavailable),
                    steps: rollout::steps(&s.steps),
                }),
                blue_green: None,
            }
        };
        let rollout = Rollout {
            api_version: "argoproj.io/v1alpha1",
            kind: "Rollout",
            metadata: meta(name.clone()),
            spec: RolloutSpec {
                replicas: replicas as i32,
                selector: deployment_spec.selector,
                template: deployment_spec.template,
                min_ready_seconds: deployment_spec.min_ready_seconds,
                progress_deadline_seconds: deployment_spec.progress_deadline_seconds,
                strategy,
            },
        };
        object(&name, "Rollout", &rollout, rollout::comments(spec))?
    } else {
        if canary {
            warn("strategy Canary became a rolling Deployment (no steps, no analysis); pass --rollouts for an Argo Rollouts Rollout".into());
        }
        let deployment = Deployment {
            metadata: meta(name.clone()),
            spec: Some(deployment_spec),
            ..Deployment::default()
        };
        object(&name, "Deployment", &deployment, Vec::new())?
    };

    if let Some(cm) = config_map {
        let cm = ConfigMap {
            metadata: meta(format!("{name}-env")),
            ..cm
        };
        out.objects
            .push(object(&name, "ConfigMap", &cm, Vec::new())?);
    }
    out.objects.push(workload);
    let several = spec.listen.len() > 1;
    for l in &spec.listen {
        let service_name = if several {
            format!("{name}-{}", l.name)
        } else {
            name.clone()
        };
        let service = cluster_ip(meta(service_name.clone()), &selector, l, l.port);
        let mut comments = vec![format!(
            "listen {} (mode: {}) on port {}: a ClusterIP Service; the pod gets PORT={}",
            l.name,
            mode_name(l.mode),
            l.port,
            l.port
        )];
        if l.mode == ListenMode::Inherit {
            comments.push(format!(
                "inherit mode: there is no socket to inherit in Kubernetes; the app must listen on $PORT ({})",
                l.port
            ));
        }
        out.objects
            .push(object(&name, "Service", &service, comments)?);
    }
    // A blue-green Rollout's preview Service, at `previewPort`, for the first listen entry.
    if let (true, true, Some(port), Some(l)) = (
        blue_green,
        opts.rollouts,
        s.preview_port,
        spec.listen.first(),
    ) {
        let service = cluster_ip(
            meta(format!("{active_service}-preview")),
            &selector,
            l,
            port,
        );
        let comments = vec![format!(
            "the preview of a blue-green rollout (previewPort {port}): Argo Rollouts points it at the new revision's pods"
        )];
        out.objects
            .push(object(&name, "Service", &service, comments)?);
    }
    Ok(out)
}

/// A ClusterIP Service at `port` for listen entry `l` of the pods `selector` picks.
fn cluster_ip(
    metadata: ObjectMeta,
    selector: &BTreeMap<String, String>,
    l: &crate::manifest::Listen,
    port: u16,
) -> Service {
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector.clone()),
            ports: Some(vec![ServicePort {
                name: Some(l.name.clone()),
                port: i32::from(port),
                target_port: Some(IntOrString::Int(i32::from(l.port))),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `inherit`, `tcp` or `http`.
fn mode_name(mode: ListenMode) -> &'static str {
    match mode {
        ListenMode::Inherit => "inherit",
        ListenMode::Tcp => "tcp",
        ListenMode::Http => "http",
    }
}

/// The ConfigMap holding every `envFiles` entry's variables (later files win), if any.
fn env_config_map(
    app: &str,
    files: &[String],
    base: &Path,
) -> Result<Option<ConfigMap>, ExportError> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut data = BTreeMap::new();
    for file in files {
        let path = base.join(file);
        let err = |why: String| ExportError::EnvFile {
            app: app.to_owned(),
            file: path.clone(),
            why,
        };
        for item in dotenvy::from_path_iter(&path).map_err(|e| err(e.to_string()))? {
            let (k, v) = item.map_err(|e| err(e.to_string()))?;
            data.insert(k, v);
        }
    }
    Ok(Some(ConfigMap {
        data: Some(data),
        ..ConfigMap::default()
    }))
}

/// Serializes one typed object, `apiVersion` and `kind` first.
fn object<T: serde::Serialize>(
    app: &str,
    kind: &'static str,
    value: &T,
    comments: Vec<String>,
) -> Result<Object, ExportError> {
    let yaml = serde_yaml::to_string(value).map_err(|e| ExportError::Yaml {
        app: app.to_owned(),
        kind,
        why: e.to_string(),
    })?;
    Ok(Object { comments, yaml })
}
