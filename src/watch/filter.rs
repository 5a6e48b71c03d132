//! Which changed paths count: gitignore-style globs (built-in and the manifest's `ignore`),
//! the `.gitignore` files under the watched paths, and never `$CORRAL_HOME`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

/// Ignored under every watched path, whatever `watch.ignore` says: VCS data, dependencies, logs
/// and editor temp files (a change there is not a change of the app).
pub const BUILT_IN: &[&str] = &[
    ".git",
    "node_modules",
    "*.log",
    "*.swp",
    "*.swx",
    "*~",
    ".#*",
];

/// `.gitignore` files remembered at most; the cache starts over past this (no unbounded growth).
const GITIGNORE_CACHE: usize = 4096;

/// One watched path and the globs rooted at it.
#[derive(Debug)]
struct Root {
    /// The watched path itself (a directory or a file).
    path: PathBuf,
    /// The directory globs are relative to: the path, or a watched file's folder.
    dir: PathBuf,
    /// Built-in and user globs.
    globs: Gitignore,
}

/// Decides whether a changed path should trigger a reload.
#[derive(Debug)]
pub struct Filter {
    roots: Vec<Root>,
    home: PathBuf,
    /// Parsed `.gitignore` per directory (`None`: the directory has none).
    gitignores: HashMap<PathBuf, Option<Gitignore>>,
}

impl Filter {
    /// A filter for `roots` (absolute, canonical: the paths notify reports start with them),
    /// adding the user's `ignore` globs to [`BUILT_IN`]; `home` (canonical) is always ignored.
    pub fn new(roots: &[PathBuf], ignore: &[String], home: &Path) -> Result<Filter, String> {
        let mut out = Vec::new();
        for path in roots {
            let dir = if path.is_dir() {
                path.clone()
            } else {
                path.parent().unwrap_or(Path::new("/")).to_path_buf()
            };
            let mut b = GitignoreBuilder::new(&dir);
            for glob in BUILT_IN
                .iter()
                .copied()
                .chain(ignore.iter().map(String::as_str))
            {
                b.add_line(None, glob)
                    .map_err(|e| format!("watch.ignore {glob:?}: {e}"))?;
            }
            let globs = b.build().map_err(|e| format!("watch.ignore: {e}"))?;
            out.push(Root {
                path: path.clone(),
                dir,
                globs,
            });
        }
        Ok(Filter {
            roots: out,
            home: home.to_path_buf(),
            gitignores: HashMap::new(),
        })
    }

    /// Whether a change of `path` is to be ignored. Reads `.gitignore` files (blocking I/O:
    /// called on notify's own thread, never on the runtime).
    pub fn ignores(&mut self, path: &Path) -> bool {
        if path.starts_with(&self.home) {
            return true;
        }
        if path.file_name().is_some_and(|n| n == ".gitignore") {
            if let Some(dir) = path.parent() {
                self.gitignores.remove(dir);
            }
        }
        // The most specific watched path that holds `path`.
        let Some(root) = self
            .roots
            .iter()
            .filter(|r| path.starts_with(&r.path) && path != r.dir)
            .max_by_key(|r| r.path.as_os_str().len())
        else {
            // Outside every watched path: a sibling of a watched file in its folder.
            return true;
        };
        let is_dir = path.is_dir();
        if root
            .globs
            .matched_path_or_any_parents(path, is_dir)
            .is_ignore()
        {
            return true;
        }
        let root_dir = root.dir.clone();
        // The deepest .gitignore with an opinion decides, as in git.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if !d.starts_with(&root_dir) {
                break;
            }
            match self
                .gitignore(d)
                .map(|g| g.matched_path_or_any_parents(path, is_dir))
            {
                Some(Match::Ignore(_)) => return true,
                Some(Match::Whitelist(_)) => return false,
                _ => {}
            }
            dir = d.parent();
        }
        false
    }

    /// The parsed `.gitignore` of `dir`, if it has one (an unreadable line is skipped).
    fn gitignore(&mut self, dir: &Path) -> Option<&Gitignore> {
        if !self.gitignores.contains_key(dir) {
            if self.gitignores.len() >= GITIGNORE_CACHE {
                self.gitignores.clear();
            }
            let file = dir.join(".gitignore");
            let parsed = file.is_file().then(|| Gitignore::new(&file).0);
            self.gitignores.insert(dir.to_path_buf(), parsed);
        }
        self.gitignores.get(dir).and_then(Option::as_ref)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let app = base.join("app");
        let home = app.join(".corral");
        for d in [
            "node_modules/x",
            ".git",
            "src/gen",
            "build",
            "sub",
            ".corral/logs",
        ] {
            fs::create_dir_all(app.join(d)).unwrap();
        }
        fs::write(app.join(".gitignore"), "build/\n*.tmp\n").unwrap();
        fs::write(app.join("sub/.gitignore"), "gen.js\n!keep.tmp\n").unwrap();
        (tmp, app, home)
    }

    #[test]
    fn built_ins_user_globs_gitignore_and_home_are_ignored() {
        let (_tmp, app, home) = tree();
        let mut f = Filter::new(
            std::slice::from_ref(&app),
            &["dist/".into(), "*.bak".into()],
            &home,
        )
        .unwrap();
        for ignored in [
            "node_modules/x/index.js",
            ".git/HEAD",
            "server.log",
            "src/deep/app.log",
            ".server.js.swp",
            "server.js~",
            "dist/bundle.js",
            "src/a.bak",
            "build/out.js",
            "src/x.tmp",
            "sub/gen.js",
            ".corral/logs/web.out",
        ] {
            assert!(f.ignores(&app.join(ignored)), "{ignored} should be ignored");
        }
        for kept in [
            "server.js",
            "src/gen/a.js",
            "sub/keep.tmp",
            "sub/other.js",
            ".gitignore",
        ] {
            assert!(!f.ignores(&app.join(kept)), "{kept} should trigger");
        }
    }

    #[test]
    fn a_gitignore_edit_is_read_again() {
        let (_tmp, app, home) = tree();
        let mut f = Filter::new(std::slice::from_ref(&app), &[], &home).unwrap();
        assert!(!f.ignores(&app.join("src/a.js")));
        fs::write(app.join("src/.gitignore"), "a.js\n").unwrap();
        assert!(
            !f.ignores(&app.join("src/a.js")),
            "cached until the .gitignore event"
        );
        assert!(!f.ignores(&app.join("src/.gitignore")));
        assert!(f.ignores(&app.join("src/a.js")));
    }

    #[test]
    fn a_watched_file_and_not_its_siblings() {
        let (_tmp, app, home) = tree();
        let file = app.join("server.js");
        fs::write(&file, "").unwrap();
        let mut f = Filter::new(std::slice::from_ref(&file), &[], &home).unwrap();
        assert!(!f.ignores(&file));
        assert!(
            f.ignores(&app.join("other.js")),
            "a sibling of a watched file"
        );
    }
}
