//! The log capture's line splitter and file line format on arbitrary chunks, with invariants:
//! no piece over the limit, every byte accounted for, chunking changes nothing, no spurious line.

use corral::fuzzing::{format_line, LineSplitter};

/// Line ends and UTF-8 lead/continuation bytes.
pub(super) const DICT: &[&str] = &["\n", "\r", "\r\n", "é", "€", "😀", "\u{80}", "\u{7ff}"];

/// The stamp `format_line` gets on every other line (what the capture writes).
const STAMP: &str = "2026-11-25T12:36:24.123Z";

/// First byte: the line limit (4..=67, or `MAX_LINE`); second: how to cut the rest into chunks.
pub fn log_lines(data: &[u8]) {
    let [head, cuts, input @ ..] = data else {
        return;
    };
    let max = if head & 0x80 != 0 {
        corral::logs::MAX_LINE
    } else {
        4 + usize::from(head & 0x3f)
    };
    let whole = split(max, &[input]);
    let chunked = split(max, &chunks(input, *cuts, max));
    assert_eq!(whole, chunked, "chunking changed the lines (max {max})");

    let expected = reference_lines(input);
    for piece in &whole {
        assert!(
            piece.len() <= max,
            "a piece of {} bytes (max {max})",
            piece.len()
        );
        assert!(
            !piece.contains(&b'\n'),
            "a piece holds a newline: {piece:?}"
        );
    }
    assert_eq!(
        whole.concat(),
        expected.concat(),
        "bytes lost or added (max {max})"
    );
    let empty = |lines: &[Vec<u8>]| lines.iter().filter(|l| l.is_empty()).count();
    assert_eq!(
        empty(&whole),
        empty(&expected),
        "spurious or lost empty lines (max {max})"
    );
    if std::str::from_utf8(input).is_ok() {
        for piece in &whole {
            assert!(
                std::str::from_utf8(piece).is_ok(),
                "a cut split a character: {piece:?}"
            );
        }
    }

    for (i, piece) in whole.iter().enumerate() {
        let mut out = Vec::new();
        let stamp = (i % 2 == 0).then_some(STAMP);
        format_line(&mut out, stamp, piece);
        let text = std::str::from_utf8(&out).expect("format_line writes UTF-8");
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{text:?}"
        );
        assert!(
            stamp.is_none_or(|s| text.starts_with(&format!("{s} "))),
            "{text:?}"
        );
    }
}

/// Every piece the splitter emits for `chunks`, then at EOF.
fn split(max: usize, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut splitter = LineSplitter::new(max);
    let mut pieces = Vec::new();
    for chunk in chunks {
        splitter.push(chunk, &mut |piece| pieces.push(piece.to_vec()));
    }
    splitter.finish(&mut |piece| pieces.push(piece.to_vec()));
    pieces
}

/// `input` cut into chunks of 1 to 2·`max` bytes, sizes drawn from `seed`.
fn chunks(input: &[u8], seed: u8, max: usize) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 0x100;
    let mut rest = input;
    let mut out = Vec::new();
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let size = (1 + state as usize % (2 * max)).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        out.push(chunk);
        rest = tail;
    }
    out
}

/// The lines of `input` as they should be logged, uncut: split on `\n`, one trailing `\r`
/// dropped, a last line without `\n` kept unless empty.
fn reference_lines(input: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect()
}
