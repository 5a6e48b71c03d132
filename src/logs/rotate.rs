//! The log file writer: appends batches of whole lines and rotates by size, renaming
//! `x.log` → `x.log.1` → `x.log.2` … and reopening `x.log` (never copy-truncate).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

/// When a log file is rotated and how many rotated files are kept (`spec.logs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// A file never grows past this many bytes (unless one line alone is longer).
    pub max_size: u64,
    /// Rotated files kept (`x.log.1` newest … `x.log.N` oldest); older ones are deleted.
    pub max_files: u32,
}

impl Rotation {
    /// The rotation settings of an app's `spec.logs`.
    pub fn of(logs: &crate::manifest::Logs) -> Rotation {
        Rotation {
            max_size: logs.max_size.0,
            max_files: logs.max_files,
        }
    }
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            max_size: 10 << 20,
            max_files: 5,
        }
    }
}

/// The path of rotated file number `n` (1 is the newest): `x.log.n`.
pub fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The writers of the log files being captured, by path, so that captures writing one file
/// (an old and a new instance at one index during a rollout) share one writer and one
/// rotation.
static WRITERS: LazyLock<Mutex<Writers>> = LazyLock::new(Default::default);

/// The map behind [`WRITERS`]; dead entries are pruned once it has doubled since the last
/// prune, so opening a writer costs O(1) amortized, not a walk over every capture.
#[derive(Default)]
struct Writers {
    by_path: HashMap<PathBuf, Weak<Mutex<LogWriter>>>,
    /// Prune when `by_path` reaches this many entries.
    prune_at: usize,
}

/// The fewest entries [`Writers`] prunes at.
const PRUNE_AT_LEAST: usize = 64;

impl Writers {
    /// Drops the entries of writers no capture holds any more, when due.
    fn prune_if_due(&mut self) {
        if self.by_path.len() >= self.prune_at {
            self.by_path.retain(|_, w| w.strong_count() > 0);
            self.prune_at = (self.by_path.len() * 2).max(PRUNE_AT_LEAST);
        }
    }
}

/// A log file's writer, shared by every capture of that file: each batch of whole lines is
/// appended under its lock, so lines never interleave mid-line and one rotation serves all.
#[derive(Debug, Clone)]
pub(crate) struct SharedWriter {
    path: Arc<Path>,
    writer: Arc<Mutex<LogWriter>>,
}

impl SharedWriter {
    /// The writer of `path`, shared with the captures already writing it; `rotation` (the
    /// newest settings) replaces theirs.
    pub(crate) fn open(path: PathBuf, rotation: Rotation) -> Self {
        let mut writers = WRITERS.lock().unwrap_or_else(PoisonError::into_inner);
        writers.prune_if_due();
        let writer = match writers.by_path.get(&path).and_then(Weak::upgrade) {
            Some(writer) => {
                lock(&writer).rotation = rotation;
                writer
            }
            None => {
                let writer = Arc::new(Mutex::new(LogWriter::new(path.clone(), rotation)));
                writers
                    .by_path
                    .insert(path.clone(), Arc::downgrade(&writer));
                writer
            }
        };
        Self {
            path: path.into(),
            writer,
        }
    }

    /// The log file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends whole lines (blocking: call on the blocking pool), rotating as needed.
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<(), Unwritten> {
        lock(&self.writer).append(bytes)
    }
}

/// Locks a writer; a panic in another capture mid-write leaves it usable (at worst the file
/// is reopened).
fn lock(writer: &Mutex<LogWriter>) -> std::sync::MutexGuard<'_, LogWriter> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A batch that could not be written whole.
#[derive(Debug)]
pub(crate) struct Unwritten {
    /// The batch's bytes (whole lines) written before the error.
    pub(crate) written: usize,
    /// Why the rest was not.
    pub(crate) error: io::Error,
}

/// Appends batches of whole lines to one log file, rotating it by size.
#[derive(Debug)]
pub(crate) struct LogWriter {
    path: PathBuf,
    rotation: Rotation,
    file: Option<File>,
    /// Bytes in the open file: tracked, not stat'ed per write.
    size: u64,
}

impl LogWriter {
    /// A writer that opens `path` (and its parent dirs) on first use.
    pub(crate) fn new(path: PathBuf, rotation: Rotation) -> Self {
        Self {
            path,
            rotation,
            file: None,
            size: 0,
        }
    }

    /// The current log file.
    #[cfg(test)]
    fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `bytes` (whole lines), rotating first whenever the next lines would not fit;
    /// after an error, reopens on the next batch.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<(), Unwritten> {
        let mut written = 0;
        while written < bytes.len() {
            match self.append_some(&bytes[written..]) {
                Ok(n) => written += n,
                Err(error) => {
                    self.file = None;
                    return Err(Unwritten { written, error });
                }
            }
        }
        Ok(())
    }

    /// Writes as many whole lines of `bytes` as fit in the current file (rotating it if none
    /// fit); returns how many bytes were written.
    fn append_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.open()?;
        let room = self.rotation.max_size.saturating_sub(self.size);
        let fit = if bytes.len() as u64 <= room {
            bytes.len()
        } else {
            let end = room.min(bytes.len() as u64) as usize;
            match bytes[..end].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None if self.size > 0 => {
                    self.rotate()?;
                    return Ok(0);
                }
                // One line longer than maxSize alone in a fresh file: written whole.
                None => bytes
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |i| i + 1),
            }
        };
        let size = self.size;
        let file = self.open()?;
        if let Err(err) = file.write_all(&bytes[..fit]) {
            // A full disk may take part of the batch: cut it off, so no half line stays and
            // what is counted as lost is exactly what is missing.
            let _ = file.set_len(size);
            return Err(err);
        }
        self.size += fit as u64;
        Ok(fit)
    }

    /// Closes the file and shifts `x.log` → `x.log.1` → … → `x.log.N`, deleting what is beyond.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let keep = self.rotation.max_files.max(1);
        // Files beyond `keep` (maxFiles was lowered) go first.
        let mut n = keep + 1;
        while remove_if_exists(&rotated_path(&self.path, n))? {
            n += 1;
        }
        for n in (1..keep).rev() {
            rename_if_exists(
                &rotated_path(&self.path, n),
                &rotated_path(&self.path, n + 1),
            )?;
        }
        rename_if_exists(&self.path, &rotated_path(&self.path, 1))?;
        Ok(())
    }

    /// The open file, opening it (O_APPEND, O_NOFOLLOW, mode 0640) if needed.
    fn open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(parent) = self.path.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o750)
                    .create(parent)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&self.path)?;
            self.size = file.metadata()?.len();
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("log file not open"))
    }
}

/// Renames `from` to `to`; a missing `from` is fine.
fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// Removes `path`; returns whether it existed.
fn remove_if_exists(path: &Path) -> io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn writer(dir: &Path, max_size: u64, max_files: u32) -> LogWriter {
        LogWriter::new(
            dir.join("app/0.out.log"),
            Rotation {
                max_size,
                max_files,
            },
        )
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn rotates_by_size_keeping_max_files_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = writer(dir.path(), 20, 2);
        for i in 0..10 {
            w.append(format!("line {i:02} xxxx\n").as_bytes())
                .expect("append"); // 13 bytes: one line per file
        }
        let path = w.path().to_path_buf();
        assert_eq!(read(&path), "line 09 xxxx\n");
        assert_eq!(read(&rotated_path(&path, 1)), "line 08 xxxx\n");
        assert_eq!(read(&rotated_path(&path, 2)), "line 07 xxxx\n");
        assert!(!rotated_path(&path, 3).exists());
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        let dmode = std::fs::metadata(path.parent().expect("dir"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(dmode & 0o777, 0o750);
    }

    #[test]
    fn splits_a_batch_on_line_boundaries_and_keeps_every_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = writer(dir.path(), 10, 10);
        w.append(b"aaaa\nbbbb\ncccc\n").expect("append");
        w.append(b"a line longer than ten\nd\n").expect("append");
        let path = w.path().to_path_buf();
        let all: Vec<String> = (1..=4)
            .rev()
            .map(|n| read(&rotated_path(&path, n)))
            .chain([read(&path)])
            .collect();
        assert_eq!(
            all,
            [
                "",
                "aaaa\nbbbb\n",
                "cccc\n",
                "a line longer than ten\n",
                "d\n"
            ]
        );
        for file in &all {
            assert!(file.len() <= 10 || file.lines().count() == 1, "{file:?}");
        }
    }

    #[test]
    fn lowering_max_files_deletes_the_extra_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = writer(dir.path(), 5, 4);
        for _ in 0..6 {
            w.append(b"abcd\n").expect("append");
        }
        let path = w.path().to_path_buf();
        assert!(rotated_path(&path, 4).exists());
        let mut w = writer(dir.path(), 5, 2);
        w.append(b"abcd\n").expect("append");
        assert!(rotated_path(&path, 2).exists());
        assert!(!rotated_path(&path, 3).exists());
        assert!(!rotated_path(&path, 4).exists());
    }

    #[test]
    fn captures_of_one_file_share_one_writer_and_one_rotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("web/0.out.log");
        let rotation = Rotation {
            max_size: 10,
            max_files: 3,
        };
        let old = SharedWriter::open(path.clone(), rotation);
        let new = SharedWriter::open(path.clone(), rotation);
        old.append(b"old1\n").expect("append");
        new.append(b"new1\n").expect("append");
        old.append(b"old2\n").expect("append");
        assert_eq!(read(&rotated_path(&path, 1)), "old1\nnew1\n");
        assert_eq!(read(&path), "old2\n");
        assert!(
            !rotated_path(&path, 2).exists(),
            "one rotation, not one per capture"
        );
    }

    #[test]
    fn dead_writers_are_pruned_and_the_map_stays_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writers = Writers::default();
        let live: Vec<_> = (0..10)
            .map(|i| Arc::new(Mutex::new(writer(&dir.path().join(i.to_string()), 10, 1))))
            .collect();
        for (i, w) in live.iter().enumerate() {
            writers
                .by_path
                .insert(dir.path().join(i.to_string()), Arc::downgrade(w));
        }
        for round in 0..1000 {
            writers.prune_if_due();
            assert!(writers.by_path.len() <= PRUNE_AT_LEAST.max(2 * live.len()));
            let dead = Arc::new(Mutex::new(writer(dir.path(), 10, 1)));
            let path = dir.path().join(format!("dead-{round}"));
            writers.by_path.insert(path, Arc::downgrade(&dead));
        }
        writers.prune_at = 0;
        writers.prune_if_due();
        assert_eq!(
            writers.by_path.len(),
            live.len(),
            "only live writers are kept"
        );
    }

    #[test]
    fn never_follows_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        std::fs::write(&target, b"").expect("write");
        let mut w = writer(dir.path(), 100, 2);
        std::fs::create_dir_all(w.path().parent().expect("dir")).expect("mkdir");
        std::os::unix::fs::symlink(&target, w.path()).expect("symlink");
        assert!(w.append(b"x\n").is_err());
        assert_eq!(read(&target), "");
    }
}
