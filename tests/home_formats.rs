//! Every file a controller keeps under its home stays readable by the next version: for each
//! committed fixture of a version's home (`tests/fixtures/home-VERSION/`: the record of
//! running instances, the revision history, the logs, written by that version; see its
//! generate.sh), today's code reads the record without losing a field, and today's controller
//! adopts the recorded instances (same pids, their log pipes re-opened), keeps the history
//! (`rollout history`, `--revision N`) and `corral logs` shows the old lines.

use crate::common;

use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Controller, SOON};
use corral::supervisor::record::Record;
use nix::sys::signal::Signal;
use serde_json::Value;

/// The committed homes, one per corral version that wrote one.
fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut homes: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/fixtures")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("home-"))
        })
        .collect();
    homes.sort();
    assert!(!homes.is_empty(), "no tests/fixtures/home-*");
    homes
}

/// Copies `from` into `to`, `@HOME@` in every file replaced by `home`.
fn copy_tree(from: &Path, to: &Path, home: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read fixture").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target, home);
        } else {
            let text = fs::read_to_string(entry.path()).expect("fixture text");
            let text = text.replace("@HOME@", home.to_str().expect("utf-8"));
            fs::write(&target, text).expect("write");
        }
    }
}

/// Whether every value in `old` is in `new` (objects may have more keys in `new`).
fn keeps(old: &Value, new: &Value) -> bool {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => o
            .iter()
            .all(|(k, v)| n.get(k).is_some_and(|nv| keeps(v, nv))),
        (Value::Array(o), Value::Array(n)) => {
            o.len() == n.len() && o.iter().zip(n).all(|(a, b)| keeps(a, b))
        }
        _ => old == new,
    }
}

/// A read-write end of a fresh anonymous pipe, as corral gives an instance for its output, and
/// the pipe's inode.
fn instance_pipe() -> (fs::File, u64) {
    let (read, write) = std::io::pipe().expect("pipe");
    let end = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{}", read.as_raw_fd()))
        .expect("reopen pipe");
    drop((read, write));
    let inode = end.metadata().expect("pipe stat").ino();
    (end, inode)
}

#[test]
fn every_committed_home_is_read_and_its_instances_adopted() {
    for fixture in fixtures() {
        check(&fixture);
    }
}

fn check(fixture: &Path) {
    let what = fixture.display().to_string();
    let ctl = Controller::new();
    copy_tree(&fixture.join("manifests"), &ctl.manifests, &ctl.home);
    copy_tree(&fixture.join("home"), &ctl.home, &ctl.home);
    let record_path = ctl.home.join("instances.json");
    let bytes = fs::read(&record_path).expect("record");

    // Today's types read the record and keep every field of it.
    let record = Record::parse(&record_path, &bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let old: Value = serde_json::from_slice(&bytes).expect("json");
    let now = serde_json::to_value(&record).expect("json");
    assert!(
        keeps(&old, &now),
        "{what}: fields lost:\n{old:#}\nread as\n{now:#}"
    );

    // `corral logs` shows the lines the old controller wrote (no controller runs yet).
    let old_lines: Vec<String> = ["0", "1"]
        .iter()
        .map(|i| fs::read_to_string(ctl.home.join(format!("logs/web/{i}.out.log"))))
        .map(|t| {
            t.expect("fixture log")
                .lines()
                .next()
                .expect("a line")
                .to_owned()
        })
        .collect();
    let logs = ctl.corral(&["logs", "web", "--tail", "all", "--timestamps"]);
    assert!(logs.status.success(), "{what}: {logs:?}");
    for line in &old_lines {
        let stamp = line.split(' ').next().expect("timestamp");
        assert!(
            logs.stdout.contains(stamp),
            "{what}: {stamp} in\n{}",
            logs.stdout
        );
    }

    // The recorded instances, alive again under new pids, as the old controller left them.
    let mut record: Value = old;
    let mut children: Vec<Child> = Vec::new();
    let mut expected = std::collections::BTreeMap::new();
    let command: Vec<String> = {
        let manifest = fs::read_to_string(ctl.manifests.join("web.yaml")).expect("manifest");
        let app: serde_yaml::Value = serde_yaml::from_str(&manifest).expect("yaml");
        serde_yaml::from_value(app["spec"]["command"].clone()).expect("command")
    };
    for entry in record["instances"].as_array_mut().expect("instances") {
        let (out, out_inode) = instance_pipe();
        let (err, err_inode) = instance_pipe();
        let child = Command::new(&command[0])
            .args(&command[1..])
            .env("CORRAL_TEST_TOKEN", &ctl.token)
            .env("CORRAL_APP", "web")
            .env("CORRAL_INSTANCE", entry["index"].to_string())
            .env(
                "CORRAL_REVISION",
                entry["revision"].as_str().expect("revision"),
            )
            .env("CORRAL_INSTANCE_UID", entry["mark"].as_str().expect("mark"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("spawn instance");
        let pid = child.id();
        let ticks = corral::supervisor::process::start_ticks(pid).expect("start ticks");
        entry["pid"] = pid.into();
        entry["startTicks"] = ticks.into();
        entry["pipes"] = vec![format!("/proc/{pid}/fd/1"), format!("/proc/{pid}/fd/2")].into();
        entry["pipeInodes"] = vec![out_inode, err_inode].into();
        let index = entry["index"].as_u64().expect("index") as u32;
        expected.insert(index, pid);
        children.push(child);
    }
    fs::write(
        &record_path,
        serde_json::to_vec_pretty(&record).expect("json"),
    )
    .expect("write");

    ctl.start();
    assert_eq!(
        ctl.wait_instances("web", 2),
        expected,
        "{what}: the recorded pids"
    );
    ctl.assert_stays(Duration::from_millis(500), "none restarted", || {
        ctl.instances("web") == expected.iter().map(|(i, p)| (*p, *i)).collect()
    });
    let describe = ctl.corral_ok(&["describe", "web"]);
    assert!(
        describe.contains("adopted from the previous controller"),
        "{what}: {describe}"
    );
    let log = ctl.home.join("logs/web/0.out.log");
    let before = fs::read_to_string(&log).map_or(0, |t| t.lines().count());
    ctl.wait_until(SOON, "the adopted pipes reach the old log file", || {
        fs::read_to_string(&log).map_or(0, |t| t.lines().count()) > before + 1
    });

    // The revision history the old controller kept.
    let history: Value = serde_json::from_str(
        &fs::read_to_string(fixture.join("home/history/web.json")).expect("history"),
    )
    .expect("history json");
    let table = ctl.corral_ok(&["rollout", "history", "web"]);
    for entry in history["entries"].as_array().expect("entries") {
        let (number, revision) = (&entry["number"], entry["revision"].as_str().expect("hash"));
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&number.to_string()))
            .unwrap_or_else(|| panic!("{what}: revision {number} in\n{table}"));
        assert!(row.contains(revision), "{what}: {row}");
        let manifest = ctl.corral_ok(&[
            "rollout",
            "history",
            "web",
            "--revision",
            &number.to_string(),
        ]);
        let env = &entry["app"]["spec"]["env"];
        assert_eq!(
            manifest.contains("GREETING"),
            !env.is_null(),
            "{what}: revision {number}'s manifest:\n{manifest}"
        );
    }

    ctl.signal(Signal::SIGTERM);
    ctl.wait_exit(SOON);
    for mut child in children {
        let _ = child.wait();
    }
}
