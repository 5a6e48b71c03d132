//! `corral import pm2`: PM2 ecosystem files (written from PM2's documented keys) become
//! manifests that validate and run, with every key that has a corral meaning mapped.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::web::{addr, free_port};
use common::{load, Controller, Run, SOON};
use corral::manifest::{parse_file, Command as Cmd, Instances};

/// An HTTP app that answers with its instance index, and a worker that prints ticks.
fn write_apps(dir: &Path) {
    fs::create_dir_all(dir.join("app/api")).unwrap();
    fs::create_dir_all(dir.join("app/worker")).unwrap();
    fs::write(
        dir.join("app/api/server.js"),
        "require('http').createServer((q, s) => s.end('api ' + process.env.CORRAL_INSTANCE + ' ' + process.env.NODE_ENV + ' ' + process.argv.slice(2).join(','))).listen(process.env.PORT, '127.0.0.1');\n",
    )
    .unwrap();
    fs::write(dir.join("app/api/package.json"), r#"{"main": "server.js"}"#).unwrap();
    fs::write(
        dir.join("app/worker/worker.py"),
        "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.2)\n",
    )
    .unwrap();
}

/// Every ecosystem key corral maps, plus keys it does not (PM2's docs, "Ecosystem File").
fn ecosystem(port: u16) -> String {
    format!(
        r#"module.exports = {{
  apps: [
    {{
      name: "API Server",
      script: "./app/api",
      args: "--color --level 'very high'",
      node_args: "--max-old-space-size=200",
      instances: 2,
      exec_mode: "cluster",
      env: {{ NODE_ENV: "development", PORT: {port}, DEBUG: true }},
      env_production: {{ NODE_ENV: "production" }},
      max_memory_restart: "150M",
      watch: ["app/api"],
      ignore_watch: ["node_modules", "logs"],
      watch_delay: 1000,
      exp_backoff_restart_delay: 100,
      min_uptime: "10s",
      max_restarts: 10,
      kill_timeout: 3000,
      listen_timeout: 8000,
      out_file: "./logs/api-out.log",
      error_file: "./logs/api-err.log",
      merge_logs: true,
      log_date_format: "YYYY-MM-DD HH:mm Z",
      cron_restart: "0 0 * * *",
      wait_ready: true,
    }},
    {{ script: "app/worker/worker.py", cwd: ".", autorestart: false, restart_delay: 2000, instances: 1 }},
  ],
  deploy: {{ production: {{ user: "node" }} }},
}};
"#
    )
}

fn import(c: &Controller, file: &Path) -> Run {
    let out = c.manifests.to_str().unwrap();
    c.corral(&["import", "pm2", file.to_str().unwrap(), "-o", out])
}

#[test]
fn an_ecosystem_file_imports_validates_and_runs() {
    let c = Controller::with_profile("production");
    let port = free_port();
    write_apps(c.scratch());
    let eco = c.scratch().join("ecosystem.config.js");
    fs::write(&eco, ecosystem(port)).unwrap();
    let run = import(&c, &eco);
    assert!(run.status.success(), "{run:?}");
    assert!(
        !run.stderr.contains("cron_restart"),
        "cron_restart is imported: {}",
        run.stderr
    );
    for key in ["wait_ready", "max_restarts", "\"deploy\"", "\"API Server\""] {
        assert!(
            run.stderr.contains(key),
            "no warning naming {key}: {}",
            run.stderr
        );
    }
    let api = &parse_file(&c.manifests.join("api-server.yaml")).unwrap()[0].app;
    let spec = &api.spec;
    assert_eq!(
        spec.command,
        Cmd::Argv(
            [
                "node",
                "--max-old-space-size=200",
                "app/api/server.js",
                "--color",
                "--level",
                "very high"
            ]
            .map(String::from)
            .to_vec()
        )
    );
    assert_eq!(spec.instances, Instances::Count(2));
    assert_eq!(spec.listen[0].port, port);
    assert!(
        !spec.env.contains_key("PORT"),
        "corral sets PORT per instance"
    );
    assert_eq!(spec.env.get("DEBUG").map(String::as_str), Some("true"));
    assert_eq!(spec.profiles["production"].env["NODE_ENV"], "production");
    assert_eq!(spec.memory.as_ref().unwrap().limit.to_string(), "150Mi");
    let watch = spec.watch.as_ref().unwrap();
    assert_eq!(watch.paths, ["app/api"]);
    assert_eq!(watch.debounce.to_string(), "1s");
    assert_eq!(spec.backoff.initial.to_string(), "100ms");
    assert_eq!(spec.backoff.max.to_string(), "15s");
    assert_eq!(spec.backoff.reset_after.to_string(), "10s");
    assert_eq!(spec.stop.timeout.to_string(), "3s");
    assert_eq!(spec.strategy.progress_deadline.to_string(), "8s");
    let logs = &spec.logs;
    assert!(logs.merge, "merge_logs");
    assert_eq!(
        logs.dir.as_deref(),
        Some("../logs/api-server"),
        "beside PM2's log files"
    );
    let text = fs::read_to_string(c.manifests.join("api-server.yaml")).unwrap();
    assert_eq!(
        spec.restart_schedule
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("0 0 * * *"),
        "cron_restart is a restartSchedule: {text}"
    );
    let worker = &parse_file(&c.manifests.join("worker.yaml")).unwrap()[0].app;
    assert_eq!(
        worker.spec.restart_policy,
        corral::manifest::RestartPolicy::Never
    );
    assert_eq!(worker.spec.backoff.max.to_string(), "2s");

    let validate = c.corral(&["validate", c.manifests.to_str().unwrap()]);
    assert!(validate.status.success(), "{validate:?}");

    c.start();
    c.wait_until(SOON, "both instances of api-server ready", || {
        c.app("api-server").is_some_and(|a| a.ready == 2)
    });
    let body = common::wait_for(SOON, "an answer through the listen port", || {
        load::get(addr(port), "/").ok().filter(|r| r.status == 200)
    })
    .body;
    assert!(body.starts_with("api "), "{body}");
    assert!(
        body.contains("production"),
        "the profile's env applies: {body}"
    );
    assert!(
        body.contains("--color,--level,very high"),
        "args reach the script: {body}"
    );
    c.wait_until(SOON, "the worker runs", || {
        c.app("worker").is_some_and(|a| a.ready == 1)
    });
}

#[test]
fn json_yaml_and_es_module_files_import_too() {
    let dir = tempfile::tempdir().unwrap();
    write_apps(dir.path());
    let files = [
        ("eco.json", "{\n  // PM2 reads .json as JavaScript: comments are allowed\n  \"apps\": [{\"name\": \"w\", \"script\": \"app/worker/worker.py\", \"instances\": \"max\"}]\n}\n"),
        ("eco.yaml", "apps:\n  - name: w\n    script: app/worker/worker.py\n    instances: max\n"),
        ("eco.config.mjs", "export default { apps: [{ name: 'w', script: 'app/worker/worker.py', instances: 'max' }] };\n"),
    ];
    for (file, text) in files {
        fs::write(dir.path().join(file), text).unwrap();
        let out = dir.path().join(format!("out-{file}"));
        let run = corral(
            dir.path(),
            &["import", "pm2", file, "-o", out.to_str().unwrap()],
        );
        assert!(
            run.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let app = &parse_file(&out.join("w.yaml")).unwrap()[0].app;
        assert_eq!(app.spec.instances, Instances::Max, "{file}");
        assert_eq!(
            app.spec.command,
            Cmd::Argv(vec!["python3".into(), "app/worker/worker.py".into()]),
            "{file}: the script path is relative to the app's cwd"
        );
        assert_eq!(
            app.spec.cwd.as_deref(),
            Some(".."),
            "{file}: cwd relative to the manifest"
        );
    }
}

#[test]
fn without_output_the_manifests_are_one_stream_and_existing_files_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_apps(dir.path());
    fs::write(
        dir.path().join("eco.json"),
        r#"{"apps": [{"script": "app/worker/worker.py"}, {"script": "app/api/server.js"}]}"#,
    )
    .unwrap();
    let run = corral(dir.path(), &["import", "pm2", "eco.json"]);
    assert!(run.status.success());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let docs = corral::manifest::parse_str(Path::new("x.yaml"), &stdout).unwrap();
    let names: Vec<&str> = docs.iter().map(|d| d.app.metadata.name.as_str()).collect();
    assert_eq!(names, ["worker", "server"]);

    let out = dir.path().join("m");
    assert!(
        corral(dir.path(), &["import", "pm2", "eco.json", "-o", "m"])
            .status
            .success()
    );
    fs::write(out.join("worker.yaml"), "mine").unwrap();
    let again = corral(dir.path(), &["import", "pm2", "eco.json", "-o", "m"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(fs::read_to_string(out.join("worker.yaml")).unwrap(), "mine");
}

#[test]
fn bad_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "broken.config.js",
            "module.exports = {apps: [",
            "node could not load it",
        ),
        ("empty.json", r#"{"apps": []}"#, "no apps found"),
        ("eco.toml", "apps = 1", "unknown kind of file"),
    ];
    for (file, text, want) in cases {
        fs::write(dir.path().join(file), text).unwrap();
        let run = corral(dir.path(), &["import", "pm2", file]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{file}");
        assert!(
            stderr.contains(want) && stderr.contains(file),
            "{file}: {stderr}"
        );
    }
}

fn corral(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn uid_and_gid_become_user_and_group() {
    let dir = tempfile::tempdir().unwrap();
    write_apps(dir.path());
    fs::write(
        dir.path().join("eco.json"),
        r#"{"apps": [
            {"name": "named", "script": "app/worker/worker.py", "uid": "nobody", "gid": "nogroup"},
            {"name": "numbered", "script": "app/worker/worker.py", "uid": 65534, "gid": "65534"},
            {"name": "bad", "script": "app/worker/worker.py", "uid": "no body"}
        ]}"#,
    )
    .unwrap();
    let run = corral(dir.path(), &["import", "pm2", "eco.json", "-o", "m"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let spec = |name: &str| {
        parse_file(&dir.path().join(format!("m/{name}.yaml"))).unwrap()[0]
            .app
            .spec
            .clone()
    };
    use corral::manifest::IdRef;
    let named = spec("named");
    assert_eq!(named.user, Some(IdRef::Name("nobody".into())));
    assert_eq!(named.group, Some(IdRef::Name("nogroup".into())));
    let numbered = spec("numbered");
    assert_eq!(
        (numbered.user, numbered.group),
        (Some(IdRef::Id(65534)), Some(IdRef::Id(65534)))
    );
    assert_eq!(spec("bad").user, None);
    assert!(
        stderr.contains("uid: \"no body\" is not a user or group name or a numeric id"),
        "{stderr}"
    );
    assert!(!stderr.contains("uid: run the controller"), "{stderr}");
}
