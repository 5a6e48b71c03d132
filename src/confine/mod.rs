//! What an instance may be: the user, groups and limits it runs with (README "Users and limits"),
//! worked out once per app in the controller and applied in the child, between fork and exec.

pub mod access;
mod child;
pub mod host;
mod identity;
pub mod oom;
mod plan;

pub use child::ChildSteps;
pub use identity::{resolve as resolve_identity, Account, Identity, IdentityError};
pub use plan::{ConfineError, Confinement};

use crate::manifest::{AppSpec, IdRef, Ulimits, Umask};

/// The manifest's words about what an app's instances may be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// `spec.user`.
    pub user: Option<IdRef>,
    /// `spec.group`.
    pub group: Option<IdRef>,
    /// `spec.ulimits`.
    pub ulimits: Ulimits,
    /// `spec.nice`.
    pub nice: Option<i32>,
    /// `spec.oomScoreAdjust`.
    pub oom_score_adj: Option<i32>,
    /// `spec.umask`.
    pub umask: Option<Umask>,
}

impl Spec {
    /// The confinement fields of an app's spec.
    pub fn of(spec: &AppSpec) -> Spec {
        Spec {
            user: spec.user.clone(),
            group: spec.group.clone(),
            ulimits: spec.ulimits.clone(),
            nice: spec.nice,
            oom_score_adj: spec.oom_score_adj,
            umask: spec.umask,
        }
    }
}

/// Works out `spec` for instances that start in `cwd`, once per app per batch of starts
/// (blocking: NSS and /proc); the error names the field and the fix.
pub fn prepare(spec: &Spec, cwd: &std::path::Path) -> std::io::Result<Confinement> {
    Confinement::resolve(spec, cwd).map_err(|e| std::io::Error::other(e.to_string()))
}
