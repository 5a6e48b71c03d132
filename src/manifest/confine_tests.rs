use std::path::Path;

use super::*;
use crate::manifest::{parse_str, AppSpec, ManifestError};

/// Parses an app whose `spec` has `extra` lines after its command.
fn parse(extra: &str) -> Result<AppSpec, ManifestError> {
    let text = format!(
        "apiVersion: corral/v1\nkind: App\nmetadata: {{name: a}}\nspec:\n  command: [sleep, '1']\n{extra}"
    );
    parse_str(Path::new("f.yaml"), &text).map(|mut apps| apps.remove(0).app.spec)
}

/// The error of `extra`, as `line:column: message`.
fn refused(extra: &str) -> String {
    let e = parse(extra).expect_err("refused");
    format!("{}:{}: {}", e.line, e.column, e.message)
}

#[test]
fn user_and_group_are_names_or_ids_written_either_way() {
    let spec = parse("  user: www-data\n  group: 33\n").unwrap();
    assert_eq!(spec.user, Some(IdRef::Name("www-data".into())));
    assert_eq!(spec.group, Some(IdRef::Id(33)));
    let spec = parse("  user: '65534'\n").unwrap();
    assert_eq!(spec.user, Some(IdRef::Id(65534)));
    assert!(
        refused("  user: -3\n").starts_with("6:9: "),
        "{}",
        refused("  user: -3\n")
    );
    assert!(refused("  user: 4294967295\n").contains("0 to 4294967294"));
    let bad = refused("  group: 'a b'\n");
    assert!(
        bad.starts_with("6:10: ") && bad.contains("not a user or group name"),
        "{bad}"
    );
}

#[test]
fn ulimits_take_compose_shapes_and_unlimited() {
    let spec = parse(
        "  ulimits:\n    nofile: {soft: 4096, hard: 65536}\n    nproc: 512\n    core: unlimited\n    memlock: -1\n    stack: '8388608'\n",
    )
    .unwrap();
    let u = spec.ulimits;
    let v = LimitValue::Value;
    assert_eq!(
        u.nofile,
        Some(Ulimit {
            soft: v(4096),
            hard: v(65536)
        })
    );
    assert_eq!(
        u.nproc,
        Some(Ulimit {
            soft: v(512),
            hard: v(512)
        })
    );
    assert_eq!(u.core.map(|l| l.hard), Some(LimitValue::Unlimited));
    assert_eq!(u.memlock.map(|l| l.soft), Some(LimitValue::Unlimited));
    assert_eq!(u.stack.map(|l| l.soft), Some(v(8_388_608)));
    assert_eq!(u.iter().count(), 5);
}

#[test]
fn bad_ulimits_are_refused_where_they_are() {
    let typo = refused("  ulimits: {nofiles: 10}\n");
    assert!(
        typo.starts_with("6:13: ") && typo.contains("`nofile`"),
        "{typo}"
    );
    let negative = refused("  ulimits:\n    nofile: -2\n");
    assert!(
        negative.starts_with("7:13: ") && negative.contains("unlimited"),
        "{negative}"
    );
    let inverted = refused("  ulimits:\n    nofile: {soft: 10, hard: 5}\n");
    assert!(
        inverted.starts_with("7:5: ") && inverted.contains("soft limit 10 is above hard limit 5"),
        "{inverted}"
    );
    let half = refused("  ulimits:\n    nofile: {soft: 10}\n");
    assert!(half.contains("hard"), "{half}");
}

#[test]
fn nice_and_oom_score_adjust_are_range_checked() {
    let spec = parse("  nice: -20\n  oomScoreAdjust: 1000\n").unwrap();
    assert_eq!((spec.nice, spec.oom_score_adj), (Some(-20), Some(1000)));
    let nice = refused("  nice: 20\n");
    assert!(
        nice.starts_with("6:9: ") && nice.contains("-20 (most favoured) to 19"),
        "{nice}"
    );
    let oom = refused("  oomScoreAdjust: -1001\n");
    assert!(oom.starts_with("6:19: ") && oom.contains("-1000"), "{oom}");
}

#[test]
fn umask_is_a_quoted_octal_string() {
    assert_eq!(
        parse("  umask: '0027'\n").unwrap().umask,
        Some(Umask(0o027))
    );
    assert_eq!(parse("  umask: '077'\n").unwrap().umask, Some(Umask(0o077)));
    // serde_yaml keeps a leading-zero number as text: unquoted 0022 reads as meant.
    assert_eq!(parse("  umask: 0022\n").unwrap().umask, Some(Umask(0o022)));
    let decimal = refused("  umask: 22\n");
    assert!(
        decimal.starts_with("6:10: ") && decimal.contains("quoted"),
        "{decimal}"
    );
    assert!(refused("  umask: '0088'\n").contains("octal"));
    assert!(refused("  umask: '1777'\n").contains("above 0777"));
    assert!(refused("  umask: '22'\n").contains("3 or 4 digits"));
}

#[test]
fn the_fields_serialize_back_to_what_was_written() {
    let spec = parse(
        "  user: nobody\n  ulimits: {nofile: {soft: 1, hard: 2}, core: 0, stack: unlimited}\n  umask: '0022'\n",
    )
    .unwrap();
    let yaml = serde_yaml::to_string(&spec).unwrap();
    assert!(yaml.contains("user: nobody"), "{yaml}");
    assert!(
        yaml.contains("soft: 1") && yaml.contains("core: 0"),
        "{yaml}"
    );
    assert!(
        yaml.contains("stack: unlimited") && yaml.contains("umask: '0022'"),
        "{yaml}"
    );
}
