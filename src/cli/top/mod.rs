//! `corral top`: a live terminal view of every app and instance (PM2's `monit`, htop's shape).

mod feed;
mod input;
mod model;
mod session;
mod view;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use super::client::{block_on, client};
use super::get::cli_error;
use super::ManifestsDir;

/// The shortest refresh interval: faster would cost the controller more than it shows.
const MIN_INTERVAL: Duration = Duration::from_millis(250);

/// Arguments of `corral top`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Keys: ↑↓/j k select, r reload, R restart, +/- scale by one, s N ⏎ scale to N, \
e events, l logs, ? help, q quit. Scaling edits the app's manifest, like `corral scale`."
)]
pub struct Args {
    /// How often the figures refresh from the controller (at least 250ms).
    #[arg(long, default_value = "1s", value_name = "DUR", value_parser = parse_interval)]
    pub interval: Duration,
    /// Where the apps are defined (for the scale keys).
    #[command(flatten)]
    pub dir: ManifestsDir,
}

/// `--interval`: a duration of at least [`MIN_INTERVAL`].
fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e}"))?;
    if interval < MIN_INTERVAL {
        return Err(format!(
            "{text:?} is shorter than 250ms: corral top refreshes at most 4 times a second"
        ));
    }
    Ok(interval)
}

/// Runs `corral top`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() {
        eprintln!("error: corral top needs a terminal; use corral get -w");
        return Ok(ExitCode::from(2));
    }
    let client = client();
    let first = block_on(client.list())?.map_err(cli_error)?;
    session::run(client, first, args.interval, args.dir)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_has_a_floor() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("250ms"), Ok(MIN_INTERVAL));
        assert!(parse_interval("100ms").is_err_and(|e| e.contains("shorter than 250ms")));
        assert!(parse_interval("soon").is_err());
    }
}
