//! A process's memory by mapping, from `/proc/PID/smaps`: what a soak's RSS growth is made of
//! (heap, malloc arenas, thread stacks, code) and how many threads hold stacks.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;

/// What a mapping holds, as far as smaps tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `[heap]`: the main malloc arena (brk).
    Heap,
    /// Anonymous read-write memory: other malloc arenas, thread stacks, big allocations.
    Anon,
    /// `[stack]`: the main thread's stack.
    Stack,
    /// A mapped file: code, read-only data, relocated data of the binary and libraries.
    File,
    /// `[vdso]`, `[vvar]` and the like.
    Other,
}

/// One mapping: its address range and name as smaps prints them, its kind, its RSS.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub range: String,
    pub name: String,
    pub kind: Kind,
    pub rss_kib: u64,
}

impl Mapping {
    /// Its start address, as smaps prints it.
    fn start(&self) -> &str {
        self.range.split('-').next().unwrap_or("")
    }
}

/// Every mapping of a process at one moment, and its thread count.
#[derive(Debug, Clone)]
pub struct Mappings {
    pub maps: Vec<Mapping>,
    pub threads: u64,
}

impl Mappings {
    /// Reads `/proc/PID/smaps` and the thread count from `/proc/PID/status`.
    pub fn read(pid: u32) -> Mappings {
        let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).expect("smaps");
        let mut maps: Vec<Mapping> = Vec::new();
        for line in smaps.lines() {
            let mut fields = line.split_whitespace();
            let Some(first) = fields.next() else { continue };
            if first == "Rss:" {
                if let Some(last) = maps.last_mut() {
                    last.rss_kib = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
                }
            } else if first.contains('-') && !first.ends_with(':') {
                // "start-end perms offset dev inode [name]"
                let name = fields.nth(4).unwrap_or("").to_string();
                let kind = match name.as_str() {
                    "" => Kind::Anon,
                    "[heap]" => Kind::Heap,
                    "[stack]" => Kind::Stack,
                    n if n.starts_with('/') => Kind::File,
                    _ => Kind::Other,
                };
                maps.push(Mapping {
                    range: first.to_string(),
                    name,
                    kind,
                    rss_kib: 0,
                });
            }
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        Mappings { maps, threads }
    }

    /// RSS in KiB by kind.
    pub fn by_kind(&self) -> BTreeMap<Kind, u64> {
        let mut sums = BTreeMap::new();
        for m in &self.maps {
            *sums.entry(m.kind).or_insert(0) += m.rss_kib;
        }
        sums
    }

    /// The mappings whose RSS differs from `before`'s by 8 KiB or more (new ones included),
    /// one line each, biggest change first. A mapping is known by its start address: the heap
    /// and malloc arenas grow at their end.
    pub fn grown_since(&self, before: &Mappings) -> Vec<String> {
        let old: BTreeMap<&str, u64> = before.maps.iter().map(|m| (m.start(), m.rss_kib)).collect();
        let new: BTreeMap<&str, &Mapping> = self.maps.iter().map(|m| (m.start(), m)).collect();
        let mut changes: Vec<(i64, String)> = Vec::new();
        for m in &self.maps {
            let was = old.get(m.start()).copied();
            let delta = m.rss_kib as i64 - was.unwrap_or(0) as i64;
            if delta.abs() >= 8 {
                let new_one = if was.is_none() { " (new)" } else { "" };
                changes.push((
                    delta,
                    format!("{delta:+} KiB {:?} {} {}{new_one}", m.kind, m.range, m.name),
                ));
            }
        }
        for m in &before.maps {
            if !new.contains_key(m.start()) && m.rss_kib >= 8 {
                changes.push((
                    -(m.rss_kib as i64),
                    format!(
                        "-{} KiB {:?} {} {} (gone)",
                        m.rss_kib, m.kind, m.range, m.name
                    ),
                ));
            }
        }
        changes.sort_by_key(|(d, _)| std::cmp::Reverse(d.abs()));
        changes.into_iter().map(|(_, line)| line).collect()
    }
}

impl fmt::Display for Mappings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} threads;", self.threads)?;
        for (kind, kib) in self.by_kind() {
            write!(f, " {kind:?} {kib} KiB")?;
        }
        Ok(())
    }
}
