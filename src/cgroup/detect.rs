//! Finding the controller's own cgroup v2 directory, which controllers it offers, and readying
//! the instances' parent.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{write, Cgroups, Controller, Support, Unavailable, INSTANCES_DIR, ROOT_ENV};

/// The controller's own cgroup (or `$CORRAL_CGROUP_ROOT`) and what it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    /// The directory.
    pub own: PathBuf,
    /// Where the cgroup2 file system is mounted (None for `$CORRAL_CGROUP_ROOT`).
    pub mount: Option<PathBuf>,
    /// The controllers it offers among those corral uses, and why each other one is missing.
    pub support: Support,
}

/// The controller's own cgroup (or `$CORRAL_CGROUP_ROOT`) if instance cgroups can be made
/// under it (read-only checks: safe for `corral validate`); otherwise why not.
pub fn detect() -> Result<Delegated, Unavailable> {
    detect_in(std::env::var_os(ROOT_ENV).map(PathBuf::from))
}

/// [`detect`] with the directory standing for the controller's cgroup, or the real one.
pub fn detect_in(root: Option<PathBuf>) -> Result<Delegated, Unavailable> {
    let (own, mount, on_v1) = match root {
        Some(root) => (root, None, Vec::new()),
        None => {
            let (own, mount, on_v1) = own_cgroup()?;
            (delegated_root(own), Some(mount), on_v1)
        }
    };
    let listed = own.join("cgroup.controllers");
    let controllers = fs::read_to_string(&listed)
        .map_err(|e| Unavailable(format!("cannot read {}: {e}", listed.display())))?;
    if nix::unistd::access(&own, nix::unistd::AccessFlags::W_OK).is_err() {
        return Err(Unavailable(format!(
            "the controller's cgroup {} is not writable by this user; run the controller under \
             systemd with Delegate=yes",
            own.display()
        )));
    }
    let mut support = Support::default();
    for c in Controller::ALL {
        if controllers.split_whitespace().any(|name| name == c.name()) {
            support.enabled.push(c);
        } else if on_v1.iter().any(|name| name == c.name()) {
            let why = format!(
                "the {} controller is bound to a cgroup v1 hierarchy on this host (hybrid \
                 mode), so cgroup v2 cannot use it; boot with \
                 systemd.unified_cgroup_hierarchy=1 for a cgroup v2 host",
                c.name()
            );
            support.missing.push((c, why));
        } else {
            let why = format!(
                "the {} controller is not delegated to the controller's cgroup {} (its \
                 cgroup.controllers: {:?}); run the controller as root on a cgroup v2 host, or \
                 under systemd with Delegate=yes",
                c.name(),
                own.display(),
                controllers.trim()
            );
            support.missing.push((c, why));
        }
    }
    Ok(Delegated {
        own,
        mount,
        support,
    })
}

/// Readies the controller's cgroup (from [`detect`]) for instance cgroups: `OWN/corral/HOME`
/// (`home` tells controllers sharing a cgroup apart) with the offered controllers enabled for
/// its children, and the empty groups a previous controller of this home left removed. A
/// cgroup with processes cannot enable controllers for its children (cgroup v2's
/// no-internal-process rule), so the controller first moves itself into the leaf
/// `OWN/controller` when it has to. A controller that cannot be enabled is left out, with the
/// reason.
pub fn prepare(found: &Delegated, home: &str) -> Result<Cgroups, Unavailable> {
    let fail = |what: &str, e: io::Error| Unavailable(format!("cannot {what}: {e}"));
    let own = &found.own;
    let mut support = found.support.clone();
    let subtree = own.join("cgroup.subtree_control");
    if !support.enabled.is_empty() && write(&subtree, &plus(&support.enabled)).is_err() {
        let leaf = own.join(LEAF);
        mkdir(&leaf).map_err(|e| fail("create a leaf cgroup for the controller", e))?;
        write(&leaf.join("cgroup.procs"), &std::process::id().to_string())
            .map_err(|e| fail("move the controller into its leaf cgroup", e))?;
        enable(&subtree, &mut support);
    }
    let shared = own.join(INSTANCES_DIR);
    let dir = shared.join(home);
    for level in [&shared, &dir] {
        mkdir(level).map_err(|e| fail("create the instances' cgroup", e))?;
        if !support.enabled.is_empty() {
            enable(&level.join("cgroup.subtree_control"), &mut support);
        }
    }
    // Only an empty cgroup can be removed: the groups of live (adoptable) instances stay.
    for stale in fs::read_dir(&dir).into_iter().flatten().flatten() {
        if stale.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs::remove_dir(stale.path());
        }
    }
    Ok(Cgroups {
        dir,
        mount: found.mount.clone(),
        support,
    })
}

/// `+memory +pids +cpu` for `controllers`.
fn plus(controllers: &[Controller]) -> String {
    let names: Vec<String> = controllers
        .iter()
        .map(|c| format!("+{}", c.name()))
        .collect();
    names.join(" ")
}

/// Enables `support`'s controllers in `subtree` (a `cgroup.subtree_control`) all at once, or
/// else one by one, moving each that fails to the missing ones with the kernel's reason.
fn enable(subtree: &Path, support: &mut Support) {
    if write(subtree, &plus(&support.enabled)).is_ok() {
        return;
    }
    let tried = std::mem::take(&mut support.enabled);
    for c in tried {
        match write(subtree, &plus(&[c])) {
            Ok(()) => support.enabled.push(c),
            Err(e) => {
                let why = format!("cannot enable the {} controller: {e}", c.name());
                support.missing.push((c, why));
            }
        }
    }
}

fn mkdir(path: &Path) -> io::Result<()> {
    match fs::create_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// The controller's own cgroup v2 directory (the cgroup2 mount plus the `0::PATH` entry of
/// `/proc/self/cgroup`), the mount, and the controllers cgroup v1 hierarchies hold.
fn own_cgroup() -> Result<(PathBuf, PathBuf, Vec<String>), Unavailable> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Unavailable(format!("cannot read /proc/self/mountinfo: {e}")))?;
    let Some(mount) = cgroup2_mount(&mountinfo) else {
        return Err(Unavailable(
            "no cgroup v2 file system is mounted (a cgroup v1 host)".into(),
        ));
    };
    let cgroup = fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Unavailable(format!("cannot read /proc/self/cgroup: {e}")))?;
    let Some(own) = under(&mount, &cgroup) else {
        return Err(Unavailable(
            "this process is in no cgroup v2 group (/proc/self/cgroup has no 0:: line)".into(),
        ));
    };
    Ok((own, mount, v1_controllers(&mountinfo)))
}

/// The controllers mounted as cgroup v1 hierarchies in a `/proc/self/mountinfo` text (a hybrid
/// host: those are not available to cgroup v2).
pub(super) fn v1_controllers(mountinfo: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((_, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut fields = right.split_whitespace();
        if fields.next() != Some("cgroup") {
            continue;
        }
        let options = fields.nth(1).unwrap_or_default();
        out.extend(options.split(',').map(str::to_owned));
    }
    out
}

/// The leaf the controller moves itself into, in its own cgroup, to enable controllers there.
const LEAF: &str = "controller";

/// The cgroup the controller manages, given the one it runs in: a controller started again in
/// the leaf a previous one moved into (`OWN/controller`: a restart with systemd's
/// `DelegateSubgroup=controller`, or a re-exec) manages `OWN`, where the instances' cgroups
/// are, rather than nesting `OWN/controller/controller` and losing them.
pub(super) fn delegated_root(own: PathBuf) -> PathBuf {
    let writable = |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok();
    match own.parent() {
        Some(parent) if own.file_name() == Some(LEAF.as_ref()) && writable(parent) => {
            parent.to_path_buf()
        }
        _ => own,
    }
}

/// The directory a `/proc/PID/cgroup` text names on the cgroup2 file system mounted at
/// `mount` (its `0::PATH` line).
pub(super) fn under(mount: &Path, proc_cgroup: &str) -> Option<PathBuf> {
    let path = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let path = path.trim().trim_start_matches('/');
    Some(if path.is_empty() {
        mount.to_path_buf()
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
