//! The listening sockets in systemd's fd store (`FDSTORE=1`): kept there across restarts and
//! crashes of the controller, so connections wait in the kernel's backlog meanwhile, and
//! passed back to the next controller (`LISTEN_FDS`), which listens on them as they are.

use std::os::fd::{AsFd, BorrowedFd};

use super::Controller;

impl Controller {
    /// Stores each socket not stored yet (again if its name now has another socket: a
    /// rebound `listen`), and removes those of names gone. systemd keeps one copy of an fd
    /// it already holds, so a restarted controller stores what it was given without doubling.
    pub(super) fn store_fds(&mut self) {
        let notifier = self.config.notifier.clone();
        if !notifier.is_on() {
            return;
        }
        let own = self.config.succession.own_sockets.iter();
        let mut now: Vec<(String, BorrowedFd<'_>)> =
            own.map(|(name, fd)| (name.clone(), fd.as_fd())).collect();
        now.extend(self.listening.sockets());
        let mut seen = std::collections::BTreeMap::new();
        for (name, fd) in now {
            let inode = inode(fd);
            seen.insert(name.clone(), inode);
            match self.stored_fds.get(&name) {
                Some(stored) if *stored == inode => continue,
                Some(_) => {
                    notifier.remove_fd(&name);
                }
                None => {}
            }
            if notifier.store_fd(&name, fd) {
                tracing::debug!(name, "socket kept in the service manager's fd store");
            }
        }
        for name in self.stored_fds.keys() {
            if !seen.contains_key(name) {
                notifier.remove_fd(name);
            }
        }
        self.stored_fds = seen;
    }
}

/// The inode of a socket: which socket a name stands for.
fn inode(fd: BorrowedFd<'_>) -> u64 {
    nix::sys::stat::fstat(fd).map_or(0, |st| st.st_ino)
}
