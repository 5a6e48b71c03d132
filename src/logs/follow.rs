//! `corral logs -f`: print the tail, then poll the files for appended lines.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::line::LineSplitter;
use super::read::{
    app_dir, list_sources, merge, print_tail, quiet_when_closed, Current, Entry, LineSink, Printer,
    Source, MAX_READ,
};
use super::rotate::rotated_path;
use super::{LogsError, Query};
use crate::home::Home;

/// At most this much is read from one file per poll, so one chatty file cannot starve the rest.
const POLL_CHUNK: u64 = 1024 * 1024;

/// How far back rotated files are searched for the one being followed.
const MAX_ROTATED: u32 = 1000;

/// At most this many files are moved through in one poll (rotations since the last one).
const MAX_SWITCHES: usize = 2 * MAX_ROTATED as usize;

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
    let mut printer = Printer::new(out, app, query.timestamps);
    quiet_when_closed(follow_lines(home, app, query, &mut printer, stop, poll))
}

/// [`follow`], each line handed to `printer` (the web console's stream is one), with a closed
/// output reported as an error.
pub(crate) fn follow_lines(
    home: &Home,
    app: &str,
    query: &Query,
    printer: &mut impl LineSink,
    stop: &AtomicBool,
    poll: Duration,
) -> Result<(), LogsError> {
    let dir = app_dir(home, app)?;
    let sources = list_sources(&dir, query)?;
    printer.fit(&sources);
    // Print complete lines only; a partial last line is completed and printed by the polls.
    let ends = print_tail(&sources, query, printer, true)?;
    printer.flush()?;
    let mut tracked: Vec<Tracked> = sources
        .into_iter()
        .zip(ends)
        .map(|(source, current)| Tracked::new(source, current))
        .collect();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(poll);
        if let Ok(now) = list_sources(&dir, query) {
            for source in now {
                if !tracked.iter().any(|t| t.source == source) {
                    tracked.push(Tracked::new(source, None));
                }
            }
            tracked.sort_by_key(|t| t.source.order());
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
        merge(batches, |e| printer.line(&sources[e.rank], &e))?;
        printer.flush()?;
    }
    Ok(())
}

/// The file to read after the last one read.
enum Next {
    /// None yet (rotated, and the new file not created yet).
    NotYet,
    /// It was renamed while we looked for it.
    Moved,
    /// Opened: its slot (0: the current file, N: `x.log.N`) and inode.
    Open { slot: u32, file: File, ino: u64 },
}

/// A followed log file: the open file being read (kept open, so that after a rotation renamed
/// it, the rest of it is still read before moving on: no line lost or repeated), and how far.
struct Tracked {
    source: Source,
    file: Option<File>,
    ino: u64,
    offset: u64,
    splitter: LineSplitter,
    last_key: SystemTime,
}

impl Tracked {
    /// Starts following `source`: its current file read up to an offset, or (`None`) the
    /// file it will have, from the start.
    fn new(source: Source, current: Current) -> Self {
        let (file, offset) = current.unzip();
        let ino = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.ino());
        Self {
            source,
            file,
            ino,
            offset: offset.unwrap_or(0),
            splitter: LineSplitter::new(MAX_READ as usize),
            last_key: UNIX_EPOCH,
        }
    }

    /// Reads what was appended since the last poll. When the file was rotated, reads the rest
    /// of the old one, then every file written after it, oldest first, up to the current one.
    /// A partial last line waits for its newline.
    fn poll(&mut self, rank: usize) -> Result<Vec<Entry>, LogsError> {
        let mut entries = Vec::new();
        for _ in 0..MAX_SWITCHES {
            let path = &self.source.path;
            let current = match std::fs::metadata(path) {
                Ok(meta) => Some(meta),
                Err(err) if err.kind() == io::ErrorKind::NotFound => None,
                Err(err) => return Err(LogsError::read(path, err)),
            };
            if let (Some(_), Some(meta)) = (&self.file, &current) {
                if meta.ino() == self.ino {
                    if meta.len() < self.offset {
                        self.offset = 0; // truncated by someone: start over
                        self.splitter = LineSplitter::new(MAX_READ as usize);
                    }
                    self.read_held(rank, POLL_CHUNK, &mut entries)?;
                    return Ok(entries);
                }
            }
            if self.file.is_some() {
                // Rotated away: nothing more will be written to it.
                self.read_held(rank, u64::MAX, &mut entries)?;
                self.finish_file(rank, &mut entries);
                self.file = None;
            }
            let (slot, file, ino) = match self.successor()? {
                Next::NotYet => return Ok(entries),
                Next::Moved => continue, // renamed while we looked: look again
                Next::Open { slot, file, ino } => (slot, file, ino),
            };
            (self.file, self.ino, self.offset) = (Some(file), ino, 0);
            if slot == 0 {
                self.read_held(rank, POLL_CHUNK, &mut entries)?;
                return Ok(entries);
            }
            self.read_held(rank, u64::MAX, &mut entries)?;
            self.finish_file(rank, &mut entries);
            self.file = None;
        }
        Ok(entries)
    }

    /// The file written right after the last one read (inode `self.ino`); with the last one
    /// unknown or deleted, the oldest file there is.
    fn successor(&self) -> Result<Next, LogsError> {
        let mut seen: Vec<(u32, u64)> = Vec::new();
        let mut misses = 0;
        for slot in 0..=MAX_ROTATED {
            let path = self.slot_path(slot);
            match std::fs::metadata(&path) {
                Ok(meta) if meta.ino() == self.ino => break,
                Ok(meta) => {
                    seen.push((slot, meta.ino()));
                    misses = 0;
                }
                // A rotation in progress leaves one slot empty for a moment.
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    misses += 1;
                    if slot > 0 && misses > 1 {
                        break;
                    }
                }
                Err(err) => return Err(LogsError::read(&path, err)),
            }
        }
        // Files newer than the last one read are in the slots before it: the nearest is next
        // (or, without it, the oldest of all).
        let Some(&(slot, ino)) = seen.last() else {
            return Ok(Next::NotYet);
        };
        let path = self.slot_path(slot);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Next::Moved),
            Err(err) => return Err(LogsError::read(&path, err)),
        };
        let meta = file.metadata().map_err(|e| LogsError::read(&path, e))?;
        Ok(if meta.ino() == ino {
            Next::Open { slot, file, ino }
        } else {
            Next::Moved
        })
    }

    /// The path of `slot`: 0 is the current file, N is `x.log.N`.
    fn slot_path(&self, slot: u32) -> PathBuf {
        match slot {
            0 => self.source.path.clone(),
            n => rotated_path(&self.source.path, n),
        }
    }

    /// Reads up to `limit` bytes appended to the held file since `offset`.
    fn read_held(
        &mut self,
        rank: usize,
        limit: u64,
        entries: &mut Vec<Entry>,
    ) -> Result<(), LogsError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let path = &self.source.path;
        let read = |err| LogsError::read(path, err);
        let len = file.metadata().map_err(read)?.len();
        let want = len.saturating_sub(self.offset).min(limit);
        let mut buf = vec![0u8; want as usize];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], self.offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(read(err)),
            }
        }
        self.offset += got as u64;
        self.split(rank, &buf[..got], entries);
        Ok(())
    }

    /// Splits bytes into entries.
    fn split(&mut self, rank: usize, bytes: &[u8], entries: &mut Vec<Entry>) {
        let last_key = &mut self.last_key;
        self.splitter.push(bytes, &mut |line| {
            entries.push(Entry::parse(rank, line, last_key));
        });
    }

    /// A file is complete: a partial last line in it is a line of its own.
    fn finish_file(&mut self, rank: usize, entries: &mut Vec<Entry>) {
        let last_key = &mut self.last_key;
        self.splitter.finish(&mut |line| {
            entries.push(Entry::parse(rank, line, last_key));
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::rotate::{Rotation, SharedWriter};
    use crate::logs::{Stream, Tail};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// Output shared with the test while `follow` writes to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn lines(&self) -> Vec<String> {
            let out = self.0.lock().expect("lock");
            String::from_utf8_lossy(&out)
                .lines()
                .map(|l| l.trim_start_matches("web-0 | ").to_string())
                .collect()
        }
    }

    #[test]
    fn follows_through_rotations_without_losing_or_repeating_a_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path());
        let path = home.app_logs("web").join("0.out.log");
        // Tiny files: a rotation every few lines, several between two polls.
        let writer = SharedWriter::open(
            path,
            Rotation {
                max_size: 40,
                max_files: 1000,
            },
        );
        writer.append(b"before 1\nbefore 2\n").expect("append");
        let query = Query {
            tail: Tail::Last(1),
            instance: None,
            stream: Some(Stream::Out),
            since: None,
            timestamps: false,
        };
        let out = Shared::default();
        let stop = Arc::new(AtomicBool::new(false));
        let follower = {
            let (home, query, mut out, stop) = (home.clone(), query, out.clone(), stop.clone());
            std::thread::spawn(move || {
                follow(
                    &home,
                    "web",
                    &query,
                    &mut out,
                    &stop,
                    Duration::from_millis(5),
                )
            })
        };
        let mut want = vec!["before 2".to_string()];
        let deadline = Instant::now() + Duration::from_secs(10);
        while out.lines() != want {
            assert!(Instant::now() < deadline, "no tail: {:?}", out.lines());
            std::thread::sleep(Duration::from_millis(1));
        }
        for burst in 0..40 {
            // Bursts of 1 to 12 lines: some land between rotations, some span several.
            let n = 1 + burst % 12;
            let batch: String = (0..n).map(|i| format!("line {burst}.{i}\n")).collect();
            writer.append(batch.as_bytes()).expect("append");
            want.extend((0..n).map(|i| format!("line {burst}.{i}")));
            while out.lines().len() < want.len() && burst % 3 == 0 {
                assert!(
                    Instant::now() < deadline,
                    "follow is stuck: {:?}",
                    out.lines()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        while out.lines().len() < want.len() {
            assert!(
                Instant::now() < deadline,
                "follow lost lines: {:?}",
                out.lines()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
        follower.join().expect("join").expect("follow");
        assert_eq!(out.lines(), want);
    }
}
