//! What is wrong with the program a command names, found by looking at the file (before a
//! start, or for `validate`) or from the error `execve` gave (after a failed start).

use std::io;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The program of an argv as the child will look for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program<'a> {
    /// `argv[0]` as written.
    pub name: &'a str,
    /// The file it names: a path as written (relative ones against `cwd`), or found in `PATH`;
    /// `None` for a bare name found nowhere.
    pub file: Option<PathBuf>,
    /// The field that names it, for messages: `spec.command`, `spec.readiness.exec.command`.
    pub field: &'a str,
}

impl<'a> Program<'a> {
    /// Looks `name` up as the child would: a path against `cwd`, a bare name in `path`
    /// (the instance's `PATH`; the first file of that name, executable or not).
    pub fn find(name: &'a str, cwd: &Path, path: Option<&str>, field: &'a str) -> Self {
        let file = if name.contains('/') {
            // Collected from components: `./run.sh` shows as `CWD/run.sh`.
            Some(cwd.join(name).components().collect())
        } else {
            // As execvp: the first executable file; else the first of that name, to say why.
            let candidates: Vec<PathBuf> = path
                .unwrap_or_default()
                .split(':')
                .filter(|dir| !dir.is_empty())
                .map(|dir| cwd.join(dir).join(name))
                .filter(|candidate| candidate.symlink_metadata().is_ok())
                .collect();
            let runnable = candidates.iter().find(|c| {
                std::fs::metadata(c)
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            });
            runnable.or(candidates.first()).cloned()
        };
        Self { name, file, field }
    }

    /// A sentence for what certainly keeps this program from starting, looking at its file
    /// only (so `validate` can warn, and a start can fail early with the same words); `None`
    /// when nothing is wrong that a look can tell (a bare name not found is left to the start:
    /// the controller's `PATH` may differ from this one).
    pub fn problem(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let shown = file.display();
        let meta = match std::fs::metadata(file) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Some(format!(
                    "{}: {shown} does not exist: fix {} (a relative path starts at spec.cwd)",
                    self.field, self.field
                ))
            }
            Err(_) => return None,
        };
        if meta.is_dir() {
            return Some(format!(
                "{}: {shown} is a directory, not a program: name the program inside it in {}",
                self.field, self.field
            ));
        }
        let mode = meta.permissions().mode();
        if mode & 0o111 == 0 {
            return Some(format!(
                "{}: {shown} is not executable (mode {:04o}): make it executable with \
                 `chmod +x {shown}`, or fix {} (e.g. run it through its interpreter: \
                 [\"sh\", \"{shown}\"])",
                self.field,
                mode & 0o7777,
                self.field
            ));
        }
        let interpreter = interpreter(file)?;
        match std::fs::metadata(&interpreter) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some(format!(
                "{}: {shown} starts with #!{}, and {} does not exist: install it, or fix the \
                 first line of {shown}",
                self.field,
                interpreter.display(),
                interpreter.display()
            )),
            Ok(m) if m.is_dir() || m.permissions().mode() & 0o111 == 0 => Some(format!(
                "{}: {shown} starts with #!{}, which is not an executable program: fix the \
                 first line of {shown}",
                self.field,
                interpreter.display()
            )),
            _ => None,
        }
    }

    /// The sentence for `err`, the error a start of this program failed with.
    pub fn explain(&self, err: &io::Error) -> String {
        if let Some(problem) = self.problem() {
            return problem;
        }
        let Some(file) = &self.file else {
            if err.kind() == io::ErrorKind::NotFound {
                return format!(
                    "{}: {:?} not found in the app's PATH: give its full path, or set PATH in \
                     spec.env",
                    self.field, self.name
                );
            }
            return format!("{}: cannot start {:?}: {err}", self.field, self.name);
        };
        let shown = file.display();
        match err.raw_os_error() {
            Some(libc::EACCES) => format!(
                "{}: permission denied running {shown}: a folder on its path cannot be searched, \
                 or its file system is mounted noexec; move it, or fix {}",
                self.field, self.field
            ),
            Some(libc::ENOEXEC) => format!(
                "{}: {shown} is not a program this system can run (no #! line, and not a binary \
                 for this machine): add a #! line, or run it through its interpreter in {} \
                 (e.g. [\"sh\", \"{shown}\"])",
                self.field, self.field
            ),
            Some(libc::ENOENT) => format!(
                "{}: {shown} cannot be started: a program it needs is missing (its #! \
                 interpreter, or for a binary its dynamic loader, e.g. built for another \
                 system); install it, or fix {}",
                self.field, self.field
            ),
            _ => format!("{}: cannot start {shown}: {err}", self.field),
        }
    }
}

/// The interpreter a `#!` line names, if the file starts with one.
fn interpreter(file: &Path) -> Option<PathBuf> {
    let mut head = [0u8; 256];
    let mut f = std::fs::File::open(file).ok()?;
    let n = f.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let first = line.split_whitespace().next()?;
    Some(PathBuf::from(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).expect("write");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn a_look_at_the_file_says_what_keeps_it_from_running() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let problem = |name: &str| Program::find(name, dir, None, "spec.command").problem();
        write(&dir.join("plain"), "hello", 0o644);
        let p = problem("./plain").expect("not executable");
        assert!(p.contains("is not executable (mode 0644)"), "{p}");
        assert!(p.contains("chmod +x"), "{p}");
        std::fs::create_dir(dir.join("folder")).expect("mkdir");
        let p = problem("./folder").expect("directory");
        assert!(p.contains("is a directory"), "{p}");
        write(
            &dir.join("script"),
            "#!/nonexistent/python9 -u\nprint(1)\n",
            0o755,
        );
        let p = problem("./script").expect("interpreter");
        assert!(
            p.contains("#!/nonexistent/python9, and /nonexistent/python9 does not exist"),
            "{p}"
        );
        let p = problem("./missing").expect("missing");
        assert!(p.contains("does not exist"), "{p}");
        write(&dir.join("good"), "#!/bin/sh\ntrue\n", 0o755);
        assert_eq!(problem("./good"), None);
        assert_eq!(
            problem("no-such-program-anywhere"),
            None,
            "left to the start"
        );
    }

    #[test]
    fn bare_names_are_found_in_path_even_when_not_executable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        write(&tmp.path().join("tool"), "x", 0o644);
        let path = format!("/nonexistent:{}", tmp.path().display());
        let p = Program::find("tool", Path::new("/"), Some(&path), "spec.command");
        assert_eq!(p.file, Some(tmp.path().join("tool")));
        assert!(p
            .problem()
            .expect("not executable")
            .contains("is not executable"));
        // An executable one later in PATH is what execvp runs: nothing wrong.
        let later = tmp.path().join("later");
        std::fs::create_dir(&later).expect("mkdir");
        write(&later.join("tool"), "#!/bin/sh\n", 0o755);
        let path = format!("{path}:{}", later.display());
        let p = Program::find("tool", Path::new("/"), Some(&path), "spec.command");
        assert_eq!(p.problem(), None);
        assert_eq!(p.file, Some(later.join("tool")));
        let gone = Program::find("nope", Path::new("/"), Some(&path), "spec.command");
        let text = gone.explain(&io::Error::from_raw_os_error(libc::ENOENT));
        assert!(
            text.contains("\"nope\" not found in the app's PATH"),
            "{text}"
        );
    }
}
