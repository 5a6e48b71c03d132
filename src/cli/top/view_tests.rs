use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::api::{AppList, Event};

/// The screen's text, one string per line.
fn screen(model: &Model, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| render(frame, model, "1s"))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn instance(index: u32, ready: bool, memory: u64) -> InstanceStatus {
    InstanceStatus {
        index,
        pid: Some(4_194_300 + index), // pid_max: 7 digits
        revision: "r1".into(),
        phase: if ready { "Running" } else { "Starting" }.into(),
        ready,
        restarts: index,
        cpu_percent: Some(2.5),
        memory_bytes: Some(memory),
        ..Default::default()
    }
}

/// Three apps: `api` (2/2, 64Mi limit), `web-inherit` (1/2) and `worker`; samples of a minute;
/// `api` selected with log lines.
fn model() -> Model {
    let mib = 1024 * 1024;
    let mut m = Model::new(300);
    for t in 0..60u64 {
        let mut api = AppStatus {
            name: "api".into(),
            revision: "r1".into(),
            desired: 2,
            ready: 2,
            status: "Running".into(),
            restarts: 1,
            cpu_percent: Some((t % 10) as f32),
            memory_bytes: Some(80 * mib),
            instances: vec![instance(0, true, 48 * mib), instance(1, true, 32 * mib)],
            spec_yaml: "command: [x]\nmemory:\n  limit: 64Mi\n".into(),
            ..Default::default()
        };
        api.events.push(Event {
            at_ms: 55_000,
            kind: "Warning".into(),
            reason: "MemoryLimitExceeded".into(),
            message: "instance 0 over its limit".into(),
            seq: 7,
            app: Some("api".into()),
            index: Some(0),
        });
        let web = AppStatus {
            name: "web-inherit".into(),
            revision: "r1".into(),
            desired: 2,
            ready: 1,
            status: "Starting".into(),
            instances: vec![instance(0, true, 10 * mib), instance(1, false, 10 * mib)],
            ..Default::default()
        };
        let worker = AppStatus {
            name: "worker".into(),
            desired: 1,
            status: "CrashLoopBackOff".into(),
            ..Default::default()
        };
        m.update(
            AppList {
                cronjobs: Vec::new(),
                jobs: Vec::new(),
                apps: vec![worker, web, api],
                errors: vec![],
            },
            60_000 + t,
        );
    }
    m.push_logs(
        "api",
        (0..30)
            .map(|i| format!("api-0 | request {i} served"))
            .collect(),
    );
    m
}

fn contains(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

fn row<'a>(lines: &'a [String], starting: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.trim_start().starts_with(starting))
        .map_or("", String::as_str)
}

#[test]
fn everything_essential_fits_80_by_24() {
    let lines = screen(&model(), 80, 24);
    let text = lines.join("\n");
    assert!(
        lines[0].starts_with("corral top  3 app(s)  3/5 ready"),
        "{text}"
    );
    for name in ["api", "web-inherit", "worker"] {
        assert!(contains(&lines, name), "{name} missing:\n{text}");
    }
    let api = row(&lines, "api ");
    assert!(api.contains("2/2") && api.contains("Running"), "{text}");
    assert!(api.contains("80.0Mi") && api.contains("9.0%"), "{text}");
    assert!(
        LEVELS.iter().any(|c| api.contains(*c)),
        "CPU sparkline on the app row:\n{text}"
    );
    // Instance 0 of api: 48Mi of 64Mi, a 75% bar.
    let first = row(&lines, "└ 0 4194300");
    assert!(first.contains('█') && first.contains("75%"), "{text}");
    assert!(
        contains(&lines, "1/2") && contains(&lines, "CrashLoopBackOff"),
        "{text}"
    );
    assert!(contains(&lines, "logs: api"), "{text}");
    assert!(
        contains(&lines, "request 29 served"),
        "newest log line:\n{text}"
    );
    assert!(
        lines[23].contains("r reload") && lines[23].contains("q quit"),
        "{text}"
    );
    assert!(!lines.iter().any(|l| l.ends_with('…')), "{text}");
}

#[test]
fn a_wide_terminal_shows_the_same_with_room() {
    let lines = screen(&model(), 160, 50);
    let text = lines.join("\n");
    assert!(
        contains(&lines, "CPU 5m") && contains(&lines, "MEM 5m/LIMIT"),
        "{text}"
    );
    assert!(row(&lines, "└ 1 4194301").contains("50%"), "{text}");
    assert!(
        contains(&lines, "request 0 served"),
        "more log lines fit:\n{text}"
    );
}

#[test]
fn a_narrow_terminal_drops_the_histories_before_the_names() {
    let lines = screen(&model(), 50, 24);
    let text = lines.join("\n");
    assert!(!contains(&lines, "CPU 5m"), "{text}");
    assert!(
        contains(&lines, "web-inherit") && contains(&lines, "80.0Mi"),
        "{text}"
    );
}

#[test]
fn many_apps_scroll_to_keep_the_selection_in_view() {
    let mut m = model();
    let apps = (0..30)
        .map(|i| AppStatus {
            name: format!("app-{i:02}"),
            status: "Running".into(),
            ..Default::default()
        })
        .collect();
    m.update(
        AppList {
            cronjobs: Vec::new(),
            jobs: Vec::new(),
            apps,
            errors: vec![],
        },
        0,
    );
    m.select_by(25);
    let lines = screen(&m, 80, 24);
    let text = lines.join("\n");
    assert!(contains(&lines, "app-25"), "{text}");
    assert!(!contains(&lines, "app-00"), "{text}");
}

#[test]
fn panels_show_events_help_and_the_scale_prompt() {
    let mut m = model();
    m.panel = Panel::Events;
    let lines = screen(&m, 80, 24);
    assert!(
        contains(&lines, "events: api") && contains(&lines, "Warning MemoryLimitExceeded"),
        "{}",
        lines.join("\n")
    );
    m.panel = Panel::Help;
    let lines = screen(&m, 80, 24);
    assert!(
        contains(&lines, "reload: rolling restart"),
        "{}",
        lines.join("\n")
    );
    m.panel = Panel::Hidden;
    m.prompt = Some("7".into());
    let lines = screen(&m, 80, 24);
    assert!(
        lines[23].starts_with("scale api to: 7"),
        "{}",
        lines.join("\n")
    );
    assert!(!contains(&lines, "logs: api"));
}

#[test]
fn a_tiny_terminal_does_not_panic() {
    for (w, h) in [(1, 1), (10, 3), (30, 8), (80, 2)] {
        screen(&model(), w, h);
    }
    screen(&Model::new(1), 80, 24);
}

#[test]
fn sparkline_is_right_aligned_and_scaled() {
    assert_eq!(sparkline(&[0.0, 50.0, 100.0], 5, 0.0, 1.0), "  ▁▅█");
    assert_eq!(sparkline(&[1.0; 10], 3, 0.0, 1.0), "███");
    assert_eq!(sparkline(&[], 2, 0.0, 1.0), "  ");
    assert_eq!(bar(0.5, 14), "█████░░░░  50%");
    assert_eq!(bar(2.0, 10), "█████ 200%");
}
