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
    /// A user unit (`systemctl --user`) rather than a system one.
    pub user: bool,
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
    ];
    if let Some(p) = &spec.profile {
        exec.push("--profile".into());
        exec.push(exec_arg(p));
    }
    let (wanted_by, after) = if spec.user {
        ("default.target", "")
    } else {
        (
            "multi-user.target",
            "After=network-online.target\nWants=network-online.target\n",
        )
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
# Only the controller is signalled: on stop it stops every app gracefully itself, and a
# controller restart (a crash, an upgrade) leaves the apps running for the next one to adopt.
KillMode=process
# The controller may create a cgroup per instance below its own (cpu.max, pids.max, memory.max).
Delegate=yes
Restart=on-failure
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
            user: false,
        }
    }

    #[test]
    fn a_system_unit() {
        let text = render(&spec());
        assert!(text.contains("\nType=notify\n"));
        assert!(text.contains("\nKillMode=process\n"));
        assert!(text.contains("\nRestart=on-failure\n"));
        assert!(text.contains(
            "\nExecStart=/usr/local/bin/corral controller --manifests /srv/apps/manifests --profile production\n"
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
