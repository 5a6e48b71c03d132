//! `spec.watch` with real files and real processes: a change under a watched
//! path is one rolling reload per burst; ignored paths never reload; a change during a rollout
//! is one more reload after it.
//!
//! "Exactly once" without a fixed sleep: each step makes a distinguishable change and waits for
//! the reload it causes; the revision's reload count (`HASH.N`) and the trigger's paths then
//! show that no other reload came in between.

use crate::common;

use std::fs;
use std::path::PathBuf;

use common::{flow, manifest, Controller, SOON};
use corral::api::AppStatus;

/// An app (one python sleeper) whose working directory `dir` is watched.
struct Watched {
    ctl: Controller,
    dir: PathBuf,
}

impl Watched {
    /// `dir` prepared by `setup` before the controller starts; `extra` spec lines added.
    fn start(setup: impl FnOnce(&PathBuf), extra: &[&str]) -> Self {
        let watch = "watch: {paths: [.], ignore: [dist/], debounce: 200ms}";
        Self::start_with(watch, setup, extra)
    }

    /// The same with its own `watch` line.
    fn start_with(watch: &str, setup: impl FnOnce(&PathBuf), extra: &[&str]) -> Self {
        let ctl = Controller::new();
        let dir = ctl.scratch().join("app");
        fs::create_dir(&dir).expect("app dir");
        setup(&dir);
        let command = format!("command: {}", ctl.sleeper());
        let cwd = format!(
            "cwd: {}",
            serde_json::to_string(dir.to_str().expect("utf-8")).expect("json")
        );
        let mut spec = vec![command.as_str(), cwd.as_str(), watch];
        spec.extend_from_slice(extra);
        ctl.write_manifest("app.yaml", &manifest("app", &spec));
        ctl.start();
        ctl.wait_rolled_out("app", 1, &[]);
        ctl.wait_until(SOON, "the watch is set up", || {
            ctl.app("app")
                .and_then(|a| a.watch)
                .is_some_and(|w| w.state == "Watching")
        });
        Watched { ctl, dir }
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    /// An editor's save: a temp file renamed over `rel`.
    fn save(&self, rel: &str, text: &str) {
        let tmp = self.dir.join(format!(".{rel}.tmp"));
        fs::write(&tmp, text).expect("write temp");
        fs::rename(&tmp, self.dir.join(rel)).expect("rename over");
    }

    /// Waits until the app was reloaded `n` times in all and that rollout is over; returns it.
    fn wait_reloads(&self, n: u32) -> AppStatus {
        let what = format!("app reloaded {n} time(s) and rolled out");
        let suffix = format!(".{n}");
        common::wait_for(common::web::ROLLOUT, &what, || {
            self.ctl.app("app").filter(|a| {
                reloads(a) >= n
                    && a.revision.ends_with(&suffix)
                    && a.status == "Running"
                    && a.instances.len() == 1
                    && a.instances
                        .iter()
                        .all(|i| i.ready && i.revision == a.revision)
            })
        })
    }
}

/// How many times `app` was reloaded (the `.N` of its revision).
fn reloads(app: &AppStatus) -> u32 {
    app.revision
        .rsplit_once('.')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}

/// The paths of the last trigger.
fn last_paths(app: &AppStatus) -> Vec<String> {
    let t = app.watch.as_ref().and_then(|w| w.last_trigger.clone());
    t.expect("a last trigger").paths
}

/// `WatchTriggered` events of `app`.
fn triggered(app: &AppStatus) -> usize {
    app.events
        .iter()
        .filter(|e| e.reason == "WatchTriggered")
        .count()
}

#[test]
fn an_editor_save_and_an_edit_each_reload_once() {
    let w = Watched::start(
        |d| {
            fs::write(d.join("server.js"), "v1").unwrap();
            fs::write(d.join("lib.js"), "v1").unwrap();
        },
        &[],
    );
    let first = w.ctl.pids("app");
    w.save("server.js", "v2");
    let a = w.wait_reloads(1);
    assert!(last_paths(&a).contains(&"server.js".to_string()), "{a:?}");
    assert_ne!(w.ctl.pids("app"), first, "a reload replaces the instance");

    // A plain in-place edit of another file.
    w.write("lib.js", "v2");
    let a = w.wait_reloads(2);
    assert_eq!(last_paths(&a), ["lib.js"], "one trigger for the edit alone");

    // A later, distinguishable change: the edit above made exactly one reload.
    w.write("third.js", "x");
    let a = w.wait_reloads(3);
    assert_eq!(reloads(&a), 3);
    assert_eq!(last_paths(&a), ["third.js"]);
    assert_eq!(triggered(&a), 3, "{:?}", a.events);
    let msg = a.events.iter().rev().find(|e| e.reason == "WatchTriggered");
    assert!(
        msg.is_some_and(|e| e.message.contains("third.js")),
        "{msg:?}"
    );
}

#[test]
fn a_watched_file_keeps_its_watch_across_editor_saves() {
    let w = Watched::start_with(
        "watch: {paths: [server.js], debounce: 200ms}",
        |d| {
            fs::write(d.join("server.js"), "v1").unwrap();
            fs::write(d.join("other.js"), "v1").unwrap();
        },
        &[],
    );
    w.save("server.js", "v2");
    let a = w.wait_reloads(1);
    assert_eq!(last_paths(&a), ["server.js"]);
    // Its unwatched sibling changes, then the file is saved again: the watch outlived the
    // rename (a watch on the replaced inode would not), and the sibling did not count.
    w.write("other.js", "v2");
    w.save("server.js", "v3");
    let a = w.wait_reloads(2);
    assert_eq!(last_paths(&a), ["server.js"]);
}

#[test]
fn two_hundred_files_at_once_reload_once() {
    let w = Watched::start(|d| fs::create_dir(d.join("src")).unwrap(), &[]);
    for i in 0..200 {
        w.write(&format!("src/f{i:03}.js"), "x");
    }
    let a = w.wait_reloads(1);
    let t = a.watch.and_then(|w| w.last_trigger).expect("trigger");
    assert_eq!(t.paths.len(), 5, "{t:?}");
    assert_eq!(t.paths.len() as u64 + t.more, 200, "{t:?}");

    w.write("later.js", "x");
    let a = w.wait_reloads(2);
    assert_eq!(
        last_paths(&a),
        ["later.js"],
        "the burst made exactly one reload"
    );
}

#[test]
fn ignored_paths_never_reload() {
    let w = Watched::start(
        |d| {
            fs::write(d.join(".gitignore"), "build/\n*.tmp\n").unwrap();
            fs::create_dir_all(d.join("node_modules/pkg")).unwrap();
            fs::create_dir_all(d.join("build")).unwrap();
            fs::create_dir_all(d.join("dist")).unwrap();
        },
        &[],
    );
    w.write("node_modules/pkg/index.js", "x");
    w.write("node_modules/new/index.js", "x");
    w.write("app.log", "x");
    w.write("build/out.js", "x");
    w.write("dist/bundle.js", "x");
    w.write("notes.tmp", "x");
    w.write(".git/HEAD", "x");
    // The app's own files under $CORRAL_HOME are written as it runs; reads trigger nothing.
    let _ = fs::read(w.dir.join("build/out.js"));

    w.write("ok.js", "x");
    let a = w.wait_reloads(1);
    assert_eq!(
        last_paths(&a),
        ["ok.js"],
        "only the watched change triggered"
    );
    assert_eq!(reloads(&a), 1);
}

#[test]
fn new_directories_are_watched_and_ignored_ones_cost_no_inotify_watch() {
    let w = Watched::start(
        |d| {
            for i in 0..40 {
                fs::create_dir_all(d.join(format!("node_modules/pkg{i}/lib"))).unwrap();
            }
        },
        &[],
    );
    // The controller's inotify watches: one per fdinfo line (the manifests directory, the app
    // directory), none for the 80 directories under node_modules.
    let fdinfo = PathBuf::from(format!("/proc/{}/fdinfo", w.ctl.pid()));
    let watches: usize = fs::read_dir(&fdinfo)
        .unwrap()
        .flatten()
        .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
        .map(|t| t.lines().filter(|l| l.starts_with("inotify wd:")).count())
        .sum();
    assert!((2..10).contains(&watches), "{watches} inotify watches");

    w.write("src/new/deep/a.js", "x");
    let a = w.wait_reloads(1);
    assert!(last_paths(&a).contains(&"src".to_string()), "{a:?}");
    // The directories made after the start are watched: an edit deep inside is seen.
    w.write("src/new/deep/b.js", "x");
    let a = w.wait_reloads(2);
    assert_eq!(last_paths(&a), ["src/new/deep/b.js"]);
}

#[test]
fn the_controllers_own_files_never_trigger() {
    // $CORRAL_HOME watched as well: every reload writes the instance record and revision
    // history there, which would reload again, forever, if they counted.
    let w = Watched::start_with("watch: {paths: [., ../home], debounce: 200ms}", |_| {}, &[]);
    w.write("a.js", "x");
    let a = w.wait_reloads(1);
    assert_eq!(last_paths(&a), ["a.js"]);
    w.write("b.js", "x");
    let a = w.wait_reloads(2);
    assert_eq!(
        last_paths(&a),
        ["b.js"],
        "no reload came from the controller's files"
    );
}

#[test]
fn a_change_during_a_rollout_makes_one_more_reload_after_it() {
    let ctl_gate = tempfile::tempdir().unwrap();
    let gate = ctl_gate.path().join("ready");
    fs::write(&gate, "").unwrap();
    let probe = format!(
        "readiness: {{exec: {{command: {}}}, periodSeconds: 1}}",
        flow(&["test", "-f", gate.to_str().unwrap()])
    );
    let w = Watched::start(|_| {}, &[&probe]);
    // New instances cannot get ready: the rollout the next change starts stays in flight.
    fs::remove_file(&gate).unwrap();
    w.write("a.js", "x");
    w.ctl.wait_until(SOON, "the first change reloads", || {
        w.ctl.app("app").is_some_and(|a| reloads(&a) == 1)
    });
    w.write("b.js", "x");
    w.ctl
        .wait_until(SOON, "the second change waits for the rollout", || {
            w.ctl
                .app("app")
                .and_then(|a| a.watch)
                .is_some_and(|s| s.pending)
        });
    w.write("c.js", "x");
    w.ctl.wait_until(SOON, "the third change is seen", || {
        w.ctl.app("app").is_some_and(|a| last_paths(&a) == ["c.js"])
    });
    let a = w.ctl.app("app").unwrap();
    assert_eq!(reloads(&a), 1, "no reload while the rollout is in flight");
    assert_eq!(a.status, "Progressing");

    // The rollout completes: the two changes make one more reload, then nothing.
    fs::write(&gate, "").unwrap();
    let a = w.wait_reloads(2);
    assert!(!a.watch.as_ref().unwrap().pending);
    w.write("d.js", "x");
    let a = w.wait_reloads(3);
    assert_eq!(last_paths(&a), ["d.js"]);
}

#[test]
fn a_missing_watched_path_is_an_error_and_the_app_keeps_running() {
    let ctl = Controller::new();
    let dir = ctl.scratch().join("app");
    fs::create_dir(&dir).unwrap();
    let text = |debounce: &str| {
        manifest(
            "app",
            &[
                &format!("command: {}", ctl.sleeper()),
                &format!(
                    "cwd: {}",
                    serde_json::to_string(dir.to_str().unwrap()).unwrap()
                ),
                &format!("watch: {{paths: [src], debounce: {debounce}}}"),
            ],
        )
    };
    ctl.write_manifest("app.yaml", &text("200ms"));
    ctl.start();
    ctl.wait_rolled_out("app", 1, &[]);
    let a = common::wait_for(SOON, "the watch fails", || {
        ctl.app("app")
            .filter(|a| a.watch.as_ref().is_some_and(|w| w.state == "Failed"))
    });
    let err = a.watch.unwrap().error.unwrap();
    assert!(err.contains("src: it does not exist"), "{err}");
    assert!(
        a.events.iter().any(|e| e.reason == "WatchFailed"),
        "{:?}",
        a.events
    );
    let described = ctl.corral_ok(&["describe", "app"]);
    assert!(described.contains("State:        Failed"), "{described}");
    assert_eq!(a.status, "Running", "the app keeps running");

    // Created, the path is watched at the next resync (here: a manifest change).
    fs::create_dir(dir.join("src")).unwrap();
    ctl.write_manifest("app.yaml", &text("250ms"));
    ctl.wait_until(SOON, "the watch recovers", || {
        ctl.app("app")
            .and_then(|a| a.watch)
            .is_some_and(|w| w.state == "Watching")
    });
}

#[test]
fn a_watched_path_that_leads_to_the_whole_host_is_refused_and_the_app_keeps_running() {
    let ctl = Controller::new();
    let dir = ctl.scratch().join("app");
    fs::create_dir(&dir).unwrap();
    // Spelled innocently, so only the watcher (which resolves it) can see where it goes.
    std::os::unix::fs::symlink("/", dir.join("everything")).unwrap();
    let spec = [
        format!("command: {}", ctl.sleeper()),
        format!(
            "cwd: {}",
            serde_json::to_string(dir.to_str().unwrap()).unwrap()
        ),
        "watch: {paths: [everything]}".to_owned(),
    ];
    let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
    ctl.write_manifest("app.yaml", &manifest("app", &spec));
    ctl.start();
    ctl.wait_rolled_out("app", 1, &[]);
    let a = common::wait_for(SOON, "the watch is refused", || {
        ctl.app("app")
            .filter(|a| a.watch.as_ref().is_some_and(|w| w.state == "Failed"))
    });
    let err = a.watch.unwrap().error.unwrap();
    assert!(
        err.contains("everything: / is the whole file system"),
        "{err}"
    );
    assert_eq!(a.status, "Running", "the app keeps running");
}
