//! Who may read `$CORRAL_HOME/logs`: the controller's group, or the `--socket-group`.
//!
//! Log folders are 0750 and files 0640 already; what changes is their group. With a socket
//! group, `logs/` gets that group and the setgid bit, so every folder and file created below it
//! later inherits the group (and folders the bit) from the kernel, without a `chown` per file.
//! Without one, the tree goes back to the controller's own group, setgid cleared.

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::home::Home;

/// Folders below `logs/` this walk descends into: `logs/APP/` (and `logs/.APP.TIME/`).
const DEPTH: usize = 2;

/// Gives `$CORRAL_HOME/logs` and what it holds the group `gid` (setgid folders), or the
/// controller's own group when `None`. Symlinks (to a `logs.dir`) are not followed: such a
/// folder keeps the group its owner gave it. Blocking I/O; walks the tree only when the group
/// of `logs/` itself is not yet the one asked.
pub fn share_with(home: &Home, gid: Option<u32>) -> io::Result<()> {
    let logs = home.root().join("logs");
    let target = gid.unwrap_or_else(|| nix::unistd::getegid().as_raw());
    let setgid = gid.is_some();
    match std::fs::symlink_metadata(&logs) {
        Ok(meta) if meta.is_dir() => {
            if meta.gid() == target && (meta.mode() & 0o2000 != 0) == setgid {
                return Ok(());
            }
        }
        Ok(_) => return Ok(()), // not ours to fix: reading the logs will say what is wrong
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if !setgid {
                return Ok(());
            }
            std::fs::create_dir(&logs)?;
        }
        Err(e) => return Err(e),
    }
    regroup(&logs, target, setgid, DEPTH)
}

/// Sets the group of `path` (not following a symlink), the setgid bit of a folder, and goes
/// `depth` folders further down.
fn regroup(path: &Path, gid: u32, setgid: bool, depth: usize) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.gid() != gid {
        std::os::unix::fs::lchown(path, None, Some(gid))?;
    }
    if !meta.is_dir() {
        return Ok(());
    }
    let mode = if setgid { 0o2750 } else { 0o750 };
    if meta.mode() & 0o7777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    if depth == 0 {
        return Ok(());
    }
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        match regroup(&entry.path(), gid, setgid, depth - 1) {
            Ok(()) => {}
            // Rotated away or removed meanwhile.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_takes_the_group_and_gives_it_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = Home::at(tmp.path());
        let app = home.app_logs("web");
        std::fs::create_dir_all(&app).expect("mkdir");
        std::fs::write(app.join("0.out.log"), "x\n").expect("write");
        let me = nix::unistd::getegid().as_raw();
        // Root may give any group; others only their own, which still exercises the walk.
        let other = if nix::unistd::geteuid().is_root() {
            4242
        } else {
            me
        };
        share_with(&home, Some(other)).expect("share");
        let logs = std::fs::metadata(tmp.path().join("logs")).expect("stat");
        assert_eq!((logs.gid(), logs.mode() & 0o7777), (other, 0o2750));
        let file = std::fs::metadata(app.join("0.out.log")).expect("stat");
        assert_eq!(file.gid(), other);
        // New folders inherit the group and the bit from the kernel.
        let later = home.app_logs("api");
        std::fs::create_dir(&later).expect("mkdir");
        let later = std::fs::metadata(&later).expect("stat");
        assert_eq!((later.gid(), later.mode() & 0o2000), (other, 0o2000));

        share_with(&home, None).expect("unshare");
        let logs = std::fs::metadata(tmp.path().join("logs")).expect("stat");
        assert_eq!((logs.gid(), logs.mode() & 0o7777), (me, 0o750));
        let file = std::fs::metadata(app.join("0.out.log")).expect("stat");
        assert_eq!(file.gid(), me);
    }
}
