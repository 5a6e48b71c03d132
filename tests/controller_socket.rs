//! The control socket: owner-only, and a clear message when no controller answers.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::{corral_in, Controller};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Asserts that `run` failed saying no controller runs and how to start one.
fn assert_no_controller(run: &common::Run) {
    assert!(!run.status.success(), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert!(run.stderr.contains("no controller is running"), "{run:?}");
    assert!(
        run.stderr.contains("corral controller --manifests"),
        "says how to start one: {run:?}"
    );
}

#[test]
fn socket_is_owner_only_in_an_owner_only_home() {
    let ctl = Controller::new();
    ctl.start();
    assert_eq!(mode(&ctl.home), 0o700);
    assert_eq!(mode(&ctl.home.join("corral.sock")), 0o600);
    let meta = std::fs::symlink_metadata(ctl.home.join("corral.sock")).expect("socket");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));

    // A crash leaves the socket file behind: nobody answers it.
    ctl.crash();
    assert_no_controller(&ctl.corral(&["get"]));
}

#[test]
fn get_without_a_controller_says_how_to_start_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert_no_controller(&corral_in(tmp.path(), &["get"]));
    assert_no_controller(&corral_in(
        &tmp.path().join("never-made"),
        &["get", "-o", "json"],
    ));
}
