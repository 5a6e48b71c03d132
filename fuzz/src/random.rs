//! The coverage-free engine: mutates seed inputs at random (bit flips, byte edits, splices,
//! dictionary tokens) and runs a target on each, for a time. It needs nothing beyond stable
//! Rust, so `make test` runs it on a fresh clone; `make fuzz` uses AFL++ for the long runs.
//!
//! A panic anywhere in the process (a target's task included), an input running longer than
//! [`HANG`](crate::targets::HANG), or the process passing its memory bound saves the input under
//! the crash folder and exits with an error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use crate::targets::{Target, HANG};

/// Inputs are kept under this size (seeds are truncated to it).
const MAX_INPUT: usize = 64 * 1024;

/// How one run goes.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to run.
    pub duration: Duration,
    /// Where to save an input that failed.
    pub crashes: PathBuf,
    /// The repository root (seed folders are relative to it).
    pub root: PathBuf,
    /// Seed of the random generator (the run is reproducible from it, timing aside).
    pub seed: u64,
    /// Resident memory the process may reach, in MiB.
    pub max_rss_mib: u64,
}

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Inputs run.
    pub execs: u64,
    /// Seed inputs found.
    pub seeds: usize,
    /// Peak resident memory of the process, in MiB.
    pub max_rss_mib: u64,
}

/// The input being run, for the panic hook and the watchdog to save.
struct Current {
    target: &'static str,
    input: Mutex<Vec<u8>>,
    /// Milliseconds since `epoch` when the current input started; 0 when idle.
    started_ms: AtomicU64,
    epoch: Instant,
    crashes: PathBuf,
}

impl Current {
    /// Writes the current input to the crash folder and says where, with why.
    fn save(&self, why: &str) {
        let input = self
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let _ = std::fs::create_dir_all(&self.crashes);
        let path = self
            .crashes
            .join(format!("{}-{:016x}", self.target, fnv(&input)));
        match std::fs::write(&path, &input) {
            Ok(()) => eprintln!("{}: {why}; input saved to {}", self.target, path.display()),
            Err(e) => eprintln!(
                "{}: {why}; cannot save the input to {}: {e}",
                self.target,
                path.display()
            ),
        }
    }
}

/// Runs `target` for `options.duration`; exits the process on a finding.
pub fn run(target: Target, options: &Options) -> Report {
    let seeds = load_seeds(target, &options.root);
    let current = Arc::new(Current {
        target: target.name,
        input: Mutex::new(Vec::new()),
        started_ms: AtomicU64::new(0),
        epoch: Instant::now(),
        crashes: options.crashes.clone(),
    });
    *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&current));
    static WATCH: Once = Once::new();
    let max_rss_mib = options.max_rss_mib;
    WATCH.call_once(|| {
        install_panic_hook();
        spawn_watchdog(max_rss_mib);
    });

    let mut rng = Rng(options.seed | 1);
    let deadline = Instant::now() + options.duration;
    let mut execs = 0;
    let mut input = Vec::new();
    // Seeds first as they are, then mutants of them.
    while Instant::now() < deadline {
        match seeds.get(execs as usize) {
            Some(seed) => input.clone_from(seed),
            None => {
                input.clone_from(&seeds[rng.below(seeds.len())]);
                for _ in 0..1 + rng.below(8) {
                    mutate(&mut input, &mut rng, &seeds, target.dict);
                }
            }
        }
        current
            .input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone_from(&input);
        current
            .started_ms
            .store(1 + current.epoch.elapsed().as_millis() as u64, SeqCst);
        (target.run)(&input);
        current.started_ms.store(0, SeqCst);
        execs += 1;
    }
    Report {
        execs,
        seeds: seeds.len(),
        max_rss_mib: peak_rss_mib(),
    }
}

/// Every file directly in the target's seed folders (at least one empty input).
fn load_seeds(target: Target, root: &Path) -> Vec<Vec<u8>> {
    let mut seeds = vec![Vec::new()];
    for dir in target.seeds {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            if let Ok(mut bytes) = std::fs::read(&path) {
                bytes.truncate(MAX_INPUT);
                seeds.push(bytes);
            }
        }
    }
    seeds
}

/// One random edit of `input`.
fn mutate(input: &mut Vec<u8>, rng: &mut Rng, seeds: &[Vec<u8>], dict: &[&str]) {
    const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'\n', b'\r', b' ', b':', b'-'];
    let at = |rng: &mut Rng, len: usize| rng.below(len + 1);
    match rng.below(8) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
        }
        2 if !input.is_empty() => {
            let from = rng.below(input.len());
            let to = (from + 1 + rng.below(16)).min(input.len());
            input.drain(from..to);
        }
        3 if !input.is_empty() => {
            let from = rng.below(input.len());
            let to = (from + 1 + rng.below(64)).min(input.len());
            let copy = input[from..to].to_vec();
            let i = at(rng, input.len());
            input.splice(i..i, copy);
        }
        4 => {
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len() + 1);
            let to = (from + rng.below(256)).min(other.len());
            let i = at(rng, input.len());
            input.splice(i..i, other[from..to].iter().copied());
        }
        5 if !input.is_empty() => {
            let keep = rng.below(input.len());
            input.truncate(keep);
        }
        6 => {
            let i = at(rng, input.len());
            input.insert(i, rng.below(256) as u8);
        }
        _ if !dict.is_empty() => {
            let token = dict[rng.below(dict.len())].as_bytes();
            let i = at(rng, input.len());
            input.splice(i..i, token.iter().copied());
        }
        _ => input.push(rng.below(256) as u8),
    }
    input.truncate(MAX_INPUT);
}

/// The run in progress, for the panic hook and the watchdog (installed once per process).
static CURRENT: Mutex<Option<Arc<Current>>> = Mutex::new(None);

/// The run in progress, if any.
fn current() -> Option<Arc<Current>> {
    CURRENT
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// On any panic (even one a tokio task would catch): save the input, report, exit.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        if let Some(current) = current() {
            current.save("panic");
        }
        std::process::exit(101);
    }));
}

/// Every 100 ms: an input running past [`HANG`], or memory past the bound, is a finding.
fn spawn_watchdog(max_rss_mib: u64) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let Some(current) = current() else {
            continue;
        };
        let started = current.started_ms.load(SeqCst);
        let now = current.epoch.elapsed().as_millis() as u64;
        if started != 0 && now.saturating_sub(started - 1) > HANG.as_millis() as u64 {
            current.save(&format!("hang (no result within {HANG:?})"));
            std::process::exit(102);
        }
        let rss = rss_mib("VmRSS:");
        if rss > max_rss_mib {
            current.save(&format!(
                "memory: {rss} MiB resident, over the {max_rss_mib} MiB bound"
            ));
            std::process::exit(103);
        }
    });
}

/// Peak resident memory of this process so far, in MiB.
pub fn peak_rss_mib() -> u64 {
    rss_mib("VmHWM:")
}

/// A `/proc/self/status` memory field, in MiB (0 if unreadable).
fn rss_mib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

/// FNV-1a, naming saved inputs by their content.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// xorshift64: small, fast, seeded; randomness quality does not matter here.
struct Rng(u64);

impl Rng {
    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
