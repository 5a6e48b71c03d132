//! An app's [`Confinement`]: its [`Spec`] worked out once per app (lookups, limits checked
//! against the controller's own, the bytes to write), so that each child only makes syscalls.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::access::{self, Who};
use super::child::ChildSteps;
use super::identity::{self, Identity, IdentityError};
use super::{oom, Spec};
use crate::manifest::Ulimit;

/// What every instance of one app is set to in the child before exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confinement {
    /// The user and groups, when `user` or `group` is set.
    pub identity: Option<Identity>,
    /// Who the instances run as, for people: `nobody (65534:65534)`, the controller's own
    /// user when the app names none.
    pub runs_as: String,
    /// Whether the child changes user and groups (root controller, identity set).
    pub(super) switch: bool,
    /// `(name, resource, limit)` for each ulimit, in manifest order.
    pub(super) rlimits: Vec<(&'static str, i32, libc::rlimit)>,
    /// `spec.nice`.
    pub(super) nice: Option<i32>,
    /// The oom_score_adj value.
    pub(super) oom: i32,
    /// The cwd, entered again after the switch to check the user may.
    pub(super) cwd: CString,
    /// What the child does before exec, as plain data.
    pub(super) steps: ChildSteps,
}

/// The app's confinement cannot be applied on this host; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfineError {
    /// `user` or `group`.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// Any other field: the message starts with its dotted path.
    #[error("{0}")]
    Field(String),
}

impl Confinement {
    /// Works out `spec` for instances that start in `cwd` (blocking: NSS, /proc).
    pub fn resolve(spec: &Spec, cwd: &Path) -> Result<Confinement, ConfineError> {
        let identity = identity::resolve(spec.user.as_ref(), spec.group.as_ref())?;
        if let Some(id) = &identity {
            identity::own_only(id, spec.user.is_some())?;
        }
        // What a root controller usually may; a container or sandbox may take it away.
        let (resource_cap, nice_cap) = (
            has_capability(CAP_SYS_RESOURCE),
            has_capability(CAP_SYS_NICE),
        );
        let rlimits = spec
            .ulimits
            .iter()
            .map(|(name, limit)| rlimit(name, limit, resource_cap))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(n) = spec.nice {
            // SAFETY: getpriority has no memory effects.
            let own = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
            if !nice_cap && n < own {
                return Err(ConfineError::Field(format!(
                    "spec.nice: {n} is below the controller's own nice value ({own}), and \
                     lowering it needs CAP_SYS_NICE, which the controller lacks; raise it to \
                     {own} or more, or run the controller as root"
                )));
            }
        }
        let own_oom = oom::own();
        let oom_value = spec
            .oom_score_adj
            .unwrap_or_else(|| oom::default_for_apps(own_oom));
        if !resource_cap && oom_value < own_oom {
            return Err(ConfineError::Field(format!(
                "spec.oomScoreAdjust: {oom_value} is below the controller's own oom_score_adj \
                 ({own_oom}), and lowering it needs CAP_SYS_RESOURCE, which the controller \
                 lacks; raise it to {own_oom} or more, or run the controller as root"
            )));
        }
        let mut text = [0u8; 8];
        let digits = format!("{oom_value}\n");
        text[..digits.len()].copy_from_slice(digits.as_bytes());
        let cwd = CString::new(cwd.as_os_str().as_bytes())
            .map_err(|_| ConfineError::Field("spec.cwd: holds a NUL character".into()))?;
        let runs_as = match &identity {
            Some(id) => id.label(),
            None => identity::own_label(),
        };
        let switch = identity.as_ref().is_some_and(Identity::needs_switch);
        let steps = ChildSteps {
            oom: (text, digits.len()),
            rlimits: rlimits
                .iter()
                .map(|(_, res, l)| (*res, l.rlim_cur, l.rlim_max))
                .collect(),
            nice: spec.nice,
            umask: spec.umask.map(|u| u.0),
            switch: identity
                .as_ref()
                .filter(|_| switch)
                .map(|id| (id.uid, id.gid, id.groups.clone())),
            cwd: cwd.as_bytes_with_nul().to_vec(),
        };
        Ok(Confinement {
            runs_as,
            switch,
            identity,
            rlimits,
            nice: spec.nice,
            oom: oom_value,
            cwd,
            steps,
        })
    }

    /// `HOME`, `USER`, `LOGNAME` and `SHELL` from the passwd entry of `spec.user`, those of
    /// them that the app's own environment (`app_env`: env files, `env`, profile) leaves unset,
    /// as systemd's `User=` does.
    pub fn login_env(&self, app_env: &[(String, String)]) -> Vec<(String, String)> {
        let Some(account) = self.identity.as_ref().and_then(|id| id.account.as_ref()) else {
            return Vec::new();
        };
        let values = [
            ("HOME", account.home.display().to_string()),
            ("USER", account.name.clone()),
            ("LOGNAME", account.name.clone()),
            ("SHELL", account.shell.display().to_string()),
        ];
        values
            .into_iter()
            .filter(|(key, _)| !app_env.iter().any(|(k, _)| k == key))
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// The uid and gid the child switches to, when that is another user than the
    /// controller's: what a socket the instance must reach is handed to.
    pub fn other_user(&self) -> Option<(u32, u32)> {
        let id = self.identity.as_ref().filter(|_| self.switch)?;
        (id.uid != nix::unistd::Uid::effective().as_raw()).then_some((id.uid, id.gid))
    }

    /// The user as people read it (`nobody (65534:65534)`), when the app names one.
    pub fn user_label(&self) -> Option<String> {
        self.identity.as_ref().map(Identity::label)
    }

    /// Before any child is forked: the app's user can enter `cwd` and run `program` (each
    /// when given), by the mode bits of each path and the folders above it. `what` says what
    /// `program` is to the user, for the message.
    pub fn check_reach(&self, cwd: &Path, program: Option<(&Path, &str)>) -> Result<(), String> {
        let Some(id) = self.identity.as_ref().filter(|_| self.switch) else {
            return Ok(());
        };
        let who = Who {
            uid: id.uid,
            gid: id.gid,
            groups: &id.groups,
        };
        let label = id.label();
        if let Some(at) = access::blocked(cwd, who, access::EXEC) {
            return Err(format!(
                "spec.cwd: user {label} cannot enter {} ({} is closed to it); give it search \
                 permission there (e.g. chmod o+x) or choose a cwd it can reach",
                cwd.display(),
                at.display()
            ));
        }
        if let Some((program, what)) = program {
            if let Some(at) = access::blocked(program, who, access::EXEC) {
                return Err(format!(
                    "user {label} cannot execute {} ({what}; {} is closed to it); make it \
                     executable by that user (e.g. chmod o+rx) or change spec.user",
                    program.display(),
                    at.display()
                ));
            }
        }
        Ok(())
    }
}

impl Confinement {
    /// Before any child is forked: the app's user can enter `cwd`, run `program` (as found
    /// in `PATH`) and, when the app has `inherit` listen entries, the corral binary that
    /// starts each instance to give it `LISTEN_PID`.
    pub fn check_start(
        &self,
        cwd: &Path,
        program: Option<&Path>,
        inherit: bool,
    ) -> std::io::Result<()> {
        let shim = if inherit && self.switch {
            Some(std::env::current_exe()?)
        } else {
            None
        };
        let checks = [
            program.map(|p| (p, "spec.command")),
            shim.as_deref().map(|p| {
                (
                    p,
                    "listen mode inherit starts each instance through the corral binary; \
                     install corral where every user may run it, e.g. /usr/bin",
                )
            }),
        ];
        for check in checks.into_iter().flatten() {
            self.check_reach(cwd, Some(check))
                .map_err(std::io::Error::other)?;
        }
        self.check_reach(cwd, None).map_err(std::io::Error::other)
    }
}

/// The `setrlimit` resource of a manifest ulimit name.
fn resource(name: &str) -> i32 {
    let r = match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        _ => libc::RLIMIT_STACK,
    };
    r as i32
}

/// One ulimit as `setrlimit` takes it, refused when the child could not set it: a hard limit
/// above the controller's own without root, or `nofile` above the kernel's `fs.nr_open`.
fn rlimit(
    name: &'static str,
    limit: Ulimit,
    may_raise: bool,
) -> Result<(&'static str, i32, libc::rlimit), ConfineError> {
    let res = resource(name);
    let want = libc::rlimit {
        rlim_cur: limit.soft.raw() as libc::rlim_t,
        rlim_max: limit.hard.raw() as libc::rlim_t,
    };
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `own`, a valid rlimit.
    if unsafe { libc::getrlimit(res as _, &mut own) } == 0
        && !may_raise
        && want.rlim_max > own.rlim_max
    {
        return Err(ConfineError::Field(format!(
            "spec.ulimits.{name}: hard limit {} is above the controller's own ({}), and raising \
             it needs CAP_SYS_RESOURCE, which the controller lacks (root has it unless a \
             container or sandbox drops it); lower it, or raise the controller's (e.g. \
             Limit{}= in its systemd unit)",
            limit.hard,
            shown(own.rlim_max),
            name.to_uppercase()
        )));
    }
    if name == "nofile" {
        let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        if let Some(max) = nr_open.filter(|max| limit.hard.raw() > *max) {
            return Err(ConfineError::Field(format!(
                "spec.ulimits.nofile: {} is above this kernel's fs.nr_open ({max}), the most \
                 open files a process may have; lower it, or raise fs.nr_open (sysctl)",
                limit.hard
            )));
        }
    }
    Ok((name, res, want))
}

/// `CAP_SYS_NICE`: lowering a nice value.
const CAP_SYS_NICE: u32 = 23;
/// `CAP_SYS_RESOURCE`: raising a hard limit, lowering oom_score_adj.
const CAP_SYS_RESOURCE: u32 = 24;

/// Whether this process holds capability `bit` (`CapEff` in /proc/self/status).
fn has_capability(bit: u32) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps >> bit & 1 == 1)
}

/// A raw limit as the manifest writes it.
pub(super) fn shown(raw: libc::rlim_t) -> String {
    if raw == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        raw.to_string()
    }
}
