//! cgroup v2 limits in a real kernel (issue 14 "A real kernel"): one
//! boot of a throwaway QEMU VM runs every scenario of `tests/vm/scenarios.rs` against the real
//! `corral` binary; the host fails with the VM's console when a scenario fails or the VM does
//! not finish. `make test-vm` runs it alone with the console shown; see tests/vm/mod.rs.

mod vm;

use std::path::Path;
use std::time::Duration;

use vm::scenarios::SCENARIOS;

/// How long one boot may take (TCG on a busy 2-core machine), unless `CORRAL_VM_TIMEOUT` says.
const TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn cgroup_v2_limits_hold_in_a_real_kernel() {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm-cache");
    let vm = match vm::Vm::setup(&cache) {
        Ok(vm) => vm,
        Err(why) => return vm::unavailable(&why),
    };
    let work = tempfile::tempdir().expect("tempdir");
    let image = work.path().join("initramfs.cpio");
    let guest = std::env::current_exe().expect("this test binary");
    let building = std::time::Instant::now();
    let size = vm
        .initramfs(&image, Path::new(env!("CARGO_BIN_EXE_corral")), &guest)
        .unwrap_or_else(|e| panic!("cannot build the initramfs: {e}"));
    let built = building.elapsed();
    let filter = std::env::var(vm::guest::FILTER_ENV).unwrap_or_default();
    let extra = if filter.is_empty() {
        String::new()
    } else {
        format!("{}={filter}", vm::guest::FILTER_ENV)
    };
    let timeout = std::env::var("CORRAL_VM_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(TIMEOUT, Duration::from_secs);
    let boot = vm
        .boot(&image, &extra, timeout)
        .unwrap_or_else(|e| panic!("cannot boot the VM: {e}"));
    let outcomes = boot.outcomes();
    let summary: Vec<String> = outcomes
        .iter()
        .map(|o| {
            format!(
                "{} {}: {}",
                o.name,
                if o.passed { "PASS" } else { "FAIL" },
                o.detail
            )
        })
        .collect();
    eprintln!(
        "vm: initramfs {:.1} MiB built in {:.1}s, {:.1}s from QEMU start to power-off ({}); {}\n  {}",
        size as f64 / 1048576.0,
        built.as_secs_f64(),
        boot.elapsed.as_secs_f64(),
        boot.line("booted").unwrap_or("never booted"),
        boot.line("end").unwrap_or("no end line"),
        summary.join("\n  ")
    );
    let fail = |why: String| -> ! {
        panic!(
            "{why}\n---- VM console ----\n{}---- end of console ----\n  {}",
            boot.console,
            summary.join("\n  ")
        )
    };
    if !boot.finished {
        fail(format!(
            "the VM did not power off within {}s",
            timeout.as_secs()
        ));
    }
    let wanted: Vec<&str> = SCENARIOS
        .iter()
        .map(|s| s.name)
        .filter(|n| filter.is_empty() || filter.split(',').any(|f| f == *n))
        .collect();
    assert!(
        !wanted.is_empty(),
        "{} names no scenario: {filter}",
        vm::guest::FILTER_ENV
    );
    for name in ["controller"].into_iter().chain(wanted.iter().copied()) {
        match outcomes.iter().find(|o| o.name == name) {
            Some(o) if o.passed => {}
            Some(o) => fail(format!("scenario {name} failed: {}", o.detail)),
            None => fail(format!("scenario {name} printed no result")),
        }
    }
    if boot.line("end").is_none_or(|l| !l.starts_with("status=0")) {
        fail("the guest did not end cleanly".into());
    }
}

/// The in-VM half: init.sh runs this test binary with `--ignored --exact guest_scenarios`.
#[test]
#[ignore = "runs inside the VM that cgroup_v2_limits_hold_in_a_real_kernel boots"]
fn guest_scenarios() {
    vm::guest::run();
}
