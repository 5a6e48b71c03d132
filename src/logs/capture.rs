//! The capture task: reads an instance's log pipe and appends timestamped lines to its log file.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::unix::pipe;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::line::{format_line, stamp, LineSplitter, MAX_LINE};
use super::loss::{LossReporter, LossTracker};
use super::pipe::LogPipe;
use super::rotate::{Rotation, SharedWriter};

/// Bytes read from the pipe at once, at most: one batch of lines, one `write` to the file.
const CHUNK: usize = 64 * 1024;

/// The read buffer's first size: it doubles up to `CHUNK` while reads fill it (a chatty app),
/// and is only allocated once the app writes something, so a quiet instance costs no buffer.
const FIRST_CHUNK: usize = 4 * 1024;

/// After a short read, the capture waits this long before reading again: what a chatty app
/// writes meanwhile is read and written in one batch. The most a line is delayed by it.
const COALESCE: Duration = Duration::from_millis(2);

/// At most this much is drained from the pipe after `stop`, so a chatty app cannot hold us.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Held for writing, it holds every capture that shares it between two reads, its lines
/// written (a controller handing its instances' pipes to its successor); each read and write
/// holds it for reading.
pub type CapturePause = Arc<tokio::sync::RwLock<()>>;

/// How captured lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureOptions {
    /// Prefix each line with an RFC 3339 UTC timestamp (milliseconds), the time it was read.
    pub timestamps: bool,
    /// When the log file is rotated (`logs.maxSize`, `logs.maxFiles`).
    pub rotation: Rotation,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            timestamps: true,
            rotation: Rotation::default(),
        }
    }
}

/// A running capture task; dropping it leaves the task running until EOF or `stop`.
#[derive(Debug)]
pub struct Capture {
    task: JoinHandle<()>,
    dropped: Arc<AtomicU64>,
}

impl Capture {
    /// Lines lost to write errors (disk full) so far: counted, never silent.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits for the task to end (EOF on the pipe, or `stop` and a drain).
    pub async fn finished(self) {
        if let Err(err) = self.task.await {
            tracing::error!(%err, "log capture task failed");
        }
    }
}

/// Opens the FIFO's read end and spawns a task appending each line to `log_file` until EOF, or
/// until `stop` (then drains what is already in the pipe, without waiting, and ends). Lines
/// lost to write errors are counted and, once a write succeeds again, sent to `losses`.
///
/// Must run inside a tokio runtime. Open the child's end first: the read end does not wait
/// for a writer.
pub fn spawn_capture(
    pipe: &LogPipe,
    log_file: PathBuf,
    opts: CaptureOptions,
    stop: CancellationToken,
    losses: Option<LossReporter>,
) -> io::Result<Capture> {
    let owner = (stop, None, CapturePause::default());
    spawn_capture_from(pipe.open_receiver()?, log_file, opts, owner, losses)
}

/// [`spawn_capture`] from a read end already open (a new anonymous pipe's); the task is
/// tracked by `tracker`, if given (one task, rather than a second one awaiting the first),
/// and holds still while `pause` is held for writing.
pub fn spawn_capture_from(
    receiver: pipe::Receiver,
    log_file: PathBuf,
    opts: CaptureOptions,
    (stop, tracker, pause): (CancellationToken, Option<&TaskTracker>, CapturePause),
    losses: Option<LossReporter>,
) -> io::Result<Capture> {
    super::pipe::enlarge(&receiver);
    let dropped = Arc::new(AtomicU64::new(0));
    let task = CaptureTask {
        receiver,
        writer: SharedWriter::open(log_file, opts.rotation),
        loss: LossTracker::new(losses),
        splitter: LineSplitter::new(MAX_LINE),
        opts,
        dropped: Arc::clone(&dropped),
        batch: Vec::new(),
        lines: 0,
        pause,
    };
    let task = match tracker {
        Some(tracker) => tokio::spawn(tracker.track_future(task.run(stop))),
        None => tokio::spawn(task.run(stop)),
    };
    Ok(Capture { task, dropped })
}

/// The state of one capture task.
struct CaptureTask {
    receiver: pipe::Receiver,
    /// The log file's writer, shared with every other capture writing the same file.
    writer: SharedWriter,
    splitter: LineSplitter,
    opts: CaptureOptions,
    dropped: Arc<AtomicU64>,
    /// Lines lost since writing last worked, to report once it works again.
    loss: LossTracker,
    /// Formatted lines waiting to be written.
    batch: Vec<u8>,
    /// How many lines `batch` holds.
    lines: u64,
    /// Held for reading around each read and its write.
    pause: CapturePause,
}

impl CaptureTask {
    /// Reads until EOF or `stop`, writing one batch per read.
    async fn run(mut self, stop: CancellationToken) {
        let mut buf = Vec::new();
        loop {
            let readable = tokio::select! {
                biased;
                () = stop.cancelled() => {
                    buf.resize(CHUNK, 0);
                    self.drain(&mut buf).await;
                    break;
                }
                readable = self.receiver.readable() => readable,
            };
            if buf.is_empty() {
                buf.resize(FIRST_CHUNK, 0);
            }
            let pause = Arc::clone(&self.pause);
            let _reading = tokio::select! {
                biased;
                () = stop.cancelled() => continue,
                guard = pause.read() => guard,
            };
            let read = readable.and_then(|()| self.receiver.try_read(&mut buf));
            match read {
                Ok(0) => break,
                Ok(n) => {
                    self.add(&buf[..n]);
                    self.flush().await;
                    let full = n == buf.len();
                    if full && buf.len() < CHUNK {
                        buf.resize((buf.len() * 2).min(CHUNK), 0);
                    }
                    if !full {
                        // A chatty app refills the pipe meanwhile: one wake-up and one write
                        // per many lines rather than per line (the pipe holds 1 MiB).
                        tokio::time::sleep(COALESCE).await;
                    }
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
                    ) => {}
                Err(err) => {
                    tracing::error!(%err, "cannot read an instance's output; capture ends");
                    break;
                }
            }
        }
        let now = self.opts.timestamps.then(|| stamp(SystemTime::now()));
        let (batch, lines) = (&mut self.batch, &mut self.lines);
        self.splitter.finish(&mut |line| {
            format_line(batch, now.as_deref(), line);
            *lines += 1;
        });
        self.flush().await;
        self.loss.finish();
    }

    /// Reads what the pipe already holds, without waiting for more. Read from the descriptor
    /// itself: tokio's `try_read` reads nothing until the reactor has seen the pipe readable,
    /// so lines written just before a stop were lost when the stop came first.
    async fn drain(&mut self, buf: &mut [u8]) {
        use std::os::fd::AsFd;
        let mut total = 0;
        while total < DRAIN_LIMIT {
            match nix::unistd::read(self.receiver.as_fd(), buf) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    self.add(&buf[..n]);
                    self.flush().await;
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break, // EAGAIN: empty for now
            }
        }
    }

    /// Splits a chunk into lines and formats them into the batch, stamped with the read time.
    fn add(&mut self, chunk: &[u8]) {
        let now = self.opts.timestamps.then(|| stamp(SystemTime::now()));
        let (batch, lines) = (&mut self.batch, &mut self.lines);
        self.splitter.push(chunk, &mut |line| {
            format_line(batch, now.as_deref(), line);
            *lines += 1;
        });
    }

    /// Writes the batch on the blocking pool; on failure counts its lines as dropped.
    async fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let writer = self.writer.clone();
        let batch = std::mem::take(&mut self.batch);
        let lines = std::mem::take(&mut self.lines);
        let done = tokio::task::spawn_blocking(move || {
            let result = writer.append(&batch).map_err(|e| {
                let lost = batch[e.written..].iter().filter(|&&b| b == b'\n').count();
                (lost as u64, e.error)
            });
            (batch, result)
        })
        .await;
        let result = match done {
            Ok((mut batch, result)) => {
                batch.clear();
                self.batch = batch;
                result
            }
            Err(err) => Err((lines, io::Error::other(err))),
        };
        let path = self.writer.path();
        match result {
            Ok(()) => self.loss.written(),
            Err((lines, err)) => {
                let total = self.dropped.fetch_add(lines, Ordering::Relaxed) + lines;
                if self.loss.lost(lines, &err) {
                    tracing::warn!(path = %path.display(), %err, lines, total, "log lines dropped");
                }
            }
        }
    }
}
