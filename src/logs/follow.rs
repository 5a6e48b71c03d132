//! `corral logs -f`: print the tail, then poll the files for appended lines.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::line::LineSplitter;
use super::read::{
    app_dir, complete_end, list_sources, merge, print_tail, quiet_when_closed, tail_start, Entry,
    Printer, Source, MAX_READ,
};
use super::{LogsError, Query};
use crate::home::Home;

/// At most this much is read from one file per poll, so one chatty file cannot starve the rest.
const POLL_CHUNK: u64 = 1024 * 1024;

/// Prints the query's tail, then lines appended to any selected file (including files that
/// appear later), every `poll`, until `stop` is set. A closed output ends quietly.
pub fn follow(
    home: &Home,
    app: &str,
    query: &Query,
    out: &mut impl Write,
    stop: &AtomicBool,
    poll: Duration,
) -> Result<(), LogsError> {
    quiet_when_closed(follow_inner(home, app, query, out, stop, poll))
}

/// [`follow`], with a closed output reported as an error.
fn follow_inner(
    home: &Home,
    app: &str,
    query: &Query,
    out: &mut impl Write,
    stop: &AtomicBool,
    poll: Duration,
) -> Result<(), LogsError> {
    let dir = app_dir(home, app)?;
    let sources = list_sources(&dir, query)?;
    let mut printer = Printer::new(out, app, query.timestamps);
    printer.fit(&sources);
    // Print complete lines only; a partial last line is completed and printed by the polls.
    let ends = print_tail(&sources, query, &mut printer, |_, file, len| {
        let end = complete_end(file, len)?;
        Ok((tail_start(file, end, query.tail)?, end))
    })?;
    printer.flush()?;
    let mut tracked: Vec<Tracked> = sources
        .into_iter()
        .zip(ends)
        .map(|(source, (offset, ino))| Tracked::new(source, offset, ino))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(poll);
        if let Ok(now) = list_sources(&dir, query) {
            for source in now {
                if !tracked.iter().any(|t| t.source == source) {
                    tracked.push(Tracked::new(source, 0, 0));
                }
            }
            tracked.sort_by_key(|t| (t.source.index, t.source.stream));
        }
        let sources: Vec<Source> = tracked.iter().map(|t| t.source.clone()).collect();
        printer.fit(&sources);
        let mut batches = Vec::with_capacity(tracked.len());
        for (rank, t) in tracked.iter_mut().enumerate() {
            let since = query.since;
            let entries = t.poll(rank)?;
            batches.push(
                entries
                    .into_iter()
                    .filter(move |e| since.is_none_or(|since| e.key >= since))
                    .map(Ok),
            );
        }
        merge(batches, |e| printer.print(&sources[e.rank], &e))?;
        printer.flush()?;
    }
    Ok(())
}

/// A followed file: how far it has been read, and which file (inode) that offset belongs to.
struct Tracked {
    source: Source,
    offset: u64,
    ino: u64,
    splitter: LineSplitter,
    last_key: SystemTime,
}

impl Tracked {
    /// Starts following `source` at `offset` of inode `ino` (0: unknown, read from the start).
    fn new(source: Source, offset: u64, ino: u64) -> Self {
        Self {
            source,
            offset,
            ino,
            splitter: LineSplitter::new(MAX_READ as usize),
            last_key: UNIX_EPOCH,
        }
    }

    /// Reads what was appended since the last poll; starts over when the file shrank or was
    /// replaced. A partial last line waits for its newline.
    fn poll(&mut self, rank: usize) -> Result<Vec<Entry>, LogsError> {
        let path = &self.source.path;
        let read = |err| LogsError::read(path, err);
        let quiet = match std::fs::metadata(path) {
            Ok(meta) => meta.ino() == self.ino && meta.len() == self.offset,
            Err(err) if err.kind() == io::ErrorKind::NotFound => true,
            Err(err) => return Err(read(err)),
        };
        if quiet {
            return Ok(Vec::new()); // nothing new: skip opening the file
        }
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(read(err)),
        };
        let meta = file.metadata().map_err(read)?;
        if meta.ino() != self.ino || meta.len() < self.offset {
            self.ino = meta.ino();
            self.offset = 0;
            self.splitter = LineSplitter::new(MAX_READ as usize);
        }
        let want = meta.len().saturating_sub(self.offset).min(POLL_CHUNK);
        let mut entries = Vec::new();
        if want == 0 {
            return Ok(entries);
        }
        let mut buf = vec![0u8; want as usize];
        let n = file.read_at(&mut buf, self.offset).map_err(read)?;
        self.offset += n as u64;
        let last_key = &mut self.last_key;
        self.splitter.push(&buf[..n], &mut |line| {
            entries.push(Entry::parse(rank, line, last_key));
        });
        Ok(entries)
    }
}
