//! `corral controller --socket-group`: members of the group use every command through the
//! socket (and read the logs); everyone else is told which group lets them in. Run as root:
//! the clients are `nobody` with chosen groups (`setpriv`), the group a bare gid.

use crate::common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{corral_as, manifest, Controller, BIN, SOON};

/// The group the controller lets in: a bare gid, which needs no entry in /etc/group.
const GID: &str = "4242";
const MEMBER: &[&str] = &["--reuid=65534", "--regid=65534", "--groups=4242"];
const STRANGER: &[&str] = &["--reuid=65534", "--regid=65534", "--clear-groups"];
/// A stranger that gets past the file modes (CAP_DAC_OVERRIDE, not root): only the
/// controller's own check stands in its way.
const STRANGER_PAST_MODES: &[&str] = &[
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=+dac_override",
    "--ambient-caps=+dac_override",
];

/// Mode bits (setgid included) and group of `path`.
fn mode_group(path: &Path) -> (u32, u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.mode() & 0o7777, meta.gid())
}

/// A controller running one app that says `hello` on stdout, its temp folder open for
/// traversal (tests' temp folders are 0700 root).
fn controller_with_app(args: &[&str]) -> Controller {
    let ctl = Controller::with_args(args);
    std::fs::set_permissions(ctl.scratch(), std::fs::Permissions::from_mode(0o711))
        .expect("chmod scratch");
    let command = ctl.sh("echo hello-from-web; exec sleep 100000");
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {command}")]),
    );
    ctl.start();
    ctl.wait_status("web", "Running");
    ctl
}

#[test]
fn members_of_the_socket_group_use_every_command_and_strangers_are_told_why() {
    let mut ctl = controller_with_app(&["--socket-group", GID]);
    let home = ctl.home.clone();
    assert_eq!(mode_group(&home), (0o710, 4242));
    assert_eq!(mode_group(&home.join("corral.sock")), (0o660, 4242));
    assert_eq!(mode_group(&home.join("logs")), (0o2750, 4242));
    assert_eq!(mode_group(&home.join("logs/web")), (0o2750, 4242));
    assert_eq!(mode_group(&home.join("logs/web/0.out.log")).1, 4242);
    assert_eq!(mode_group(&home.join("run")).0, 0o700, "run/ stays private");
    assert_eq!(
        mode_group(&home.join("history")).0,
        0o700,
        "history/ stays private"
    );

    let get = corral_as(&home, MEMBER, &["get"]);
    assert!(get.status.success(), "{get:?}");
    assert!(
        get.stdout.contains("web") && get.stdout.contains("Running"),
        "{get:?}"
    );
    common::wait_for(SOON, "the member reads the app's logs", || {
        let logs = corral_as(&home, MEMBER, &["logs", "web"]);
        assert!(logs.status.success(), "{logs:?}");
        logs.stdout.contains("hello-from-web").then_some(())
    });
    let reload = corral_as(&home, MEMBER, &["reload", "web"]);
    assert!(reload.status.success(), "{reload:?}");
    let describe = corral_as(&home, MEMBER, &["describe", "web"]);
    assert!(describe.status.success(), "{describe:?}");

    // Not in the group: the home's modes keep it out, and the CLI says which group lets in.
    for args in [&["get"][..], &["reload", "web"][..]] {
        let run = corral_as(&home, STRANGER, args);
        assert!(!run.status.success(), "{run:?}");
        assert!(
            run.stderr
                .contains("members of group 4242 (its --socket-group)"),
            "names the group: {run:?}"
        );
        assert!(run.stderr.contains("--socket-group"), "{run:?}");
    }
    let logs = corral_as(&home, STRANGER, &["logs", "web"]);
    assert!(!logs.status.success(), "{logs:?}");
    assert!(logs.stderr.contains("permission denied"), "{logs:?}");

    // Past the modes, the controller itself refuses with a 403 the CLI prints.
    for args in [&["get"][..], &["events"][..]] {
        let run = corral_as(&home, STRANGER_PAST_MODES, args);
        assert!(!run.status.success(), "{run:?}");
        assert!(
            run.stderr.contains("uid 65534 is not in group 4242"),
            "the controller's sentence: {run:?}"
        );
    }
    assert!(ctl.stderr().contains("refused an API connection"));

    // Restarted without the flag: everything goes back to owner-only.
    ctl.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(ctl.wait_exit(SOON).success());
    ctl.set_args(&[]);
    ctl.start();
    let own = nix::unistd::getegid().as_raw();
    assert_eq!(mode_group(&home), (0o700, own));
    assert_eq!(mode_group(&home.join("corral.sock")), (0o600, own));
    assert_eq!(mode_group(&home.join("logs")), (0o750, own));
    assert_eq!(mode_group(&home.join("logs/web/0.out.log")).1, own);
    let run = corral_as(&home, MEMBER, &["get"]);
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stderr.contains("lets no other user"), "{run:?}");
    let run = corral_as(&home, STRANGER_PAST_MODES, &["get"]);
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stderr.contains("permission denied"), "{run:?}");
}

#[test]
fn an_unknown_group_or_an_unreachable_home_is_refused_at_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let manifests = tmp.path().join("m");
    std::fs::create_dir(&manifests).expect("mkdir");
    let start = |group: &str| {
        let mut child = Command::new(BIN)
            .args(["controller", "--manifests"])
            .arg(&manifests)
            .args(["--socket-group", group])
            .env("CORRAL_HOME", tmp.path().join("home"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run corral controller");
        let deadline = std::time::Instant::now() + SOON;
        let exited = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the controller started instead of refusing --socket-group {group}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
            .expect("read stderr");
        (exited, err)
    };
    let (status, err) = start("no-such-group-corral");
    assert!(!status.success());
    assert!(
        err.contains("--socket-group no-such-group-corral: no such group"),
        "{err}"
    );
    // The temp folder is 0700 root: the group could never reach the socket below it.
    let (status, err) = start(GID);
    assert!(!status.success());
    assert!(
        err.contains("--socket-group 4242: its members cannot reach"),
        "{err}"
    );
    assert!(
        err.contains(&tmp.path().display().to_string()),
        "names the folder: {err}"
    );
    assert!(!tmp.path().join("home/corral.sock").exists());
}
