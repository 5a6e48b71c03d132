//! Unit tests of reading: names, tails, merge order, since.

use super::*;

fn entry(rank: usize, line: &str, last: &mut SystemTime) -> Entry {
    Entry::parse(rank, line.as_bytes(), last)
}

fn merged(files: &[&[&str]]) -> Vec<(usize, String)> {
    let iters: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(rank, lines)| {
            let mut last = UNIX_EPOCH;
            lines
                .iter()
                .map(|l| Ok(entry(rank, l, &mut last)))
                .collect::<Vec<_>>()
                .into_iter()
        })
        .collect();
    let mut out = Vec::new();
    merge(iters, |e| {
        out.push((e.rank, e.line[e.message_at..].to_string()));
        Ok(())
    })
    .expect("merge");
    out
}

#[test]
fn names() {
    assert_eq!(parse_name("0.out.log"), Some((Some(0), Stream::Out)));
    assert_eq!(parse_name("12.err.log"), Some((Some(12), Stream::Err)));
    assert_eq!(parse_name("1.out.log.1"), Some((Some(1), Stream::Out)));
    assert_eq!(parse_name("1.out.log.x"), None);
    assert_eq!(parse_name("1.out.log."), None);
    assert_eq!(parse_name("x.out.log"), None);
    assert_eq!(parse_name("+1.out.log"), None);
    assert_eq!(parse_name("1.foo.log"), None);
    assert_eq!(parse_name("out.log"), Some((None, Stream::Out)));
    assert_eq!(parse_name("err.log.3"), Some((None, Stream::Err)));
    assert_eq!(parse_name("all.log"), None);
    assert_eq!(parse_name(".corral-app"), None);
    let hook = |name| parse_any_name(name);
    assert_eq!(
        hook("preRollout.err.log.2"),
        Some((None, Some("preRollout"), Stream::Err))
    );
    assert_eq!(
        hook("postRollout.out.log"),
        Some((None, Some("postRollout"), Stream::Out))
    );
    assert_eq!(hook("preRollout.1.out.log"), None);
    assert_eq!(hook("3.out.log"), Some((Some(3), None, Stream::Out)));
}

#[test]
fn merge_interleaves_by_time_stably() {
    let a: &[&str] = &[
        "2026-01-01T00:00:01.000Z a1",
        "2026-01-01T00:00:03.000Z a3",
        "2026-01-01T00:00:03.000Z a3b",
    ];
    let b: &[&str] = &[
        "2026-01-01T00:00:02.000Z b2",
        "2026-01-01T00:00:03.000Z b3",
        "no stamp follows b3",
        "2026-01-01T00:00:04.000Z b4",
    ];
    let got: Vec<String> = merged(&[a, b]).into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        got,
        ["a1", "b2", "a3", "a3b", "b3", "no stamp follows b3", "b4"]
    );
}

#[test]
fn merge_without_timestamps_keeps_file_order() {
    let got = merged(&[&["x1", "x2"], &["y1"]]);
    assert_eq!(got, [(0, "x1".into()), (0, "x2".into()), (1, "y1".into())]);
}

fn file_with(content: &str) -> (tempfile::NamedTempFile, File, u64) {
    let mut tmp = tempfile::NamedTempFile::new().expect("tmp");
    tmp.write_all(content.as_bytes()).expect("write");
    let file = File::open(tmp.path()).expect("open");
    let len = content.len() as u64;
    (tmp, file, len)
}

#[test]
fn tail_start_counts_lines_from_the_end() {
    let (_t, f, len) = file_with("a\nbb\nccc\n");
    assert_eq!(tail_lines(&f, len, 1).expect("tail"), (5, 1));
    assert_eq!(tail_lines(&f, len, 2).expect("tail"), (2, 2));
    assert_eq!(tail_lines(&f, len, 3).expect("tail"), (0, 3));
    assert_eq!(tail_lines(&f, len, 9).expect("tail"), (0, 3));
    assert_eq!(tail_lines(&f, len, 0).expect("tail"), (len, 0));
    let (_t, f, len) = file_with("a\nbb\npartial");
    assert_eq!(tail_lines(&f, len, 1).expect("tail"), (5, 1));
    assert_eq!(tail_lines(&f, len, 5).expect("tail"), (0, 3));
    assert_eq!(complete_end(&f, len).expect("end"), 5);
    let (_t, f, _) = file_with("");
    assert_eq!(tail_lines(&f, 0, 5).expect("tail"), (0, 0));
}

#[test]
fn tail_across_many_blocks() {
    let content: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let (_t, f, len) = file_with(&content);
    let (start, _) = tail_lines(&f, len, 3).expect("tail");
    assert_eq!(
        &content[start as usize..],
        "line 19997\nline 19998\nline 19999\n"
    );
}

#[test]
fn file_lines_filter_since_and_inherit_keys() {
    let (tmp, f, len) = file_with(
        "2026-01-01T00:00:01.000Z old\ncontinued old\n2026-01-01T00:00:05.000Z new\nstill new\n",
    );
    let since = humantime::parse_rfc3339("2026-01-01T00:00:03Z").expect("time");
    let lines: Vec<String> = FileLines::new(f, tmp.path(), 0, (0, len), Some(since))
        .expect("lines")
        .map(|e| e.expect("entry").line)
        .collect();
    assert_eq!(lines, ["2026-01-01T00:00:05.000Z new", "still new"]);
}

#[test]
fn printer_prefixes_and_aligns() {
    let mut out = Vec::new();
    let sources = [
        Source {
            index: Some(0),
            hook: None,
            stream: Stream::Out,
            path: PathBuf::new(),
        },
        Source {
            index: Some(10),
            hook: None,
            stream: Stream::Err,
            path: PathBuf::new(),
        },
    ];
    let mut last = UNIX_EPOCH;
    let e = entry(0, "2026-01-01T00:00:01.000Z hi", &mut last);
    {
        let mut p = Printer::new(&mut out, "web", false);
        p.fit(&sources);
        p.print(&sources[0], &e).expect("print");
        p.print(&sources[1], &e).expect("print");
    }
    {
        let mut p = Printer::new(&mut out, "web", true);
        p.print(&sources[0], &e).expect("print");
    }
    assert_eq!(
        String::from_utf8(out).expect("utf8"),
        "web-0  | hi\nweb-10 ! hi\nweb-0 | 2026-01-01T00:00:01.000Z hi\n"
    );
}

/// Writes `web`'s stdout log of instance 0 as rotated files (oldest first) and a current one.
fn rotated_home(files: &[&str]) -> (tempfile::TempDir, Home) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    let path = home.app_logs("web").join("0.out.log");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let (current, rotated) = files.split_last().expect("a current file");
    for (i, content) in rotated.iter().rev().enumerate() {
        std::fs::write(rotated_path(&path, i as u32 + 1), content).expect("write");
    }
    std::fs::write(&path, current).expect("write");
    (dir, home)
}

fn shown(home: &Home, tail: Tail) -> String {
    let query = Query {
        tail,
        instance: None,
        stream: None,
        since: None,
        timestamps: false,
    };
    let mut out = Vec::new();
    show(home, "web", &query, &mut out).expect("show");
    String::from_utf8(out).expect("utf8")
}

#[test]
fn tail_reaches_back_into_rotated_files() {
    let (_d, home) = rotated_home(&["a\nb\n", "c\n", "", "d\ne\n"]);
    assert_eq!(shown(&home, Tail::Last(2)), "web-0 | d\nweb-0 | e\n");
    assert_eq!(
        shown(&home, Tail::Last(3)),
        "web-0 | c\nweb-0 | d\nweb-0 | e\n"
    );
    let all = "web-0 | a\nweb-0 | b\nweb-0 | c\nweb-0 | d\nweb-0 | e\n";
    assert_eq!(shown(&home, Tail::Last(4)), &all[10..]);
    assert_eq!(shown(&home, Tail::Last(50)), all);
    assert_eq!(shown(&home, Tail::All), all);
    assert_eq!(shown(&home, Tail::Last(0)), "");
}

#[test]
fn tail_reads_rotated_files_when_the_current_one_is_missing() {
    let (_d, home) = rotated_home(&["x\n", "y\n", ""]);
    std::fs::remove_file(home.app_logs("web").join("0.out.log")).expect("rm");
    assert_eq!(shown(&home, Tail::Last(5)), "web-0 | x\nweb-0 | y\n");
}
