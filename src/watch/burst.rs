//! The changes of one burst, kept bounded: the first few paths for people, a count of the rest.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// Paths named in a trigger; the rest are counted.
pub const NAMED: usize = 5;
/// Distinct paths remembered per burst to count them; past it the count is a lower bound.
const COUNTED: usize = 4096;

/// What set off a reload: the first changed paths (relative to `cwd` when under it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trigger {
    /// The first changed paths, at most [`NAMED`].
    pub paths: Vec<String>,
    /// How many other paths changed.
    pub more: usize,
}

impl Trigger {
    /// Adds the paths of `later` (a change that came while this one waited).
    pub fn merge(&mut self, later: Trigger) {
        for p in later.paths {
            if self.paths.contains(&p) {
                continue;
            }
            if self.paths.len() < NAMED {
                self.paths.push(p);
            } else {
                self.more += 1;
            }
        }
        self.more += later.more;
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.paths.join(", "))?;
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        Ok(())
    }
}

/// Changes seen since the last trigger, or the error that ended the watch.
#[derive(Debug, Default)]
pub struct Burst {
    seen: HashSet<PathBuf>,
    named: Vec<PathBuf>,
    more: usize,
    /// Set when the watch broke (e.g. the inotify limit reached while adding a new directory).
    pub failed: Option<String>,
}

impl Burst {
    /// Records a change of `path`.
    pub fn add(&mut self, path: &Path) {
        if self.seen.contains(path) {
            return;
        }
        if self.named.len() < NAMED {
            self.named.push(path.to_path_buf());
        } else {
            self.more += 1;
        }
        if self.seen.len() < COUNTED {
            self.seen.insert(path.to_path_buf());
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.named.is_empty()
    }

    /// Empties the burst into a trigger, paths shown relative to `cwd` when under it.
    pub fn take(&mut self, cwd: &Path) -> Trigger {
        let named = std::mem::take(&mut self.named);
        let more = std::mem::take(&mut self.more);
        self.seen.clear();
        Trigger {
            paths: named
                .iter()
                .map(|p| match p.strip_prefix(cwd) {
                    Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
                    _ => p.display().to_string(),
                })
                .collect(),
            more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_names_five_paths_and_counts_the_rest_once() {
        let mut b = Burst::default();
        for round in 0..2 {
            for i in 0..200 {
                b.add(&PathBuf::from(format!("/app/src/f{i}.js")));
            }
            let _ = round;
        }
        b.add(Path::new("/elsewhere/x"));
        let t = b.take(Path::new("/app"));
        assert_eq!(t.paths.len(), NAMED);
        assert_eq!(t.paths[0], "src/f0.js");
        assert_eq!(t.more, 196);
        assert_eq!(
            t.to_string(),
            "src/f0.js, src/f1.js, src/f2.js, src/f3.js, src/f4.js and 196 more"
        );
        assert!(b.is_empty());
    }

    #[test]
    fn merging_keeps_the_first_paths_and_adds_the_counts() {
        let mut a = Trigger {
            paths: vec!["a".into()],
            more: 0,
        };
        a.merge(Trigger {
            paths: vec!["a".into(), "b".into()],
            more: 3,
        });
        assert_eq!(a.to_string(), "a, b and 3 more");
    }
}
