//! The part of a [`Confinement`] that runs in the forked child, before exec: only
//! async-signal-safe syscalls on memory prepared in the parent, no allocation.
//!
//! Order matters: oom_score_adj, limits and nice first (lowering oom_score_adj or nice and
//! raising a hard limit need privileges the switch gives up; oom_score_adj before the limits,
//! as opening its file needs a free fd below a lowered `nofile` and the child still holds the
//! controller's close-on-exec fds), then umask, then groups, gid and uid (setuid last: after it,
//! setgid and setgroups are no longer allowed), then the cwd is entered again, now as the
//! user, to see that it may.
//!
//! std passes only an errno from a failed `pre_exec` to the parent, so a failure here says
//! which step it was by its code: `step << 16 | errno` ([`Confinement::explain`] reads it).

use std::io;

use serde::{Deserialize, Serialize};

use super::plan::Confinement;

/// A step that can fail, as encoded in the error's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `setpriority`.
    Nice = 1,
    /// Writing `/proc/self/oom_score_adj`.
    Oom = 2,
    /// `setgroups`.
    Groups = 3,
    /// `setgid`.
    Gid = 4,
    /// `setuid`.
    Uid = 5,
    /// `chdir` to the cwd as the user.
    Cwd = 6,
}

/// First code of the ulimit steps: ulimit `i` fails as step `RLIMIT_STEPS + i`.
const RLIMIT_STEPS: i32 = 16;

/// The error of step `step`, with the errno just set.
fn failed(step: i32) -> io::Error {
    let errno = io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL);
    io::Error::from_raw_os_error(step << 16 | (errno & 0xffff))
}

/// What a child does to itself between fork and exec, as plain data: worked out once per app
/// ([`Confinement::steps`]), applied in a forked child or sent to the spawner process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildSteps {
    /// The text for `/proc/self/oom_score_adj` (up to 7 ASCII bytes, `-1000\n`) and its length.
    pub(super) oom: ([u8; 8], usize),
    /// `(resource, soft, hard)` for each ulimit, in manifest order.
    pub(super) rlimits: Vec<(i32, u64, u64)>,
    /// `spec.nice`.
    pub(super) nice: Option<i32>,
    /// `spec.umask`.
    pub(super) umask: Option<u32>,
    /// The uid, gid and supplementary groups to switch to (root controller, identity set).
    pub(super) switch: Option<(u32, u32, Vec<u32>)>,
    /// The cwd with its NUL, entered again after the switch to check the user may.
    pub(super) cwd: Vec<u8>,
}

impl ChildSteps {
    /// Applies the steps in the forked child. Async-signal-safe: no allocation, no lock.
    pub fn apply(&self) -> io::Result<()> {
        write_oom(&self.oom)?;
        for (i, &(resource, soft, hard)) in self.rlimits.iter().enumerate() {
            let limit = libc::rlimit {
                rlim_cur: soft as libc::rlim_t,
                rlim_max: hard as libc::rlim_t,
            };
            // SAFETY: setrlimit reads a valid rlimit.
            if unsafe { libc::setrlimit(resource as _, &limit) } != 0 {
                return Err(failed(RLIMIT_STEPS + i as i32));
            }
        }
        if let Some(n) = self.nice {
            // SAFETY: setpriority has no memory effects.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) } != 0 {
                return Err(failed(Step::Nice as i32));
            }
        }
        if let Some(mask) = self.umask {
            // SAFETY: umask cannot fail.
            unsafe { libc::umask(mask as libc::mode_t) };
        }
        if let Some((uid, gid, groups)) = &self.switch {
            // SAFETY: setgroups reads `groups.len()` gids from a live Vec.
            if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
                return Err(failed(Step::Groups as i32));
            }
            // SAFETY: plain syscalls.
            if unsafe { libc::setgid(*gid) } != 0 {
                return Err(failed(Step::Gid as i32));
            }
            // SAFETY: as above.
            if unsafe { libc::setuid(*uid) } != 0 {
                return Err(failed(Step::Uid as i32));
            }
            if self.cwd.last() == Some(&0) {
                // SAFETY: chdir reads a NUL-terminated string that lives in `self`.
                if unsafe { libc::chdir(self.cwd.as_ptr().cast()) } != 0 {
                    return Err(failed(Step::Cwd as i32));
                }
            }
        }
        Ok(())
    }
}

impl Confinement {
    /// Applies the confinement in the forked child. Async-signal-safe: no allocation, no lock.
    pub fn apply_in_child(&self) -> io::Result<()> {
        self.steps.apply()
    }

    /// What the child does before exec, as data (for the spawner process).
    pub fn steps(&self) -> &ChildSteps {
        &self.steps
    }

    /// A spawn error in words that name the field and the fix: a step of
    /// [`Confinement::apply_in_child`] that failed, or the exec refused to the app's user.
    /// Other errors are returned as they are.
    pub fn explain(&self, err: io::Error, program: &str) -> io::Error {
        let Some(code) = err.raw_os_error() else {
            return err;
        };
        let (step, errno) = (code >> 16, code & 0xffff);
        let why = io::Error::from_raw_os_error(errno);
        let label = self
            .user_label()
            .unwrap_or_else(|| "the controller's user".into());
        let denied = matches!(errno, libc::EPERM | libc::EACCES);
        let hint = |text: &str| {
            if denied {
                format!("; {text}")
            } else {
                String::new()
            }
        };
        let message = match step {
            0 if self.switch && errno == libc::EACCES => format!(
                "spec.command: user {label} may not run {program:?} ({why}): make it, and the \
                 folders above it, executable by that user (e.g. chmod o+rx), or change spec.user"
            ),
            0 if self.switch && errno == libc::EAGAIN => format!(
                "spec.ulimits.nproc: user {label} already runs as many processes as its nproc \
                 limit allows ({why}); raise spec.ulimits.nproc or run fewer processes as that user"
            ),
            0 => return err,
            s if s == Step::Nice as i32 => format!(
                "spec.nice: cannot set {} ({why}){}",
                self.nice.unwrap_or_default(),
                hint("a value below the controller's needs CAP_SYS_NICE")
            ),
            s if s == Step::Oom as i32 => format!(
                "spec.oomScoreAdjust: cannot write {} to /proc/self/oom_score_adj ({why}){}",
                self.oom,
                hint("a value below the controller's own needs CAP_SYS_RESOURCE")
            ),
            s if (Step::Groups as i32..=Step::Uid as i32).contains(&s) => format!(
                "spec.user: cannot switch to {label} ({why}); only a root controller can run \
                 apps as another user"
            ),
            s if s == Step::Cwd as i32 => format!(
                "spec.cwd: user {label} cannot enter {} ({why}); give it search permission on \
                 that folder and every folder above it (e.g. chmod o+x), or choose another cwd",
                self.cwd.to_string_lossy()
            ),
            s => match self.rlimits.get((s - RLIMIT_STEPS) as usize) {
                Some((name, _, limit)) => format!(
                    "spec.ulimits.{name}: cannot set soft {} / hard {} ({why}){}",
                    super::plan::shown(limit.rlim_cur),
                    super::plan::shown(limit.rlim_max),
                    hint("a hard limit above the controller's own needs CAP_SYS_RESOURCE")
                ),
                None => return err,
            },
        };
        io::Error::new(why.kind(), message)
    }
}

/// Writes `text` to `/proc/self/oom_score_adj`.
fn write_oom((bytes, len): &([u8; 8], usize)) -> io::Result<()> {
    // SAFETY: open, write and close on a static NUL-terminated path and a live buffer.
    unsafe {
        let fd = libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return Err(failed(Step::Oom as i32));
        }
        let written = libc::write(fd, bytes.as_ptr().cast(), *len);
        let result = if written == *len as isize {
            Ok(())
        } else {
            Err(failed(Step::Oom as i32))
        };
        libc::close(fd);
        result
    }
}
