//! The App JSON Schema, generated from the Rust types (what `corral schema` prints).

use super::types::App;

/// The App JSON Schema, pretty-printed with a trailing newline (what `corral schema` prints).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(App);
    // Serializing a JSON value to a string cannot fail.
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_draft_2020_12_titled_with_descriptions() {
        let v: serde_json::Value = serde_json::from_str(&schema_json()).unwrap();
        assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(v["title"], "corral App");
        let spec = &v["$defs"]["AppSpec"]["properties"];
        assert!(spec["command"]["description"].is_string() || spec["command"]["$ref"].is_string());
        assert_eq!(
            v["$defs"]["Logs"]["properties"]["maxFiles"]["description"],
            "Rotated files kept per log; default 5."
        );
        assert_eq!(v["$defs"]["Listen"]["properties"]["port"]["minimum"], 1);
    }
}
