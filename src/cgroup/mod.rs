//! Per-instance cgroup v2 groups: where the controller may create them, which controllers they
//! get, creating one per instance with its limits (`memory.max`, `cpu.max`, `pids.max`,
//! `memory.oom.group`), reading its figures, finding it again after a restart, and removing it
//! after the instance exits.
//!
//! The controller's own cgroup (from `/proc/self/cgroup` on the cgroup2 mount found in
//! `/proc/self/mountinfo`) must be writable: a delegated subtree (systemd `Delegate=yes`) or
//! root. Instances then live in `OWN/corral/HOME/APP-INDEX-ID`, with whichever of the `memory`,
//! `pids` and `cpu` controllers `OWN` offers; a missing one only disables the fields that need
//! it. `CORRAL_CGROUP_ROOT` names another directory to use as the controller's own cgroup (tests).

mod detect;
mod limits;
mod usage;

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use detect::{detect, detect_in, prepare, Delegated};
pub use limits::{cpu_max_line, oom_group, write_limits, Controller, Field, Limits};
pub use usage::{usage, Usage};

/// Environment variable naming the directory used as the controller's own cgroup.
pub const ROOT_ENV: &str = "CORRAL_CGROUP_ROOT";
/// The sub-cgroup of the controller's own that holds, per controller home, the instances'
/// cgroups: `OWN/corral/HOME/APP-INDEX-ID`.
pub const INSTANCES_DIR: &str = "corral";

/// The name of a home's folder under [`INSTANCES_DIR`]: a short hash of its canonical path,
/// so that controllers sharing a cgroup (tests, or several in one login session) never share
/// instance groups.
pub fn home_key(home: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(home.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Why instance cgroups cannot be made here (for `validate` and `describe`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// The controllers instance cgroups get, and why each other one is missing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Support {
    /// Enabled (or, before [`prepare`], offered).
    pub enabled: Vec<Controller>,
    /// Not available, with the reason.
    pub missing: Vec<(Controller, String)>,
}

impl Support {
    /// Whether `controller` is there.
    pub fn has(&self, controller: Controller) -> bool {
        self.enabled.contains(&controller)
    }

    /// Why `field` cannot apply, or None when it can.
    pub fn why_not(&self, field: Field) -> Option<&str> {
        let c = field.controller();
        if self.has(c) {
            return None;
        }
        let why = self.missing.iter().find(|(m, _)| *m == c).map(|(_, w)| w);
        Some(why.map_or("its controller is not available", String::as_str))
    }
}

/// Why `field` cannot apply given what was found (None: it applies), as a sentence that
/// names it and says what happens instead.
pub fn field_unavailable(found: Result<&Support, &Unavailable>, field: Field) -> Option<String> {
    let why = match found {
        Ok(support) => support.why_not(field)?.to_owned(),
        Err(e) => e.to_string(),
    };
    Some(format!(
        "{} not available here: {why}; {}",
        field.what(),
        field.fallback()
    ))
}

/// Where instance cgroups are created, and with which controllers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    /// `OWN/corral`, with the enabled controllers in its `cgroup.subtree_control`.
    pub dir: PathBuf,
    /// Where the cgroup2 file system is mounted (None for `$CORRAL_CGROUP_ROOT`).
    pub mount: Option<PathBuf>,
    /// The controllers its children get.
    pub support: Support,
}

/// One instance's cgroup, opened before its process is spawned.
#[derive(Debug)]
pub struct InstanceCgroup {
    /// Its directory.
    pub path: PathBuf,
    /// Its `cgroup.procs`, for the child to move itself in before exec.
    pub procs: CString,
    /// The limits written.
    pub limits: Limits,
}

/// A live instance's cgroup: its directory and the limits written there (None: not known,
/// as after adoption, so the next update writes them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its directory.
    pub path: PathBuf,
    /// The limits in its files.
    pub written: Option<Limits>,
}

impl Cgroups {
    /// The cgroup directory of instance `id` at `index` of `app`.
    pub fn path_of(&self, app: &str, index: u32, id: u64) -> PathBuf {
        self.dir.join(format!("{app}-{index}-{id}"))
    }

    /// Creates the cgroup of an instance with `limits` (those whose controller is enabled) and
    /// `memory.oom.group` 1.
    pub fn create(
        &self,
        app: &str,
        index: u32,
        id: u64,
        limits: &Limits,
    ) -> io::Result<InstanceCgroup> {
        let path = self.path_of(app, index, id);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(annotate(e, &path)),
        }
        let unlimited = Limits::default();
        let enabled = |c| self.support.has(c);
        let mut result = write_limits(&path, limits, Some(&unlimited), enabled);
        if result.is_ok() && self.support.has(Controller::Memory) {
            result = oom_group(&path);
        }
        if let Err(e) = result {
            remove(&path);
            return Err(e);
        }
        let procs = path.join("cgroup.procs");
        let procs = CString::new(procs.as_os_str().as_bytes()).map_err(io::Error::other)?;
        Ok(InstanceCgroup {
            path,
            procs,
            limits: *limits,
        })
    }

    /// Writes `want` into a live instance's group where it differs from what is there.
    pub fn update(&self, group: &mut Group, want: &Limits) -> io::Result<()> {
        if group.written.as_ref() == Some(want) {
            return Ok(());
        }
        let enabled = |c| self.support.has(c);
        if group.written.is_none() && self.support.has(Controller::Memory) {
            oom_group(&group.path)?;
        }
        write_limits(&group.path, want, group.written.as_ref(), enabled)?;
        group.written = Some(*want);
        Ok(())
    }

    /// The cgroup of an adopted process `pid` (instance `id` at `index` of `app`): the group
    /// `/proc/PID/cgroup` names when it is one of the instances', else the one named after
    /// the instance if it exists.
    pub fn adopted(&self, pid: u32, app: &str, index: u32, id: u64) -> Option<PathBuf> {
        let named = |mount: &Path| {
            let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
            detect::under(mount, &text)
        };
        let found = self.mount.as_deref().and_then(named);
        if let Some(path) = found.filter(|p| p.starts_with(&self.dir) && *p != self.dir) {
            return Some(path);
        }
        let by_name = self.path_of(app, index, id);
        by_name.is_dir().then_some(by_name)
    }
}

/// The cgroup an instance gets: a new group under `cgroups` with `limits`, or none where there
/// are no cgroups. A group that cannot be made fails the start only when `limits` asks for
/// something the group would enforce; otherwise the instance runs without one (logged).
pub fn for_instance(
    cgroups: Option<&Cgroups>,
    (app, index, id): (&str, u32, u64),
    limits: &Limits,
) -> io::Result<Option<InstanceCgroup>> {
    let Some(cgroups) = cgroups else {
        return Ok(None);
    };
    match cgroups.create(app, index, id, limits) {
        Ok(group) => Ok(Some(group)),
        Err(e) => {
            let enforced: Vec<&str> = limits
                .fields()
                .into_iter()
                .filter(|f| cgroups.support.has(f.controller()))
                .map(Field::key)
                .collect();
            if enforced.is_empty() {
                tracing::warn!(app, "instance {index} runs without its own cgroup: {e}");
                return Ok(None);
            }
            let what = enforced.join(", ");
            Err(io::Error::new(e.kind(), format!("cannot set {what}: {e}")))
        }
    }
}

impl InstanceCgroup {
    /// What the live instance keeps of it.
    pub fn into_group(self) -> Group {
        Group {
            path: self.path,
            written: Some(self.limits),
        }
    }

    /// Moves the calling process into this cgroup. Async-signal-safe: meant for `pre_exec`,
    /// between fork and exec, so that everything the instance forks is inside from the start.
    pub fn enter_from_child(procs: &CString) -> io::Result<()> {
        // SAFETY: open/write/close on a NUL-terminated path and a static buffer; no allocation.
        unsafe {
            let fd = libc::open(
                procs.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, b"0\n".as_ptr().cast(), 2);
            let err = io::Error::last_os_error();
            libc::close(fd);
            if written != 2 {
                return Err(err);
            }
        }
        Ok(())
    }
}

/// Removes an instance cgroup once its processes are gone; failures are logged, not fatal.
pub fn remove(path: &Path) {
    if !is_cgroupfs(path) {
        // A plain directory standing in for a cgroup (tests): its files go first.
        for file in fs::read_dir(path).into_iter().flatten().flatten() {
            if file.file_type().is_ok_and(|t| t.is_file()) {
                let _ = fs::remove_file(file.path());
            }
        }
    }
    match fs::remove_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove the cgroup {}: {e}", path.display()),
    }
}

/// Kills what is left in an instance's cgroup (`cgroup.kill`, where the kernel has it) and
/// removes it once empty, trying for up to a second; the waits between tries are async, so the
/// blocking pool (a few threads) is held only for each short try.
pub async fn remove_when_empty(path: PathBuf) {
    let tried = |first: bool| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            if first {
                kill_all(&path);
            }
            fs::remove_dir(&path).is_ok() || !path.exists()
        })
    };
    if tried(true).await.unwrap_or(false) {
        return;
    }
    for _ in 0..20 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if tried(false).await.unwrap_or(false) {
            return;
        }
    }
    let _ = tokio::task::spawn_blocking(move || remove(&path)).await;
}

/// Kills every process of the cgroup at `path` (`cgroup.kill`; a no-op on kernels without it).
fn kill_all(path: &Path) {
    if let Ok(mut kill) = fs::OpenOptions::new()
        .write(true)
        .open(path.join("cgroup.kill"))
    {
        let _ = io::Write::write_all(&mut kill, b"1");
    }
}

/// How many processes of a cgroup the kernel OOM-killed (`oom_kill` in `memory.events`).
pub fn oom_kills(path: &Path) -> Option<u64> {
    let events = fs::read_to_string(path.join("memory.events")).ok()?;
    events
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// Whether `path` is on a cgroup2 file system.
fn is_cgroupfs(path: &Path) -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs(path).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
}

/// Writes `value` to an existing control file (or a plain file in a test directory).
fn write(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value).map_err(|e| annotate(e, path))
}

/// Writes `value` to a control file the kernel may not have (`memory.swap.max` without swap
/// accounting, `memory.oom.group` before 4.19): skipped there; created in a test directory.
fn write_optional(path: &Path, value: &str) -> io::Result<()> {
    match fs::OpenOptions::new().write(true).open(path) {
        Ok(mut file) => {
            io::Write::write_all(&mut file, value.as_bytes()).map_err(|e| annotate(e, path))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => match path.parent() {
            Some(dir) if !is_cgroupfs(dir) => write(path, value),
            _ => Ok(()),
        },
        Err(e) => Err(annotate(e, path)),
    }
}

/// `e` with the path it happened at.
fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
