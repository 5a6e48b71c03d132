//! `corral startup`: the unit it prints passes `systemd-analyze verify`, and `--install` writes
//! it and enables it through systemctl (a stand-in systemctl records the calls: no systemd runs
//! in the test).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn corral(args: &[&str], path_prefix: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_corral"));
    cmd.args(args).env("CORRAL_HOME", "/var/lib/corral-test");
    if let Some(dir) = path_prefix {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    cmd.output().expect("run corral")
}

#[test]
fn the_printed_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    for (user, group) in [(false, None), (true, None), (false, Some("4242"))] {
        let mut args = vec![
            "startup",
            "--manifests",
            manifests.to_str().unwrap(),
            "--profile",
            "production",
        ];
        if user {
            args.push("--user");
        }
        if let Some(group) = group {
            args.extend(["--socket-group", group]);
        }
        let out = corral(&args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let unit = String::from_utf8(out.stdout).unwrap();
        assert!(
            unit.contains("\nType=notify\n") && unit.contains("\nKillMode=process\n"),
            "{unit}"
        );
        assert!(
            unit.contains("\nEnvironment=CORRAL_HOME=/var/lib/corral-test\n"),
            "{unit}"
        );
        assert_eq!(
            unit.contains(" --profile production --socket-group 4242\n"),
            group.is_some(),
            "{unit}"
        );
        let file = dir.path().join(format!(
            "corral{}{}.service",
            if user { "-user" } else { "" },
            if group.is_some() { "-group" } else { "" }
        ));
        std::fs::write(&file, &unit).unwrap();
        let verify = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&file)
            .output()
            .expect("systemd-analyze is needed (Debian package systemd)");
        let complaints = String::from_utf8_lossy(&verify.stderr);
        assert!(
            verify.status.success() && complaints.trim().is_empty(),
            "systemd-analyze verify: {complaints}\n{unit}"
        );
    }
}

#[test]
fn install_writes_the_unit_and_enables_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let calls = dir.path().join("calls");
    let fake = bin.join("systemctl");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let units = dir.path().join("units");
    let out = corral(
        &[
            "startup",
            "--manifests",
            manifests.to_str().unwrap(),
            "--install",
            "--user",
            "--name",
            "apps",
            "--unit-dir",
            units.to_str().unwrap(),
        ],
        Some(&bin),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = std::fs::read_to_string(units.join("apps.service")).unwrap();
    assert!(unit.contains(&format!(
        "--manifests {}",
        manifests.canonicalize().unwrap().display()
    )));
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        "--version\n--user daemon-reload\n--user enable --now apps.service\n",
        "systemctl --version (which systemd writes the unit for), then the install"
    );

    std::fs::write(&fake, "#!/bin/sh\nexit 1\n").unwrap();
    let failed = corral(
        &[
            "startup",
            "--manifests",
            manifests.to_str().unwrap(),
            "--install",
            "--user",
            "--unit-dir",
            units.to_str().unwrap(),
        ],
        Some(&bin),
    );
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("daemon-reload` failed"));
}

#[test]
fn bad_arguments_say_what_to_fix() {
    let out = corral(&["startup", "--manifests", "/nonexistent/dir"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir cannot be opened"));
    let out = corral(&["startup", "--manifests", "/tmp", "--name", "a b"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a unit name"));
    let out = corral(
        &[
            "startup",
            "--manifests",
            "/tmp",
            "--socket-group",
            "no-such-group-corral",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--socket-group no-such-group-corral: no such group"));
}

#[test]
fn the_readmes_git_pull_timer_passes_systemd_analyze_verify() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gitops");
    let verify = Command::new("systemd-analyze")
        .args([
            "verify",
            "--man=no",
            "corral-pull.timer",
            "corral-pull.service",
        ])
        .current_dir(&dir)
        .output()
        .expect("systemd-analyze is needed (Debian package systemd)");
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && complaints.trim().is_empty(),
        "{complaints}"
    );
    let service = std::fs::read_to_string(dir.join("corral-pull.service")).unwrap();
    assert!(service.contains("git pull --ff-only"), "{service}");
}
