//! Finds where a key path such as `spec.strategy.maxSurge` is written in a YAML document's text.
//!
//! serde locates errors it raises itself; checks that span several fields run after parsing and
//! use this to point at the offending key. It reads block mappings and sequences by indentation
//! and flow mappings (`{a: 1, b: 2}`) on one line, which covers how manifests are written; when a
//! key cannot be found it answers with the deepest ancestor it did find.

/// One step of a key path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence item, 0-based.
    Index(usize),
}

/// Where a found node is: line index, byte column of its key (or dash), its scope indent.
#[derive(Debug, Clone, Copy)]
struct Found {
    /// 0-based line index.
    line: usize,
    /// Byte offset in the line where the key or `-` starts.
    col: usize,
}

/// The 1-based line and column of the deepest segment of `path` found in `text`.
pub fn locate(text: &str, path: &[Seg<'_>]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at: Option<Found> = None;
    for seg in path {
        let next = match *seg {
            Seg::Key(k) => find_key(&lines, at, k),
            Seg::Index(n) => at.and_then(|f| find_index(&lines, f, n)),
        };
        match next {
            Some(f) => at = Some(f),
            None => break,
        }
    }
    at.map(|f| {
        let line = lines.get(f.line).copied().unwrap_or("");
        (
            f.line + 1,
            line[..f.col.min(line.len())].chars().count() + 1,
        )
    })
}

/// Number of leading spaces.
fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether a line holds no YAML content.
fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
}

/// Byte offset where a line's key starts, past any `- ` sequence markers.
fn key_col(line: &str) -> usize {
    let mut col = indent(line);
    while line[col..].starts_with("- ") {
        col += 2;
        col += indent(&line[col..]);
    }
    col
}

/// Whether `s` starts with `key:` followed by a space, the end, or a flow delimiter.
fn starts_with_key(s: &str, key: &str) -> bool {
    s.strip_prefix(key)
        .and_then(|r| r.strip_prefix(':'))
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '{', '[', ',', '}']))
}

/// Finds `key` among the children of `parent` (or at the top level when `None`).
fn find_key(lines: &[&str], parent: Option<Found>, key: &str) -> Option<Found> {
    let (first, scope) = match parent {
        None => (0, None),
        Some(p) => {
            if let Some(f) = find_on_line(lines[p.line], p.col, key) {
                return Some(Found {
                    line: p.line,
                    col: f,
                });
            }
            (p.line + 1, Some(indent_of(lines[p.line], p.col)))
        }
    };
    let mut child_col = None;
    for (i, line) in lines.iter().enumerate().skip(first) {
        if is_blank(line) {
            continue;
        }
        let col = key_col(line);
        if let Some(s) = scope {
            if indent(line) <= s {
                break;
            }
        }
        let child = *child_col.get_or_insert(col);
        if col < child {
            break;
        }
        if col == child && starts_with_key(&line[col..], key) {
            return Some(Found { line: i, col });
        }
    }
    None
}

/// The indent that bounds a node's children: the column of its key or dash.
fn indent_of(line: &str, col: usize) -> usize {
    line[..col].chars().count()
}

/// Finds `key` written on the parent's own line: after a `- ` dash, or inside a flow mapping.
fn find_on_line(line: &str, parent_col: usize, key: &str) -> Option<usize> {
    let rest = &line[parent_col..];
    if let Some(after_dash) = rest.strip_prefix("- ") {
        let col = parent_col + 2 + indent(after_dash);
        if starts_with_key(&line[col..], key) {
            return Some(col);
        }
    }
    let brace = parent_col + rest.find('{')?;
    let mut depth = 0usize;
    for (i, c) in line[brace..].char_indices() {
        let pos = brace + i;
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        let prev = line[..pos].trim_end().chars().last();
        if depth == 1 && matches!(prev, Some('{') | Some(',')) && starts_with_key(&line[pos..], key)
        {
            return Some(pos);
        }
    }
    None
}

/// Finds the `n`th block-sequence item under `parent`.
fn find_index(lines: &[&str], parent: Found, n: usize) -> Option<Found> {
    let scope = indent_of(lines[parent.line], parent.col);
    let mut dash_col = None;
    let mut count = 0;
    for (i, line) in lines.iter().enumerate().skip(parent.line + 1) {
        if is_blank(line) {
            continue;
        }
        let ind = indent(line);
        let is_item = line[ind..].starts_with('-');
        let dash = *dash_col.get_or_insert(ind);
        if ind < dash || (ind <= scope && !is_item) || !is_item && ind == dash {
            break;
        }
        if ind == dash && is_item {
            if count == n {
                return Some(Found { line: i, col: ind });
            }
            count += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use Seg::{Index, Key};

    const DOC: &str = "\
apiVersion: corral/v1
kind: App
metadata:
  name: web
spec:
  command: [node]
  readiness:
    http: {port: 8080}
    tcp:
      port: 8080
  listen:
    - {name: http, port: 8080}
    - name: admin
      port: 9090
  strategy: {maxSurge: 0, maxUnavailable: 0}
  backoff:
    max: 1s
";

    #[test]
    fn finds_block_keys() {
        assert_eq!(locate(DOC, &[Key("metadata"), Key("name")]), Some((4, 3)));
        assert_eq!(
            locate(DOC, &[Key("spec"), Key("readiness"), Key("tcp")]),
            Some((9, 5))
        );
    }

    #[test]
    fn finds_flow_keys() {
        let p = [Key("spec"), Key("strategy"), Key("maxUnavailable")];
        assert_eq!(locate(DOC, &p), Some((15, 27)));
        let p = [Key("spec"), Key("readiness"), Key("http"), Key("port")];
        assert_eq!(locate(DOC, &p), Some((8, 12)));
    }

    #[test]
    fn finds_sequence_items() {
        let p = [Key("spec"), Key("listen"), Index(0), Key("port")];
        assert_eq!(locate(DOC, &p), Some((12, 20)));
        let p = [Key("spec"), Key("listen"), Index(1), Key("port")];
        assert_eq!(locate(DOC, &p), Some((14, 7)));
        let p = [Key("spec"), Key("listen"), Index(1), Key("name")];
        assert_eq!(locate(DOC, &p), Some((13, 7)));
    }

    #[test]
    fn falls_back_to_the_deepest_ancestor() {
        let p = [Key("spec"), Key("backoff"), Key("initial")];
        assert_eq!(locate(DOC, &p), Some((16, 3)));
        assert_eq!(locate(DOC, &[Key("nope")]), None);
        // A grandchild with the same name is not a child.
        assert_eq!(locate(DOC, &[Key("spec"), Key("port")]), Some((5, 1)));
    }
}
