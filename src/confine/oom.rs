//! `oom_score_adj`: the controller keeps its own below its apps' so that the kernel, short of
//! memory, never picks the supervisor first; every child gets its own value explicitly
//! (children inherit the parent's, and the controller's is low).

use std::io;

/// Where a process's own value is.
const OWN: &str = "/proc/self/oom_score_adj";

/// The controller's own value by default (`corral controller --oom-score-adj`): low, with room
/// below it for an app that must outlive even the controller.
pub const DEFAULT_CONTROLLER: i32 = -900;

/// The controller's own `oom_score_adj` (0 when it cannot be read).
pub fn own() -> i32 {
    std::fs::read_to_string(OWN)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// An app's value when its manifest gives none: 0 (what it would have without corral), or the
/// controller's own plus 100 when that is higher (a controller that could not lower itself).
pub fn default_for_apps(own: i32) -> i32 {
    own.saturating_add(100).clamp(0, 1000)
}

/// What [`lower_own`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowered {
    /// The value was already at or below the target.
    Already(i32),
    /// The value was lowered from the first number to the second.
    From(i32, i32),
}

/// Lowers the controller's own value to `target` unless it is already lower. Lowering needs
/// `CAP_SYS_RESOURCE` (root): without it the error says so, and the controller runs on at its
/// inherited value, its apps defaulting above it ([`default_for_apps`]).
pub fn lower_own(target: i32) -> io::Result<Lowered> {
    let before = own();
    if before <= target {
        return Ok(Lowered::Already(before));
    }
    match std::fs::write(OWN, format!("{target}\n")) {
        Ok(()) => Ok(Lowered::From(before, target)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            Err(io::Error::new(
                e.kind(),
                format!(
                    "cannot lower the controller's oom_score_adj from {before} to {target}: that \
                     needs CAP_SYS_RESOURCE (root, unless a container or sandbox drops it); apps default to {} so the kernel still picks \
                     them first (under systemd, OOMScoreAdjust= in the unit does this instead)",
                    default_for_apps(before)
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_default_above_the_controller_and_never_below_zero() {
        assert_eq!(default_for_apps(-900), 0);
        assert_eq!(default_for_apps(0), 100);
        assert_eq!(default_for_apps(950), 1000);
        assert_eq!(default_for_apps(-1000), 0);
    }
}
