//! PM2's units and defaults, read the way PM2 reads them: milliseconds, `200M` sizes,
//! interpreters picked by the script's extension.

use serde_json::Value;

/// A PM2 duration (a number of milliseconds, a digit string, or `30s`/`1m`/`1h`) as a corral
/// duration (`1500ms`, `30s`), or `None` if it is neither.
pub fn duration(v: &Value) -> Option<String> {
    let ms: u64 = match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().map(|f| f.max(0.0) as u64))?,
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<u64>() {
                Ok(ms) => ms,
                Err(_) => {
                    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
                    let (num, unit) = s.split_at(split);
                    let num: f64 = num.parse().ok()?;
                    let factor = match unit.trim() {
                        "ms" => 1.0,
                        "s" => 1e3,
                        "m" => 60e3,
                        "h" => 3_600e3,
                        "d" => 86_400e3,
                        _ => return None,
                    };
                    (num * factor) as u64
                }
            }
        }
        _ => return None,
    };
    Some(if ms.is_multiple_of(1000) && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    })
}

/// PM2's `max_memory_restart` (bytes, or `150K`/`200M`/`1G`, powers of 1024) as a corral size.
pub fn size(v: &Value) -> Option<String> {
    let text = match v {
        Value::Number(n) => return n.as_u64().filter(|b| *b > 0).map(|b| b.to_string()),
        Value::String(s) => s.trim().to_ascii_uppercase(),
        _ => return None,
    };
    if let Ok(bytes) = text.parse::<u64>() {
        return (bytes > 0).then(|| bytes.to_string());
    }
    let text = text.strip_suffix('B').unwrap_or(&text);
    let (num, unit) = text.split_at(text.len().checked_sub(1)?);
    let unit = match unit {
        "K" => "Ki",
        "M" => "Mi",
        "G" => "Gi",
        _ => return None,
    };
    let n: u64 = num.trim().parse().ok().filter(|n| *n > 0)?;
    Some(format!("{n}{unit}"))
}

/// The interpreter PM2 runs a script with, from its extension; `None`: exec it directly.
pub fn interpreter_for(script: &str) -> Option<&'static str> {
    let ext = std::path::Path::new(script).extension()?.to_str()?;
    Some(match ext {
        "js" | "cjs" | "mjs" => "node",
        "ts" | "tsx" => "ts-node",
        "py" => "python3",
        "sh" => "bash",
        "rb" => "ruby",
        "php" => "php",
        "pl" => "perl",
        "coffee" => "coffee",
        "ls" => "lsc",
        _ => return None,
    })
}

/// A string, or a list of strings, as argv words (`"-a 1 -b 'x y'"` splits like a shell).
pub fn words(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => shlex::split(s),
        Value::Array(items) => items.iter().map(text).collect(),
        _ => None,
    }
}

/// A scalar as the text PM2 would put in the environment (numbers and booleans stringified).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(duration(&json!(1600)).as_deref(), Some("1600ms"));
        assert_eq!(duration(&json!(3000)).as_deref(), Some("3s"));
        assert_eq!(duration(&json!("1000")).as_deref(), Some("1s"));
        assert_eq!(duration(&json!("30s")).as_deref(), Some("30s"));
        assert_eq!(duration(&json!("1h")).as_deref(), Some("3600s"));
        assert_eq!(duration(&json!(0)).as_deref(), Some("0ms"));
        assert_eq!(duration(&json!("soon")), None);
        assert_eq!(duration(&json!(true)), None);
    }

    #[test]
    fn sizes_use_powers_of_1024() {
        assert_eq!(size(&json!("200M")).as_deref(), Some("200Mi"));
        assert_eq!(size(&json!("1G")).as_deref(), Some("1Gi"));
        assert_eq!(size(&json!("150k")).as_deref(), Some("150Ki"));
        assert_eq!(size(&json!("8GB")).as_deref(), Some("8Gi"));
        assert_eq!(size(&json!(1048576)).as_deref(), Some("1048576"));
        assert_eq!(size(&json!("0M")), None);
        assert_eq!(size(&json!("lots")), None);
    }

    #[test]
    fn interpreters_by_extension() {
        assert_eq!(interpreter_for("app.js"), Some("node"));
        assert_eq!(interpreter_for("x/worker.py"), Some("python3"));
        assert_eq!(interpreter_for("run.sh"), Some("bash"));
        assert_eq!(interpreter_for("server"), None);
    }

    #[test]
    fn args_split_like_a_shell() {
        assert_eq!(
            words(&json!("-a 13 -b 'x y'")),
            Some(vec!["-a".into(), "13".into(), "-b".into(), "x y".into()])
        );
        assert_eq!(
            words(&json!(["--port", 3000])),
            Some(vec!["--port".into(), "3000".into()])
        );
    }
}
