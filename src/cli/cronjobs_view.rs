//! How CronJobs show in the CLI: `corral get cronjobs` (kubectl's NAME SCHEDULE TIMEZONE SUSPEND
//! ACTIVE LAST SCHEDULE AGE, with NEXT added) and `corral get cronjob/NAME`.

use anyhow::bail;

use super::table::{age, until, Table};
use crate::api::{AppList, CronJobStatus};

/// The CronJobs table.
pub fn table(cronjobs: &[CronJobStatus], now: u64) -> String {
    let mut table = Table::new(&[
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST SCHEDULE",
        "NEXT",
        "AGE",
    ]);
    for c in cronjobs {
        table.row(vec![
            c.name.clone(),
            c.schedule.clone(),
            c.time_zone.clone(),
            if c.suspend { "True" } else { "False" }.into(),
            c.active.len().to_string(),
            c.last_schedule_ms
                .map_or_else(|| "<none>".into(), |t| format!("{} ago", age(t, now))),
            match c.next_ms {
                Some(t) => until(Some(t), now),
                None => "<none>".into(),
            },
            age(c.created_ms, now),
        ]);
    }
    table.render()
}

/// The CronJob `name` of a list, or an error that says which CronJobs there are.
pub fn find<'a>(list: &'a AppList, name: &str) -> anyhow::Result<&'a CronJobStatus> {
    match list.cronjobs.iter().find(|c| c.name == name) {
        Some(c) => Ok(c),
        None => {
            let names: Vec<&str> = list.cronjobs.iter().map(|c| c.name.as_str()).collect();
            if names.is_empty() {
                bail!("no CronJob named {name:?}: this controller runs no CronJob");
            }
            bail!(
                "no CronJob named {name:?}; the CronJobs are {}",
                names.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_kubectl_columns_and_next() {
        let c = CronJobStatus {
            name: "report".into(),
            schedule: "*/2 * * * * *".into(),
            time_zone: "UTC".into(),
            active: vec!["report-1".into()],
            last_schedule_ms: Some(58_000),
            next_ms: Some(62_000),
            created_ms: 1_000,
            ..CronJobStatus::default()
        };
        let text = table(&[c], 60_000);
        let mut lines = text.lines();
        let head: Vec<&str> = lines
            .next()
            .unwrap()
            .split("  ")
            .filter(|s| !s.is_empty())
            .map(str::trim)
            .collect();
        assert_eq!(
            head,
            [
                "NAME",
                "SCHEDULE",
                "TIMEZONE",
                "SUSPEND",
                "ACTIVE",
                "LAST SCHEDULE",
                "NEXT",
                "AGE"
            ]
        );
        let row = lines.next().unwrap();
        assert!(row.starts_with("report"), "{row}");
        assert!(
            row.contains("*/2 * * * * *") && row.contains("UTC") && row.contains("False"),
            "{row}"
        );
        assert!(
            row.contains("2s ago") && row.contains("in 2s") && row.contains("59s"),
            "{row}"
        );
    }
}
