//! The systemd unit `corral startup` prints or installs.

use std::path::{Path, PathBuf};

/// What the unit runs, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// The corral binary (absolute).
    pub binary: PathBuf,
    /// The manifests directory (absolute).
    pub manifests: PathBuf,
    /// `$CORRAL_HOME` (absolute).
    pub home: PathBuf,
    /// `--profile`, if any.
    pub profile: Option<String>,
    /// `--socket-group`, if any.
    pub socket_group: Option<String>,
    /// The `--console-*` arguments, if any.
    pub console: Vec<String>,
    /// A user unit (`systemctl --user`) rather than a system one.
    pub user: bool,
    /// The major version of the systemd that runs it, if known: from 254 on, the controller
    /// gets a leaf cgroup of its own from systemd (`DelegateSubgroup=`) and the fd store
    /// outlives a `systemctl stop` (`FileDescriptorStorePreserve=`).
    pub systemd: Option<u32>,
}

/// The first systemd that knows `DelegateSubgroup=` and `FileDescriptorStorePreserve=`.
pub const SYSTEMD_DELEGATE_SUBGROUP: u32 = 254;

/// The systemd version in `systemctl --version`'s first line (`systemd 252 (252.38-1~deb12u1)`).
pub fn systemd_version(text: &str) -> Option<u32> {
    text.lines()
        .next()?
        .strip_prefix("systemd ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Quotes an argument for a unit's `ExecStart=` (systemd's own quoting: double quotes,
/// backslash escapes, `%` doubled, `$` doubled so it is not expanded).
fn exec_arg(arg: &str) -> String {
    let escaped = arg
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    if !escaped.is_empty()
        && escaped == arg
        && arg
            .chars()
            .all(|c| !c.is_whitespace() && c != ';' && c != '\'')
    {
        arg.to_owned()
    } else {
        format!("\"{escaped}\"")
    }
}

/// A value for `Environment=`: the whole assignment quoted when needed.
fn env_assignment(name: &str, value: &Path) -> String {
    exec_arg(&format!("{name}={}", value.display()))
}

/// The unit file's text.
pub fn render(spec: &UnitSpec) -> String {
    let mut exec = vec![
        exec_arg(&spec.binary.display().to_string()),
        "controller".to_owned(),
        "--manifests".to_owned(),
        exec_arg(&spec.manifests.display().to_string()),
        "--live-restore".to_owned(),
    ];
    if let Some(p) = &spec.profile {
        exec.push("--profile".into());
        exec.push(exec_arg(p));
    }
    if let Some(g) = &spec.socket_group {
        exec.push("--socket-group".into());
        exec.push(exec_arg(g));
    }
    exec.extend(spec.console.iter().map(|a| exec_arg(a)));
    let (wanted_by, after) = if spec.user {
        ("default.target", "")
    } else {
        (
            "multi-user.target",
            "After=network-online.target\nWants=network-online.target\n",
        )
    };
    let newer = if spec.systemd.is_some_and(|v| v >= SYSTEMD_DELEGATE_SUBGROUP) {
        "# The controller runs in a leaf of its own, so a restart never lands in the group that\n\
         # holds the instance groups (cgroup v2 refuses a process there: EBUSY).\n\
         DelegateSubgroup=controller\n\
         # The listening sockets stay in the fd store across `systemctl stop` and `start` too.\n\
         FileDescriptorStorePreserve=yes\n"
    } else {
        ""
    };
    format!(
        r#"# corral: keeps the apps of {manifests} running (written by `corral startup`).
[Unit]
Description=corral controller for {manifests}
{after}
[Service]
# The controller says READY=1 once its first reconcile has started every app it can,
# RELOADING=1 while it re-reads the manifests on SIGHUP (systemctl reload), STOPPING=1 when it
# stops every app, and pings the watchdog.
Type=notify
NotifyAccess=main
ExecStart={exec}
ExecReload=/bin/kill -HUP $MAINPID
Environment={home}
# Only the controller is signalled, and with --live-restore it exits leaving every app
# running (systemctl stop, systemctl restart, a crash): the next controller adopts them.
# `corral shutdown` stops every app; so does the system shutting down. `corral upgrade`
# replaces the controller with the binary on disk without any of this.
KillMode=process
# The controller keeps its listening sockets here: across a restart or a crash, connections
# wait in the kernel's backlog instead of being refused.
FileDescriptorStoreMax=1024
# The controller may create a cgroup per instance below its own (cpu.max, pids.max, memory.max).
Delegate=yes
{newer}Restart=on-failure
RestartSec=2s
WatchdogSec=30s
# Room for every app's stop.timeout.
TimeoutStopSec=5min

[Install]
WantedBy={wanted_by}
"#,
        manifests = spec.manifests.display(),
        exec = exec.join(" "),
        home = env_assignment("CORRAL_HOME", &spec.home),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> UnitSpec {
        UnitSpec {
            binary: "/usr/local/bin/corral".into(),
            manifests: "/srv/apps/manifests".into(),
            home: "/var/lib/corral".into(),
            profile: Some("production".into()),
            socket_group: None,
            console: Vec::new(),
            user: false,
            systemd: Some(252),
        }
    }

    #[test]
    fn apps_outlive_a_restart_and_the_sockets_wait_in_the_fd_store() {
        let text = render(&spec());
        assert!(text.contains(" --live-restore"), "{text}");
        assert!(text.contains("\nFileDescriptorStoreMax=1024\n"), "{text}");
        assert!(
            !text.contains("DelegateSubgroup"),
            "unknown to systemd 252: {text}"
        );
        let newer = render(&UnitSpec {
            systemd: Some(254),
            ..spec()
        });
        assert!(newer.contains("\nDelegateSubgroup=controller\n"), "{newer}");
        assert!(
            newer.contains("\nFileDescriptorStorePreserve=yes\n"),
            "{newer}"
        );
    }

    #[test]
    fn the_systemd_version_is_read_from_systemctl() {
        assert_eq!(
            systemd_version("systemd 252 (252.38-1~deb12u1)\n+PAM"),
            Some(252)
        );
        assert_eq!(systemd_version("systemd 256 (256.7)"), Some(256));
        assert_eq!(systemd_version("nope"), None);
    }

    #[test]
    fn the_socket_group_is_passed_on() {
        let text = render(&UnitSpec {
            socket_group: Some("corral-ops".into()),
            console: Vec::new(),
            ..spec()
        });
        assert!(
            text.contains(" --live-restore --profile production --socket-group corral-ops\n"),
            "{text}"
        );
        assert!(!render(&spec()).contains("--socket-group"));
    }

    #[test]
    fn a_system_unit() {
        let text = render(&spec());
        assert!(text.contains("\nType=notify\n"));
        assert!(text.contains("\nKillMode=process\n"));
        assert!(text.contains("\nRestart=on-failure\n"));
        assert!(text.contains(
            "\nExecStart=/usr/local/bin/corral controller --manifests /srv/apps/manifests --live-restore --profile production\n"
        ));
        assert!(text.contains("\nEnvironment=CORRAL_HOME=/var/lib/corral\n"));
        assert!(text.contains("\nWantedBy=multi-user.target\n"));
    }

    #[test]
    fn a_user_unit_is_wanted_by_the_users_default_target() {
        let text = render(&UnitSpec {
            user: true,
            ..spec()
        });
        assert!(text.contains("\nWantedBy=default.target\n"));
        assert!(!text.contains("network-online"));
    }

    #[test]
    fn paths_with_spaces_and_specifiers_are_quoted() {
        assert_eq!(exec_arg("/a b/c"), "\"/a b/c\"");
        assert_eq!(exec_arg("50%"), "\"50%%\"");
        assert_eq!(exec_arg("$HOME"), "\"$$HOME\"");
        assert_eq!(exec_arg("plain/path"), "plain/path");
    }
}
