//! Lines lost to write errors (full disk, read-only log directory): counted while writing
//! fails, reported as one event once writing works again.

use std::fmt;
use std::io;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::Stream;

/// A run of lines of one stream of one instance that could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLoss {
    /// The app.
    pub app: String,
    /// The instance index.
    pub index: u32,
    /// Which stream lost lines.
    pub stream: Stream,
    /// How many lines were lost.
    pub lines: u64,
    /// When the first was lost.
    pub from: SystemTime,
    /// When the last was lost.
    pub to: SystemTime,
    /// The first write error.
    pub error: String,
}

impl fmt::Display for LogLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stream = match self.stream {
            Stream::Out => "stdout",
            Stream::Err => "stderr",
        };
        write!(
            f,
            "{} lines of {stream} of instance {} were lost between {} and {}: {}",
            self.lines,
            self.index,
            humantime::format_rfc3339_millis(self.from),
            humantime::format_rfc3339_millis(self.to),
            self.error
        )
    }
}

/// Reports of one capture are at least this far apart: a disk that is nearly full (writes
/// failing and working in turn) makes one event a second, not one per batch.
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Where a capture task reports its losses, and which stream of which instance it captures.
#[derive(Debug, Clone)]
pub struct LossReporter {
    /// The controller's (bounded) channel of losses.
    pub tx: mpsc::Sender<LogLoss>,
    /// The app.
    pub app: String,
    /// The instance index.
    pub index: u32,
    /// The captured stream.
    pub stream: Stream,
}

/// Lines lost since writing last worked.
#[derive(Debug)]
struct Pending {
    lines: u64,
    from: SystemTime,
    to: SystemTime,
    error: String,
}

/// Counts a capture task's lost lines and reports each run of losses once.
#[derive(Debug)]
pub(crate) struct LossTracker {
    reporter: Option<LossReporter>,
    pending: Option<Pending>,
    /// When the last run was reported.
    reported: Option<Instant>,
}

impl LossTracker {
    /// A tracker reporting to `reporter` (or only logging, without one).
    pub(crate) fn new(reporter: Option<LossReporter>) -> Self {
        Self {
            reporter,
            pending: None,
            reported: None,
        }
    }

    /// Counts `lines` lost to `err`; true for the first loss of a run (worth a log line).
    pub(crate) fn lost(&mut self, lines: u64, err: &io::Error) -> bool {
        let now = SystemTime::now();
        match &mut self.pending {
            Some(p) => {
                p.lines += lines;
                p.to = now;
                false
            }
            None => {
                self.pending = Some(Pending {
                    lines,
                    from: now,
                    to: now,
                    error: err.to_string(),
                });
                true
            }
        }
    }

    /// A write worked: reports the run of losses before it, if any, unless the last report
    /// is recent (then the run grows until a later success). A full channel also keeps the
    /// run for a later success: the capture never blocks.
    pub(crate) fn written(&mut self) {
        if self.reported.is_some_and(|t| t.elapsed() < REPORT_EVERY) {
            return;
        }
        self.report();
    }

    /// Sends the pending run, if any.
    fn report(&mut self) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let Some(r) = &self.reporter else {
            return;
        };
        let loss = LogLoss {
            app: r.app.clone(),
            index: r.index,
            stream: r.stream,
            lines: p.lines,
            from: p.from,
            to: p.to,
            error: p.error,
        };
        self.reported = Some(Instant::now());
        if let Err(mpsc::error::TrySendError::Full(loss)) = r.tx.try_send(loss) {
            self.pending = Some(Pending {
                lines: loss.lines,
                from: loss.from,
                to: loss.to,
                error: loss.error,
            });
        }
    }

    /// The capture ends: a run of losses not reported yet is reported now.
    pub(crate) fn finish(&mut self) {
        self.report();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_run_of_losses_once_writing_works_again() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut t = LossTracker::new(Some(LossReporter {
            tx,
            app: "web".into(),
            index: 2,
            stream: Stream::Out,
        }));
        let err = io::Error::from_raw_os_error(28); // ENOSPC
        assert!(t.lost(3, &err));
        assert!(!t.lost(4, &err));
        assert!(rx.try_recv().is_err(), "nothing until a write works");
        t.written();
        let loss = rx.try_recv().expect("one report");
        assert_eq!((loss.lines, loss.index), (7, 2));
        let text = loss.to_string();
        assert!(text.starts_with("7 lines of stdout of instance 2 were lost between "));
        assert!(text.contains("No space left on device"), "{text}");
        t.written();
        assert!(rx.try_recv().is_err(), "reported once");
        t.lost(2, &err);
        t.written();
        assert!(rx.try_recv().is_err(), "a second run right after waits");
        t.finish();
        assert_eq!(rx.try_recv().expect("reported at the end").lines, 2);
    }

    #[test]
    fn a_full_channel_keeps_the_run_for_later() {
        let (tx, mut rx) = mpsc::channel(1);
        let reporter = LossReporter {
            tx: tx.clone(),
            app: "web".into(),
            index: 0,
            stream: Stream::Err,
        };
        tx.try_send(LogLoss {
            app: "x".into(),
            index: 0,
            stream: Stream::Err,
            lines: 1,
            from: SystemTime::UNIX_EPOCH,
            to: SystemTime::UNIX_EPOCH,
            error: String::new(),
        })
        .expect("fill");
        let mut t = LossTracker::new(Some(reporter));
        t.lost(5, &io::Error::other("full"));
        t.written();
        assert_eq!(rx.try_recv().expect("filler").app, "x");
        t.finish();
        assert_eq!(rx.try_recv().expect("kept").lines, 5);
    }
}
