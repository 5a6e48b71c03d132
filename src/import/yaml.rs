//! Writing YAML scalars and flow collections by hand, so that imported manifests keep comments.

/// A YAML scalar for `s`: plain when that reads back as the same string, else double-quoted.
pub fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !s.starts_with(['-', '.'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
        );
    if plain {
        s.to_owned()
    } else {
        serde_json::Value::String(s.to_owned()).to_string()
    }
}

/// A flow sequence of scalars: `[a, "b c"]`.
pub fn seq(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| scalar(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// A flow mapping of string keys to string values: `{A: "1", B: x}`.
pub fn map<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let inner: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{}: {}", scalar(k), scalar(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_the_same_string() {
        for s in [
            "node", "app.js", "true", "No", "1", "1.5", "-x", "a b", "", "x: y", "#c", "é", "~",
            "null", "./web", "8080", "it's",
        ] {
            let text = format!("v: {}", scalar(s));
            let back: std::collections::BTreeMap<String, String> =
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back["v"], s, "{text}");
        }
    }

    #[test]
    fn flow_collections() {
        assert_eq!(seq(&["node".into(), "a b".into()]), r#"[node, "a b"]"#);
        let (k, v) = ("PORT".to_string(), "3000".to_string());
        assert_eq!(map([(&k, &v)]), r#"{PORT: "3000"}"#);
    }
}
