//! Log capture, reading and following (docs/logs.md).
//!
//! Each instance's stdout and stderr go through a pipe ([`LogPipe`]) that a new controller can
//! re-open, so that the instance outlives a controller crash; a capture task ([`spawn_capture`]) appends each line to
//! `$CORRAL_HOME/logs/APP/INDEX.out.log` / `INDEX.err.log`, and `corral logs` reads those files
//! directly ([`show`], [`follow`]).

mod capture;
mod follow;
mod group;
mod layout;
mod line;
mod loss;
mod pipe;
mod read;
mod rotate;
mod tail;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::home::Home;

pub use capture::{spawn_capture, spawn_capture_from, Capture, CaptureOptions, CapturePause};
pub use follow::follow;
pub use group::share_with;
pub use layout::{hook_file, prepare_dir, stream_file};
pub use line::MAX_LINE;
pub use loss::{LogLoss, LossReporter};
pub use pipe::{AnonymousPipe, LogPipe};
pub use read::{show, Query, HOOK_LOGS};
pub use rotate::{rotated_path, Rotation};
pub use tail::last_lines;

/// One of an instance's two output streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    /// Standard output (`INDEX.out.log`).
    Out,
    /// Standard error (`INDEX.err.log`).
    Err,
}

impl Stream {
    /// The file-name suffix of this stream: `out` or `err`.
    pub fn suffix(self) -> &'static str {
        match self {
            Stream::Out => "out",
            Stream::Err => "err",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// The log file of one stream of the instance at `index`: `$CORRAL_HOME/logs/APP/INDEX.out.log`.
pub fn log_file(home: &Home, app: &str, index: u32, stream: Stream) -> PathBuf {
    stream_file(home, app, (None, false), index, stream)
}

/// A FIFO path for one stream of one instance: `$CORRAL_HOME/run/INSTANCE.out.fifo`.
///
/// `instance` must be unique among live instances (e.g. `web-0-<revision>`), since an old and a
/// new instance share an index during a rollout.
pub fn fifo_path(home: &Home, instance: &str, stream: Stream) -> PathBuf {
    home.run_dir()
        .join(format!("{instance}.{}.fifo", stream.suffix()))
}

/// How many lines `corral logs` shows before following: the last N, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The last N lines of the interleaved output.
    Last(usize),
    /// Every line.
    All,
}

impl FromStr for Tail {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "all" | "-1" => Ok(Tail::All),
            n => n
                .parse::<usize>()
                .map(Tail::Last)
                .map_err(|_| format!("{s:?} is not a line count: use a number ≥ 0, -1 or all")),
        }
    }
}

/// Errors from reading and following log files.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// The app has no log directory (wrong name, or it never ran here).
    #[error("no logs for app \"{app}\" under {}: is the name right? (corral get lists apps)", dir.display())]
    NoLogs {
        /// The app name asked for.
        app: String,
        /// The directory that holds every app's logs.
        dir: PathBuf,
    },
    /// The logs are the controller's user's (and its `--socket-group`'s), not ours.
    #[error("permission denied reading {}: the logs are open only to the controller's user and, if it was started with --socket-group GROUP, to that group's members", dir.display())]
    NoAccess {
        /// The directory that holds every app's logs.
        dir: PathBuf,
    },
    /// A log file or directory could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The output could not be written (other than a closed pipe, which ends output quietly).
    #[error("cannot write the logs to the output")]
    Output(#[source] io::Error),
}

impl LogsError {
    /// Wraps an I/O error on `path`.
    fn read(path: &Path, source: io::Error) -> Self {
        LogsError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The splitter and line format, for `crate::fuzzing` (the fuzz harness).
pub(crate) use line::{format_line, LineSplitter};
/// Following an app's logs line by line, for the web console.
pub(crate) use {
    follow::follow_lines,
    read::{app_dir, Entry, LineSink, Source},
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let home = Home::at("/h");
        assert_eq!(
            log_file(&home, "web", 3, Stream::Err),
            PathBuf::from("/h/logs/web/3.err.log")
        );
        assert_eq!(
            fifo_path(&home, "web-0-abc", Stream::Out),
            PathBuf::from("/h/run/web-0-abc.out.fifo")
        );
    }

    #[test]
    fn tail_parses() {
        assert_eq!("15".parse::<Tail>(), Ok(Tail::Last(15)));
        assert_eq!("0".parse::<Tail>(), Ok(Tail::Last(0)));
        assert_eq!("-1".parse::<Tail>(), Ok(Tail::All));
        assert_eq!("all".parse::<Tail>(), Ok(Tail::All));
        assert!("-2".parse::<Tail>().is_err());
        assert!("x".parse::<Tail>().is_err());
    }
}
