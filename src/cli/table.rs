//! Text for people: aligned tables, human sizes and ages (kubectl's look).

/// A table with a header row; columns are left-aligned and separated by three spaces.
#[derive(Debug, Clone, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            rows: vec![headers.iter().map(|h| h.to_string()).collect()],
        }
    }

    /// Adds a row (missing cells print empty, extra cells are kept).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Whether only the header is there.
    pub fn is_empty(&self) -> bool {
        self.rows.len() <= 1
    }

    /// The table as lines, each ending in `\n`, with no trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, width) in widths.iter().enumerate() {
                let cell = row.get(c).map(String::as_str).unwrap_or("");
                line.push_str(cell);
                if c + 1 < columns {
                    let pad = width - cell.chars().count() + 3;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Bytes as kubectl quantities: `512B`, `1.5Ki`, `23.4Mi`, `120Mi`, `2.0Gi`; `-` when unknown.
pub fn human_bytes(bytes: Option<u64>) -> String {
    let Some(bytes) = bytes else {
        return "-".into();
    };
    const UNITS: [&str; 5] = ["Ki", "Mi", "Gi", "Ti", "Pi"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 99.95 {
        format!("{value:.1}{}", UNITS[unit])
    } else {
        format!("{value:.0}{}", UNITS[unit])
    }
}

/// CPU percent with one decimal (`1.5%`); `-` when not sampled yet.
pub fn human_cpu(percent: Option<f32>) -> String {
    percent.map_or_else(|| "-".into(), |p| format!("{p:.1}%"))
}

/// Time since `then_ms` (unix ms) as `5s`, `3m`, `2h`, `4d`; `-` when unknown (0).
pub fn age(then_ms: u64, now_ms: u64) -> String {
    if then_ms == 0 {
        return "-".into();
    }
    let secs = now_ms.saturating_sub(then_ms) / 1000;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Time until `then_ms` as `in 5s` (`now` when due); `-` when none.
pub fn until(then_ms: Option<u64>, now_ms: u64) -> String {
    match then_ms {
        None => "-".into(),
        Some(t) if t <= now_ms => "now".into(),
        Some(t) => format!("in {}", age(now_ms, t)),
    }
}

/// Now, as unix milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_kubectl() {
        assert_eq!(human_bytes(None), "-");
        assert_eq!(human_bytes(Some(0)), "0B");
        assert_eq!(human_bytes(Some(1023)), "1023B");
        assert_eq!(human_bytes(Some(1536)), "1.5Ki");
        assert_eq!(human_bytes(Some(24_536_678)), "23.4Mi");
        assert_eq!(human_bytes(Some(120 << 20)), "120Mi");
        assert_eq!(human_bytes(Some(2 << 30)), "2.0Gi");
    }

    #[test]
    fn cpu_has_one_decimal() {
        assert_eq!(human_cpu(Some(1.5)), "1.5%");
        assert_eq!(human_cpu(Some(0.0)), "0.0%");
        assert_eq!(human_cpu(None), "-");
    }

    #[test]
    fn ages_use_the_largest_unit() {
        let now = 1_000_000_000;
        assert_eq!(age(0, now), "-");
        assert_eq!(age(now - 5_000, now), "5s");
        assert_eq!(age(now - 3 * 60_000 - 10, now), "3m");
        assert_eq!(age(now - 2 * 3_600_000, now), "2h");
        assert_eq!(age(now - 4 * 86_400_000, now), "4d");
        assert_eq!(age(now + 5_000, now), "0s");
        assert_eq!(until(Some(now + 7_000), now), "in 7s");
        assert_eq!(until(Some(now - 1), now), "now");
        assert_eq!(until(None, now), "-");
    }

    #[test]
    fn columns_align_on_the_widest_cell() {
        let mut t = Table::new(&["NAME", "READY", "STATUS"]);
        t.row(vec!["web".into(), "4/4".into(), "Running".into()]);
        t.row(vec![
            "worker-long".into(),
            "0/1".into(),
            "CrashLoopBackOff".into(),
        ]);
        assert_eq!(
            t.render(),
            "NAME          READY   STATUS\n\
             web           4/4     Running\n\
             worker-long   0/1     CrashLoopBackOff\n"
        );
    }

    #[test]
    fn empty_last_cells_leave_no_trailing_spaces() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["x".into(), String::new()]);
        assert!(!t.is_empty());
        assert_eq!(t.render(), "A   B\nx\n");
    }
}
