//! Inside the VM (PID 1 is tests/vm/init.sh; the controller runs as root at the root of a
//! cgroup v2 hierarchy): runs the scenarios and prints one `CORRAL-VM NAME PASS|FAIL DETAIL`
//! line each on the console, through the real `corral` CLI and the kernel's own files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use corral::api::{AppStatus, Client};
use corral::home::Home;

use super::scenarios::SCENARIOS;

/// Set by init.sh: this process runs inside the test VM.
pub const GUEST_ENV: &str = "CORRAL_VM_GUEST";
/// Comma-separated scenario names to run (all when unset), from the kernel command line.
pub const FILTER_ENV: &str = "CORRAL_VM_SCENARIOS";
/// Where the cgroup2 file system is mounted in the VM.
pub const CGROUP_FS: &str = "/sys/fs/cgroup";
/// What a scenario returns: a detail line with its figures, or why it failed.
pub type Outcome = Result<String, String>;

/// Runs every scenario (or those in [`FILTER_ENV`]); panics if one failed.
pub fn run() {
    assert!(
        std::env::var_os(GUEST_ENV).is_some(),
        "guest_scenarios runs inside the VM that cgroup_v2_limits_hold_in_a_real_kernel boots \
         (tests/vm_cgroup.rs), never on the host"
    );
    let filter = std::env::var(FILTER_ENV).unwrap_or_default();
    let wanted = |name: &str| filter.is_empty() || filter.split(',').any(|f| f == name);
    let started = Instant::now();
    let up = wait(60, "the controller to answer", || controller_pid().ok()).and_then(|_| {
        corral(&["get"])?;
        Ok(secs(started))
    });
    let after = match up {
        Ok(up) => up,
        Err(why) => {
            report("controller", Err(why));
            panic!("the controller did not come up");
        }
    };
    let mut failed = Vec::new();
    for scenario in SCENARIOS.iter().filter(|s| wanted(s.name)) {
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(scenario.run)
            .unwrap_or_else(|_| Err("the scenario panicked (see above)".into()));
        let took = secs(started);
        let outcome = outcome
            .map(|detail| format!("{detail} [{took:.1}s]"))
            .map_err(|why| format!("{why} [{took:.1}s]"));
        if outcome.is_err() {
            failed.push(scenario.name);
        }
        report(scenario.name, outcome);
    }
    // Instance cgroups are made ready when the first instance starts: checked after them.
    let leaf = controller_pid().and_then(|pid| controller_cgroup(pid, after));
    if leaf.is_err() {
        failed.push("controller");
    }
    report("controller", leaf);
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}

/// Where the controller (started by init.sh in `/corral.service`, with processes in it) runs
/// once it has made room for instance cgroups: a leaf of its own, as cgroup v2 requires
/// (the "no internal processes" rule: a fake cgroup directory cannot check this).
fn controller_cgroup(pid: u32, after: f64) -> Outcome {
    let cgroup = cgroup_of(pid)?;
    let service = Path::new(CGROUP_FS).join("corral.service");
    let detail = format!("answers after {after:.1}s, runs in {}", cgroup.display());
    if cgroup == service.join("controller") {
        Ok(detail)
    } else {
        Err(format!(
            "{detail}, not in the leaf {}/controller",
            service.display()
        ))
    }
}

/// Prints a result line on the console (stdout is the console: init.sh does not redirect it).
fn report(name: &str, outcome: Outcome) {
    let (verdict, detail) = match outcome {
        Ok(detail) => ("PASS", detail),
        Err(why) => ("FAIL", why),
    };
    let line = format!(
        "CORRAL-VM {name} {verdict} {}\n",
        detail.replace('\n', " | ")
    );
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

/// Runs `corral ARGS`: its stdout, or an error with its stderr.
pub fn corral(args: &[&str]) -> Result<String, String> {
    let out = Command::new("corral")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run corral {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "corral {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Writes the manifest of app `name` (spec lines under `spec:`) and applies it.
pub fn apply(name: &str, spec: &[&str]) -> Result<(), String> {
    let mut text = format!("apiVersion: corral/v1\nkind: App\nmetadata:\n  name: {name}\nspec:\n");
    for line in spec {
        text.push_str(&format!("  {line}\n"));
    }
    let dir = Path::new("/tmp/apps");
    fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let file = dir.join(format!("{name}.yaml"));
    fs::write(&file, text).map_err(|e| format!("write {}: {e}", file.display()))?;
    corral(&["apply", "-f", &file.display().to_string()]).map(drop)
}

/// `corral get NAME -o json`.
pub fn app(name: &str) -> Result<AppStatus, String> {
    let json = corral(&["get", name, "-o", "json"])?;
    serde_json::from_str(&json).map_err(|e| format!("corral get {name} -o json: {e}: {json}"))
}

/// The same as [`app`] straight from the control API: what polls use, because every run of
/// the (debug, 137 000-relocation) CLI binary costs 1-2 s under TCG.
pub fn status(name: &str) -> Result<AppStatus, String> {
    let client = Client::new(&Home::from_env());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime
        .block_on(client.get(name))
        .map_err(|e| format!("GET app {name}: {e}"))
}

/// The pid of the running controller (from the control API).
pub fn controller_pid() -> Result<u32, String> {
    let client = Client::new(&Home::from_env());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    runtime
        .block_on(client.info())
        .map(|info| info.pid)
        .map_err(|e| format!("GET info: {e}"))
}

/// The pid of instance 0 of `name` once it runs.
pub fn running_pid(name: &str) -> Result<u32, String> {
    let mut last = String::from("no status");
    wait(30, &format!("{name} to run"), || {
        let app = status(name).ok()?;
        let inst = app.instances.iter().find(|i| i.index == 0)?;
        last = format!(
            "phase {}, last exit {}",
            inst.phase,
            inst.last_exit.as_deref().unwrap_or("none")
        );
        matches!(inst.phase.as_str(), "Running" | "Ready")
            .then_some(inst.pid)
            .flatten()
    })
    .map_err(|e| format!("{e} (instance 0: {last})"))
}

/// `corral delete NAME`, then waits until no process marked `VM_MARK=name` is left.
pub fn delete(name: &str) -> Result<(), String> {
    corral(&["delete", name])?;
    wait(15, &format!("every process of {name} to end"), || {
        marked(name).is_empty().then_some(())
    })
}

/// Polls `f` every 100 ms until it gives a value or `secs` pass.
pub fn wait<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = f() {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {secs}s waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The cgroup v2 directory of a live process (from `/proc/PID/cgroup`).
pub fn cgroup_of(pid: u32) -> Result<PathBuf, String> {
    let text = read(format!("/proc/{pid}/cgroup"))?;
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(|| format!("pid {pid} is in no cgroup v2 group: {text}"))?;
    Ok(Path::new(CGROUP_FS).join(path.trim().trim_start_matches('/')))
}

/// A file's contents, trimmed; the error names the file.
pub fn read(path: impl AsRef<Path>) -> Result<String, String> {
    let path = path.as_ref();
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("read {}: {e}", path.display()))
}

/// The number after `key` in a flat-keyed cgroup file (`cpu.stat`, `memory.events`, …).
pub fn keyed(file: impl AsRef<Path>, key: &str) -> Result<u64, String> {
    let file = file.as_ref();
    let text = read(file)?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .ok_or_else(|| format!("no {key} in {}: {text}", file.display()))
}

/// Live processes whose environment holds `VM_MARK=mark` (apps get it from their manifest's
/// `env`, and their children inherit it); zombies have no environment and do not count.
pub fn marked(mark: &str) -> Vec<u32> {
    let needle = format!("VM_MARK={mark}");
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .collect()
}

/// Whether `pid` is a live process (not gone, not a zombie).
pub fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        !matches!(state, None | Some("Z" | "X"))
    })
}
