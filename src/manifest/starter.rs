//! The commented starter manifest `corral init` writes (PM2's `ecosystem` file, our way).

use super::types::AppName;

/// Where the starter's modeline points by default: a `schemas/` folder next to the manifests.
pub const DEFAULT_SCHEMA_PATH: &str = "../schemas/app.schema.json";

/// The command a starter runs when none is given.
pub fn default_command() -> Vec<String> {
    vec!["node".into(), "server.js".into()]
}

/// A commented, valid manifest for one app; optional settings are shown commented out.
pub fn starter_manifest(name: &AppName, command: &[String], schema_path: &str) -> String {
    let argv = command
        .iter()
        .map(|a| yaml_quote(a))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"# yaml-language-server: $schema={schema_path}
# A corral App: `corral validate` checks it, the controller keeps it running.
# Every field below `command` is optional; uncomment what you need.
apiVersion: corral/v1
kind: App
metadata:
  name: {name:<23} # DNS label, unique across the manifests directory
  # labels: {{tier: front}}       # select with `corral get -l tier=front`
spec:
  # argv, exec'd directly; a plain string runs under `sh -c`
  command: [{argv}]
  # cwd: .                      # relative to this file's folder
  instances: 1                  # an integer ≥ 0, or "max" for one per CPU
  # env: {{NODE_ENV: production}}
  # envFiles: [.env]            # dotenv files; later files win, `env` wins over files
  # profiles:                   # picked with `corral controller --profile production`
  #   production: {{env: {{LOG_LEVEL: warn}}}}
  # listen:                     # share a port across instances (inherit, tcp or http mode)
  #   - {{name: http, port: 8080, mode: http}}
  # readiness: {{http: {{path: /healthz}}, periodSeconds: 1}}
  # liveness: {{tcp: {{}}, periodSeconds: 10, failureThreshold: 3}}
  # memory: {{limit: 300Mi}}      # replaced without downtime when its RSS goes over
  # restartPolicy: Always       # Always | OnFailure | Never
  # backoff: {{initial: 100ms, max: 30s, resetAfter: 60s}}
  # stop: {{signal: SIGTERM, timeout: 10s}}
  # strategy: {{maxSurge: 25%, maxUnavailable: 25%}}
  # watch: {{paths: [.], ignore: [dist/], debounce: 500ms}}   # rolling reload on change
  # logs: {{maxSize: 10Mi, maxFiles: 5, timestamps: true}}
"#
    )
}

/// A commented, valid Job manifest (a program run to completion); options commented out.
pub fn starter_job(name: &AppName, command: &[String], schema_path: &str) -> String {
    let argv = flow(command);
    format!(
        r#"# yaml-language-server: $schema={schema_path}
# A corral Job: runs `command` to completion (Kubernetes' Job). `corral get jobs` shows it,
# `corral describe job/{name}` its runs, `corral logs job/{name}` their output.
apiVersion: corral/v1
kind: Job
metadata:
  name: {name:<23} # DNS label, unique across the manifests directory (all kinds)
spec:
  # completions: 1              # successful runs needed
  # parallelism: 1              # runs at once
  backoffLimit: 6               # failed runs tolerated; one more and the Job is Failed
  # activeDeadlineSeconds: 600  # the Job fails, its runs stopped, past this
  # ttlSecondsAfterFinished: 86400   # its runs and logs forgotten this long after it finished
  template:                     # an App's spec: what each run executes
    command: [{argv}]
    # cwd: .                    # relative to this file's folder
    # env: {{NODE_ENV: production}}
    # envFiles: [.env]
    backoff: {{initial: 1s, max: 1m}}   # delay after a failed run, doubling up to max
    # stop: {{signal: SIGTERM, timeout: 10s}}
"#
    )
}

/// A commented CronJob manifest: a Job created on a schedule.
pub fn starter_cronjob(name: &AppName, command: &[String], schema_path: &str) -> String {
    let argv = flow(command);
    format!(
        r#"# yaml-language-server: $schema={schema_path}
# A corral CronJob: creates a Job at each time of `schedule` (Kubernetes' CronJob).
apiVersion: corral/v1
kind: CronJob
metadata:
  name: {name:<23} # DNS label, unique across the manifests directory (all kinds)
spec:
  schedule: "0 3 * * *"         # minute hour day-of-month month day-of-week, or @daily…
  # timeZone: Europe/Paris      # default: the host's zone
  # concurrencyPolicy: Forbid   # Allow | Forbid | Replace
  jobTemplate:
    spec:                       # a Job's spec
      backoffLimit: 2
      template:
        command: [{argv}]
"#
    )
}

/// The argv as the inside of a YAML flow list.
fn flow(command: &[String]) -> String {
    command
        .iter()
        .map(|a| yaml_quote(a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yaml_quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse_str, Command};
    use std::path::Path;

    fn name(s: &str) -> AppName {
        AppName::try_from(s.to_string()).unwrap()
    }

    #[test]
    fn starter_is_valid_and_keeps_the_command() {
        let cmd = vec![
            "python3".to_string(),
            "-c".into(),
            "print(\"hi: there\")".into(),
        ];
        let text = starter_manifest(&name("api"), &cmd, DEFAULT_SCHEMA_PATH);
        assert!(text.starts_with("# yaml-language-server: $schema=../schemas/app.schema.json\n"));
        let apps = parse_str(Path::new("api.yaml"), &text).unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].app.metadata.name.as_str(), "api");
        assert_eq!(apps[0].app.spec.command, Command::Argv(cmd));
        // A name longer than the comment column still leaves a space before the comment.
        let long = "a".repeat(63);
        let text = starter_manifest(&name(&long), &default_command(), DEFAULT_SCHEMA_PATH);
        let apps = parse_str(Path::new("long.yaml"), &text).unwrap();
        assert_eq!(apps[0].app.metadata.name.as_str(), long);
    }

    #[test]
    fn the_job_starter_is_valid_and_so_is_every_option_uncommented() {
        let cmd = vec!["node".to_string(), "migrate.js".into()];
        let text = starter_job(&name("migrate"), &cmd, DEFAULT_SCHEMA_PATH);
        let parsed = crate::manifest::parse_all(Path::new("migrate.yaml"), &text).unwrap();
        assert_eq!(parsed.jobs[0].job.spec.template.command, Command::Argv(cmd));
        let uncommented: String = text
            .lines()
            .map(|l| match l.find("# ") {
                Some(i) if l[..i].trim().is_empty() && i > 0 => {
                    format!("{}{}\n", &l[..i], &l[i + 2..])
                }
                _ => format!("{l}\n"),
            })
            .collect();
        let parsed = crate::manifest::parse_all(Path::new("m.yaml"), &uncommented)
            .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        assert_eq!(parsed.jobs[0].job.spec.active_deadline_seconds, Some(600));
    }

    #[test]
    fn uncommenting_every_option_stays_valid() {
        let text = starter_manifest(&name("api"), &default_command(), DEFAULT_SCHEMA_PATH);
        let uncommented: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match l.find("# ") {
                Some(i) if l[..i].trim().is_empty() && l[i + 2..].contains(':') => {
                    format!("{}{}\n", &l[..i], &l[i + 2..])
                }
                _ => format!("{l}\n"),
            })
            .collect();
        let apps = parse_str(Path::new("api.yaml"), &uncommented)
            .unwrap_or_else(|e| panic!("{e}\n{uncommented}"));
        let spec = &apps[0].app.spec;
        assert_eq!(spec.listen.len(), 1);
        assert!(spec.memory.is_some() && spec.watch.is_some() && spec.liveness.is_some());
        assert_eq!(
            apps[0].app.metadata.labels.get("tier").map(String::as_str),
            Some("front")
        );
    }
}
