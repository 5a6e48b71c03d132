//! Why an app's watch failed, in words that say how to fix it (the inotify limits above all).

use std::path::Path;

use notify::ErrorKind;

/// Where Linux keeps the per-user limit of inotify watches.
pub const MAX_USER_WATCHES: &str = "/proc/sys/fs/inotify/max_user_watches";

/// The current `fs.inotify.max_user_watches`, if readable (blocking: a /proc read).
pub fn max_user_watches() -> Option<u64> {
    std::fs::read_to_string(MAX_USER_WATCHES)
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The message for `err`, raised while watching `path`; `limit` is the current
/// `fs.inotify.max_user_watches` when known. Pure, so each case is unit-tested.
pub fn explain(err: &notify::Error, path: &Path, limit: Option<u64>) -> String {
    let path = err.paths.first().map(|p| p.as_path()).unwrap_or(path);
    match &err.kind {
        ErrorKind::MaxFilesWatch => {
            let now = limit.map_or(String::new(), |n| format!(" (now {n})"));
            let raise = limit.map_or(524_288, |n| (n * 2).max(524_288));
            format!(
                "cannot watch {}: the watched tree needs more inotify watches than \
                 fs.inotify.max_user_watches allows{now}; raise it with \
                 `sysctl fs.inotify.max_user_watches={raise}` (persist it in /etc/sysctl.d/), \
                 or watch fewer paths and ignore big directories; the app keeps running, unwatched",
                path.display()
            )
        }
        ErrorKind::Io(e) if e.raw_os_error() == Some(libc::EMFILE) => format!(
            "cannot watch {}: too many inotify instances (fs.inotify.max_user_instances); raise it \
             with `sysctl fs.inotify.max_user_instances=1024`; the app keeps running, unwatched",
            path.display()
        ),
        ErrorKind::PathNotFound => format!(
            "cannot watch {}: it does not exist; create it or fix spec.watch.paths (tried again on \
             every resync)",
            path.display()
        ),
        _ => format!("cannot watch {}: {err}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_inotify_limit_names_the_sysctl_and_how_to_raise_it() {
        let err = notify::Error::new(ErrorKind::MaxFilesWatch).add_path(PathBuf::from("/srv/a/x"));
        let msg = explain(&err, Path::new("/srv/a"), Some(8192));
        assert!(msg.contains("fs.inotify.max_user_watches"), "{msg}");
        assert!(msg.contains("now 8192"), "{msg}");
        assert!(
            msg.contains("sysctl fs.inotify.max_user_watches=524288"),
            "{msg}"
        );
        assert!(msg.contains("/srv/a/x"), "{msg}");
        let msg = explain(&err, Path::new("/srv/a"), Some(1_000_000));
        assert!(msg.contains("max_user_watches=2000000"), "{msg}");
    }

    #[test]
    fn other_failures_say_what_and_where() {
        let err = notify::Error::io(std::io::Error::from_raw_os_error(libc::EMFILE));
        let msg = explain(&err, Path::new("/srv/a"), None);
        assert!(
            msg.contains("fs.inotify.max_user_instances") && msg.contains("/srv/a"),
            "{msg}"
        );
        let msg = explain(&notify::Error::path_not_found(), Path::new("/srv/b"), None);
        assert!(msg.contains("/srv/b: it does not exist"), "{msg}");
    }
}
