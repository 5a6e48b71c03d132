//! The scenarios run inside the VM (issue 14, "A real kernel"), each through the `corral` CLI,
//! checked against the kernel's own cgroup files and `/proc`. Apps are busybox sh one-liners
//! carrying `VM_MARK=<scenario>` in their environment, so their processes can be found.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::guest::{
    alive, app, apply, cgroup_of, controller_pid, corral, delete, keyed, marked, read, running_pid,
    status, wait, Outcome, CGROUP_FS,
};

/// A named check.
pub struct Scenario {
    /// Its name on the result line.
    pub name: &'static str,
    /// Runs it: `Ok(figures)` or `Err(why)`.
    pub run: fn() -> Outcome,
}

/// Every scenario, in the order they run (the fork bomb last: it loads the VM most).
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "memory-current",
        run: memory_current,
    },
    Scenario {
        name: "cpu-max",
        run: cpu_max,
    },
    Scenario {
        name: "oom-group",
        run: oom_group,
    },
    Scenario {
        name: "delete-kills-all",
        run: delete_kills_all,
    },
    Scenario {
        name: "restart-adopts",
        run: restart_adopts,
    },
    Scenario {
        name: "pids-max",
        run: pids_max,
    },
];

const MIB: f64 = 1024.0 * 1024.0;

/// The `env` line that marks an app's processes.
fn mark(name: &str) -> String {
    format!("env: {{VM_MARK: {name}}}")
}

/// A busybox sh command line as a YAML flow list (`["/bin/sh", "-c", SCRIPT]`).
fn sh(script: &str) -> String {
    format!(
        "command: [\"/bin/sh\", \"-c\", {}]",
        serde_json::json!(script)
    )
}

/// The memory `corral get -o json` shows for an instance is its cgroup's `memory.current`.
fn memory_current() -> Outcome {
    let name = "memory-current";
    // tail keeps its input's last line: 8 MB without a newline, held while the pipe stays open.
    let hog = "{ head -c 8000000 /dev/zero; exec sleep 100000; } | tail";
    apply(
        name,
        &[&sh(hog), &mark(name), "memory: {limit: 200Mi, max: 256Mi}"],
    )?;
    let pid = running_pid(name)?;
    let cgroup = cgroup_of(pid)?;
    // Settled in the kernel: the 8 MB are in, two reads agree.
    let mut last = 0u64;
    wait(
        30,
        "the instance's memory.current to settle above 8 MB",
        || {
            let now: u64 = read(cgroup.join("memory.current")).ok()?.parse().ok()?;
            let settled = now > 8_000_000 && now.abs_diff(last) < now / 100;
            last = now;
            settled.then_some(())
        },
    )?;
    // Then the CLI's figure next to the kernel's: the same counter read a moment apart, within
    // 2 % (or 512 KiB), once a sample was taken.
    let mut seen = (None, 0);
    let close = wait(
        30,
        "corral get to show the instance's memory.current",
        || {
            let shown = app(name).ok()?.instances.first()?.memory_bytes;
            let current: u64 = read(cgroup.join("memory.current")).ok()?.parse().ok()?;
            seen = (shown, current);
            let margin = (current / 50).max(512 * 1024);
            shown
                .filter(|s| s.abs_diff(current) <= margin)
                .map(|s| (s, current))
        },
    );
    let (shown, current) = match close {
        Ok(pair) => pair,
        Err(e) => {
            delete(name)?;
            return Err(format!(
                "{e}: last get {:?}, memory.current {}",
                seen.0, seen.1
            ));
        }
    };
    delete(name)?;
    Ok(format!(
        "get {:.1} MiB, memory.current {:.1} MiB",
        shown as f64 / MIB,
        current as f64 / MIB
    ))
}

/// `spec.cpu.max: 200m` holds a spinning app near 20 % of a CPU.
fn cpu_max() -> Outcome {
    let name = "cpu-max";
    apply(
        name,
        &[&sh("while :; do :; done"), &mark(name), "cpu: {max: 200m}"],
    )?;
    let pid = running_pid(name)?;
    let cgroup = cgroup_of(pid)?;
    let max = read(cgroup.join("cpu.max"))?;
    if max != "20000 100000" {
        delete(name)?;
        return Err(format!(
            "cpu.max of {} is {max:?}, not \"20000 100000\"",
            cgroup.display()
        ));
    }
    let stat = cgroup.join("cpu.stat");
    // Running into its ceiling already: the window below measures the steady state.
    wait(10, "the spinner throttled", || {
        (keyed(&stat, "nr_throttled").ok()? > 0).then_some(())
    })?;
    let (usage0, throttled0, t0) = (
        keyed(&stat, "usage_usec")?,
        keyed(&stat, "nr_throttled")?,
        Instant::now(),
    );
    // The window: until it used 400 ms of CPU (2 s at its ceiling; 0.4 s without one).
    let (usage1, t1) = wait(15, "400 ms of CPU used", || {
        let usage = keyed(&stat, "usage_usec").ok()?;
        (usage >= usage0 + 400_000).then(|| (usage, Instant::now()))
    })?;
    let throttled1 = keyed(&stat, "nr_throttled")?;
    let share = (usage1 - usage0) as f64 / (t1 - t0).as_micros() as f64;
    // Apps without memory.limit are sampled every fifth interval: the figure may take 5 s, and
    // the first sample of an instance has no earlier one to compare with (it shows 0.0 %).
    let sampled = wait(15, "a CPU figure", || {
        status(name)
            .ok()?
            .instances
            .first()?
            .cpu_percent
            .filter(|c| *c > 0.0)
    });
    let shown = sampled
        .and_then(|_| app(name))
        .ok()
        .and_then(|a| a.instances.first()?.cpu_percent);
    delete(name)?;
    let figures = format!(
        "{:.1} % of a CPU over {:.1}s (cpu.stat), throttled {} times, get shows {}",
        share * 100.0,
        (t1 - t0).as_secs_f64(),
        throttled1 - throttled0,
        shown.map_or("nothing".into(), |c| format!("{c:.1} %"))
    );
    if !(0.15..=0.25).contains(&share) || throttled1 == throttled0 {
        return Err(format!("{figures}: expected 20 % ± 5 and throttling"));
    }
    match shown {
        Some(c) if (10.0..=30.0).contains(&c) => Ok(figures),
        _ => Err(format!("{figures}: get's CPU figure should be near 20 %")),
    }
}

/// An OOM kill (memory.max) ends a two-process instance whole, and `describe` says OOMKilled.
fn oom_group() -> Outcome {
    let name = "oom-group";
    // The parent idles; its child (started a moment later) asks for 64 MiB in one read, so
    // the kernel kills before the controller's once-a-second RSS check can see the instance
    // over `limit` (which may not exceed `max`) and replace it first.
    let script =
        "(sleep 2; exec dd if=/dev/zero of=/dev/null bs=64M count=1) & while :; do sleep 1; done";
    apply(
        name,
        &[
            &sh(script),
            &mark(name),
            "memory: {limit: 48Mi, max: 48Mi}",
            "restartPolicy: Never",
        ],
    )?;
    let pid = running_pid(name)?;
    let cgroup = cgroup_of(pid)?;
    let oom_group = read(cgroup.join("memory.oom.group"))?;
    // The kill, the exit and the cgroup's removal can all happen between two polls: the last
    // counters seen are kept, and the events say the rest.
    let events = cgroup.join("memory.events");
    let mut seen = (0, 0);
    let ended = wait(30, "the kernel to OOM-kill in the instance", || {
        if let (Ok(kills), Ok(group)) =
            (keyed(&events, "oom_kill"), keyed(&events, "oom_group_kill"))
        {
            seen = (kills, group);
        }
        (seen.0 > 0 || !alive(pid)).then_some(())
    });
    if let Err(why) = ended {
        delete(name)?;
        return Err(why);
    }
    let whole = wait(10, "the instance's main process to end", || {
        (!alive(pid)).then_some(())
    });
    let left = marked(name);
    let described = corral(&["describe", name])?;
    let events_text = corral(&["events", name])?;
    delete(name)?;
    let figures = format!(
        "memory.oom.group {oom_group}, oom_kill {} and oom_group_kill {} when last read",
        seen.0, seen.1
    );
    if whole.is_err() || !left.is_empty() {
        return Err(format!(
            "{figures}: the kernel killed in the instance but its main process (pid {pid}) \
             lives on and {left:?} remain: memory.oom.group is not 1"
        ));
    }
    if !described.contains("OOMKilled") || !events_text.contains("OOMKilled") {
        return Err(format!(
            "{figures}: the instance ended but describe/events do not say OOMKilled:\n{described}\n{events_text}"
        ));
    }
    // LAST SEEN, TYPE, REASON, OBJECT, then the message.
    let event: String = events_text
        .lines()
        .find(|l| l.contains("OOMKilled"))
        .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    Ok(format!("{figures}; no process left; event: {event}"))
}

/// `corral delete` ends an instance whole, a daemonized child that ignores SIGTERM included
/// (`cgroup.kill`), and its cgroup goes.
fn delete_kills_all() -> Outcome {
    let name = "delete-kills-all";
    let escapee = "trap '' TERM HUP INT; while :; do sleep 1; done";
    let script = format!("setsid sh -c \"{escapee}\" & while :; do sleep 1; done");
    // No limit at all: every instance has its own cgroup where the controller has a subtree.
    apply(name, &[&sh(&script), &mark(name)])?;
    let pid = running_pid(name)?;
    let cgroup = cgroup_of(pid)?;
    let own = cgroup
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}-0-")));
    if !own {
        delete(name)?;
        return Err(format!(
            "the instance runs in {}, not a cgroup of its own",
            cgroup.display()
        ));
    }
    let procs = wait(10, "the daemonized child to start", || {
        let procs = read(cgroup.join("cgroup.procs")).ok()?;
        let sessions = marked(name)
            .into_iter()
            .filter_map(|p| read(format!("/proc/{p}/stat")).ok())
            .filter_map(|s| {
                s.rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .nth(3)
                    .map(str::to_string)
            })
            .collect::<std::collections::BTreeSet<_>>();
        (sessions.len() > 1).then_some(procs)
    })?;
    let count = procs.lines().count();
    let started = Instant::now();
    delete(name).map_err(|e| format!("{e}: left {:?}", marked(name)))?;
    wait(10, "the instance's cgroup to be removed", || {
        (!cgroup.exists()).then_some(())
    })?;
    Ok(format!(
        "{count} processes in 2 sessions in {}; all gone and the cgroup removed {:.1}s after delete",
        cgroup.display(),
        started.elapsed().as_secs_f64()
    ))
}

/// A controller killed and started again adopts a running instance with its cgroup and limits,
/// and a delete then still ends it whole.
fn restart_adopts() -> Outcome {
    let name = "restart-adopts";
    apply(
        name,
        &[
            &sh("while :; do sleep 1; done"),
            &mark(name),
            "cpu: {max: 300m}",
        ],
    )?;
    let pid = running_pid(name)?;
    let cgroup = cgroup_of(pid)?;
    let old = controller_pid()?;
    let _ = Command::new("kill").args(["-9", &old.to_string()]).status();
    wait(10, "the controller to die", || (!alive(old)).then_some(()))?;
    // The service's own cgroup now has controllers enabled for its children and children with
    // processes: the kernel refuses a process there (what systemd < 254 does on a restart of a
    // Delegate=yes unit); DelegateSubgroup=controller starts it in the leaf, as here.
    let service = Path::new(CGROUP_FS).join("corral.service");
    let refused = fs::write(service.join("cgroup.procs"), "0")
        .map_or_else(|e| e.to_string(), |()| "accepted".into());
    let leaf = service.join("controller").join("cgroup.procs");
    let script = format!(
        "echo 0 > {} && exec corral controller --manifests /root/manifests >> /tmp/controller.log 2>&1",
        leaf.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .spawn()
        .map_err(|e| format!("cannot start the controller again: {e}"))?;
    wait(30, "the new controller to answer", || {
        controller_pid().ok().filter(|p| *p != old)
    })?;
    let adopted = running_pid(name)?;
    let max = read(cgroup.join("cpu.max"))?;
    let kept = adopted == pid && cgroup_of(pid)? == cgroup && max == "30000 100000";
    delete(name)?;
    wait(10, "the adopted instance's cgroup to be removed", || {
        (!cgroup.exists()).then_some(())
    })?;
    let figures = format!(
        "instance pid {pid} -> {adopted}, cpu.max {max:?} in {}; a process into corral.service \
         itself: {refused}",
        cgroup.display()
    );
    if kept {
        Ok(figures)
    } else {
        Err(format!(
            "{figures}: the instance, its cgroup or its limit was not kept"
        ))
    }
}

/// `spec.pids.max` stops a fork bomb, and `corral get` still answers while it pushes.
fn pids_max() -> Outcome {
    let name = "pids-max";
    // A shell exits at its first failed fork; an interactive one reading `yes` keeps trying,
    // spinning: at nice 19, so that it pushes on pids.max without starving the one vCPU.
    let bomb = "yes 'sleep 1000 &' | sh -c 'renice -n 19 -p $$ >/dev/null; exec sh -i 2>/dev/null'";
    apply(name, &[&sh(bomb), &mark(name), "pids: {max: 16}"])?;
    let pid = running_pid(name)?;
    let cgroup = cgroup_of(pid)?;
    let events = cgroup.join("pids.events");
    let hit = wait(30, "the fork bomb to reach pids.max", || {
        keyed(&events, "max").ok().filter(|n| *n > 0)
    });
    // While it pushes: the limit holds, and the CLI answers.
    let mut slowest = Duration::ZERO;
    let mut most = 0;
    for _ in 0..2 {
        let t = Instant::now();
        let answered = corral(&["get", name]);
        slowest = slowest.max(t.elapsed());
        let current = read(cgroup.join("pids.current"))?;
        most = most.max(current.parse().unwrap_or(u64::MAX));
        answered?;
    }
    let refused = keyed(&events, "max")?;
    let pushing = alive(pid);
    delete(name)?;
    let figures = format!(
        "pids.current at most {most} (pids.max 16), {refused} forks refused, slowest get {} ms",
        slowest.as_millis()
    );
    hit.map_err(|e| format!("{figures}: {e}"))?;
    if !pushing {
        return Err(format!(
            "{figures}: the bomb (pid {pid}) died instead of pushing"
        ));
    }
    // The CLI takes 1-2 s under TCG on an idle host.
    if most > 16 || slowest > Duration::from_secs(10) {
        return Err(format!(
            "{figures}: expected at most 16 and answers within 10 s"
        ));
    }
    Ok(figures)
}
