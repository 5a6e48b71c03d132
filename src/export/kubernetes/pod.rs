//! The pod of an exported Deployment: its one container (command, env, probes, resources,
//! stop) and the pod-level settings (grace period, restart policy).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, ExecAction, HTTPGetAction,
    Lifecycle, LifecycleHandler, PodSpec, Probe as K8sProbe, ResourceRequirements, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Options;
use crate::manifest::{AppSpec, Located, Probe, RestartPolicy};

/// The app's container.
pub fn container(
    located: &Located,
    opts: &Options,
    env_config_map: Option<String>,
    warn: &mut impl FnMut(String),
) -> Container {
    let name = located.app.metadata.name.as_str();
    let spec = &located.app.spec;
    let command = spec.command.argv();
    let working_dir = match spec.cwd.as_deref() {
        Some(dir) if dir.starts_with('/') => Some(dir.to_owned()),
        Some(dir) => {
            warn(format!(
                "cwd {dir} is a folder on this host; the image's WORKDIR is used (set workingDir if it differs)"
            ));
            None
        }
        None => None,
    };
    let port = spec.listen.first().map(|l| l.port);
    if spec.listen.len() > 1 {
        warn("several listen entries: PORT is the first one's; the app must find the others' ports itself".into());
    }
    let mut env: BTreeMap<String, String> = spec.env.clone();
    if let Some(profile) = &opts.profile {
        match spec.profiles.get(profile) {
            Some(p) => env.extend(p.env.clone()),
            None if !spec.profiles.is_empty() => {
                warn(format!("has no profile {profile:?}; its env is not added"))
            }
            None => {}
        }
    }
    for other in spec
        .profiles
        .keys()
        .filter(|p| Some(*p) != opts.profile.as_ref())
    {
        warn(format!(
            "profile {other:?} is not exported (pick one with --profile {other})"
        ));
    }
    if let Some(port) = port {
        env.insert("PORT".into(), port.to_string());
    }
    env.insert("CORRAL_APP".into(), name.to_owned());
    let env: Vec<EnvVar> = env
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..EnvVar::default()
        })
        .collect();
    if let Some(max) = spec.memory.as_ref().and_then(|m| m.max) {
        warn(format!(
            "memory.max ({max}) is not exported: limits.memory is the one ceiling a container has, and it takes memory.limit"
        ));
    }
    if let Some(pids) = &spec.pids {
        warn(format!(
            "pids.max ({}) is not exported: a Deployment has no per-container process limit (the kubelet's podPidsLimit is node-wide)",
            pids.max
        ));
    }
    let limits: BTreeMap<String, Quantity> = [
        spec.memory
            .as_ref()
            .map(|m| ("memory", m.limit.to_string())),
        spec.cpu.map(|c| ("cpu", c.max.to_string())),
    ]
    .into_iter()
    .flatten()
    .map(|(k, v)| (k.to_owned(), Quantity(v)))
    .collect();
    let resources = (!limits.is_empty()).then(|| ResourceRequirements {
        limits: Some(limits),
        ..ResourceRequirements::default()
    });
    let signal = spec.stop.signal.0;
    let lifecycle = (signal != nix::sys::signal::Signal::SIGTERM).then(|| Lifecycle {
        pre_stop: Some(LifecycleHandler {
            exec: Some(ExecAction {
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "kill -{} 1 && sleep {}",
                        signal.as_str().trim_start_matches("SIG"),
                        spec.stop.timeout.0.as_secs().max(1)
                    ),
                ]),
            }),
            ..LifecycleHandler::default()
        }),
        ..Lifecycle::default()
    });
    Container {
        name: name.to_owned(),
        image: Some(opts.image.replace("{name}", name)),
        command: Some(command),
        working_dir,
        env: (!env.is_empty()).then_some(env),
        env_from: env_config_map.map(|cm| {
            vec![EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: cm,
                    optional: None,
                }),
                ..EnvFromSource::default()
            }]
        }),
        ports: (!spec.listen.is_empty()).then(|| {
            spec.listen
                .iter()
                .map(|l| ContainerPort {
                    container_port: i32::from(l.port),
                    name: Some(l.name.chars().take(15).collect()),
                    protocol: Some("TCP".into()),
                    ..ContainerPort::default()
                })
                .collect()
        }),
        readiness_probe: spec
            .readiness
            .as_ref()
            .and_then(|p| probe(p, port, "readiness", warn)),
        liveness_probe: spec
            .liveness
            .as_ref()
            .and_then(|p| probe(p, port, "liveness", warn)),
        resources,
        lifecycle,
        ..Container::default()
    }
}

/// The pod spec around `container`; fields with no pod counterpart are warned about.
pub fn pod_spec(
    spec: &AppSpec,
    mut container: Container,
    warn: &mut impl FnMut(String),
) -> PodSpec {
    container.security_context = super::security::security_context(spec, warn);
    if spec.restart_policy != RestartPolicy::Always {
        warn(format!(
            "restartPolicy: {:?} has no Deployment counterpart (pods always restart); use a Job for run-to-completion work",
            spec.restart_policy
        ));
    }
    if spec.backoff != crate::manifest::Backoff::default() {
        warn("backoff is not exported: the kubelet has its own restart back-off (10s doubling to 5m)".into());
    }
    if spec.watch.is_some() {
        warn("watch is not exported: a new image is a new rollout in Kubernetes".into());
    }
    if let Some(schedule) = &spec.restart_schedule {
        warn(format!(
            "restartSchedule \"{schedule}\" is not exported: Kubernetes has no scheduled restart of a Deployment (a CronJob running `kubectl rollout restart` is the usual way)"
        ));
    }
    if spec.logs != crate::manifest::Logs::default() {
        warn("logs is not exported: the container runtime keeps and rotates pod logs".into());
    }
    PodSpec {
        containers: vec![container],
        termination_grace_period_seconds: Some(spec.stop.timeout.0.as_secs().max(1) as i64),
        ..PodSpec::default()
    }
}

/// A Kubernetes probe for a corral probe; `notify` has none (a warning).
fn probe(
    p: &Probe,
    port: Option<u16>,
    which: &str,
    warn: &mut impl FnMut(String),
) -> Option<K8sProbe> {
    let mut out = K8sProbe {
        initial_delay_seconds: Some(p.initial_delay_seconds as i32),
        period_seconds: Some(p.period() as i32),
        timeout_seconds: Some(p.timeout() as i32),
        success_threshold: Some(p.successes() as i32),
        failure_threshold: Some(p.failures() as i32),
        ..K8sProbe::default()
    };
    let target = |explicit: Option<u16>, warn: &mut dyn FnMut(String)| match explicit.or(port) {
        Some(p) => Some(IntOrString::Int(i32::from(p))),
        None => {
            warn(format!(
                "{which} probe has no port and the app no listen entry; not exported"
            ));
            None
        }
    };
    if let Some(h) = &p.http {
        out.http_get = Some(HTTPGetAction {
            path: Some(h.path.clone()),
            port: target(h.port, warn)?,
            ..HTTPGetAction::default()
        });
    } else if let Some(t) = &p.tcp {
        out.tcp_socket = Some(TCPSocketAction {
            port: target(t.port, warn)?,
            ..TCPSocketAction::default()
        });
    } else if let Some(e) = &p.exec {
        out.exec = Some(ExecAction {
            command: Some(e.command.clone()),
        });
    } else {
        warn(format!(
            "{which} probe notify has no Kubernetes counterpart; not exported (add an http or tcp probe)"
        ));
        return None;
    }
    Some(out)
}
