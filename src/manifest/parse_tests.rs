use super::*;
use std::path::PathBuf;

const APP: &str = "apiVersion: corral/v1\nkind: App\nmetadata:\n  name: NAME\nspec:\n  command: [node, server.js]\n";

fn app(name: &str) -> String {
    APP.replace("NAME", name)
}

fn parse(text: &str) -> Result<Vec<Located>, ManifestError> {
    parse_str(&PathBuf::from("f.yaml"), text)
}

#[test]
fn documents_split_on_separators_and_skip_empty_ones() {
    let text = "# header\n---\na: 1\n---\n# only a comment\n\n---\nb: 2\n...\n";
    let docs = documents(text);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0].start_line, 3);
    assert_eq!(&text[docs[0].range.clone()], "a: 1\n");
    assert_eq!(docs[1].start_line, 8);
    assert_eq!(&text[docs[1].range.clone()], "b: 2\n");
}

#[test]
fn separator_with_content_keeps_it() {
    let text = "a: 1\n--- {b: 2}\n";
    let docs = documents(text);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].start_line, 2);
    assert_eq!(&text[docs[1].range.clone()], "--- {b: 2}\n");
}

#[test]
fn several_apps_in_one_file_know_their_lines() {
    let text = format!("{}---\n{}", app("a"), app("b"));
    let apps = parse(&text).unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!((apps[0].doc_index, apps[0].line), (0, 1));
    assert_eq!((apps[1].doc_index, apps[1].line), (1, 8));
    assert_eq!(apps[1].app.metadata.name.as_str(), "b");
}

#[test]
fn a_file_without_apps_is_empty_not_an_error() {
    assert_eq!(parse("# nothing here\n"), Ok(vec![]));
    assert_eq!(parse(""), Ok(vec![]));
}

#[test]
fn errors_in_later_documents_have_file_relative_lines() {
    let text = format!(
        "{}---\n{}",
        app("a"),
        app("a").replace("  command", "  comand")
    );
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (13, 3), "{err}");
    assert!(
        err.message.contains("unknown field `comand`"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("at line"), "{}", err.message);
    assert_eq!(err.to_string(), format!("f.yaml:13:3: {}", err.message));
}

#[test]
fn value_errors_carry_the_path_and_the_fix() {
    let err = parse(&format!("{}  instances: lots\n", app("a"))).unwrap_err();
    assert_eq!(
        err.message,
        "spec.instances: expected an integer ≥ 0 or \"max\", got \"lots\""
    );
    assert_eq!((err.line, err.column), (7, 14));
}

#[test]
fn cross_field_errors_point_at_the_key() {
    let text = format!(
        "{}  strategy:\n    maxUnavailable: 0\n    maxSurge: 0\n",
        app("a")
    );
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (9, 5), "{err}");
    assert!(err
        .message
        .starts_with("spec.strategy.maxSurge: maxSurge and maxUnavailable"));
}

#[test]
fn a_memory_limit_of_zero_is_refused_at_the_key() {
    let text = format!("{}  memory:\n    limit: 0\n", app("a"));
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (8, 5), "{err}");
    assert!(
        err.message.starts_with("spec.memory.limit: a limit of 0"),
        "{err}"
    );
}

#[test]
fn a_memory_max_below_the_limit_is_refused_at_the_key() {
    let text = format!("{}  memory:\n    limit: 200Mi\n    max: 100Mi\n", app("a"));
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (9, 5), "{err}");
    assert!(
        err.message
            .starts_with("spec.memory.max: max (100Mi) is below limit (200Mi)"),
        "{err}"
    );
    let ok = format!("{}  memory:\n    limit: 200Mi\n    max: 200Mi\n", app("a"));
    assert!(parse(&ok).is_ok());
}

#[test]
fn cpu_and_pids_limits_parse_and_bad_ones_are_refused_at_the_value() {
    let ok = format!("{}  cpu: {{max: 500m}}\n  pids: {{max: 100}}\n", app("a"));
    let spec = &parse(&ok).unwrap()[0].app.spec;
    assert_eq!(spec.cpu.map(|c| c.max.0), Some(500));
    assert_eq!(spec.pids.map(|p| p.max), Some(100));
    let float = format!("{}  cpu:\n    max: 1.5\n", app("a"));
    assert_eq!(
        parse(&float).unwrap()[0].app.spec.cpu.map(|c| c.max.0),
        Some(1500)
    );
    for (extra, at, says) in [
        ("  cpu:\n    max: 0\n", (8, 10), "a CPU limit of 0"),
        ("  cpu:\n    max: 2Gi\n", (8, 10), "expected a CPU quantity"),
        ("  cpu:\n    limit: 1\n", (8, 5), "unknown field `limit`"),
        ("  pids:\n    max: 0\n", (8, 10), "an integer ≥ 1"),
        ("  pids:\n    max: many\n", (8, 10), "an integer ≥ 1"),
    ] {
        let err = parse(&format!("{}{extra}", app("a"))).unwrap_err();
        assert_eq!((err.line, err.column), at, "{extra}: {err}");
        assert!(err.message.contains(says), "{extra}: {err}");
    }
}

#[test]
fn a_nul_character_anywhere_is_refused_where_it_is_written() {
    for (extra, at, path) in [
        ("  env:\n    A: \"x\\0y\"\n", (8, 5), "spec.env.A"),
        ("  cwd: \"/srv\\0\"\n", (7, 3), "spec.cwd"),
        ("  envFiles: [a, \"b\\0\"]\n", (7, 3), "spec.envFiles[1]"),
    ] {
        let err = parse(&format!("{}{extra}", app("a"))).unwrap_err();
        assert_eq!((err.line, err.column), at, "{err}");
        assert!(
            err.message
                .starts_with(&format!("{path}: holds a NUL character")),
            "{err}"
        );
    }
    let text = app("a").replace("[node, server.js]", "[node, \"ser\\0ver.js\"]");
    let err = parse(&text).unwrap_err();
    assert!(
        err.message.starts_with("spec.command[1]: holds a NUL"),
        "{err}"
    );
    let text = format!("{}  env:\n    \"A\\0\": x\n", app("a"));
    assert!(parse(&text)
        .unwrap_err()
        .message
        .starts_with("spec.env.A\0: holds a NUL"));
}

#[test]
fn a_backoff_reset_shorter_than_a_second_is_refused() {
    let text = format!(
        "{}  backoff:\n    initial: 1ms\n    resetAfter: 0s\n",
        app("a")
    );
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (9, 5), "{err}");
    assert!(
        err.message
            .starts_with("spec.backoff.resetAfter: 0s would count")
            && err.message.contains("every 1ms forever"),
        "{err}"
    );
    let ok = format!("{}  backoff:\n    resetAfter: 1s\n", app("a"));
    assert!(parse(&ok).is_ok());
}

#[test]
fn watching_the_whole_host_or_a_kernel_file_system_is_refused() {
    for (paths, index) in [("[/]", 0), ("[src, /proc]", 1), ("[/srv/..]", 0)] {
        let text = format!("{}  watch:\n    paths: {paths}\n", app("a"));
        let err = parse(&text).unwrap_err();
        assert_eq!(err.line, 8, "{err}");
        assert!(
            err.message
                .starts_with(&format!("spec.watch.paths[{index}]: /")),
            "{err}"
        );
    }
    let ok = format!("{}  watch:\n    paths: [., /srv/app]\n", app("a"));
    assert!(parse(&ok).is_ok());
}

#[test]
fn duplicate_names_in_one_file_are_an_error() {
    let text = format!("{}---\n{}", app("a"), app("a"));
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (11, 3), "{err}");
    assert!(err
        .message
        .contains("already defined in this file at line 1"));
}

#[test]
fn syntax_errors_are_located_in_the_file() {
    let text = format!("{}---\nkind: [App\n", app("a"));
    // serde_yaml's multi-document iterator repeats a syntax error forever; we parse per document.
    let err = parse(&text).unwrap_err();
    assert_eq!((err.line, err.column), (9, 1), "{err}");
    assert!(err.message.starts_with("YAML syntax error: "), "{err}");
}

#[test]
fn a_byte_order_mark_is_not_a_column_of_the_first_line() {
    let text = format!("\u{feff}{}  bogus: 1\n", app("web"));
    let e = parse(&text).unwrap_err();
    assert_eq!((e.line, e.column), (7, 3), "{e}");
    assert!(e.message.contains("unknown field `bogus`"), "{e}");
    let apps = parse(&format!("\u{feff}{}", app("web"))).unwrap();
    assert_eq!(apps[0].app.metadata.name.as_str(), "web");
    assert_eq!(apps[0].line, 1);
}

#[test]
fn manifest_paths_exclude_hidden_and_temp_files() {
    use std::path::Path;
    assert!(is_manifest_path(Path::new("dir/web.yaml")));
    assert!(is_manifest_path(Path::new("web.yml")));
    for p in [
        "web.json",
        ".web.yaml",
        ".web.yaml.swp",
        "web.yaml~",
        ".#web.yaml",
        "#web.yaml#",
    ] {
        assert!(!is_manifest_path(Path::new(p)), "{p}");
    }
}

#[test]
fn unknown_fields_suggest_the_closest_name() {
    let err = parse(&format!("{}  restartpolicy: Never\n", app("a"))).unwrap_err();
    assert!(
        err.message.ends_with("did you mean `restartPolicy`?"),
        "{}",
        err.message
    );
    let err = parse(&format!("{}  restartPolicy: Sometimes\n", app("a"))).unwrap_err();
    assert!(
        err.message.contains("unknown variant `Sometimes`"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("did you mean"), "{}", err.message);
    let err = parse(&format!("{}  restartPolicy: always\n", app("a"))).unwrap_err();
    assert!(
        err.message.ends_with("did you mean `Always`?"),
        "{}",
        err.message
    );
}

mod fuzz {
    use super::*;
    use crate::manifest::locate::{locate, Seg};
    use proptest::prelude::*;

    /// YAML-ish text: lines from a small vocabulary, so separators and keys actually occur.
    fn yamlish() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("---".to_string()),
            Just("--- {a: 1}".to_string()),
            Just("# c".to_string()),
            Just(String::new()),
            Just("spec:".to_string()),
            Just("  - {name: x, port: 1}".to_string()),
            "[ a-z:{}\\[\\],#-]{0,12}",
            "\\PC{0,8}",
        ];
        proptest::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
    }

    proptest! {
        #[test]
        fn documents_are_ordered_slices_of_the_text(text in yamlish()) {
            let docs = documents(&text);
            let mut end = 0;
            for d in &docs {
                prop_assert!(d.range.start >= end && d.range.end <= text.len());
                prop_assert!(text.get(d.range.clone()).is_some(), "not on char boundaries");
                prop_assert!(d.start_line >= 1);
                end = d.range.end;
            }
        }

        #[test]
        fn a_byte_order_mark_changes_nothing(text in yamlish()) {
            let marked = format!("\u{feff}{text}");
            prop_assert_eq!(parse(&marked), parse(&text));
            let shifted: Vec<_> = documents(&text)
                .into_iter()
                .map(|d| (d.range.start + 3, d.range.end + 3, d.start_line))
                .collect();
            let marked_docs: Vec<_> = documents(&marked)
                .into_iter()
                .map(|d| (d.range.start, d.range.end, d.start_line))
                .collect();
            prop_assert_eq!(marked_docs, shifted);
        }

        #[test]
        fn manifests_with_a_byte_order_mark_parse_as_without(
            names in proptest::collection::btree_set("[a-z][a-z0-9]{0,6}", 1..5),
            comment in proptest::bool::ANY,
            instances in 0u32..4,
        ) {
            let docs: Vec<String> = names
                .iter()
                .map(|n| format!("{}  instances: {instances}\n", app(n)))
                .collect();
            let lead = if comment { "# yaml-language-server: $schema=x\n" } else { "" };
            let text = format!("{lead}{}", docs.join("---\n"));
            let plain = parse(&text).map_err(|e| e.to_string());
            prop_assert!(plain.is_ok(), "{:?}", plain);
            prop_assert_eq!(parse(&format!("\u{feff}{text}")).map_err(|e| e.to_string()), plain);
        }

        #[test]
        fn parsing_and_locating_never_panic(text in yamlish()) {
            let _ = parse(&text);
            let path = [Seg::Key("spec"), Seg::Index(0), Seg::Key("port")];
            if let Some((line, column)) = locate(&text, &path) {
                prop_assert!(line >= 1 && column >= 1);
            }
        }
    }
}

#[test]
fn the_smallest_manifest_gets_every_default() {
    let apps = parse(&app("a")).unwrap();
    let spec = &apps[0].app.spec;
    assert_eq!(spec.instances, crate::manifest::Instances::Count(1));
    assert_eq!(spec.restart_policy, crate::manifest::RestartPolicy::Always);
    assert_eq!(spec.backoff.initial.to_string(), "100ms");
    assert_eq!(spec.backoff.max.to_string(), "30s");
    assert_eq!(spec.stop.signal.0, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(spec.stop.timeout.to_string(), "10s");
    assert_eq!(spec.strategy.max_surge.to_string(), "25%");
    assert_eq!(spec.strategy.progress_deadline.to_string(), "10m");
    assert_eq!(spec.logs.max_size.to_string(), "10Mi");
    assert_eq!((spec.logs.max_files, spec.logs.timestamps), (5, true));
    assert!(spec.readiness.is_none() && spec.watch.is_none() && spec.memory.is_none());
}

#[test]
fn apps_serialize_to_yaml_that_parses_back_the_same() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("manifests/reference/everything.yaml");
    let apps = parse_file(&path).unwrap();
    assert_eq!(apps.len(), 2);
    for located in apps {
        let yaml = serde_yaml::to_string(&located.app).unwrap();
        let back = parse(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(back[0].app, located.app, "{yaml}");
    }
}
