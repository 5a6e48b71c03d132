use super::*;
use proptest::prelude::*;

fn dur(s: &str) -> Result<Duration, String> {
    s.parse::<DurationSpec>().map(|d| d.0)
}

#[test]
fn durations_parse_go_syntax() {
    assert_eq!(dur("100ms"), Ok(Duration::from_millis(100)));
    assert_eq!(dur("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(dur("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(dur("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(dur("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(dur(".5s"), Ok(Duration::from_millis(500)));
    assert_eq!(dur("250us"), Ok(Duration::from_micros(250)));
    assert_eq!(dur("7ns"), Ok(Duration::from_nanos(7)));
    assert_eq!(dur("0"), Ok(Duration::ZERO));
}

#[test]
fn durations_reject_missing_or_unknown_units() {
    let err = dur("10").unwrap_err();
    assert!(err.contains("needs a unit"), "{err}");
    assert!(dur("10d").unwrap_err().contains("unknown duration unit"));
    assert!(dur("").is_err());
    assert!(dur("s").is_err());
    assert!(dur("1..5s").is_err());
    assert!(dur("-1s").is_err());
}

#[test]
fn durations_print_canonically() {
    let show = |s: &str| dur(s).map(|d| DurationSpec(d).to_string());
    assert_eq!(show("90m").as_deref(), Ok("1h30m"));
    assert_eq!(show("1500ms").as_deref(), Ok("1.5s"));
    assert_eq!(show("100ms").as_deref(), Ok("100ms"));
    assert_eq!(show("0").as_deref(), Ok("0s"));
    assert_eq!(show("1h0.5s").as_deref(), Ok("1h0.5s"));
}

#[test]
fn yaml_integer_duration_is_rejected_with_a_hint() {
    let err = serde_yaml::from_str::<DurationSpec>("10")
        .unwrap_err()
        .to_string();
    assert!(err.contains("add a unit"), "{err}");
}

#[test]
fn sizes_parse_kubernetes_quantities() {
    let size = |s: &str| s.parse::<ByteSize>().map(|b| b.0);
    assert_eq!(size("300Mi"), Ok(300 << 20));
    assert_eq!(size("1Gi"), Ok(1 << 30));
    assert_eq!(size("500M"), Ok(500_000_000));
    assert_eq!(size("1k"), Ok(1000));
    assert_eq!(size("1024"), Ok(1024));
    assert_eq!(size("1.5Gi"), Ok(3 << 29));
    assert!(size("1K").is_err());
    assert!(size("10MB").is_err());
    assert!(size("").is_err());
    assert!(size("Mi").is_err());
}

#[test]
fn sizes_accept_yaml_integers_and_print_canonically() {
    let b: ByteSize = serde_yaml::from_str("2048").unwrap();
    assert_eq!(b, ByteSize(2048));
    assert_eq!(b.to_string(), "2Ki");
    assert_eq!(ByteSize(1000).to_string(), "1000");
    assert_eq!(ByteSize(0).to_string(), "0");
}

#[test]
fn int_or_percent_parses_and_resolves_like_kubernetes() {
    let v = |s: &str| serde_yaml::from_str::<IntOrPercent>(s);
    assert_eq!(v("1").unwrap(), IntOrPercent::Int(1));
    assert_eq!(v("'25%'").unwrap(), IntOrPercent::Percent(25));
    assert!(v("'101%'").unwrap_err().to_string().contains("0% to 100%"));
    assert!(v("-1").is_err());
    let p = IntOrPercent::Percent(25);
    assert_eq!(p.resolve_up(1), 1);
    assert_eq!(p.resolve_down(1), 0);
    assert_eq!(p.resolve_up(10), 3);
    assert_eq!(p.resolve_down(10), 2);
    assert_eq!(IntOrPercent::Int(2).resolve_up(10), 2);
    assert!(IntOrPercent::Percent(0).is_zero());
    assert!(!IntOrPercent::Int(1).is_zero());
}

/// Checks that the type's JSON Schema accepts `good` and rejects `bad`.
fn check_schema<T: JsonSchema>(good: &[serde_json::Value], bad: &[serde_json::Value]) {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for v in good {
        assert!(validator.is_valid(v), "schema rejects {v}");
    }
    for v in bad {
        assert!(!validator.is_valid(v), "schema accepts {v}");
    }
}

#[test]
fn schemas_agree_with_the_parsers() {
    use serde_json::json;
    check_schema::<DurationSpec>(
        &[
            json!("100ms"),
            json!("1h30m"),
            json!("1.5s"),
            json!("0"),
            json!(".5s"),
        ],
        &[json!("10"), json!("10d"), json!(""), json!(10)],
    );
    check_schema::<ByteSize>(
        &[
            json!("300Mi"),
            json!("1.5Gi"),
            json!("500M"),
            json!(1024),
            json!("1024"),
        ],
        &[json!("1K"), json!("10MB"), json!(-1)],
    );
    check_schema::<IntOrPercent>(
        &[json!(0), json!(3), json!("25%"), json!("100%")],
        &[json!("101%"), json!(-1), json!("25")],
    );
}

proptest! {
    #[test]
    fn duration_round_trips(nanos in 0u64..10_000_000_000_000u64) {
        let d = DurationSpec(Duration::from_nanos(nanos));
        let text = d.to_string();
        prop_assert_eq!(text.parse::<DurationSpec>(), Ok(d), "{}", text);
    }

    #[test]
    fn size_round_trips(bytes in any::<u64>()) {
        let b = ByteSize(bytes);
        prop_assert_eq!(b.to_string().parse::<ByteSize>(), Ok(b));
    }

    #[test]
    fn int_or_percent_round_trips_through_yaml(n in 0u32..1000, p in 0u32..=100) {
        for v in [IntOrPercent::Int(n), IntOrPercent::Percent(p)] {
            let yaml = serde_yaml::to_string(&v).unwrap();
            prop_assert_eq!(serde_yaml::from_str::<IntOrPercent>(&yaml).unwrap(), v);
        }
    }

    #[test]
    fn percent_rounding_brackets_the_exact_value(p in 0u32..=100, total in 0u32..10_000) {
        let v = IntOrPercent::Percent(p);
        let exact = f64::from(p) * f64::from(total) / 100.0;
        prop_assert!(f64::from(v.resolve_down(total)) <= exact);
        prop_assert!(f64::from(v.resolve_up(total)) >= exact);
        prop_assert!(v.resolve_up(total) - v.resolve_down(total) <= 1);
    }
}
