//! The Debian package: `make deb-stage` lays it out from Cargo.toml's `[package.metadata.deb]`
//! as cargo-deb would (from this test's binary: no release build, no cargo-deb install) and
//! dpkg-deb builds it; lintian finds no error; dpkg installs it into a throwaway root, running
//! its postinst (`--force-script-chrootless`, which hands it DPKG_ROOT); the installed binary
//! runs; installing it again over a running controller leaves no app restarted.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use common::{wait_for, BIN, SOON};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (.ci/run installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dpkg -i` into `root` (its own database, maintainer scripts run with DPKG_ROOT=root).
fn dpkg_install(root: &Path, deb: &Path) -> Output {
    let admin = root.join("var/lib/dpkg");
    for dir in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.join(dir)).expect("dpkg admin dir");
    }
    if !admin.join("status").exists() {
        std::fs::write(admin.join("status"), "").expect("dpkg status");
    }
    run(Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args([
            "--force-script-chrootless",
            "--force-depends",
            "--log=/dev/null",
            "-i",
        ])
        .arg(deb))
}

/// A controller started from the installed binary; stopped (with its apps) when dropped.
struct InstalledController {
    child: Child,
    home: PathBuf,
    corral: PathBuf,
}

impl InstalledController {
    fn corral(&self, args: &[&str]) -> Output {
        Command::new(&self.corral)
            .args(args)
            .env("CORRAL_HOME", &self.home)
            .output()
            .expect("run installed corral")
    }

    /// The controller's pid as `corral version -o json` tells it.
    fn pid(&self) -> Option<u64> {
        let out = self.corral(&["version", "-o", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        v["controllerVersion"]["pid"].as_u64()
    }

    /// The pids of app `name`'s instances.
    fn app_pids(&self, name: &str) -> Vec<u64> {
        let out = self.corral(&["get", name, "-o", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["instances"]
            .as_array()
            .map(|a| a.iter().filter_map(|i| i["pid"].as_u64()).collect())
            .unwrap_or_default()
    }
}

impl Drop for InstalledController {
    fn drop(&mut self) {
        // The controller that answers now (an upgrade may have replaced the one we started);
        // SIGTERM stops it and its apps.
        let answering = self.pid();
        if let Some(pid) = answering {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + SOON;
        while Instant::now() < deadline {
            let ours_ended = matches!(self.child.try_wait(), Ok(Some(_)));
            let theirs_ended = answering.is_none_or(|p| {
                p == u64::from(self.child.id()) || !Path::new(&format!("/proc/{p}")).exists()
            });
            if ours_ended && theirs_ended {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_package_builds_passes_lintian_installs_and_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("stage");
    run(Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-s", "deb-stage"])
        .arg(format!("DEB_BIN={BIN}"))
        .arg(format!("DEB_OUT={}", out.display())));
    let deb = out.join("corral.deb");

    let info = text(&run(Command::new("dpkg-deb").arg("--info").arg(&deb)));
    assert!(info.contains(&format!("Version: {VERSION}-1")), "{info}");
    assert!(info.contains("Depends: libc6"), "{info}");

    let lintian = Command::new("lintian")
        .args(["--tag-display-limit", "0", "--allow-root"])
        .arg(&deb)
        .output()
        .expect("lintian runs (.ci/run installs it)");
    let report = String::from_utf8_lossy(&lintian.stdout);
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{report}");
    eprintln!("lintian:\n{report}");

    let root = tmp.path().join("root");
    dpkg_install(&root, &deb);
    for file in [
        "usr/bin/corral",
        "usr/share/man/man1/corral.1.gz",
        "usr/share/man/man1/corral-get.1.gz",
        "usr/share/bash-completion/completions/corral",
        "usr/share/zsh/vendor-completions/_corral",
        "usr/share/fish/vendor_completions.d/corral.fish",
        "lib/systemd/system/corral.service",
        "usr/share/doc/corral/copyright",
        "usr/share/doc/corral/changelog.Debian.gz",
    ] {
        assert!(root.join(file).is_file(), "{file} installed");
    }
    assert!(
        root.join("etc/corral/manifests").is_dir(),
        "postinst made it"
    );
    assert!(
        !root
            .join("etc/systemd/system/multi-user.target.wants/corral.service")
            .exists(),
        "the unit is not enabled"
    );
    let unit =
        std::fs::read_to_string(root.join("lib/systemd/system/corral.service")).expect("unit");
    assert!(
        unit.contains("ExecStart=/usr/bin/corral controller --manifests /etc/corral/manifests"),
        "{unit}"
    );
    let copyright =
        std::fs::read_to_string(root.join("usr/share/doc/corral/copyright")).expect("copyright");
    assert!(copyright.contains("License: Apache-2.0"), "{copyright}");

    let corral = root.join("usr/bin/corral");
    let version = text(&run(Command::new(&corral).args(["version", "--client"])));
    assert_eq!(version, format!("Client Version: {VERSION}\n"));
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests/hello.yaml");
    let valid = text(&run(Command::new(&corral).arg("validate").arg(&demo)));
    assert!(valid.contains("hello"), "{valid}");
    let man = text(&run(Command::new("man")
        .arg("-l")
        .arg(root.join("usr/share/man/man1/corral-version.1.gz"))
        .env("MANPAGER", "cat")));
    assert!(man.contains("corral-version"), "{man}");

    // Installing the package again over a running controller restarts no app.
    let manifests = tmp.path().join("manifests");
    std::fs::create_dir(&manifests).expect("manifests");
    std::fs::write(
        manifests.join("nap.yaml"),
        "apiVersion: corral/v1\nkind: App\nmetadata: {name: nap}\nspec: {command: [sleep, '100000']}\n",
    )
    .expect("manifest");
    let home = tmp.path().join("home");
    let child = Command::new(&corral)
        .args(["controller", "--manifests"])
        .arg(&manifests)
        .env("CORRAL_HOME", &home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the installed controller");
    let ctl = InstalledController {
        child,
        home,
        corral: corral.clone(),
    };
    let before = wait_for(SOON, "the installed controller runs nap", || {
        let pids = ctl.app_pids("nap");
        (!pids.is_empty()).then_some(pids)
    });
    let first = ctl.pid().expect("controller pid");
    dpkg_install(&root, &deb);
    let upgrades = Command::new(&corral)
        .args(["upgrade", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    if upgrades {
        wait_for(Duration::from_secs(60), "postinst's corral upgrade", || {
            ctl.pid().filter(|p| *p != first)
        });
    } else {
        assert_eq!(
            ctl.pid(),
            Some(first),
            "without `corral upgrade` it is left alone"
        );
    }
    assert_eq!(ctl.app_pids("nap"), before, "no app restarted");
}
