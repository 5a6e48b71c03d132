//! The random harness: `random TARGET|all [--seconds N] [--seed N] [--crashes DIR]`, or
//! `random --dict TARGET` to print the target's dictionary in AFL++'s `-x` format, or
//! `random --seeds TARGET` its seed folders (both for fuzz/run.sh).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use corral_fuzz::random::{self, Options};
use corral_fuzz::targets::{self, Target};

const USAGE: &str = "usage: random TARGET|all [--seconds N] [--seed N] [--crashes DIR] [--max-rss-mib N]\n       random --dict TARGET | --seeds TARGET\ntargets: manifest, api, proxy, log_lines";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = Options {
        duration: Duration::from_secs(10),
        crashes: root.join("target/fuzz/crashes"),
        root,
        seed: 0x5eed,
        max_rss_mib: 1024,
    };
    let mut chosen = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--dict" => {
                let target = find(&value("--dict")?)?;
                for token in target.dict {
                    println!("\"{}\"", afl_escape(token.as_bytes()));
                }
                return Ok(());
            }
            "--seeds" => {
                let target = find(&value("--seeds")?)?;
                for dir in target.seeds {
                    println!("{dir}");
                }
                return Ok(());
            }
            "--seconds" => options.duration = Duration::from_secs(number(&value(&arg)?)?),
            "--seed" => options.seed = number(&value(&arg)?)?,
            "--max-rss-mib" => options.max_rss_mib = number(&value(&arg)?)?,
            "--crashes" => options.crashes = PathBuf::from(value(&arg)?),
            "all" => chosen.extend(targets::ALL),
            name => chosen.push(find(name)?),
        }
    }
    if chosen.is_empty() {
        return Err("no target given".into());
    }
    for target in chosen {
        let report = random::run(target, &options);
        println!(
            "{}: {} execs in {:?} ({}/s) from {} seeds, 0 crashes, 0 hangs, peak RSS {} MiB",
            target.name,
            report.execs,
            options.duration,
            report.execs / options.duration.as_secs().max(1),
            report.seeds,
            report.max_rss_mib
        );
    }
    Ok(())
}

fn find(name: &str) -> Result<Target, String> {
    targets::find(name).ok_or(format!("no fuzz target {name:?}"))
}

/// A dictionary token as AFL++ reads it: printable ASCII as is, other bytes as `\xNN`.
fn afl_escape(token: &[u8]) -> String {
    token
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' => format!("\\x{b:02x}"),
            b' '..=b'~' => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}
