//! The environment and argv against the kernel's limits: one string over `MAX_ARG_STRLEN`,
//! or all of them over `ARG_MAX`. Values are never shown: they may come from `envFiles`.

use std::path::Path;

use crate::manifest::exec_limits::{env_entry_len, MAX_ARG_STRLEN};

/// The first variable of `vars` (read from the env file `file`) too long for the kernel.
pub fn too_long_in_file(vars: &[(String, String)], file: &Path) -> Option<String> {
    let (name, value) = vars
        .iter()
        .find(|(k, v)| env_entry_len(k, v) > MAX_ARG_STRLEN)?;
    Some(format!(
        "env variable {name} from env file {} takes {} bytes, and the kernel refuses any single \
         environment variable over {MAX_ARG_STRLEN} bytes (MAX_ARG_STRLEN, NAME= and the final \
         NUL included), so the app cannot start; shorten it in that file, or put the data in a \
         file the app reads and pass its path (the value is not shown)",
        file.display(),
        env_entry_len(name, value)
    ))
}

/// Why `execve` said "Argument list too long" (E2BIG) for `argv` and `env`.
pub fn explain_too_big(argv: &[String], env: &[(String, String)]) -> String {
    if let Some((name, value)) = env
        .iter()
        .find(|(k, v)| env_entry_len(k, v) > MAX_ARG_STRLEN)
    {
        return format!(
            "env variable {name} takes {} bytes, and the kernel refuses any single environment \
             variable over {MAX_ARG_STRLEN} bytes (MAX_ARG_STRLEN); it comes from the \
             controller's own environment or an env file: shorten it (the value is not shown)",
            env_entry_len(name, value)
        );
    }
    if let Some((i, arg)) = argv
        .iter()
        .enumerate()
        .find(|(_, a)| a.len() + 1 > MAX_ARG_STRLEN)
    {
        return format!(
            "spec.command[{i}] is {} bytes, over the kernel's limit of {MAX_ARG_STRLEN} bytes \
             for one argument (MAX_ARG_STRLEN): pass the data in a file the app reads",
            arg.len() + 1
        );
    }
    let strings: usize = argv.iter().map(|a| a.len() + 1).sum::<usize>()
        + env.iter().map(|(k, v)| env_entry_len(k, v)).sum::<usize>();
    let pointers = (argv.len() + env.len() + 2) * std::mem::size_of::<usize>();
    let limit = nix::unistd::sysconf(nix::unistd::SysconfVar::ARG_MAX)
        .ok()
        .flatten()
        .map_or_else(|| "its".to_string(), |n| format!("{n} bytes,"));
    format!(
        "the command and its environment together take {} bytes ({} arguments, {} variables), \
         over what the kernel takes at once ({limit} ARG_MAX: a quarter of the stack limit); \
         shorten spec.env, the env files or the controller's own environment, or raise the \
         controller's stack limit (ulimit -s)",
        strings + pointers,
        argv.len(),
        env.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_is_named_and_its_value_never_shown() {
        let big = "s".repeat(MAX_ARG_STRLEN);
        let vars = vec![
            ("OK".to_string(), "1".to_string()),
            ("SECRET".to_string(), big),
        ];
        let text = too_long_in_file(&vars, Path::new("/srv/app/.env")).expect("too long");
        assert!(
            text.starts_with("env variable SECRET from env file /srv/app/.env takes 131080 bytes"),
            "{text}"
        );
        assert!(!text.contains("sss"));
        assert!(too_long_in_file(&vars[..1], Path::new("/x")).is_none());
        let text = explain_too_big(&["app".into()], &vars);
        assert!(text.starts_with("env variable SECRET takes"), "{text}");
        let many: Vec<(String, String)> = (0..100)
            .map(|i| (format!("V{i}"), "v".repeat(100_000)))
            .collect();
        let text = explain_too_big(&["app".into()], &many);
        assert!(text.contains("100 variables"), "{text}");
        assert!(text.contains("ARG_MAX"), "{text}");
    }
}
