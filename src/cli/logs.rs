//! `corral logs`: print and follow an app's captured output, straight from its log files.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use super::signals;
use crate::home::Home;
use crate::logs::{self, Query, Stream, Tail};

/// How often `-f` looks for new lines.
const POLL: Duration = Duration::from_millis(150);

/// Arguments of `corral logs`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each line is prefixed with its instance: `web-0 | …` is stdout, \
`web-0 ! …` is stderr. Lines of all instances are interleaved by their capture time.\n\
Merged logs (logs.merge) show as `web | …`. Reads $CORRAL_HOME/logs/NAME/ (a link to logs.dir \
when set) directly, rotated files included: works without a running controller."
)]
pub struct Args {
    /// The app whose logs to show.
    #[arg(add = super::completion::app_names())]
    pub name: String,
    /// Keep printing new lines as they are written (Ctrl-C to stop).
    #[arg(short, long)]
    pub follow: bool,
    /// Lines to show first, across all instances: a number, or -1/all for everything.
    #[arg(
        long,
        default_value = "15",
        allow_hyphen_values = true,
        value_name = "N"
    )]
    pub tail: Tail,
    /// Only this instance (0-based index).
    #[arg(long, value_name = "I")]
    pub instance: Option<u32>,
    /// Only lines newer than this duration, e.g. 30s, 10m, 2h.
    #[arg(long, value_name = "DUR", value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// Only stderr (lines marked `!`).
    #[arg(long, conflicts_with = "out")]
    pub err: bool,
    /// Only stdout (lines marked `|`).
    #[arg(long)]
    pub out: bool,
    /// Show each line's capture time (RFC 3339 UTC).
    #[arg(long)]
    pub timestamps: bool,
}

/// Runs `corral logs`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let since = match args.since {
        Some(dur) => Some(
            SystemTime::now()
                .checked_sub(dur)
                .context("--since reaches before 1970")?,
        ),
        None => None,
    };
    let query = Query {
        tail: args.tail,
        instance: args.instance,
        stream: match (args.out, args.err) {
            (true, _) => Some(Stream::Out),
            (_, true) => Some(Stream::Err),
            _ => None,
        },
        since,
        timestamps: args.timestamps,
    };
    let home = Home::from_env();
    // kubectl's `job/NAME` and `app/NAME`: one namespace, one log folder per name.
    let name = super::jobs_view::split_kind(&args.name).1;
    let mut out = io::stdout().lock();
    if args.follow {
        // SIGINT/SIGTERM: `-f` ends cleanly at its next poll.
        signals::catch_stop()?;
        logs::follow(&home, name, &query, &mut out, &signals::STOPPED, POLL)?;
    } else {
        logs::show(&home, name, &query, &mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
