//! The trust rule, bit by bit (pure), and on real files (tests run as root, so files are
//! chmod'ed and chown'ed to make them untrusted for real).

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;

use super::*;

const ME: u32 = 1000;

fn facts(uid: u32, mode: u32) -> Facts {
    Facts { uid, mode }
}

#[test]
fn owner_or_root_without_group_or_other_write_passes() {
    for mode in [0o600, 0o644, 0o755, 0o700, 0o444, 0o1755] {
        for uid in [ME, 0] {
            assert_eq!(judge(facts(uid, mode), ME, false), Ok(()), "{uid} {mode:o}");
            assert_eq!(judge(facts(uid, mode), ME, true), Ok(()), "{uid} {mode:o}");
        }
    }
}

#[test]
fn each_write_bit_is_refused_and_named() {
    let cases = [
        (0o664, "g"),
        (0o646, "o"),
        (0o666, "go"),
        (0o775, "g"),
        (0o777, "go"),
    ];
    for (mode, who) in cases {
        for parent in [false, true] {
            assert_eq!(
                judge(facts(ME, mode), ME, parent),
                Err(Problem::Writable { who, mode }),
                "{mode:o}"
            );
        }
    }
}

#[test]
fn another_owner_is_refused_even_read_only() {
    assert_eq!(
        judge(facts(65534, 0o600), ME, false),
        Err(Problem::Owner {
            owner: 65534,
            uid: ME
        })
    );
    assert!(judge(facts(65534, 0o1777), ME, true).is_err());
}

#[test]
fn root_owned_sticky_parents_are_allowed_but_not_as_the_target() {
    assert_eq!(judge(facts(0, 0o1777), ME, true), Ok(()));
    assert!(judge(facts(0, 0o1777), ME, false).is_err());
    assert!(judge(facts(0, 0o0777), ME, true).is_err(), "not sticky");
    assert!(
        judge(facts(ME, 0o1777), ME, true).is_err(),
        "sticky but not root's"
    );
}

#[test]
fn messages_say_which_path_which_bit_and_the_fix() {
    let e = TrustError {
        path: "/srv/m".into(),
        role: Role::ManifestsDir,
        above: None,
        problem: Problem::Writable {
            who: "o",
            mode: 0o757,
        },
    }
    .to_string();
    assert!(
        e.contains("/srv/m is writable by others (mode 0757)"),
        "{e}"
    );
    assert!(e.contains("`chmod o-w /srv/m`"), "{e}");
    assert!(e.contains(OPT_OUT_FLAG), "{e}");
    let e = TrustError {
        path: "/srv".into(),
        role: Role::EnvFile,
        above: Some("/srv/m/.env".into()),
        problem: Problem::Owner {
            owner: 65534,
            uid: 0,
        },
    }
    .to_string();
    assert!(
        e.contains("/srv, a directory above the env file /srv/m/.env,"),
        "{e}"
    );
    assert!(e.contains("owned by uid 65534"), "{e}");
    assert!(e.contains("`chown 0 /srv`"), "{e}");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn real_paths_each_bit_each_kind_and_the_opt_out() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("m");
    std::fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o755);
    let file = dir.join("a.yaml");
    std::fs::write(&file, "x").expect("write");
    chmod(&file, 0o644);
    assert_eq!(check(&dir, Role::ManifestsDir, Trust::Strict), Ok(()));
    assert_eq!(check_manifest(&file, Trust::Strict), Ok(()));

    chmod(&file, 0o664);
    let e = check_manifest(&file, Trust::Strict).expect_err("group-writable file");
    assert_eq!(
        e.problem,
        Problem::Writable {
            who: "g",
            mode: 0o664
        }
    );
    assert_eq!(check_manifest(&file, Trust::Shared), Ok(()));
    chmod(&file, 0o644);

    // A writable directory is refused as the target and as a parent of the target.
    chmod(&dir, 0o757);
    let e = check(&dir, Role::ManifestsDir, Trust::Strict).expect_err("o+w dir");
    assert_eq!(
        (e.path.as_path(), e.above.as_deref()),
        (dir.as_path(), None)
    );
    let e = check(&file, Role::EnvFile, Trust::Strict).expect_err("o+w parent");
    assert_eq!(e.above.as_deref(), Some(file.as_path()));
    assert_eq!(e.path, dir);
    assert_eq!(check(&file, Role::EnvFile, Trust::Shared), Ok(()));
    chmod(&dir, 0o755);

    if is_root() {
        chown(&file, Some(65534), None).expect("chown");
        let e = check_manifest(&file, Trust::Strict).expect_err("owned by nobody");
        assert_eq!(
            e.problem,
            Problem::Owner {
                owner: 65534,
                uid: 0
            }
        );
    }
}

#[test]
fn a_symlinked_manifest_is_followed_only_to_a_trusted_place() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (dir, outside) = (tmp.path().join("m"), tmp.path().join("elsewhere"));
    for d in [&dir, &outside] {
        std::fs::create_dir(d).expect("mkdir");
        chmod(d, 0o755);
    }
    let target = outside.join("app.yaml");
    std::fs::write(&target, "x").expect("write");
    chmod(&target, 0o644);
    let link = dir.join("app.yaml");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    assert_eq!(check_manifest(&link, Trust::Strict), Ok(()));
    chmod(&outside, 0o777);
    let e = check_manifest(&link, Trust::Strict).expect_err("target's folder is o+w");
    assert_eq!(e.path, outside);
    assert_eq!(
        e.problem,
        Problem::Writable {
            who: "go",
            mode: 0o777
        }
    );
}
