//! How a `command` string runs: `sh -c LINE`, with `exec` put before the program when the line
//! is one simple command, so that the program itself is the instance's process (its pid, its
//! exit status, its signals first-hand) rather than a shell waiting for it.
//!
//! `exec` is only put where it keeps the line's meaning: `a && b`, `a; b`, `a | b`, a leading
//! builtin (`cd dir && …`, `export …`) or a compound command run under plain `sh -c`, whose
//! result is the same with one more process. Leading `NAME=value` words stay in front
//! (`NODE_ENV=production exec node app.js`), where the shell exports them to the program.

use super::types::Command;

/// Words that begin a compound command or are shell syntax: a line starting with one is never
/// prefixed.
const RESERVED: &[&str] = &[
    "!", "{", "}", "[[", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function",
    "if", "in", "select", "then", "until", "while",
];

/// Builtins that have no program of the same name, or that change the shell itself: `exec cd`
/// would fail, so a line starting with one runs under plain `sh -c`.
const BUILTINS: &[&str] = &[
    ".", ":", "alias", "break", "cd", "continue", "eval", "exec", "exit", "export", "local",
    "readonly", "return", "set", "shift", "source", "trap", "ulimit", "umask", "unset", "wait",
];

impl Command {
    /// The argv to start: a list as is; a string as `sh -c LINE` (see the module's doc).
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Argv(argv) => argv.clone(),
            Command::Shell(line) => vec!["sh".into(), "-c".into(), shell_line(line)],
        }
    }
}

/// `line` with `exec` before its program when it is one simple command, else `line` as is.
pub fn shell_line(line: &str) -> String {
    match program_start(line) {
        Some(at) => format!("{}exec {}", &line[..at], &line[at..]),
        None => line.to_owned(),
    }
}

/// Where the program's word begins in a line that is one simple command (after leading
/// whitespace and `NAME=value` words); `None` for anything else.
fn program_start(line: &str) -> Option<usize> {
    if has_list_operator(line) {
        return None;
    }
    let mut at = 0;
    loop {
        let rest = &line[at..];
        let skipped = rest.len() - rest.trim_start().len();
        at += skipped;
        let word_end = line[at..]
            .find(char::is_whitespace)
            .map_or(line.len(), |i| at + i);
        let word = &line[at..word_end];
        if word.is_empty() || RESERVED.contains(&word) || BUILTINS.contains(&word) {
            return None;
        }
        if !is_assignment(word) {
            return Some(at);
        }
        // A quoted value may hold spaces: only plain `NAME=value` words are stepped over.
        if word.contains(['\'', '"', '\\', '$', '`']) {
            return None;
        }
        at = word_end;
    }
}

/// `NAME=…` with a valid shell name.
fn is_assignment(word: &str) -> bool {
    let Some((name, _)) = word.split_once('=') else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether the line has, outside quotes, what makes it more than one simple command: `;`, `&`
/// (`&&` and background), `|` (`||` and pipes), a newline, or a parenthesis (subshells; `$(…)`
/// in an argument counts too, which only costs the `exec`).
fn has_list_operator(line: &str) -> bool {
    let mut chars = line.chars();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\\' if !single => {
                chars.next();
            }
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ';' | '&' | '|' | '\n' | '(' | ')' | '#' if !single && !double => return true,
            _ => {}
        }
    }
    single || double
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_command_is_execed() {
        assert_eq!(shell_line("node server.js"), "exec node server.js");
        assert_eq!(shell_line("  npm start"), "  exec npm start");
        assert_eq!(
            shell_line("node 'a; b' \"c && d\""),
            "exec node 'a; b' \"c && d\""
        );
        assert_eq!(
            shell_line("node app.js > out.log 2>&1"),
            "node app.js > out.log 2>&1"
        );
        assert_eq!(
            shell_line("node app.js >out.log"),
            "exec node app.js >out.log"
        );
    }

    #[test]
    fn assignments_stay_in_front() {
        assert_eq!(
            shell_line("NODE_ENV=production PORT=3000 node app.js"),
            "NODE_ENV=production PORT=3000 exec node app.js"
        );
        assert_eq!(shell_line("A=1"), "A=1");
        assert_eq!(shell_line("A='x y' node"), "A='x y' node");
    }

    #[test]
    fn lists_builtins_and_compounds_run_as_written() {
        for line in [
            "npm run build && node dist/app.js",
            "a || b",
            "a; b",
            "a | b",
            "a &",
            "(cd x; node y)",
            "cd app && node x",
            "cd app",
            "export A=1",
            "if true; then node x; fi",
            "while :; do sleep 1; done",
            "{ node x; }",
            "a\nb",
            "node x # comment",
            "echo 'unclosed",
        ] {
            assert_eq!(shell_line(line), line, "{line:?}");
        }
    }

    #[test]
    fn argv_runs_the_line_under_sh() {
        assert_eq!(
            Command::Shell("a && b".into()).argv(),
            ["sh", "-c", "a && b"].map(String::from)
        );
        assert_eq!(
            Command::Argv(vec!["x".into()]).argv(),
            ["x"].map(String::from)
        );
    }

    proptest::proptest! {
        /// Whatever the line, it is kept byte for byte, with at most `exec ` added.
        #[test]
        fn the_line_is_kept(line in "[ -~\n]{0,40}") {
            let out = shell_line(&line);
            proptest::prop_assert!(out == line || out.replacen("exec ", "", 1) == line);
        }
    }
}
