//! The manifest JSON Schema, generated from the Rust types (what `corral schema` prints): one
//! schema for every kind, the document's `kind` choosing the App, Job or CronJob schema.

use serde_json::json;

use super::cronjob::CronJob;
use super::job::Job;
use super::types::App;

/// The manifest JSON Schema, pretty-printed with a trailing newline (what `corral schema`
/// prints): `kind` picks which of the App, Job and CronJob schemas a document must obey.
pub fn schema_json() -> String {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let kinds = [
        ("App", generator.subschema_for::<App>()),
        ("Job", generator.subschema_for::<Job>()),
        ("CronJob", generator.subschema_for::<CronJob>()),
    ];
    let defs = generator.take_definitions(true);
    let branches: Vec<serde_json::Value> = kinds
        .iter()
        .map(|(kind, schema)| {
            json!({
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": schema,
            })
        })
        .collect();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "corral manifest",
        "description": "One corral manifest document: an App, a Job or a CronJob, as `kind` says.",
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "kind": {
                "description": "What the document describes: `App`, `Job` or `CronJob`.",
                "enum": ["App", "Job", "CronJob"],
            },
        },
        "allOf": branches,
        "$defs": defs,
    });
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
        assert_eq!(v["title"], "corral manifest");
        assert_eq!(v["$defs"]["App"]["title"], "corral App");
        assert_eq!(v["$defs"]["Job"]["title"], "corral Job");
        let spec = &v["$defs"]["AppSpec"]["properties"];
        assert!(spec["command"]["description"].is_string() || spec["command"]["$ref"].is_string());
        assert_eq!(
            v["$defs"]["Logs"]["properties"]["maxFiles"]["description"],
            "Rotated files kept per log; default 5."
        );
        assert_eq!(v["$defs"]["Listen"]["properties"]["port"]["minimum"], 1);
    }
}
