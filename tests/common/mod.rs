//! Shared fixture for the controller tests: the real `corral` binary on a temp home and a temp
//! manifests directory, real child processes found by a per-test token, and polling waits.
//!
//! Every process a test starts carries `CORRAL_TEST_TOKEN=<token>` in its environment (the
//! controller passes its environment on to apps and they to their children), and apps also put
//! the token in their argv. That is how a test sees its own processes only, and how `Drop`
//! kills every one of them, even when the test fails.
#![allow(dead_code)] // each test file uses a part of the fixture

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use corral::api::{AppList, AppStatus};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub mod browser;
pub mod load;
pub mod orphans;
pub mod procs;
pub mod rollout;
pub mod scrape;
pub mod smaps;
pub mod web;

#[allow(unused_imports)] // each test file uses some
pub use procs::{alive, env_map, kill_pid, pgid, stdout_lines};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_corral");
/// Polling period of every wait.
const POLL: Duration = Duration::from_millis(50);
/// Default deadline for things that should happen "soon".
pub const SOON: Duration = Duration::from_secs(10);
/// A python3 program that sleeps forever.
const SLEEPER: &str = "import time; time.sleep(100000)";

/// What a CLI run produced.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub status: ExitStatus,
    /// stdout, lossy UTF-8.
    pub stdout: String,
    /// stderr, lossy UTF-8.
    pub stderr: String,
}

/// A `corral controller` on its own temp home and manifests directory.
pub struct Controller {
    tmp: tempfile::TempDir,
    /// `$CORRAL_HOME`.
    pub home: PathBuf,
    /// The manifests directory.
    pub manifests: PathBuf,
    /// Unique per fixture: in every app's environment and argv.
    pub token: String,
    profile: Option<String>,
    /// Extra `corral controller` arguments.
    args: Vec<String>,
    /// Extra environment of the controller.
    pub envs: Vec<(String, String)>,
    child: RefCell<Option<Child>>,
    /// Every controller pid this fixture started (excluded from the app process scan).
    controller_pids: RefCell<Vec<u32>>,
    /// Controllers that took over from this fixture's (`corral upgrade`): killed on drop.
    successors: RefCell<Vec<u32>>,
    /// The corral binary the controller is started from (default: the one under test).
    pub binary: PathBuf,
    stderr_log: PathBuf,
}

impl Controller {
    /// A fixture with empty home and manifests directories; nothing runs yet.
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let manifests = tmp.path().join("manifests");
        fs::create_dir(&manifests).expect("manifests dir");
        let token = format!(
            "corraltest{}x{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let stderr_log = tmp.path().join("controller.stderr");
        Self {
            tmp,
            home,
            manifests,
            token,
            profile: None,
            args: Vec::new(),
            envs: Vec::new(),
            child: RefCell::new(None),
            controller_pids: RefCell::new(Vec::new()),
            successors: RefCell::new(Vec::new()),
            binary: PathBuf::from(BIN),
            stderr_log,
        }
    }

    /// The same, run with `--profile`.
    pub fn with_profile(profile: &str) -> Self {
        let mut c = Self::new();
        c.profile = Some(profile.into());
        c
    }

    /// The same, with extra `corral controller` arguments (`--sample-interval 300ms`).
    pub fn with_args(args: &[&str]) -> Self {
        let mut c = Self::new();
        c.args = args.iter().map(|a| a.to_string()).collect();
        c
    }

    /// Replaces the extra `corral controller` arguments (for the next [`Controller::start`]).
    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| a.to_string()).collect();
    }

    /// A scratch directory of the fixture (outside home and manifests).
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// Starts `corral controller` and waits until it answers on its socket.
    pub fn start(&self) {
        self.start_with(|_| {});
    }

    /// [`Controller::start`], with `prepare` applied to the command last (passed fds, say).
    pub fn start_with(&self, prepare: impl FnOnce(&mut Command)) {
        assert!(self.child.borrow().is_none(), "controller already running");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .expect("stderr log");
        let mut cmd = Command::new(&self.binary);
        cmd.arg("controller")
            .arg("--manifests")
            .arg(&self.manifests);
        if let Some(p) = &self.profile {
            cmd.args(["--profile", p]);
        }
        cmd.args(&self.args);
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        cmd.env("CORRAL_HOME", &self.home)
            .env("CORRAL_TEST_TOKEN", &self.token)
            .env_remove("CORRAL_MANIFESTS")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        prepare(&mut cmd);
        let child = cmd.spawn().expect("spawn corral controller");
        self.controller_pids.borrow_mut().push(child.id());
        *self.child.borrow_mut() = Some(child);
        self.wait_until(SOON, "the controller answers on its socket", || {
            let exited = self.child.borrow_mut().as_mut().map(Child::try_wait);
            if let Some(Ok(Some(status))) = exited {
                panic!(
                    "the controller exited while starting ({status})\n{}",
                    self.stderr()
                );
            }
            self.home.join("corral.sock").exists() && self.corral(&["get"]).status.success()
        });
    }

    /// The running controller's pid.
    pub fn pid(&self) -> u32 {
        self.child
            .borrow()
            .as_ref()
            .expect("controller running")
            .id()
    }

    /// Sends `signal` to the controller.
    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).expect("signal the controller");
    }

    /// Waits for the controller to exit and returns its status.
    pub fn wait_exit(&self, within: Duration) -> ExitStatus {
        let status = wait_for(within, "the controller exits", || {
            self.child
                .borrow_mut()
                .as_mut()
                .and_then(|c| c.try_wait().expect("try_wait"))
        });
        self.child.borrow_mut().take();
        status
    }

    /// Notes that controller `pid` took over from this fixture's (`corral upgrade`): it is
    /// no app process, and it is killed when the fixture is dropped.
    pub fn took_over(&self, pid: u32) {
        self.controller_pids.borrow_mut().push(pid);
        self.successors.borrow_mut().push(pid);
    }

    /// SIGKILLs the controller (a crash) and reaps it.
    pub fn crash(&self) {
        self.signal(Signal::SIGKILL);
        self.wait_exit(SOON);
    }

    /// The controller's stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    /// Runs `corral ARGS` against this home (10 s limit).
    pub fn corral(&self, args: &[&str]) -> Run {
        corral_in(&self.home, args)
    }

    /// `corral get -o json`, parsed; panics when the command fails.
    pub fn get(&self) -> AppList {
        let run = self.corral(&["get", "-o", "json"]);
        assert!(run.status.success(), "corral get failed: {run:?}");
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }

    /// One app from `get`, if listed.
    pub fn app(&self, name: &str) -> Option<AppStatus> {
        self.get().apps.into_iter().find(|a| a.name == name)
    }

    /// Writes `text` to `manifests/FILE` atomically (a hidden temp file, then rename).
    pub fn write_manifest(&self, file: &str, text: &str) {
        let tmp = self.manifests.join(format!(".{file}.tmp"));
        fs::write(&tmp, text).expect("write manifest");
        fs::rename(&tmp, self.manifests.join(file)).expect("rename manifest");
    }

    /// Removes `manifests/FILE`.
    pub fn remove_manifest(&self, file: &str) {
        fs::remove_file(self.manifests.join(file)).expect("remove manifest");
    }

    /// An argv (YAML flow list) running `script` under `sh -c`, with the token as `$0`.
    pub fn sh(&self, script: &str) -> String {
        flow(&["sh", "-c", script, &self.token])
    }

    /// An argv (YAML flow list) of a python3 process that ignores SIGTERM, creates `ready`
    /// once it does, and sleeps forever: only a SIGKILL ends it.
    pub fn stubborn(&self, ready: &Path) -> String {
        flow(&[
            "python3",
            "-c",
            "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); \
             open(sys.argv[1], 'w').close(); time.sleep(100000)",
            &ready.display().to_string(),
            &self.token,
        ])
    }

    /// An argv (YAML flow list) of a python3 process that sleeps forever.
    pub fn sleeper(&self) -> String {
        flow(&["python3", "-c", SLEEPER, &self.token])
    }

    /// Live (non-zombie) processes carrying the token, controllers excluded.
    pub fn processes(&self) -> Vec<u32> {
        procs::marked(&self.token, &self.controller_pids.borrow())
    }

    /// Live processes of `app` that are instances (not their children): pid → `CORRAL_INSTANCE`.
    pub fn instances(&self, app: &str) -> BTreeMap<u32, u32> {
        let mut out = BTreeMap::new();
        for pid in self.processes() {
            let env = env_map(pid);
            if env.get("CORRAL_APP").map(String::as_str) != Some(app) {
                continue;
            }
            // An instance leads its own process group; its children do not.
            if pgid(pid) != Some(pid) {
                continue;
            }
            if let Some(i) = env.get("CORRAL_INSTANCE").and_then(|i| i.parse().ok()) {
                out.insert(pid, i);
            }
        }
        out
    }

    /// Waits until `app` has exactly `n` instance processes whose pids `get` also reports, and
    /// returns index → pid.
    pub fn wait_instances(&self, app: &str, n: usize) -> BTreeMap<u32, u32> {
        wait_for(SOON, &format!("{app} has {n} instance(s)"), || {
            let procs = self.instances(app);
            let mut listed: Vec<u32> = self
                .app(app)
                .map(|a| a.instances.iter().filter_map(|i| i.pid).collect())
                .unwrap_or_default();
            listed.sort_unstable();
            let seen: Vec<u32> = procs.keys().copied().collect(); // sorted: a BTreeMap's keys
            (procs.len() == n && seen == listed)
                .then(|| procs.iter().map(|(pid, i)| (*i, *pid)).collect())
        })
    }

    /// Every event of the controller, in order (`corral events -o json`).
    pub fn events(&self) -> Vec<corral::api::Event> {
        let run = self.corral(&["events", "-o", "json"]);
        assert!(run.status.success(), "{run:?}");
        run.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// Waits until `app`'s status word is `status`.
    pub fn wait_status(&self, app: &str, status: &str) -> AppStatus {
        wait_for(SOON, &format!("{app} is {status}"), || {
            self.app(app).filter(|a| a.status == status)
        })
    }

    /// Polls `cond` every 50 ms until it holds; panics after `within`.
    pub fn wait_until(&self, within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        wait_for(within, what, || cond().then_some(()));
    }

    /// Polls `cond` for `period`, panicking as soon as it does not hold.
    pub fn assert_stays(&self, period: Duration, what: &str, mut cond: impl FnMut() -> bool) {
        let end = Instant::now() + period;
        while Instant::now() < end {
            assert!(cond(), "{what}: stopped holding");
            std::thread::sleep(POLL);
        }
    }

    /// The latest `get`, the test's processes and the controller's log, for failure messages.
    pub fn debug_dump(&self) -> String {
        let get = try_corral_in(&self.home, &["get", "-o", "wide"]).map_or_else(
            || "(corral get did not answer)".into(),
            |r| r.stdout + &r.stderr,
        );
        let procs: String = self
            .processes()
            .into_iter()
            .map(|p| format!("{p} pgid {:?}: {}\n", pgid(p), procs::cmdline(p)))
            .collect();
        format!(
            "--- corral get -o wide ---\n{get}\n--- processes of the test ---\n{procs}\
             --- controller stderr ---\n{}",
            self.stderr()
        )
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.debug_dump());
        }
        if let Some(mut child) = self.child.borrow_mut().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in self.successors.borrow().iter() {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
        for _ in 0..50 {
            let pids = self.processes();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.remove_cgroups();
    }
}

impl Controller {
    /// Removes the instance cgroups a killed controller of this home left on the host's real
    /// cgroup v2 tree (`OWN/corral/HOME`), so test runs leave no empty groups behind.
    fn remove_cgroups(&self) {
        let Ok(found) = corral::cgroup::detect_in(None) else {
            return;
        };
        let home = fs::canonicalize(&self.home).unwrap_or_else(|_| self.home.clone());
        let key = corral::cgroup::home_key(&home.display().to_string());
        let dir = found.own.join(corral::cgroup::INSTANCES_DIR).join(key);
        if !dir.is_dir() {
            return;
        }
        // Killed processes leave their groups once reaped: a few tries.
        for _ in 0..50 {
            for group in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let _ = fs::remove_dir(group.path());
            }
            if fs::remove_dir(&dir).is_ok() || !dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs `corral ARGS` with `CORRAL_HOME=home`; panics if it does not finish within 10 s.
pub fn corral_in(home: &Path, args: &[&str]) -> Run {
    try_corral_in(home, args)
        .unwrap_or_else(|| panic!("corral {args:?} did not run or finish within {SOON:?}"))
}

/// Runs `corral ARGS` with `CORRAL_HOME=home`; `None` if it cannot start or is killed after 10 s
/// (never panics: it also serves failure reports).
pub fn try_corral_in(home: &Path, args: &[&str]) -> Option<Run> {
    run_with(Command::new(BIN).args(args), home)
}

/// Runs `corral ARGS` with `CORRAL_HOME=home` under `setpriv SETPRIV…` (another uid, groups,
/// capabilities); panics if it does not finish within 10 s.
pub fn corral_as(home: &Path, setpriv: &[&str], args: &[&str]) -> Run {
    let mut cmd = Command::new("setpriv");
    cmd.args(setpriv).arg(BIN).args(args);
    run_with(&mut cmd, home).unwrap_or_else(|| {
        panic!("setpriv {setpriv:?} corral {args:?} did not run or finish within {SOON:?}")
    })
}

/// Runs `cmd` with `CORRAL_HOME=home`, its output captured; `None` if it cannot start or is
/// killed after 10 s.
fn run_with(cmd: &mut Command, home: &Path) -> Option<Run> {
    let child = cmd
        .env("CORRAL_HOME", home)
        .env_remove("CORRAL_MANIFESTS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(SOON) {
        Ok(out) => {
            let out = out.ok()?;
            Some(Run {
                status: out.status,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
        Err(_) => {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            None
        }
    }
}

/// Polls `f` every 50 ms until it returns `Some`; panics after `within`.
pub fn wait_for<T>(within: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?}: {what} (a fixture's Drop prints the controller's state)"
        );
        std::thread::sleep(POLL);
    }
}

/// A minimal App manifest: `spec` lines go under `spec:` (use YAML flow style for nesting).
pub fn manifest(name: &str, spec: &[&str]) -> String {
    let mut text = format!("apiVersion: corral/v1\nkind: App\nmetadata:\n  name: {name}\nspec:\n");
    for line in spec {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A YAML flow list of JSON strings (valid YAML double-quoted scalars).
pub fn flow(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).expect("json string"))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// Unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The first of `events` of `app` with `reason`.
pub fn first_event(
    events: &[corral::api::Event],
    app: &str,
    reason: &str,
) -> Option<corral::api::Event> {
    events
        .iter()
        .find(|e| e.app.as_deref() == Some(app) && e.reason == reason)
        .cloned()
}
