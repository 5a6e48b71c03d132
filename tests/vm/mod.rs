//! A throwaway QEMU VM with a real cgroup v2 kernel (issue 14, "A real kernel"): the build
//! machines mount cgroup v1, so what corral does with cgroup v2 is seen working only here.
//!
//! The host side builds an initramfs (busybox, the `corral` binary under test, this test
//! binary as the in-VM scenario runner, their shared libraries, `init.sh`), boots Debian's
//! kernel on it with QEMU (TCG unless `CORRAL_VM_ACCEL=kvm`; no disk, serial console), and
//! reads the `CORRAL-VM NAME PASS|FAIL DETAIL` lines that `guest.rs` prints.
#![allow(dead_code)] // the host half and the guest half use different parts

pub mod assets;
pub mod cpio;
pub mod guest;
pub mod scenarios;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cpio::Cpio;

/// The prefix of every line the host reads.
pub const MARK: &str = "CORRAL-VM ";
/// The VM's PID 1.
const INIT: &str = include_str!("init.sh");

/// Why the VM could not be set up; the test skips loudly, or fails where the VM is required.
pub fn unavailable(why: &str) {
    let required = ["CORRAL_VM_REQUIRED", "CI"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty() && s != "0" && s != "false"));
    assert!(
        !required,
        "the cgroup v2 VM cannot be set up here, and it is required (CORRAL_VM_REQUIRED or CI \
         is set): {why}"
    );
    // Straight to fd 2: libtest captures eprintln! of passing tests, and this must be seen.
    let banner = format!(
        "\n######## SKIPPED: cgroup v2 VM tests ########\n\
         # {why}\n\
         # Install what .ci/run installs (qemu-system-x86, apt-get reachable), or set\n\
         # CORRAL_VM_REQUIRED=1 to make this a failure (.ci/run and `make test-vm` do).\n\
         #############################################\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), banner.as_bytes());
}

/// What a boot needs: QEMU and the cached kernel and busybox.
pub struct Vm {
    qemu: PathBuf,
    accel: String,
    assets: assets::Assets,
}

/// One boot's console and whether the VM powered off by itself in time.
pub struct Boot {
    /// Everything the VM printed (kernel, init, scenarios), `\r` removed.
    pub console: String,
    /// False when the timeout killed QEMU.
    pub finished: bool,
    /// From starting QEMU to its exit.
    pub elapsed: Duration,
}

/// One scenario's result line.
#[derive(Debug)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// `PASS` or `FAIL`.
    pub passed: bool,
    /// Its figures, or why it failed.
    pub detail: String,
}

impl Vm {
    /// Finds QEMU and fetches the kernel and busybox into `cache` (once).
    pub fn setup(cache: &Path) -> Result<Vm, String> {
        let qemu = which("qemu-system-x86_64")
            .ok_or("qemu-system-x86_64 is not installed (Debian package qemu-system-x86)")?;
        let accel = std::env::var("CORRAL_VM_ACCEL").unwrap_or_else(|_| "tcg".into());
        let assets = assets::fetch(cache)?;
        Ok(Vm {
            qemu,
            accel,
            assets,
        })
    }

    /// Writes the initramfs to `dest`: busybox, `/bin/corral` and `/bin/vm-guest` (debug info
    /// stripped) with their libraries, and `/init`. Returns its size in bytes.
    pub fn initramfs(&self, dest: &Path, corral: &Path, guest: &Path) -> Result<u64, String> {
        let file = fs::File::create(dest).map_err(|e| format!("create {}: {e}", dest.display()))?;
        let mut cpio = Cpio::new(std::io::BufWriter::new(file));
        let io = |e: std::io::Error| format!("write {}: {e}", dest.display());
        for dir in ["dev", "proc", "sys", "tmp", "root", "etc"] {
            cpio.dir(dir).map_err(io)?;
        }
        cpio.char_device("/dev/console", 5, 1).map_err(io)?;
        cpio.file("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\n")
            .map_err(io)?;
        cpio.file("/etc/group", 0o644, b"root:x:0:\n").map_err(io)?;
        cpio.file("/init", 0o755, INIT.as_bytes()).map_err(io)?;
        let busybox = fs::read(&self.assets.busybox)
            .map_err(|e| format!("read {}: {e}", self.assets.busybox.display()))?;
        cpio.file("/bin/busybox", 0o755, &busybox).map_err(io)?;
        let dir = dest.parent().unwrap_or(Path::new("."));
        let mut libraries = std::collections::BTreeSet::new();
        for (inside, binary) in [("/bin/corral", corral), ("/bin/vm-guest", guest)] {
            let stripped = dir.join(inside.trim_start_matches("/bin/"));
            let status = Command::new("objcopy")
                .arg("--strip-debug")
                .arg(binary)
                .arg(&stripped)
                .status()
                .map_err(|e| format!("cannot run objcopy (binutils): {e}"))?;
            if !status.success() {
                return Err(format!("objcopy --strip-debug {} failed", binary.display()));
            }
            let bytes = fs::read(&stripped).map_err(|e| format!("read stripped: {e}"))?;
            cpio.file(inside, 0o755, &bytes).map_err(io)?;
            let _ = fs::remove_file(&stripped);
            libraries.extend(shared_libraries(binary)?);
        }
        for library in libraries {
            // Copied to the path the binary asks for, whatever symlinks lead there on the host.
            let bytes = fs::read(&library).map_err(|e| format!("read {library}: {e}"))?;
            cpio.file(&library, 0o755, &bytes).map_err(io)?;
        }
        let (_, size) = cpio.finish().map_err(io)?;
        Ok(size)
    }

    /// Boots the VM on `initramfs` with `extra` on the kernel command line (it becomes init's
    /// environment) and waits for it to power off, killing it after `timeout`.
    pub fn boot(&self, initramfs: &Path, extra: &str, timeout: Duration) -> Result<Boot, String> {
        // mitigations=off: page-table isolation makes every syscall a TLB flush, slow under TCG.
        let append = format!(
            "console=ttyS0 loglevel=3 panic=-1 mitigations=off nokaslr init_on_alloc=0 \
             init_on_free=0 {extra}"
        );
        let started = Instant::now();
        let mut child = Command::new(&self.qemu)
            .args(["-accel", &self.accel, "-smp", "1", "-m", "1024"])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-serial", "stdio", "-no-reboot"])
            .arg("-kernel")
            .arg(&self.assets.kernel)
            .arg("-initrd")
            .arg(initramfs)
            .args(["-append", &append])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.qemu.display()))?;
        let console = Arc::new(Mutex::new(String::new()));
        let readers = [
            collect(child.stdout.take().map(|s| Box::new(s) as _), &console),
            collect(child.stderr.take().map(|s| Box::new(s) as _), &console),
        ];
        let deadline = started + timeout;
        let finished = loop {
            match child.try_wait() {
                Ok(Some(_)) => break true,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break false;
                }
            }
        };
        let elapsed = started.elapsed();
        for reader in readers.into_iter().flatten() {
            let _ = reader.join();
        }
        let console = console.lock().map(|c| c.clone()).unwrap_or_default();
        Ok(Boot {
            console,
            finished,
            elapsed,
        })
    }
}

impl Boot {
    /// The scenario lines (`CORRAL-VM NAME PASS|FAIL DETAIL`), in order.
    pub fn outcomes(&self) -> Vec<Outcome> {
        self.marked()
            .filter_map(|rest| {
                let (name, rest) = rest.split_once(' ')?;
                let (verdict, detail) = rest.split_once(' ').unwrap_or((rest, ""));
                let passed = match verdict {
                    "PASS" => true,
                    "FAIL" => false,
                    _ => return None,
                };
                Some(Outcome {
                    name: name.to_string(),
                    passed,
                    detail: detail.to_string(),
                })
            })
            .collect()
    }

    /// The rest of the `CORRAL-VM KEY ...` line with that first word, if printed.
    pub fn line(&self, key: &str) -> Option<&str> {
        self.marked()
            .find_map(|rest| rest.strip_prefix(key)?.strip_prefix(' '))
    }

    fn marked(&self) -> impl Iterator<Item = &str> {
        // A kernel message may share a line with ours: the mark is searched, not anchored.
        self.console
            .lines()
            .filter_map(|l| l.find(MARK).map(|i| &l[i + MARK.len()..]))
    }
}

/// Appends a stream's lines to `console` (and echoes them, shown with `--nocapture`).
fn collect(
    stream: Option<Box<dyn std::io::Read + Send>>,
    console: &Arc<Mutex<String>>,
) -> Option<std::thread::JoinHandle<()>> {
    let stream = stream?;
    let console = Arc::clone(console);
    Some(std::thread::spawn(move || {
        for line in BufReader::new(stream).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line).replace('\r', "");
            eprintln!("vm| {line}");
            if let Ok(mut c) = console.lock() {
                c.push_str(&line);
                c.push('\n');
            }
        }
    }))
}

/// The libraries `ldd` says `binary` loads (absolute paths, the dynamic loader included).
fn shared_libraries(binary: &Path) -> Result<Vec<String>, String> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("cannot run ldd: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = l.split_once("=> ").map_or(l, |(_, p)| p);
            let path = path.split(" (").next()?.trim();
            path.starts_with('/').then(|| path.to_string())
        })
        .collect())
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}
