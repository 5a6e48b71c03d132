//! Lines: splitting a byte stream into bounded lines, and the `TIMESTAMP message` file format.

use std::time::SystemTime;

/// The longest line kept whole; longer lines are split into pieces of at most this many bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// Splits a byte stream into lines without ever holding more than `max` bytes of a partial line.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
    max: usize,
    /// A piece of the current line was already emitted (so a lone `\r` left is its CRLF's).
    cut: bool,
}

impl LineSplitter {
    /// A splitter cutting lines longer than `max` bytes.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            pending: Vec::new(),
            max: max.max(4),
            cut: false,
        }
    }

    /// Feeds a chunk; `emit` gets each complete line (without `\n` or a trailing `\r`).
    pub(crate) fn push(&mut self, mut chunk: &[u8], emit: &mut impl FnMut(&[u8])) {
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            let line = &chunk[..i];
            chunk = &chunk[i + 1..];
            if self.pending.is_empty() && !self.cut && line.len() <= self.max {
                emit(strip_cr(line));
            } else {
                self.append(line, emit);
                self.end_line(emit);
            }
        }
        self.append(chunk, emit);
    }

    /// Emits the partial last line, if any (at EOF).
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            self.end_line(emit);
        }
        self.cut = false;
    }

    /// Emits the rest of the current line, unless all that is left of a line already cut is
    /// the `\r` of its CRLF (an empty piece there would log a line the program never wrote).
    fn end_line(&mut self, emit: &mut impl FnMut(&[u8])) {
        let rest = strip_cr(&self.pending);
        if !(rest.is_empty() && self.cut) {
            emit(rest);
        }
        self.pending.clear();
        self.cut = false;
    }

    /// Bytes of a partial line held back.
    #[cfg(test)]
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Adds to the partial line, emitting `max`-sized pieces (cut on a UTF-8 boundary).
    fn append(&mut self, mut data: &[u8], emit: &mut impl FnMut(&[u8])) {
        while self.pending.len() + data.len() > self.max {
            let room = self.max - self.pending.len();
            self.pending.extend_from_slice(&data[..room]);
            data = &data[room..];
            let cut = utf8_cut(&self.pending);
            emit(&self.pending[..cut]);
            self.pending.drain(..cut);
            self.cut = true;
        }
        self.pending.extend_from_slice(data);
    }
}

/// Drops one trailing `\r` (CRLF line endings).
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where to cut `buf` so that no UTF-8 sequence is split: before an incomplete trailing one.
fn utf8_cut(buf: &[u8]) -> usize {
    let len = buf.len();
    for back in 1..=len.min(4) {
        let b = buf[len - back];
        if b & 0xC0 == 0x80 {
            continue; // continuation byte: keep looking for the lead byte
        }
        let width = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if width > back && back < len {
            len - back
        } else {
            len
        };
    }
    len
}

/// Appends one file line: `TIMESTAMP message\n` (or `message\n`), invalid UTF-8 replaced.
pub(crate) fn format_line(out: &mut Vec<u8>, stamp: Option<&str>, line: &[u8]) {
    if let Some(stamp) = stamp {
        out.extend_from_slice(stamp.as_bytes());
        out.push(b' ');
    }
    match std::str::from_utf8(line) {
        Ok(text) => out.extend_from_slice(text.as_bytes()),
        Err(_) => out.extend_from_slice(String::from_utf8_lossy(line).as_bytes()),
    }
    out.push(b'\n');
}

/// The timestamp written before each line: RFC 3339 UTC with milliseconds.
pub(crate) fn stamp(now: SystemTime) -> String {
    humantime::format_rfc3339_millis(now).to_string()
}

/// Splits a file line into its leading RFC 3339 timestamp (if it has one) and the message.
pub(crate) fn split_stamp(line: &str) -> (Option<SystemTime>, usize) {
    let starts_like_date = line.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if let (true, Some(space)) = (starts_like_date, line.find(' ')) {
        if let Ok(time) = humantime::parse_rfc3339(&line[..space]) {
            return (Some(time), space + 1);
        }
    }
    (None, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::new(max);
        let mut lines = Vec::new();
        for chunk in chunks {
            s.push(chunk, &mut |l| lines.push(l.to_vec()));
        }
        s.finish(&mut |l| lines.push(l.to_vec()));
        lines
    }

    fn strs(lines: &[Vec<u8>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn lines_across_chunks_and_partial_last_line() {
        let lines = split(64, &[b"a\nb", b"c\n\nd\r\n", b"tail"]);
        assert_eq!(strs(&lines), ["a", "bc", "", "d", "tail"]);
    }

    #[test]
    fn long_lines_are_cut_into_bounded_pieces() {
        let lines = split(4, &[b"abcdefghij\nxy", b"z1234\n"]);
        assert_eq!(strs(&lines), ["abcd", "efgh", "ij", "xyz1", "234"]);
        let exact = split(4, &[b"abcd\n"]);
        assert_eq!(strs(&exact), ["abcd"]);
    }

    #[test]
    fn cuts_do_not_split_utf8() {
        // With max 4, "aaaé" would tear the 2-byte é; pieces must stay valid UTF-8.
        let lines = split(4, &["aaaé€b\n".as_bytes()]);
        for line in &lines {
            assert!(std::str::from_utf8(line).is_ok(), "{line:?}");
        }
        assert_eq!(strs(&lines).concat(), "aaaé€b");
        assert!(lines.iter().all(|l| l.len() <= 4));
    }

    #[test]
    fn memory_stays_bounded_without_newlines() {
        let mut s = LineSplitter::new(MAX_LINE);
        let chunk = vec![b'x'; 10_000];
        let mut pieces = 0;
        for _ in 0..100 {
            s.push(&chunk, &mut |l| {
                assert!(l.len() <= MAX_LINE);
                pieces += 1;
            });
            assert!(s.pending_len() <= MAX_LINE);
        }
        assert_eq!(pieces, 1_000_000 / MAX_LINE);
    }

    #[test]
    fn crlf_after_a_full_piece_adds_no_empty_line() {
        // Found by fuzzing (fuzz/, log_lines): the `\r` overflowed the piece and was logged
        // as an empty line of its own.
        for chunks in [&[&b"abcd\r\n"[..]][..], &[b"abcd\r", b"\n"], &[b"abcd\r"]] {
            assert_eq!(strs(&split(4, chunks)), ["abcd"], "{chunks:?}");
        }
        assert_eq!(strs(&split(4, &[b"abcdefgh\r\nx"])), ["abcd", "efgh", "x"]);
        assert_eq!(strs(&split(4, &[b"\r", b"\n", b"\r\n"])), ["", ""]);
    }

    #[test]
    fn format_with_and_without_timestamp() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        let mut out = Vec::new();
        format_line(&mut out, Some(&stamp(t)), b"hello");
        format_line(&mut out, None, b"bad \xff byte");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "2026-11-18T11:06:40.123Z hello\nbad \u{fffd} byte\n"
        );
    }

    #[test]
    fn split_stamp_reads_our_format_only() {
        let (t, at) = split_stamp("2026-11-25T12:36:24.123Z hi there");
        assert_eq!(
            t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_millis()),
            Some(1_795_610_184_123)
        );
        assert_eq!(at, 25);
        assert_eq!(split_stamp("2026 was a year"), (None, 0));
        assert_eq!(split_stamp("plain"), (None, 0));
    }

    /// What splitting must produce for `input`: each line cut into `max`-byte pieces.
    fn reference(input: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if parts.last().is_some_and(|last| last.is_empty()) {
            parts.pop();
        }
        for line in parts {
            let line = strip_cr(line);
            if line.is_empty() {
                out.push(Vec::new());
            }
            out.extend(line.chunks(max).map(<[u8]>::to_vec));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn splitting_is_independent_of_chunking(
            input in proptest::collection::vec(proptest::sample::select(vec![b'a', b'b', b'\r', b'\n']), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..10),
            max in 4usize..20,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                chunks.push(&input[from..cut]);
                from = cut;
            }
            proptest::prop_assert_eq!(split(max, &chunks), reference(&input, max));
        }

        #[test]
        fn pieces_of_valid_utf8_stay_valid(text in "[aé€😀\n]{0,100}", max in 4usize..16) {
            let lines = split(max, &[text.as_bytes()]);
            for line in &lines {
                proptest::prop_assert!(std::str::from_utf8(line).is_ok());
                proptest::prop_assert!(line.len() <= max);
            }
            let joined: Vec<u8> = lines.concat();
            let expected: Vec<u8> = text.bytes().filter(|&b| b != b'\n').collect();
            proptest::prop_assert_eq!(joined, expected);
        }
    }
}
