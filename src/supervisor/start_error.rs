//! Why a start of a template failed, as one sentence with the field to fix: the one place a
//! spawn's `io::Error` is turned into the app's words (the program, `logs.dir`, the size of
//! the environment). New kinds of start failure join here.

use std::io;

use super::program;
use super::template::Template;
use crate::launch::{self, env, Program};

/// The program of `template` as its instances look for it (`env` is their environment).
fn program_of<'a>(template: &'a Template, env: &'a [(String, String)]) -> Option<Program<'a>> {
    let name = template.argv.first()?;
    let path = program::path_of(env);
    Some(Program::find(name, &template.cwd, path, "spec.command"))
}

/// Fails early, before any instance is spawned, when a look at the program shows it cannot
/// start (missing, a directory, not executable, a `#!` interpreter missing).
pub fn check_program(template: &Template, env: &[(String, String)]) -> io::Result<()> {
    match program_of(template, env).and_then(|p| p.problem()) {
        Some(problem) => Err(io::Error::new(io::ErrorKind::InvalidInput, problem)),
        None => Ok(()),
    }
}

/// `err` from spawning an instance of `template` with `env`, as a sentence.
pub fn explain(err: &io::Error, template: &Template, env: &[(String, String)]) -> io::Error {
    let message = if err.raw_os_error() == Some(libc::E2BIG) {
        env::explain_too_big(&template.argv, env)
    } else {
        match program_of(template, env) {
            Some(program) => program.explain(err),
            None => err.to_string(),
        }
    };
    io::Error::new(err.kind(), message)
}

/// `err` from preparing `logs.dir` of `template`, as a sentence.
pub fn logs_dir(err: io::Error, template: &Template) -> io::Error {
    match &template.log_dir {
        Some(dir) => io::Error::new(err.kind(), launch::logs_dir::explain(&err, dir)),
        None => err,
    }
}
