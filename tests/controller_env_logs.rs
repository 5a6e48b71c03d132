//! What reaches a process (env, env files, profile, cwd) and what comes back out (logs).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{manifest, Controller, SOON};

/// Writes `{"env": …, "cwd": …}` to `argv[1].INSTANCE` (atomically), then sleeps.
const DUMP_ENV: &str = "import json, os, sys, time
out = sys.argv[1] + '.' + os.environ['CORRAL_INSTANCE']
with open(out + '.tmp', 'w') as f:
    json.dump({'env': dict(os.environ), 'cwd': os.getcwd()}, f)
os.rename(out + '.tmp', out)
time.sleep(100000)";

/// The env and cwd one instance reported.
fn read_dump(path: &Path) -> Option<(BTreeMap<String, String>, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let env = serde_json::from_value(v["env"].clone()).ok()?;
    Some((env, v["cwd"].as_str()?.to_owned()))
}

#[test]
fn env_env_files_profile_and_cwd_reach_every_instance() {
    let ctl = Controller::with_profile("production");
    let dump = ctl.scratch().join("dump");
    let work = ctl.manifests.join("work");
    std::fs::create_dir(&work).expect("cwd");
    std::fs::write(
        ctl.manifests.join(".env"),
        "FROM_FILE=file\nSHARED=file\nLATER=first\n",
    )
    .expect(".env");
    std::fs::write(ctl.manifests.join("more.env"), "LATER=second\n").expect("more.env");
    let cmd = common::flow(&[
        "python3",
        "-c",
        DUMP_ENV,
        &dump.display().to_string(),
        &ctl.token,
    ]);
    ctl.write_manifest(
        "web.yaml",
        &manifest(
            "web",
            &[
                &format!("command: {cmd}"),
                "instances: 2",
                "cwd: ./work",
                "envFiles: [.env, more.env]",
                "env: {FROM_ENV: env, SHARED: env, PROFILED: env}",
                "profiles: {production: {env: {PROFILED: prod}}, staging: {env: {PROFILED: stage}}}",
            ],
        ),
    );
    ctl.start();
    let app = ctl.wait_status("web", "Running");
    let work = std::fs::canonicalize(&work).expect("canonical cwd");

    for index in ["0", "1"] {
        let path = dump.with_extension(index);
        let (env, cwd) = common::wait_for(SOON, "the instance dumps its env", || read_dump(&path));
        let var = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(var("CORRAL_APP"), Some("web"));
        assert_eq!(var("CORRAL_INSTANCE"), Some(index));
        assert_eq!(var("NODE_APP_INSTANCE"), Some(index));
        assert_eq!(var("CORRAL_REVISION"), Some(app.revision.as_str()));
        assert!(!app.revision.is_empty());
        assert_eq!(var("FROM_ENV"), Some("env"), "an env value");
        assert_eq!(var("FROM_FILE"), Some("file"), "a .env value");
        assert_eq!(var("LATER"), Some("second"), "later env files win");
        assert_eq!(var("SHARED"), Some("env"), "env beats envFiles");
        assert_eq!(var("PROFILED"), Some("prod"), "--profile beats env");
        assert_eq!(Path::new(&cwd), work, "cwd relative to the manifest folder");
    }
}

#[test]
fn stdout_and_stderr_are_captured_and_shown_by_corral_logs() {
    let ctl = Controller::new();
    let cmd = ctl.sh("echo \"out-line $0\"; echo \"err-line $0\" >&2; exec sleep 100000");
    ctl.write_manifest("web.yaml", &manifest("web", &[&format!("command: {cmd}")]));
    ctl.start();
    let dir = ctl.home.join("logs").join("web");
    let out_line = format!("out-line {}", ctl.token);
    let err_line = format!("err-line {}", ctl.token);
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    ctl.wait_until(SOON, "both lines reach the log files", || {
        read("0.out.log").contains(&out_line) && read("0.err.log").contains(&err_line)
    });
    for (file, want) in [("0.out.log", &out_line), ("0.err.log", &err_line)] {
        let text = read(file);
        let line = text
            .lines()
            .find(|l| l.contains(want.as_str()))
            .expect("line");
        let (stamp, rest) = line.split_once(' ').expect("timestamp and text");
        assert!(
            humantime::parse_rfc3339_weak(stamp).is_ok(),
            "RFC 3339 timestamp first: {line:?}"
        );
        assert_eq!(rest, want.as_str(), "{file}: {text:?}");
        assert!(!text.contains(if file == "0.out.log" {
            &err_line
        } else {
            &out_line
        }));
    }

    let run = ctl.corral(&["logs", "web"]);
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stdout.contains(&out_line) && run.stdout.contains(&err_line),
        "{run:?}"
    );
    let run = ctl.corral(&["logs", "web", "--tail", "1"]);
    assert!(run.status.success(), "{run:?}");
    let shown: Vec<&str> = run.stdout.lines().filter(|l| l.contains("-line")).collect();
    assert_eq!(shown.len(), 1, "--tail 1: {run:?}");
}

#[test]
fn logs_follow_shows_lines_as_the_app_writes_them() {
    let ctl = Controller::new();
    let trigger = ctl.scratch().join("trigger");
    let cmd = ctl.sh(&format!(
        "echo \"first $0\"; while [ ! -e '{}' ]; do sleep 0.05; done; echo \"second $0\"; exec sleep 100000",
        trigger.display()
    ));
    ctl.write_manifest("web.yaml", &manifest("web", &[&format!("command: {cmd}")]));
    ctl.start();
    let mut follower = std::process::Command::new(common::BIN)
        .args(["logs", "web", "-f"])
        .env("CORRAL_HOME", &ctl.home)
        .env("CORRAL_TEST_TOKEN", &ctl.token) // so the fixture's Drop kills it on failure
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn corral logs -f");
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut expect = |what: &str| {
        let want = format!("{what} {}", ctl.token);
        common::wait_for(SOON, &format!("logs -f shows {want:?}"), || {
            seen.extend(rx.try_iter());
            seen.iter().any(|l| l.contains(&want)).then_some(())
        });
    };
    expect("first");
    std::fs::write(&trigger, "").expect("trigger");
    expect("second");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follower.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM the follower");
    let status = common::wait_for(SOON, "corral logs -f ends on SIGTERM", || {
        follower.try_wait().expect("try_wait")
    });
    assert!(status.success(), "{status}");
}
