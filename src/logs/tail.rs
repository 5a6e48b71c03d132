//! The last lines a run wrote into its log files: a hook's, for `describe` and its event.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::read::Entry;
use super::Stream;

/// Most bytes read back from each file: the last lines of a run, not its whole output.
const MOST: u64 = 64 * 1024;

/// The last `n` lines written to `files` (each with the length it had when the run began),
/// interleaved by time, stderr lines prefixed with `! `; timestamps left out. A file shorter
/// than its start length was rotated meanwhile and is read from its beginning. Blocking I/O.
pub fn last_lines(files: &[(PathBuf, u64, Stream)], n: usize) -> Vec<String> {
    let mut entries = Vec::new();
    for (rank, (path, start, stream)) in files.iter().enumerate() {
        // Each file's lines are in order; the sort below is stable.
        let Ok(bytes) = read_from(path, *start) else {
            continue;
        };
        let mut key = SystemTime::UNIX_EPOCH;
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let entry = Entry::parse(rank, line, &mut key);
            let text = &entry.line[entry.message_at..];
            let text = match stream {
                Stream::Out => text.to_owned(),
                Stream::Err => format!("! {text}"),
            };
            entries.push((entry.key, *stream == Stream::Err, text));
        }
    }
    // Each stream is read by a task of its own, so their times do not order lines across
    // streams exactly: stderr (where the error usually is) keeps at least half the room.
    let errs = entries.iter().filter(|(_, e, _)| *e).count();
    let outs = entries.len() - errs;
    let err_room = errs.min((n / 2).max(n.saturating_sub(outs)));
    let out_room = outs.min(n - err_room);
    let (mut seen_err, mut seen_out) = (0, 0);
    let mut kept: Vec<_> = entries
        .into_iter()
        .rev()
        .filter(|(_, is_err, _)| {
            let (seen, room) = match is_err {
                true => (&mut seen_err, err_room),
                false => (&mut seen_out, out_room),
            };
            *seen += 1;
            *seen <= room
        })
        .collect();
    kept.reverse();
    // Stable: equal times keep each file's order.
    kept.sort_by_key(|(key, _, _)| *key);
    kept.into_iter().map(|(_, _, t)| t).collect()
}

/// The bytes of `path` from `start` (from 0 if it is shorter now), at most the last [`MOST`],
/// beginning at a line start.
fn read_from(path: &Path, start: u64) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = if len < start { 0 } else { start };
    let from = start.max(len.saturating_sub(MOST));
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.take(len - from).read_to_end(&mut bytes)?;
    if from > start {
        // Cut in the middle of a line: drop its end.
        let cut = bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |p| p + 1);
        bytes.drain(..cut);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_lines_of_this_run_interleaved_by_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (out, err) = (dir.path().join("out"), dir.path().join("err"));
        std::fs::write(&out, "2026-01-01T00:00:00.000Z old run\n").expect("write");
        let start = std::fs::metadata(&out).expect("stat").len();
        let more = "2026-01-01T00:00:01.000Z one\n2026-01-01T00:00:03.000Z three\n";
        std::fs::write(&out, format!("2026-01-01T00:00:00.000Z old run\n{more}")).expect("w");
        std::fs::write(&err, "2026-01-01T00:00:02.000Z two\n").expect("write");
        let files = [(out.clone(), start, Stream::Out), (err, 0, Stream::Err)];
        assert_eq!(last_lines(&files, 20), ["one", "! two", "three"]);
        assert_eq!(last_lines(&files, 2), ["! two", "three"]);
        // stderr keeps half the room however early its lines were read.
        let many: String = (10..30)
            .map(|i| format!("2026-01-01T00:00:{i}.000Z o{i}\n"))
            .collect();
        let (o2, e2) = (dir.path().join("o2"), dir.path().join("e2"));
        std::fs::write(&o2, many).expect("write");
        std::fs::write(&e2, "2026-01-01T00:00:00.000Z boom\n").expect("write");
        let both = [(o2, 0, Stream::Out), (e2, 0, Stream::Err)];
        let tail = last_lines(&both, 4);
        assert_eq!(tail, ["! boom", "o27", "o28", "o29"]);
        // Rotated meanwhile (shorter than at the start): read from its beginning.
        std::fs::write(&out, "four\n").expect("write");
        assert_eq!(last_lines(&files[..1], 5), ["four"]);
    }
}
