//! The container's `securityContext` from `spec.user`/`spec.group` (Kubernetes takes numeric
//! ids only: a name is resolved on this host, with a warning), and warnings for the limits that
//! have no Deployment counterpart (ulimits, nice, oomScoreAdjust, umask).

use k8s_openapi::api::core::v1::SecurityContext;
use nix::unistd::{Group, User};

use crate::manifest::{AppSpec, IdRef};

/// `runAsUser`/`runAsGroup` for `spec`, warning about every name resolved here or unknown and
/// every limit that is not exported.
pub fn security_context(spec: &AppSpec, warn: &mut impl FnMut(String)) -> Option<SecurityContext> {
    not_exported(spec, warn);
    let user = spec.user.as_ref().and_then(|u| user_id(u, warn));
    let group = match &spec.group {
        Some(g) => group_id(g, warn),
        // Like corral, the user's primary group, when this host knows the user.
        None => spec.user.as_ref().and_then(|u| {
            let entry = match u {
                IdRef::Id(n) => User::from_uid((*n).into()),
                IdRef::Name(name) => User::from_name(name),
            };
            let gid = entry.ok().flatten()?.gid.as_raw();
            warn(format!(
                "runAsGroup: {gid} is the primary group of user {u} on this host (spec.group \
                 is not set); the image must agree, or set spec.group"
            ));
            Some(gid)
        }),
    };
    (user.is_some() || group.is_some()).then(|| SecurityContext {
        run_as_user: user.map(i64::from),
        run_as_group: group.map(i64::from),
        ..SecurityContext::default()
    })
}

/// The uid of `user`: as written when numeric, else looked up on this host (with a warning).
fn user_id(user: &IdRef, warn: &mut impl FnMut(String)) -> Option<u32> {
    let name = match user {
        IdRef::Id(n) => return Some(*n),
        IdRef::Name(name) => name,
    };
    match User::from_name(name) {
        Ok(Some(u)) => {
            warn(format!(
                "spec.user: {name} is uid {} on this host, exported as runAsUser: {}; the \
                 image's /etc/passwd must agree (Kubernetes takes numeric ids only)",
                u.uid, u.uid
            ));
            Some(u.uid.as_raw())
        }
        _ => {
            warn(format!(
                "spec.user: {name} is not a user on this host, so its uid is unknown and \
                 runAsUser is not exported; write the numeric uid in spec.user"
            ));
            None
        }
    }
}

/// The gid of `group`: as written when numeric, else looked up on this host (with a warning).
fn group_id(group: &IdRef, warn: &mut impl FnMut(String)) -> Option<u32> {
    let name = match group {
        IdRef::Id(n) => return Some(*n),
        IdRef::Name(name) => name,
    };
    match Group::from_name(name) {
        Ok(Some(g)) => {
            warn(format!(
                "spec.group: {name} is gid {} on this host, exported as runAsGroup: {}; the \
                 image's /etc/group must agree (Kubernetes takes numeric ids only)",
                g.gid, g.gid
            ));
            Some(g.gid.as_raw())
        }
        _ => {
            warn(format!(
                "spec.group: {name} is not a group on this host, so its gid is unknown and \
                 runAsGroup is not exported; write the numeric gid in spec.group"
            ));
            None
        }
    }
}

/// Warnings for the limits a Deployment cannot carry.
fn not_exported(spec: &AppSpec, warn: &mut impl FnMut(String)) {
    if !spec.ulimits.is_empty() {
        warn("ulimits is not exported: a pod's limits come from the container runtime's defaults (or resources for memory and CPU)".into());
    }
    if spec.nice.is_some() {
        warn("nice is not exported: Kubernetes has no per-pod nice value (resources.requests.cpu weighs CPU instead)".into());
    }
    if spec.oom_score_adj.is_some() {
        warn("oomScoreAdjust is not exported: the kubelet sets oom_score_adj from the pod's QoS class".into());
    }
    if let Some(umask) = spec.umask {
        warn(format!("umask is not exported: set it in the image's entrypoint (e.g. sh -c 'umask {umask}; exec …')"));
    }
}
