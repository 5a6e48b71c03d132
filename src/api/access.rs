//! Who may use the control socket: the controller's own uid, root, and with `--socket-group`
//! the members of one group, judged from the kernel's record of the connecting process.
//!
//! The peer's groups come from `SO_PEERGROUPS` (Linux ≥ 4.13), which the kernel captures at
//! `connect()` together with `SO_PEERCRED`: the same moment and the same process. Reading
//! `/proc/PID/status` instead would race (the pid can exit and be reused, or the process can
//! change its groups after connecting) and fails for a peer in another pid namespace. On an
//! older kernel, where `SO_PEERGROUPS` is unknown, only the peer's primary gid counts.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `SO_PEERGROUPS` (asm-generic value: x86, arm, riscv, powerpc, s390).
const SO_PEERGROUPS: libc::c_int = 59;
/// Most groups a process can have (`NGROUPS_MAX`).
const NGROUPS_MAX: usize = 65536;

/// The group `--socket-group` names: its gid, and a name for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketGroup {
    /// The group id.
    pub gid: u32,
    /// Its name in the group database, else the number as written.
    pub name: String,
}

impl SocketGroup {
    /// Resolves a group name, or a numeric gid (which need not be in the group database).
    pub fn resolve(text: &str) -> Result<Self, String> {
        if let Ok(gid) = text.parse::<u32>() {
            let name = nix::unistd::Group::from_gid(gid.into())
                .ok()
                .flatten()
                .map_or_else(|| gid.to_string(), |g| g.name);
            return Ok(Self { gid, name });
        }
        match nix::unistd::Group::from_name(text) {
            Ok(Some(group)) => Ok(Self {
                gid: group.gid.as_raw(),
                name: group.name,
            }),
            Ok(None) => Err(format!(
                "--socket-group {text}: no such group on this host; create it (`groupadd {text}`) \
                 or give an existing group's name or a numeric gid"
            )),
            Err(e) => Err(format!(
                "--socket-group {text}: cannot read the group database: {e}"
            )),
        }
    }

    /// `name (gid N)`, or the bare gid when it has no name.
    pub fn display(&self) -> String {
        if self.name == self.gid.to_string() {
            self.name.clone()
        } else {
            format!("{} (gid {})", self.name, self.gid)
        }
    }
}

/// The rule a connection is judged by.
#[derive(Debug, Clone)]
pub struct Access {
    /// Uids let in: ours, and root's.
    pub uids: [u32; 2],
    /// `--socket-group`, if given.
    pub group: Option<SocketGroup>,
}

impl Access {
    /// Lets the peer of `fd` in, or says why not in a sentence for the client to print.
    pub fn check(&self, fd: BorrowedFd<'_>, uid: u32, gid: u32) -> Result<(), String> {
        if self.uids.contains(&uid) {
            return Ok(());
        }
        let owner = self.uids[0];
        let Some(group) = &self.group else {
            return Err(format!(
                "permission denied: this controller runs as uid {} and lets no other user \
                 (you are uid {uid}) use its socket; ask its operator to start it with \
                 --socket-group GROUP and to add you to that group",
                owner
            ));
        };
        let member = gid == group.gid
            || match peer_groups(fd) {
                Ok(groups) => groups.contains(&group.gid),
                Err(e) => {
                    tracing::debug!(error = %e, "no SO_PEERGROUPS: judging by the primary gid");
                    false
                }
            };
        if member {
            return Ok(());
        }
        Err(format!(
            "permission denied: uid {uid} is not in group {}, the only group this controller's \
             --socket-group lets use it; add the user to that group (`usermod -aG {} USER`, \
             then log in again) or run corral as uid {}",
            group.display(),
            group.name,
            owner
        ))
    }
}

/// The first folder above `home` that members of `gid` cannot search (no `x` for others, nor
/// for the group when it is `gid`), with its mode, owner and group; `None` when they can reach it.
pub fn blocked_on_the_way(home: &Path, gid: u32) -> Option<String> {
    let home = std::path::absolute(home).ok()?;
    for folder in home.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(folder) else {
            continue;
        };
        let mode = meta.mode();
        let searchable = mode & 0o001 != 0 || (meta.gid() == gid && mode & 0o010 != 0);
        if !searchable {
            return Some(format!(
                "{} (mode {:04o}, uid {}, gid {})",
                folder.display(),
                mode & 0o7777,
                meta.uid(),
                meta.gid()
            ));
        }
    }
    None
}

/// The supplementary groups the peer of `fd` had when it connected (`SO_PEERGROUPS`).
pub fn peer_groups(fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let width = std::mem::size_of::<libc::gid_t>();
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = libc::socklen_t::try_from(groups.len() * width).map_err(io::Error::other)?;
        // SAFETY: `groups` is valid for `len` bytes; the kernel writes at most `len` bytes
        // into it and sets `len` to what it wrote (or, on ERANGE, to what it needs).
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let needed = len as usize / width;
        if rc == 0 {
            groups.truncate(needed);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ERANGE)
            && needed > groups.len()
            && needed <= NGROUPS_MAX
        {
            groups.resize(needed, 0);
            continue;
        }
        return Err(err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn numeric_gids_need_no_name_and_unknown_names_are_refused() {
        let g = SocketGroup::resolve("4242").expect("numeric");
        assert_eq!(g.gid, 4242);
        assert_eq!(g.display(), "4242");
        let root = SocketGroup::resolve("root").expect("root group exists");
        assert_eq!((root.gid, root.display().as_str()), (0, "root (gid 0)"));
        let err = SocketGroup::resolve("no-such-group-corral").expect_err("unknown");
        assert!(err.starts_with("--socket-group no-such-group-corral: no such group"));
    }

    #[test]
    fn a_folder_closed_to_the_group_on_the_way_is_named() -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir()?;
        let closed = tmp.path().join("closed");
        std::fs::create_dir_all(closed.join("home"))?;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o711))?;
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700))?;
        let found = blocked_on_the_way(&closed.join("home"), 4242).expect("closed");
        assert!(
            found.starts_with(&format!("{} (mode 0700", closed.display())),
            "{found}"
        );
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o711))?;
        assert_eq!(blocked_on_the_way(&closed.join("home"), 4242), None);
        Ok(())
    }

    #[test]
    fn peer_groups_are_our_own_groups() -> io::Result<()> {
        let (a, _b) = std::os::unix::net::UnixStream::pair()?;
        let mut mine: Vec<u32> = nix::unistd::getgroups()
            .map_err(io::Error::from)?
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        let mut seen = peer_groups(a.as_fd())?;
        mine.sort_unstable();
        seen.sort_unstable();
        assert_eq!(seen, mine);
        Ok(())
    }

    #[test]
    fn strangers_are_told_which_group_lets_them_in() -> io::Result<()> {
        let (a, _b) = std::os::unix::net::UnixStream::pair()?;
        let group = SocketGroup {
            gid: 4242,
            name: "ops".into(),
        };
        let access = Access {
            uids: [1000, 0],
            group: Some(group),
        };
        assert!(access.check(a.as_fd(), 1000, 1000).is_ok());
        assert!(access.check(a.as_fd(), 0, 0).is_ok());
        assert!(access.check(a.as_fd(), 7, 4242).is_ok(), "primary gid");
        let err = access.check(a.as_fd(), 7, 7).expect_err("stranger");
        assert!(err.contains("not in group ops (gid 4242)"), "{err}");
        let owner_only = Access {
            uids: [1000, 0],
            group: None,
        };
        let err = owner_only.check(a.as_fd(), 7, 7).expect_err("no group");
        assert!(err.contains("--socket-group"), "{err}");
        Ok(())
    }
}
