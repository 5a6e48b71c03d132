//! Where an app's log files live: `$CORRAL_HOME/logs/APP/`, or `logs.dir` with a symlink to it
//! at `$CORRAL_HOME/logs/APP` (so `corral logs` finds it without a controller); one file per
//! instance and stream (`INDEX.out.log`), or one per stream (`out.log`) when merged.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::Stream;
use crate::home::Home;

/// The file in a `logs.dir` naming the app that owns it: two apps never share one.
const OWNER: &str = ".corral-app";

/// The log file of one stream: `DIR/INDEX.out.log`, or `DIR/out.log` when `merge`d; DIR is
/// `dir` (`logs.dir`, resolved) or `$CORRAL_HOME/logs/APP`.
pub fn stream_file(
    home: &Home,
    app: &str,
    (dir, merge): (Option<&Path>, bool),
    index: u32,
    stream: Stream,
) -> PathBuf {
    let dir = dir.map_or_else(|| home.app_logs(app), Path::to_path_buf);
    if merge {
        dir.join(format!("{}.log", stream.suffix()))
    } else {
        dir.join(format!("{index}.{}.log", stream.suffix()))
    }
}

/// The log file of one stream of `app`'s hook (`preRollout`, `postRollout`):
/// `DIR/preRollout.out.log`, whether or not the instances' files are merged.
pub fn hook_file(
    home: &Home,
    app: &str,
    dir: Option<&Path>,
    hook: &str,
    stream: Stream,
) -> PathBuf {
    let dir = dir.map_or_else(|| home.app_logs(app), Path::to_path_buf);
    dir.join(format!("{hook}.{}.log", stream.suffix()))
}

/// Prepares the app's log directory. With `logs.dir`: creates it (0750), claims it for `app`
/// (refusing one another app claimed) and points `$CORRAL_HOME/logs/APP` at it; logs that were
/// in a real directory there move to `$CORRAL_HOME/logs/.APP.TIME` (kept, not read). Without:
/// removes such a link, so logs go back to `$CORRAL_HOME/logs/APP`. Blocking I/O.
pub fn prepare_dir(home: &Home, app: &str, dir: Option<&Path>) -> io::Result<()> {
    let link = home.app_logs(app);
    let current = std::fs::symlink_metadata(&link);
    let is_link = current.as_ref().is_ok_and(|m| m.file_type().is_symlink());
    let Some(dir) = dir.filter(|d| *d != link) else {
        if is_link {
            std::fs::remove_file(&link)?;
        }
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)?;
    claim(dir, app)?;
    // A relative link would resolve against $CORRAL_HOME/logs, not where the controller runs.
    let dir = &std::path::absolute(dir)?;
    if is_link && std::fs::read_link(&link)? == *dir {
        return Ok(());
    }
    match current {
        Ok(_) if is_link => std::fs::remove_file(&link)?,
        Ok(_) => {
            let secs = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            std::fs::rename(&link, link.with_file_name(format!(".{app}.{secs}")))?;
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = link.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o750)
                    .create(parent)?;
            }
        }
        Err(err) => return Err(err),
    }
    std::os::unix::fs::symlink(dir, &link)
}

/// Marks `dir` as `app`'s log folder, or fails if another app's.
fn claim(dir: &Path, app: &str) -> io::Result<()> {
    let owner_file = dir.join(OWNER);
    match std::fs::read_to_string(&owner_file) {
        Ok(owner) if owner.trim() == app => Ok(()),
        Ok(owner) => Err(io::Error::other(format!(
            "logs.dir {} holds the logs of app \"{}\": give each app its own logs.dir",
            dir.display(),
            owner.trim()
        ))),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            std::fs::write(&owner_file, format!("{app}\n"))
        }
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_per_instance_or_merged_in_either_folder() {
        let home = Home::at("/h");
        let custom = Path::new("/var/log/web");
        assert_eq!(
            stream_file(&home, "web", (None, false), 2, Stream::Err),
            PathBuf::from("/h/logs/web/2.err.log")
        );
        assert_eq!(
            stream_file(&home, "web", (Some(custom), true), 2, Stream::Out),
            PathBuf::from("/var/log/web/out.log")
        );
    }

    #[test]
    fn links_the_folder_keeps_old_logs_and_refuses_a_second_app() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = Home::at(tmp.path().join("home"));
        let old = home.app_logs("web");
        std::fs::create_dir_all(&old).expect("mkdir");
        std::fs::write(old.join("0.out.log"), "old\n").expect("write");
        let custom = tmp.path().join("custom");
        prepare_dir(&home, "web", Some(&custom)).expect("prepare");
        assert_eq!(std::fs::read_link(&old).expect("a link"), custom);
        let kept: Vec<_> = std::fs::read_dir(home.root().join("logs"))
            .expect("logs")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".web."))
            .collect();
        assert_eq!(kept.len(), 1, "old logs kept aside");
        prepare_dir(&home, "web", Some(&custom)).expect("again");
        let err = prepare_dir(&home, "api", Some(&custom)).expect_err("taken");
        assert!(
            err.to_string().contains("holds the logs of app \"web\""),
            "{err}"
        );
        prepare_dir(&home, "web", None).expect("back to the default");
        assert!(!old.exists(), "link removed");
    }
}
