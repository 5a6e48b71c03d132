//! `corral completion bash` run by real bash (the function it registers, called as bash calls
//! it on Tab), offering commands and the apps of a live controller; the manual pages rendered
//! by man-db's `man` and checked by groff.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{manifest, Controller, BIN};

/// Runs `script` in a bare bash with corral first on `PATH` and `CORRAL_HOME=home`; its stdout.
fn bash(home: &Path, script: &str) -> String {
    let dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", script])
        .env("PATH", path)
        .env("CORRAL_HOME", home)
        .output()
        .expect("bash runs (apt-get install bash)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bash failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The candidates bash gets for the command line `words` (the last one being completed).
fn complete(home: &Path, script: &Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let out = bash(
        home,
        &format!(
            r#"source '{script}'
spec=$(complete -p corral) || exit 1
fn=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
"$fn" corral "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
            script = script.display(),
            words = quoted.join(" "),
        ),
    );
    // An empty word is also offered the options (`--help`…): only the values are compared.
    out.lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty() && !l.starts_with('-'))
        .collect()
}

#[test]
fn bash_completes_commands_options_and_the_controllers_apps() {
    let ctl = Controller::new();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {}", ctl.sleeper())]),
    );
    ctl.write_manifest(
        "worker.yaml",
        &manifest("worker", &[&format!("command: {}", ctl.sleeper())]),
    );
    ctl.start();
    ctl.wait_status("web", "Running");
    ctl.wait_status("worker", "Running");

    let generated = ctl.corral(&["completion", "bash"]);
    assert!(generated.status.success(), "{generated:?}");
    let script = ctl.scratch().join("corral.bash");
    std::fs::write(&script, &generated.stdout).expect("write script");
    let registered = bash(
        &ctl.home,
        &format!("source '{}'; complete -p corral", script.display()),
    );
    assert!(registered.contains(" corral"), "{registered}");

    let commands = complete(&ctl.home, &script, &["corral", "de"]);
    for c in ["describe", "delete"] {
        assert!(commands.contains(&c.to_owned()), "{c} in {commands:?}");
    }
    assert!(!commands.contains(&"get".to_owned()), "{commands:?}");
    let all = complete(&ctl.home, &script, &["corral", ""]);
    for c in ["get", "version", "completion", "rollout", "logs"] {
        assert!(all.contains(&c.to_owned()), "{c} in {all:?}");
    }
    assert!(
        !all.contains(&"dist".to_owned()),
        "hidden commands are not offered: {all:?}"
    );

    // App names come from the running controller.
    let apps = complete(&ctl.home, &script, &["corral", "describe", ""]);
    assert_eq!(apps, ["web", "worker"], "{apps:?}");
    let apps = complete(&ctl.home, &script, &["corral", "rollout", "history", "w"]);
    assert_eq!(apps, ["web", "worker"], "{apps:?}");
    let apps = complete(&ctl.home, &script, &["corral", "logs", "wo"]);
    assert_eq!(apps, ["worker"], "{apps:?}");
    let formats = complete(&ctl.home, &script, &["corral", "get", "-o", ""]);
    assert_eq!(formats, ["wide", "json", "yaml"], "{formats:?}");

    // Without a controller: commands still complete, app names are just not offered.
    let elsewhere = ctl.scratch().join("no-home");
    assert_eq!(
        complete(&elsewhere, &script, &["corral", "describe", ""]),
        Vec::<String>::new()
    );
    assert!(complete(&elsewhere, &script, &["corral", "ver"]).contains(&"version".to_owned()));
}

/// Runs `shell ARGS` with corral first on `PATH` and `CORRAL_HOME=home`; its stdout.
fn shell(home: &Path, shell: &str, args: &[&str]) -> String {
    let dir = Path::new(BIN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(shell)
        .args(args)
        .env("PATH", path)
        .env("CORRAL_HOME", home)
        .output()
        .unwrap_or_else(|e| panic!("{shell} runs (.ci/run installs it): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{shell} failed: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn fish_completes_app_names_and_zsh_registers_the_completer() {
    let ctl = Controller::new();
    ctl.write_manifest(
        "web.yaml",
        &manifest("web", &[&format!("command: {}", ctl.sleeper())]),
    );
    ctl.start();
    ctl.wait_status("web", "Running");
    let fish = ctl.scratch().join("corral.fish");
    std::fs::write(&fish, ctl.corral(&["completion", "fish"]).stdout).expect("write");
    let script = format!("source {}; complete -C 'corral describe '", fish.display());
    let offered = shell(&ctl.home, "fish", &["--no-config", "-c", &script]);
    assert!(
        offered.lines().any(|l| l == "web\tRunning 1/1"),
        "{offered}"
    );
    let script = format!("source {}; complete -C 'corral vers'", fish.display());
    let offered = shell(&ctl.home, "fish", &["--no-config", "-c", &script]);
    assert!(offered.starts_with("version\t"), "{offered}");

    let zsh = ctl.scratch().join("_corral");
    std::fs::write(&zsh, ctl.corral(&["completion", "zsh"]).stdout).expect("write");
    let script = format!(
        "autoload -U compinit; compinit -u -D; source {}; print -r -- $_comps[corral]",
        zsh.display()
    );
    let registered = shell(&ctl.home, "zsh", &["-f", "-c", &script]);
    assert!(
        registered.starts_with("_clap_dynamic_completer_corral"),
        "{registered}"
    );

    let bad = ctl.corral(&["completion", "tcsh"]);
    assert!(!bad.status.success());
    assert!(
        bad.stderr.contains("possible values: bash, zsh, fish"),
        "{bad:?}"
    );
}

#[test]
fn the_manual_pages_render_with_man_and_groff_without_warnings() {
    let home = tempfile::tempdir().expect("tempdir");
    let page = common::corral_in(home.path(), &["man"]);
    assert!(page.status.success(), "{page:?}");
    let file = home.path().join("corral.1");
    std::fs::write(&file, &page.stdout).expect("write page");
    let dir = home.path().join("dist");
    let dist = common::corral_in(home.path(), &["dist", dir.to_str().expect("utf-8")]);
    assert!(dist.status.success(), "{dist:?}");
    let get_page = dir.join("man/corral-get.1");
    for (page, wants) in [
        (
            &file,
            &["SUBCOMMANDS", "corral-version(1)", "corral-completion(1)"][..],
        ),
        (&get_page, &["--output", "wide", "NAME"][..]),
    ] {
        let man = Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man runs (apt-get install man-db)");
        let text = String::from_utf8_lossy(&man.stdout);
        assert!(
            man.status.success(),
            "{}",
            String::from_utf8_lossy(&man.stderr)
        );
        for want in wants {
            assert!(text.contains(want), "{want} in {}:\n{text}", page.display());
        }
        let groff = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(page)
            .output()
            .expect("groff runs (apt-get install groff-base)");
        assert!(groff.status.success());
        assert_eq!(
            String::from_utf8_lossy(&groff.stderr),
            "",
            "{}",
            page.display()
        );
    }
}
