//! `corral apply` and `corral delete` with the real binary on a temp manifests directory,
//! and the client commands' error when no controller runs.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WEB: &str = "# the web app\napiVersion: corral/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  command: [\"node\", \"server.js\"]\n";
const WEB_4: &str = "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: web\nspec:\n  command: [\"node\", \"server.js\"]\n  instances: 4\n";
const API: &str = "# keep this comment\napiVersion: corral/v1\nkind: App\nmetadata:\n  name: api   # trailing\nspec:\n  command: api\n";

/// A temp dir with an empty `home/` (no controller) and a `manifests/` directory.
struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> std::io::Result<Self> {
        let tmp = tempfile::tempdir()?;
        std::fs::create_dir(tmp.path().join("manifests"))?;
        Ok(Self { tmp })
    }
    fn dir(&self) -> std::path::PathBuf {
        self.tmp.path().join("manifests")
    }
    fn file(&self, name: &str, text: &str) -> std::io::Result<std::path::PathBuf> {
        let path = self.tmp.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }
    fn corral(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_corral"));
        cmd.args(args)
            .env("CORRAL_HOME", self.tmp.path().join("home"))
            .env_remove("CORRAL_MANIFESTS");
        cmd
    }
    /// Runs corral with `--manifests DIR` appended.
    fn run(&self, args: &[&str]) -> std::io::Result<Output> {
        let dir = self.dir();
        self.corral(args).arg("--manifests").arg(dir).output()
    }
    fn listing(&self) -> std::io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir())?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn s(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// Whether `manifest::documents` really splits files (it is a stub until the manifest work lands).
fn documents_are_split() -> bool {
    corral::manifest::documents("a: 1\n---\nb: 2\n").len() == 2
}

#[test]
fn create_then_unchanged_then_configured() -> TestResult {
    let env = Env::new()?;
    let web = env.file("web.yaml", WEB)?;
    let out = env.run(&["apply", "-f", s(&web)])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "app/web created\n");
    assert_eq!(std::fs::read_to_string(env.dir().join("web.yaml"))?, WEB);

    // Same app, different comment: the parsed App is equal.
    let same = env.file("same.yaml", &WEB.replace("# the web app", "# reworded"))?;
    let out = env.run(&["apply", "-f", s(&same)])?;
    assert_eq!(stdout(&out), "app/web unchanged\n", "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(env.dir().join("web.yaml"))?, WEB);

    let four = env.file("four.yaml", WEB_4)?;
    let out = env.run(&["apply", "-f", s(&four)])?;
    assert_eq!(stdout(&out), "app/web configured\n", "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(env.dir().join("web.yaml"))?, WEB_4);
    assert_eq!(env.listing()?, ["web.yaml"], "no temp files left behind");
    Ok(())
}

#[test]
fn configured_updates_the_file_that_already_defines_the_app() -> TestResult {
    let env = Env::new()?;
    let modeline = "# yaml-language-server: $schema=../schemas/app.schema.json\n";
    std::fs::write(env.dir().join("site.yml"), format!("{modeline}{WEB}"))?;
    let four = env.file("four.yaml", WEB_4)?;
    let out = env.run(&["apply", "-f", s(&four)])?;
    assert_eq!(stdout(&out), "app/web configured\n", "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.dir().join("site.yml"))?,
        format!("{modeline}{WEB_4}"),
        "the file's modeline is kept"
    );
    assert_eq!(env.listing()?, ["site.yml"]);
    Ok(())
}

#[test]
fn configured_in_a_multi_document_file_keeps_the_other_documents() -> TestResult {
    if !documents_are_split() {
        eprintln!("SKIPPED: manifest::documents is still a stub on this branch");
        return Ok(());
    }
    let env = Env::new()?;
    let multi = format!(
        "{API}---\n{WEB}---\n# third\n{}",
        API.replace("api ", "worker")
    );
    std::fs::write(env.dir().join("all.yaml"), &multi)?;
    let four = env.file("four.yaml", WEB_4)?;
    let out = env.run(&["apply", "-f", s(&four)])?;
    assert_eq!(stdout(&out), "app/web configured\n", "{}", stderr(&out));
    let expected = multi.replace(WEB, WEB_4);
    assert_eq!(
        std::fs::read_to_string(env.dir().join("all.yaml"))?,
        expected
    );

    let out = env.run(&["delete", "web"])?;
    assert_eq!(stdout(&out), "app/web deleted\n", "{}", stderr(&out));
    let text = std::fs::read_to_string(env.dir().join("all.yaml"))?;
    assert!(
        text.starts_with(API) && !text.contains("name: web"),
        "{text}"
    );
    assert!(text.contains("name: worker"), "{text}");
    Ok(())
}

#[test]
fn dry_run_writes_nothing() -> TestResult {
    let env = Env::new()?;
    let web = env.file("web.yaml", WEB)?;
    let out = env.run(&["apply", "--dry-run", "-f", s(&web)])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "app/web created (dry run)\n");
    assert!(env.listing()?.is_empty());
    Ok(())
}

#[test]
fn invalid_input_writes_nothing_and_says_where() -> TestResult {
    let env = Env::new()?;
    let good = env.file("good.yaml", WEB)?;
    let bad = env.file("bad.yaml", &API.replace("command: api", "comand: api"))?;
    let out = env.run(&["apply", "-f", s(&good), "-f", s(&bad)])?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let located = err
        .split(&format!("{}:", bad.display()))
        .nth(1)
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(line, rest)| {
            Some((
                line.parse::<usize>().ok()?,
                rest.split_once(':')?.0.parse::<usize>().ok()?,
            ))
        });
    assert!(
        matches!(located, Some((l, c)) if l > 0 && c > 0),
        "no file:line:column in {err:?}"
    );
    assert!(err.contains("comand"), "{err}");
    assert!(env.listing()?.is_empty(), "nothing written");
    assert!(stdout(&out).is_empty());
    Ok(())
}

#[test]
fn stdin_and_directories_are_inputs() -> TestResult {
    let env = Env::new()?;
    let mut child = env
        .corral(&["apply", "-f", "-", "--manifests", s(&env.dir())])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(WEB.as_bytes())?;
    let out = child.wait_with_output()?;
    assert_eq!(stdout(&out), "app/web created\n", "{}", stderr(&out));

    let input = env.tmp.path().join("input");
    std::fs::create_dir(&input)?;
    std::fs::write(input.join("api.yaml"), API)?;
    std::fs::write(input.join("web.yaml"), WEB)?;
    std::fs::write(input.join("notes.txt"), "not a manifest")?;
    let out = env.run(&["apply", "-f", s(&input)])?;
    assert_eq!(
        stdout(&out),
        "app/api created\napp/web unchanged\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(env.dir().join("api.yaml"))?, API);
    Ok(())
}

#[test]
fn delete_removes_the_file_and_unknown_names_fail() -> TestResult {
    let env = Env::new()?;
    let web = env.file("web.yaml", WEB)?;
    let api = env.file("api.yaml", API)?;
    assert!(env
        .run(&["apply", "-f", s(&web), "-f", s(&api)])?
        .status
        .success());
    assert_eq!(env.listing()?, ["api.yaml", "web.yaml"]);

    let out = env.run(&["delete", "web", "nope"])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("app \"nope\" is not defined"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        env.listing()?,
        ["api.yaml", "web.yaml"],
        "an unknown name deletes nothing"
    );

    let out = env.run(&["delete", "web"])?;
    assert_eq!(stdout(&out), "app/web deleted\n", "{}", stderr(&out));
    assert_eq!(env.listing()?, ["api.yaml"]);

    let out = env.run(&["delete", "-f", s(&api)])?;
    assert_eq!(stdout(&out), "app/api deleted\n", "{}", stderr(&out));
    assert!(env.listing()?.is_empty());
    Ok(())
}

#[test]
fn manifests_dir_comes_from_the_environment() -> TestResult {
    let env = Env::new()?;
    let web = env.file("web.yaml", WEB)?;
    let out = env
        .corral(&["apply", "-f", s(&web)])
        .env("CORRAL_MANIFESTS", env.dir())
        .output()?;
    assert_eq!(stdout(&out), "app/web created\n", "{}", stderr(&out));
    assert!(env.dir().join("web.yaml").is_file());
    Ok(())
}

#[test]
fn without_a_manifests_dir_or_controller_apply_says_how_to_name_one() -> TestResult {
    let env = Env::new()?;
    let web = env.file("web.yaml", WEB)?;
    let out = env.corral(&["apply", "-f", s(&web)]).output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: no manifests directory given"),
        "{err}"
    );
    assert!(
        err.contains("--manifests DIR") && err.contains("CORRAL_MANIFESTS"),
        "{err}"
    );
    Ok(())
}

#[test]
fn client_commands_without_a_controller_say_so() -> TestResult {
    let env = Env::new()?;
    for args in [
        &["get"][..],
        &["get", "web"],
        &["describe", "web"],
        &["restart", "web"],
        &["reload", "web"],
    ] {
        let out = env.corral(args).output()?;
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: no controller is running (no socket at ")
                && err.contains("corral controller --manifests DIR"),
            "{args:?}: {err}"
        );
    }
    Ok(())
}

#[test]
fn diff_shows_what_apply_would_change_and_writes_nothing() -> TestResult {
    let env = Env::new()?;
    let web = env.file("web.yaml", WEB)?;
    let out = env.run(&["diff", "-f", s(&web)])?;
    assert_eq!(out.status.code(), Some(1), "a new app is a difference");
    assert!(
        stdout(&out).contains("--- /dev/null") && stdout(&out).contains("+  name: web"),
        "{}",
        stdout(&out)
    );
    assert!(env.listing()?.is_empty(), "diff wrote nothing");

    assert!(env.run(&["apply", "-f", s(&web)])?.status.success());
    let same = env.run(&["diff", "-f", s(&web)])?;
    assert_eq!(
        (same.status.code(), stdout(&same)),
        (Some(0), String::new())
    );

    let web4 = env.file("web4.yaml", WEB_4)?;
    let out = env.run(&["diff", "-f", s(&web4)])?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("+  instances: 4"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(env.dir().join("web.yaml"))?,
        WEB,
        "diff wrote nothing"
    );
    Ok(())
}

#[test]
fn scale_stop_and_start_edit_the_manifest_keeping_comments() -> TestResult {
    let env = Env::new()?;
    std::fs::write(env.dir().join("api.yaml"), API)?;
    let out = env.run(&["scale", "api", "3"])?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "app/api scaled\n");
    let text = std::fs::read_to_string(env.dir().join("api.yaml"))?;
    assert!(
        text.contains("  instances: 3\n")
            && text.contains("# keep this comment")
            && text.contains("# trailing"),
        "{text}"
    );

    assert_eq!(stdout(&env.run(&["stop", "api"])?), "app/api stopped\n");
    assert!(std::fs::read_to_string(env.dir().join("api.yaml"))?.contains("  suspend: true\n"));
    assert_eq!(
        stdout(&env.run(&["stop", "api"])?),
        "app/api already stopped\n"
    );
    assert_eq!(stdout(&env.run(&["start", "api"])?), "app/api started\n");
    let text = std::fs::read_to_string(env.dir().join("api.yaml"))?;
    assert!(
        text.contains("  suspend: false\n") && text.contains("  instances: 3\n"),
        "{text}"
    );

    let bad = env.run(&["scale", "api", "lots"])?;
    assert!(
        !bad.status.success() && stderr(&bad).contains("whole number"),
        "{}",
        stderr(&bad)
    );
    let missing = env.run(&["scale", "nope", "2"])?;
    assert!(
        !missing.status.success() && stderr(&missing).contains("not defined"),
        "{}",
        stderr(&missing)
    );
    Ok(())
}
