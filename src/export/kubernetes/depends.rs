//! `spec.dependsOn` in Kubernetes, which has no `depends_on`: an init container per dependency
//! that waits until the dependency's Service accepts connections.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

use crate::manifest::depends::Condition;
use crate::manifest::DependsOn;

/// The image of the waiting init containers (it has `nc`).
pub const WAIT_IMAGE: &str = "busybox:1.36";

/// One init container per dependency (of an App, or a Job's own) that has a Service among
/// `services` (app name → its
/// first Service and port); a warning for what cannot be kept.
pub fn init_containers(
    depends_on: &[DependsOn],
    services: &BTreeMap<String, Option<(String, u16)>>,
    warn: &mut impl FnMut(String),
) -> Option<Vec<Container>> {
    if depends_on.is_empty() {
        return None;
    }
    warn("dependsOn became init containers waiting for each dependency's Service (Kubernetes has no depends_on): they wait once, before the pod starts, until the Service has a ready endpoint; `restart: true` and the order of shutdown are not kept".into());
    let mut out = Vec::new();
    for dep in depends_on {
        let app = dep.app.as_str();
        if dep.condition == Condition::Completed {
            warn(format!(
                "dependsOn {app} (Completed): Kubernetes cannot hold a pod until a Job completed; nothing waits for it there (run {app} first, e.g. as a Helm pre-install hook)"
            ));
            continue;
        }
        let Some(Some((service, port))) = services.get(app) else {
            let why = if services.contains_key(app) {
                "it has no listen entry, so no Service"
            } else {
                "it is not among the exported apps"
            };
            warn(format!(
                "dependsOn {app}: {why} to wait for; nothing waits for it in Kubernetes"
            ));
            continue;
        };
        if dep.condition == Condition::Started {
            warn(format!("dependsOn {app} (Started): waits until its Service answers, which is Ready in Kubernetes"));
        }
        out.push(Container {
            name: format!("wait-for-{app}"),
            image: Some(WAIT_IMAGE.into()),
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                format!("until nc -z {service} {port}; do echo waiting for {service}:{port}; sleep 1; done"),
            ]),
            ..Container::default()
        });
    }
    (!out.is_empty()).then_some(out)
}
