//! `corral::manifest::parse_str` (parsing and validation) on arbitrary text.

use std::path::Path;

/// YAML syntax and the manifest's own words.
pub(super) const DICT: &[&str] = &[
    "\n",
    "---\n",
    ": ",
    "- ",
    "  ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!!int ",
    "'",
    "\"",
    "|\n",
    ">\n",
    "#",
    "~",
    "null",
    "true",
    "1e309",
    "-1",
    "0x10",
    "99999999999999999999",
    "apiVersion: corral/v1\n",
    "kind: App\n",
    "metadata:\n",
    "name: ",
    "labels:\n",
    "spec:\n",
    "command: ",
    "instances: ",
    "env:\n",
    "envFiles: ",
    "cwd: ",
    "listen:\n",
    "port: ",
    "host: ",
    "mode: http",
    "mode: tcp",
    "mode: inherit",
    "readiness:\n",
    "liveness:\n",
    "http:\n",
    "path: ",
    "tcp:\n",
    "exec:\n",
    "notify: ",
    "memory:\n",
    "limit: ",
    "max: ",
    "512Mi",
    "1Gi",
    "1.5G",
    "10s",
    "500ms",
    "rollout:\n",
    "maxSurge: ",
    "maxUnavailable: ",
    "25%",
    "restart:\n",
    "policy: ",
    "always",
    "stop:\n",
    "signal: ",
    "SIGTERM",
    "timeout: ",
    "watch:\n",
    "paths: ",
    "ignore: ",
    "logs:\n",
    "\t",
    "\u{feff}",
    "é",
    "\r\n",
];

/// Parses `data` (invalid UTF-8 replaced) as a manifest file; an error must point inside it.
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // YAML 1.1's line breaks, as libyaml counts them.
    let lines = 1 + text
        .replace("\r\n", "\n")
        .matches(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
        .count();
    match corral::manifest::parse_str(Path::new("fuzz.yaml"), &text) {
        Ok(apps) => {
            for app in apps {
                assert!(
                    (1..=lines).contains(&app.line),
                    "app {:?} at line {} of a {lines}-line file",
                    app.app.metadata.name,
                    app.line
                );
            }
        }
        Err(error) => {
            // libyaml marks an error at the end of input one line past a last line without
            // `\n` (reported, not fixed: the position still leads an editor to the end).
            assert!(error.line <= lines + 1, "error past the end: {error}");
            assert!(
                !error.message.trim().is_empty(),
                "an error without a message"
            );
        }
    }
}
