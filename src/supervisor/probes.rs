//! Starting an instance's readiness and liveness probers.

use crate::probe::{self, NotifySocket, ProbeKind, ProbeTarget};
use crate::reconcile::InstanceId;

use super::shared::Shared;
use super::template::Template;

/// Where an instance is probed: its env for exec probes and the port a probe without one uses.
pub struct Target {
    /// The instance's full environment.
    pub env: Vec<(String, String)>,
    /// `PORT` (tcp/http modes) or the listen port (inherit).
    pub default_port: Option<u16>,
    /// The instance's user and limits, for exec probes.
    pub confine: Option<std::sync::Arc<crate::confine::Confinement>>,
}

/// Starts the probers `template` asks for on instance `id`; `notify` is the instance's notify
/// socket when readiness is `notify`. A prober that cannot start is returned as an error
/// message (the instance then never gets ready, and status says why).
pub fn start(
    shared: &Shared,
    template: &Template,
    id: InstanceId,
    target: &Target,
    notify: Option<NotifySocket>,
    readiness: bool,
    stop: &tokio_util::sync::CancellationToken,
) -> Result<(), String> {
    let mut notify = notify;
    let kinds = [
        (
            ProbeKind::Readiness,
            template.readiness.as_ref().filter(|_| readiness),
        ),
        (ProbeKind::Liveness, template.liveness.as_ref()),
    ];
    for (kind, probe) in kinds {
        let Some(probe) = probe else { continue };
        let probe_target = ProbeTarget {
            default_port: target.default_port,
            cwd: template.cwd.clone(),
            env: target.env.clone(),
            confine: target.confine.clone(),
            notify: if kind == ProbeKind::Readiness {
                notify.take()
            } else {
                None
            },
        };
        probe::spawn_prober(
            id,
            kind,
            probe,
            probe_target,
            shared.probes.clone(),
            stop.clone(),
            &shared.tasks,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}
