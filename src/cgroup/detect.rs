//! Finding the controller's own cgroup v2 directory and whether it can hold memory ceilings.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{write, Cgroups, Unavailable, INSTANCES_DIR, ROOT_ENV};

/// The controller's own cgroup (or `$CORRAL_CGROUP_ROOT`) if instance ceilings can be made
/// under it (read-only checks: safe for `corral validate`); otherwise why not.
pub fn detect() -> Result<PathBuf, Unavailable> {
    detect_in(std::env::var_os(ROOT_ENV).map(PathBuf::from))
}

/// [`detect`] with the directory standing for the controller's cgroup, or the real one.
pub fn detect_in(root: Option<PathBuf>) -> Result<PathBuf, Unavailable> {
    let own = match root {
        Some(root) => root,
        None => own_cgroup()?,
    };
    let controllers = fs::read_to_string(own.join("cgroup.controllers")).map_err(|e| {
        Unavailable(format!(
            "cannot read {}: {e}",
            own.join("cgroup.controllers").display()
        ))
    })?;
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return Err(Unavailable(format!(
            "the memory controller is not delegated to the controller's cgroup {} (its \
             cgroup.controllers: {:?}); run the controller as root on a cgroup v2 host, or under \
             systemd with Delegate=yes",
            own.display(),
            controllers.trim()
        )));
    }
    if nix::unistd::access(&own, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(Unavailable(format!(
            "the controller's cgroup {} is not writable by this user; run the controller under \
             systemd with Delegate=yes",
            own.display()
        )));
    }
    Ok(own)
}

/// Readies `own` (from [`detect`]) for instance cgroups: `OWN/corral` with the memory
/// controller enabled for its children. A cgroup with processes cannot enable controllers for
/// its children (cgroup v2's no-internal-process rule), so the controller first moves itself
/// into the leaf `OWN/controller` when it has to.
pub fn prepare(own: &Path) -> Result<Cgroups, Unavailable> {
    let fail = |what: &str, e: io::Error| Unavailable(format!("cannot {what}: {e}"));
    let subtree = own.join("cgroup.subtree_control");
    if write(&subtree, "+memory").is_err() {
        let leaf = own.join("controller");
        mkdir(&leaf).map_err(|e| fail("create a leaf cgroup for the controller", e))?;
        write(&leaf.join("cgroup.procs"), &std::process::id().to_string())
            .map_err(|e| fail("move the controller into its leaf cgroup", e))?;
        write(&subtree, "+memory").map_err(|e| fail("enable the memory controller", e))?;
    }
    let dir = own.join(INSTANCES_DIR);
    mkdir(&dir).map_err(|e| fail("create the instances' cgroup", e))?;
    write(&dir.join("cgroup.subtree_control"), "+memory")
        .map_err(|e| fail("enable the memory controller for instances", e))?;
    Ok(Cgroups { dir })
}

fn mkdir(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// The controller's own cgroup v2 directory: the cgroup2 mount plus the `0::PATH` entry.
fn own_cgroup() -> Result<PathBuf, Unavailable> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Unavailable(format!("cannot read /proc/self/mountinfo: {e}")))?;
    let Some(mount) = cgroup2_mount(&mountinfo) else {
        return Err(Unavailable(
            "no cgroup v2 file system is mounted (a cgroup v1 host)".into(),
        ));
    };
    let cgroup = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Unavailable(format!("cannot read /proc/self/cgroup: {e}")))?;
    let Some(path) = cgroup.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Err(Unavailable(
            "this process is in no cgroup v2 group (/proc/self/cgroup has no 0:: line)".into(),
        ));
    };
    let path = path.trim_start_matches('/');
    Ok(if path.is_empty() {
        mount
    } else {
        mount.join(path)
    })
}

/// The mount point of the cgroup2 file system in a `/proc/self/mountinfo` text.
pub(super) fn cgroup2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_whitespace().next()?;
        let mount_point = left.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(unescape(mount_point)))
    })
}

/// Mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}
