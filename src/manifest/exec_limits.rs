//! The kernel's limits on what `execve` takes, checked when a manifest is read: an argument or
//! an `env` entry over [`MAX_ARG_STRLEN`] can never start, on any host.

use super::locate::Seg::{self, Index, Key};
use super::types::{App, Command};

/// The longest single string `execve` takes, its NUL included (Linux's `MAX_ARG_STRLEN`,
/// 32 pages of 4 KiB): each argument, and each `NAME=value` of the environment.
pub const MAX_ARG_STRLEN: usize = 32 * 4096;

/// Bytes `NAME=value` takes in an environment block, its NUL included.
pub fn env_entry_len(name: &str, value: &str) -> usize {
    name.len() + 1 + value.len() + 1
}

/// The first argument of `spec.command` or entry of `env` (the spec's, or a profile's) the
/// kernel would refuse as too long: its key path and the message (the value never shown).
pub fn oversized(app: &App) -> Option<(Vec<Seg<'_>>, String)> {
    let spec = &app.spec;
    let args: Vec<(Vec<Seg<'_>>, usize)> = match &spec.command {
        Command::Argv(argv) => argv
            .iter()
            .enumerate()
            .map(|(i, a)| (vec![Key("spec"), Key("command"), Index(i)], a.len() + 1))
            .collect(),
        Command::Shell(line) => vec![(
            vec![Key("spec"), Key("command")],
            super::shell::shell_line(line).len() + 1,
        )],
    };
    for (path, len) in args {
        if len > MAX_ARG_STRLEN {
            let message = format!(
                "{}: this argument is {len} bytes, and the kernel refuses any single argument \
                 over {MAX_ARG_STRLEN} bytes (MAX_ARG_STRLEN), so the app could never start; \
                 pass the data in a file the app reads",
                super::validate::dotted(&path)
            );
            return Some((path, message));
        }
    }
    let mut envs = vec![(vec![Key("spec"), Key("env")], &spec.env)];
    for (name, profile) in &spec.profiles {
        envs.push((
            vec![Key("spec"), Key("profiles"), Key(name), Key("env")],
            &profile.env,
        ));
    }
    for (mut path, env) in envs {
        for (name, value) in env {
            let len = env_entry_len(name, value);
            if len > MAX_ARG_STRLEN {
                path.push(Key(name));
                let message = format!(
                    "{}: {name}={{…}} takes {len} bytes, and the kernel refuses any single \
                     environment variable over {MAX_ARG_STRLEN} bytes (MAX_ARG_STRLEN, NAME= and \
                     the final NUL included), so the app could never start; shorten it, or put the \
                     data in a file the app reads and pass its path",
                    super::validate::dotted(&path)
                );
                return Some((path, message));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(extra: &str) -> App {
        let text = format!(
            "apiVersion: corral/v1\nkind: App\nmetadata: {{name: web}}\nspec:\n  command: [sleep, '1']\n{extra}"
        );
        serde_yaml::from_str(&text).expect("app")
    }

    #[test]
    fn the_limit_counts_the_name_the_equals_sign_and_the_nul() {
        let fits = "x".repeat(MAX_ARG_STRLEN - "BIG=".len() - 1);
        assert!(oversized(&app(&format!("  env: {{BIG: {fits}}}\n"))).is_none());
        let over = app(&format!("  env: {{BIG: {fits}x}}\n"));
        let (path, message) = oversized(&over).expect("one byte over");
        assert_eq!(path, vec![Key("spec"), Key("env"), Key("BIG")]);
        assert!(
            message.starts_with("spec.env.BIG: BIG={…} takes 131073 bytes"),
            "{message}"
        );
        assert!(!message.contains("xxxx"), "the value is never shown");
    }

    #[test]
    fn profiles_and_arguments_are_checked_too() {
        let over = "x".repeat(MAX_ARG_STRLEN);
        let profile = app(&format!("  profiles: {{prod: {{env: {{K: {over}}}}}}}\n"));
        let (path, _) = oversized(&profile).expect("profile env");
        assert_eq!(
            path,
            vec![
                Key("spec"),
                Key("profiles"),
                Key("prod"),
                Key("env"),
                Key("K")
            ]
        );
        let text = format!(
            "apiVersion: corral/v1\nkind: App\nmetadata: {{name: web}}\nspec:\n  command: [echo, {over}]\n"
        );
        let argv: App = serde_yaml::from_str(&text).expect("app");
        let (path, message) = oversized(&argv).expect("argument");
        assert_eq!(path, vec![Key("spec"), Key("command"), Index(1)]);
        assert!(message.contains("single argument"), "{message}");
    }
}
