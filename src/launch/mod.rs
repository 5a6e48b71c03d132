//! Why an app's process cannot start, in the app's words: a look at the program a command
//! names (for `validate`'s warnings and an early failed start) and the sentence for the error
//! `execve` gave, naming the field to fix and how. Probes, the supervisor and `validate` share
//! it, so one failure reads the same wherever it shows.

pub mod env;
pub mod logs_dir;
pub mod program;

pub use program::Program;
