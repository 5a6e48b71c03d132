//! Reading an app's log files: listing them, reading tails, interleaving lines by time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::line::{split_stamp, MAX_LINE};
use super::rotate::rotated_path;
use super::{LogsError, Stream, Tail};
use crate::home::Home;

/// Longest line read from a file at once (a capture line plus its timestamp, with room).
pub(crate) const MAX_READ: u64 = 2 * MAX_LINE as u64;

/// What `corral logs` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// How many lines of the interleaved output to show first.
    pub tail: Tail,
    /// Only this instance index.
    pub instance: Option<u32>,
    /// Only this stream.
    pub stream: Option<Stream>,
    /// Only lines stamped at or after this time (untimestamped lines take the previous line's).
    pub since: Option<SystemTime>,
    /// Print each line's stored timestamp.
    pub timestamps: bool,
}

/// One log file: a stream of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// The instance index (from the file name); `None` for a merged file of all instances
    /// or a hook's file.
    pub(crate) index: Option<u32>,
    /// The hook whose output the file holds (`preRollout.out.log`), if it is a hook's.
    pub(crate) hook: Option<&'static str>,
    /// Which stream the file holds.
    pub(crate) stream: Stream,
    /// The file.
    pub(crate) path: PathBuf,
}

/// A source's current file (none yet: `None`) and the offset it was read up to.
pub(crate) type Current = Option<(File, u64)>;

/// One line of a log file, with the time it sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Position of the source in the listing: breaks ties between equal times.
    pub(crate) rank: usize,
    /// The line's timestamp, or the previous line's (UNIX epoch before any).
    pub(crate) key: SystemTime,
    /// The whole line as stored, without the newline.
    pub(crate) line: String,
    /// Where the message starts in `line` (after the timestamp).
    pub(crate) message_at: usize,
}

impl Entry {
    /// Parses a stored line; `last_key` carries the previous line's time to untimestamped ones.
    pub(crate) fn parse(rank: usize, bytes: &[u8], last_key: &mut SystemTime) -> Entry {
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let line = String::from_utf8_lossy(bytes).into_owned();
        let (time, message_at) = split_stamp(&line);
        if let Some(time) = time {
            *last_key = time;
        }
        Entry {
            rank,
            key: *last_key,
            line,
            message_at,
        }
    }
}

/// The app's log directory, or a clear error when there is none.
pub(crate) fn app_dir(home: &Home, app: &str) -> Result<PathBuf, LogsError> {
    let root = home.root().join("logs");
    let no_logs = || LogsError::NoLogs {
        app: app.to_string(),
        dir: root.clone(),
    };
    if app.is_empty() || app.contains('/') || app.starts_with('.') {
        return Err(no_logs());
    }
    let dir = home.app_logs(app);
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(dir),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(LogsError::NoAccess { dir: root.clone() })
        }
        _ => Err(no_logs()),
    }
}

/// The log files in `dir` the query selects, ordered by instance index then stream; a file
/// with only rotated files left (`0.out.log.1`) counts.
pub(crate) fn list_sources(dir: &Path, query: &Query) -> Result<Vec<Source>, LogsError> {
    let entries = std::fs::read_dir(dir).map_err(|err| LogsError::read(dir, err))?;
    let mut sources = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| LogsError::read(dir, err))?;
        let Some((index, hook, stream)) = entry.file_name().to_str().and_then(parse_any_name)
        else {
            continue;
        };
        if query.instance.is_some_and(|i| Some(i) != index)
            || query.stream.is_some_and(|s| s != stream)
        {
            continue;
        }
        let name = match (index, hook) {
            (_, Some(hook)) => format!("{hook}.{}.log", stream.suffix()),
            (Some(index), None) => format!("{index}.{}.log", stream.suffix()),
            (None, None) => format!("{}.log", stream.suffix()),
        };
        sources.push(Source {
            index,
            hook,
            stream,
            path: dir.join(name),
        });
    }
    sources.sort_by_key(Source::order);
    sources.dedup();
    Ok(sources)
}

impl Source {
    /// Where the source stands in a listing: hooks first, then by instance, then by stream.
    pub(crate) fn order(&self) -> (Option<&'static str>, Option<u32>, Stream) {
        (self.hook, self.index, self.stream)
    }
}

/// The names of the hooks whose output has files of its own (`HOOK.out.log`).
pub const HOOK_LOGS: [&str; 2] = ["preRollout", "postRollout"];

/// [`parse_name`], and the hooks' `preRollout.out.log` (with their rotated files).
fn parse_any_name(name: &str) -> Option<(Option<u32>, Option<&'static str>, Stream)> {
    for hook in HOOK_LOGS {
        if let Some(rest) = name.strip_prefix(hook).and_then(|r| r.strip_prefix('.')) {
            let (index, stream) = parse_name(rest)?;
            return index.is_none().then_some((None, Some(hook), stream));
        }
    }
    parse_name(name).map(|(index, stream)| (index, None, stream))
}

/// Reads `INDEX.out.log` / `INDEX.err.log`, merged `out.log` / `err.log` (no index), and their
/// rotated `….log.N`; other names are not sources.
fn parse_name(name: &str) -> Option<(Option<u32>, Stream)> {
    let base = match name.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    };
    let base = base.strip_suffix(".log")?;
    let (index, suffix) = match base.split_once('.') {
        Some((index, suffix)) => (Some(index), suffix),
        None => (None, base),
    };
    let stream = match suffix {
        "out" => Stream::Out,
        "err" => Stream::Err,
        _ => return None,
    };
    match index {
        None => Some((None, stream)),
        Some(i) if i.is_empty() || !i.bytes().all(|b| b.is_ascii_digit()) => None,
        Some(i) => Some((Some(i.parse().ok()?), stream)),
    }
}

/// Where the lines read go: the terminal's [`Printer`], or the web console's stream.
pub(crate) trait LineSink {
    /// The sources lines will come from (before their lines, and again when one appears).
    fn fit(&mut self, _sources: &[Source]) {}
    /// One line of `source`.
    fn line(&mut self, source: &Source, entry: &Entry) -> Result<(), LogsError>;
    /// After each batch of lines.
    fn flush(&mut self) -> Result<(), LogsError> {
        Ok(())
    }
}

impl<W: Write> LineSink for Printer<'_, W> {
    fn fit(&mut self, sources: &[Source]) {
        Printer::fit(self, sources);
    }

    fn line(&mut self, source: &Source, entry: &Entry) -> Result<(), LogsError> {
        self.print(source, entry)
    }

    fn flush(&mut self) -> Result<(), LogsError> {
        Printer::flush(self)
    }
}

/// Writes lines as `web-0 | message` (stdout) or `web-0 ! message` (stderr).
pub(crate) struct Printer<'a, W: Write> {
    out: &'a mut W,
    app: String,
    width: usize,
    timestamps: bool,
}

impl<'a, W: Write> Printer<'a, W> {
    /// A printer for `app`; call [`Printer::fit`] to align the name column.
    pub(crate) fn new(out: &'a mut W, app: &str, timestamps: bool) -> Self {
        Self {
            out,
            app: app.to_string(),
            width: 0,
            timestamps,
        }
    }

    /// Widens the name column to fit every source.
    pub(crate) fn fit(&mut self, sources: &[Source]) {
        for s in sources {
            self.width = self.width.max(self.name(s).len());
        }
    }

    /// Prints one line with its instance prefix.
    pub(crate) fn print(&mut self, source: &Source, entry: &Entry) -> Result<(), LogsError> {
        let marker = match source.stream {
            Stream::Out => '|',
            Stream::Err => '!',
        };
        let name = self.name(source);
        let text = if self.timestamps {
            &entry.line[..]
        } else {
            &entry.line[entry.message_at..]
        };
        writeln!(self.out, "{name:<w$} {marker} {text}", w = self.width).map_err(LogsError::Output)
    }

    /// The name column of a source: `web-0`, `web-preRollout` for a hook's, or `web` for a
    /// merged file.
    fn name(&self, source: &Source) -> String {
        match (source.hook, source.index) {
            (Some(hook), _) => format!("{}-{hook}", self.app),
            (None, Some(i)) => format!("{}-{i}", self.app),
            (None, None) => self.app.clone(),
        }
    }

    /// Flushes the output (once per batch).
    pub(crate) fn flush(&mut self) -> Result<(), LogsError> {
        self.out.flush().map_err(LogsError::Output)
    }
}

/// Stable k-way merge by time: equal times go by source rank; each source keeps its order.
pub(crate) fn merge<I>(
    sources: Vec<I>,
    mut emit: impl FnMut(Entry) -> Result<(), LogsError>,
) -> Result<(), LogsError>
where
    I: Iterator<Item = Result<Entry, LogsError>>,
{
    let mut iters = sources;
    let mut heads = BinaryHeap::new();
    let mut pending: Vec<Option<Entry>> = Vec::with_capacity(iters.len());
    for (i, iter) in iters.iter_mut().enumerate() {
        let head = iter.next().transpose()?;
        if let Some(entry) = &head {
            heads.push(Reverse((entry.key, entry.rank, i)));
        }
        pending.push(head);
    }
    while let Some(Reverse((_, _, i))) = heads.pop() {
        let Some(entry) = pending[i].take() else {
            continue;
        };
        emit(entry)?;
        if let Some(next) = iters[i].next().transpose()? {
            heads.push(Reverse((next.key, next.rank, i)));
            pending[i] = Some(next);
        }
    }
    Ok(())
}

/// Lines of one file between two offsets, each at most [`MAX_READ`] bytes.
pub(crate) struct FileLines {
    reader: BufReader<io::Take<File>>,
    path: PathBuf,
    rank: usize,
    last_key: SystemTime,
    since: Option<SystemTime>,
    buf: Vec<u8>,
}

impl FileLines {
    /// Lines of `file` from `start` to `end`, dropping those before `since`.
    pub(crate) fn new(
        mut file: File,
        path: &Path,
        rank: usize,
        (start, end): (u64, u64),
        since: Option<SystemTime>,
    ) -> Result<Self, LogsError> {
        file.seek(SeekFrom::Start(start))
            .map_err(|err| LogsError::read(path, err))?;
        Ok(Self {
            reader: BufReader::new(file.take(end.saturating_sub(start))),
            path: path.to_path_buf(),
            rank,
            last_key: UNIX_EPOCH,
            since,
            buf: Vec::new(),
        })
    }
}

impl Iterator for FileLines {
    type Item = Result<Entry, LogsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match (&mut self.reader)
                .take(MAX_READ)
                .read_until(b'\n', &mut self.buf)
            {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) => return Some(Err(LogsError::read(&self.path, err))),
            }
            let entry = Entry::parse(self.rank, &self.buf, &mut self.last_key);
            if self.since.is_none_or(|since| entry.key >= since) {
                return Some(Ok(entry));
            }
        }
    }
}

/// Calls `hit` on each newline offset before `end`, last first, until it returns true.
fn find_back(file: &File, end: u64, mut hit: impl FnMut(u64) -> bool) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = end;
    while pos > 0 {
        let len = pos.min(buf.len() as u64) as usize;
        pos -= len as u64;
        file.read_exact_at(&mut buf[..len], pos)?;
        for i in (0..len).rev() {
            if buf[i] == b'\n' && hit(pos + i as u64) {
                return Ok(Some(pos + i as u64));
            }
        }
    }
    Ok(None)
}

/// Where the last `n` lines before `end` start (a last line without `\n` counts), and how
/// many lines that is (fewer than `n` when the file holds fewer).
pub(crate) fn tail_lines(file: &File, end: u64, n: usize) -> io::Result<(u64, usize)> {
    if n == 0 {
        return Ok((end, 0));
    }
    let mut last = [0u8];
    let mut search_end = end;
    if end > 0 {
        file.read_exact_at(&mut last, end - 1)?;
        if last[0] == b'\n' {
            search_end -= 1;
        }
    }
    let mut seen = 0;
    let found = find_back(file, search_end, |_| {
        seen += 1;
        seen == n
    })?;
    Ok(match found {
        Some(p) => (p + 1, n),
        None => (0, if end > 0 { seen + 1 } else { 0 }),
    })
}

/// The offset just after the last `\n` before `end` (0 if none): where complete lines end.
pub(crate) fn complete_end(file: &File, end: u64) -> io::Result<u64> {
    Ok(find_back(file, end, |_| true)?.map_or(0, |p| p + 1))
}

/// Prints the query's tail of the app's logs, interleaved by time. A closed output ends quietly.
pub fn show(home: &Home, app: &str, query: &Query, out: &mut impl Write) -> Result<(), LogsError> {
    let dir = app_dir(home, app)?;
    let sources = list_sources(&dir, query)?;
    let mut printer = Printer::new(out, app, query.timestamps);
    printer.fit(&sources);
    let result = print_tail(&sources, query, &mut printer, false).and_then(|_| printer.flush());
    quiet_when_closed(result)
}

/// Reads the query's tail of each source, reaching back into its rotated files (`x.log.1` …)
/// for as many lines as the tail needs, merges, keeps the tail, prints. With `complete_only`,
/// a partial last line of a current file is left for `-f` to complete. Returns, per source,
/// the current file (if any) and the offset read up to.
pub(crate) fn print_tail(
    sources: &[Source],
    query: &Query,
    printer: &mut impl LineSink,
    complete_only: bool,
) -> Result<Vec<Current>, LogsError> {
    let mut readers = Vec::with_capacity(sources.len());
    let mut ends = Vec::with_capacity(sources.len());
    for (rank, source) in sources.iter().enumerate() {
        let (chain, end) = open_tail(source, query, rank, complete_only)?;
        readers.push(chain.into_iter().flatten());
        ends.push(end);
    }
    match query.tail {
        Tail::All => merge(readers, |e| printer.line(&sources[e.rank], &e))?,
        Tail::Last(n) => {
            let mut last = VecDeque::with_capacity(n.min(4096));
            merge(readers, |e| {
                if n > 0 {
                    if last.len() == n {
                        last.pop_front();
                    }
                    last.push_back(e);
                }
                Ok(())
            })?;
            for e in last {
                printer.line(&sources[e.rank], &e)?;
            }
        }
    }
    Ok(ends)
}

/// Readers of the lines of `source` the query's tail needs, oldest file first, and the
/// current file with the offset they end at.
fn open_tail(
    source: &Source,
    query: &Query,
    rank: usize,
    complete_only: bool,
) -> Result<(Vec<FileLines>, Current), LogsError> {
    let mut need = match query.tail {
        Tail::All => usize::MAX,
        Tail::Last(n) => n,
    };
    let mut files = Vec::new();
    let mut inodes = Vec::new();
    let mut current = None;
    for n in 0.. {
        if need == 0 && n > 0 {
            break;
        }
        let path = match n {
            0 => source.path.clone(),
            n => rotated_path(&source.path, n),
        };
        let read = |err| LogsError::read(&path, err);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound && n == 0 => continue,
            Err(err) if err.kind() == io::ErrorKind::NotFound => break,
            Err(err) => return Err(read(err)),
        };
        let meta = file.metadata().map_err(read)?;
        if inodes.contains(&meta.ino()) {
            break; // rotated while we were listing: already read under its newer name
        }
        inodes.push(meta.ino());
        let end = match (n, complete_only) {
            (0, true) => complete_end(&file, meta.len()).map_err(read)?,
            _ => meta.len(),
        };
        let (start, found) = match query.tail {
            Tail::All => (0, 0),
            Tail::Last(_) => tail_lines(&file, end, need).map_err(read)?,
        };
        need -= found;
        if n == 0 {
            let again = file.try_clone().map_err(read)?;
            current = Some((again, end));
        }
        files.push(FileLines::new(
            file,
            &path,
            rank,
            (start, end),
            query.since,
        )?);
        if start > 0 {
            break;
        }
    }
    files.reverse();
    Ok((files, current))
}

/// Treats a closed output (`| head`) as a normal end.
pub(crate) fn quiet_when_closed(result: Result<(), LogsError>) -> Result<(), LogsError> {
    match result {
        Err(LogsError::Output(err)) if err.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
