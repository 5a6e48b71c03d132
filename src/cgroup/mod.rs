//! Per-instance cgroup v2 memory ceilings (`memory.max`): where the controller may create them,
//! creating one per instance, and removing it after the instance exits.
//!
//! The controller's own cgroup (from `/proc/self/cgroup` on the cgroup2 mount found in
//! `/proc/self/mountinfo`) must offer the `memory` controller and be writable: a delegated
//! subtree (systemd `Delegate=yes`) or root. Instances then live in `OWN/corral/APP-INDEX-ID`.
//! `CORRAL_CGROUP_ROOT` names another directory to use as the controller's own cgroup (tests).

mod detect;

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use detect::{detect, detect_in, prepare};

/// Environment variable naming the directory used as the controller's own cgroup.
pub const ROOT_ENV: &str = "CORRAL_CGROUP_ROOT";
/// The sub-cgroup of the controller's own that holds the instances' cgroups.
pub const INSTANCES_DIR: &str = "corral";

/// Why a hard memory ceiling is not available here (for `validate` and `describe`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hard memory ceiling (memory.max) not available here: {0}")]
pub struct Unavailable(pub String);

/// Where instance cgroups are created: the directory whose children get `memory.max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    /// `OWN/corral`, with `+memory` in its `cgroup.subtree_control`.
    pub dir: PathBuf,
}

/// One instance's cgroup, opened before its process is spawned.
#[derive(Debug)]
pub struct InstanceCgroup {
    /// Its directory.
    pub path: PathBuf,
    /// Its `cgroup.procs`, for the child to move itself in before exec.
    pub procs: CString,
}

impl Cgroups {
    /// The cgroup directory of instance `id` at `index` of `app`.
    pub fn path_of(&self, app: &str, index: u32, id: u64) -> PathBuf {
        self.dir.join(format!("{app}-{index}-{id}"))
    }

    /// Creates the cgroup of an instance with `memory.max` = `max` bytes (and no swap beyond
    /// it where the kernel offers `memory.swap.max`).
    pub fn create(&self, app: &str, index: u32, id: u64, max: u64) -> io::Result<InstanceCgroup> {
        let path = self.path_of(app, index, id);
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(annotate(e, &path)),
        }
        let result = write(&path.join("memory.max"), &max.to_string()).and_then(|()| {
            match write(&path.join("memory.swap.max"), "0") {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        });
        if let Err(e) = result {
            remove(&path);
            return Err(e);
        }
        let procs = path.join("cgroup.procs");
        let procs = CString::new(procs.as_os_str().as_bytes()).map_err(io::Error::other)?;
        Ok(InstanceCgroup { path, procs })
    }
}

impl InstanceCgroup {
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
        for file in [
            "memory.max",
            "memory.swap.max",
            "memory.events",
            "cgroup.procs",
        ] {
            let _ = fs::remove_file(path.join(file));
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
pub fn kill_all(path: &Path) {
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

/// Sets the ceiling of an existing instance cgroup (an edited `memory.max` applies in place).
pub fn set_max(path: &Path, max: u64) -> io::Result<()> {
    write(&path.join("memory.max"), &max.to_string())
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

fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
