//! `corral top` on screen: the model drawn into a frame (no I/O, no clock), so a test backend
//! shows exactly what a terminal would.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::input::KEYS;
use super::model::{rollout, Model, Panel};
use crate::api::{AppStatus, InstanceStatus};
use crate::cli::table::{age, human_bytes, human_cpu};

/// Sparkline levels, lowest first.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Width of the fixed columns: READY, STATUS, ↺, CPU, MEM.
const FIXED: [u16; 5] = [5, 16, 3, 6, 7];
/// Below this, the two history columns are dropped (names stay).
const MIN_HISTORY: u16 = 16;
/// Lines the panel under the table gets at least (its title included).
const MIN_PANEL: u16 = 6;
/// The footer's key reminder.
const HINT: &str = "↑↓ select  r reload  R restart  +/-/s scale  e events  l logs  ? help  q quit";

/// Draws the whole screen.
pub fn render(frame: &mut Frame, model: &Model, interval: &str) {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(header_line(model, interval), header);
    let rows = table_rows(model);
    let wanted = rows.len() as u16 + 1;
    let panel_fits = body.height >= 2 * MIN_PANEL;
    let table_height = match model.panel {
        Panel::Hidden => body.height,
        _ if !panel_fits => body.height,
        _ => wanted.min(body.height - MIN_PANEL),
    };
    let [table_area, panel_area] =
        Layout::vertical([Constraint::Length(table_height), Constraint::Min(0)]).areas(body);
    render_table(frame, model, rows, table_area);
    if panel_area.height > 0 {
        render_panel(frame, model, panel_area);
    }
    frame.render_widget(footer_line(model), footer);
}

/// `corral top`, the app count, readiness over all apps, manifest problems, refresh errors.
fn header_line(model: &Model, interval: &str) -> Paragraph<'static> {
    let ready: u32 = model.apps.iter().map(|a| a.ready).sum();
    let desired: u32 = model.apps.iter().map(|a| a.desired).sum();
    let mut spans = vec![
        Span::styled("corral top", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(format!(
            "  {} app(s)  {ready}/{desired} ready  every {interval}",
            model.apps.len()
        )),
    ];
    if model.problems > 0 {
        spans.push(Span::styled(
            format!("  {} manifest error(s): corral get", model.problems),
            Style::new().fg(Color::Yellow),
        ));
    }
    if let Some(error) = &model.error {
        spans.push(Span::styled(
            format!("  {error}"),
            Style::new().fg(Color::Red),
        ));
    }
    Paragraph::new(Line::from(spans))
}

/// Column widths for a terminal `width` wide: (name, status, history columns; 0 when dropped).
fn columns(width: u16, longest_name: usize) -> (u16, u16, u16) {
    let fixed: u16 = FIXED.iter().sum();
    let name = (longest_name.clamp(10, 24)) as u16;
    let spacing = 7; // between 8 columns
    let left = width.saturating_sub(fixed + spacing + name);
    if left >= MIN_HISTORY {
        (name, FIXED[1], left / 2)
    } else {
        // Without the two history columns and with a narrower status, the name takes the rest.
        let status = FIXED[1] - 4;
        let name = width.saturating_sub(fixed - 4 + 5).max(4);
        (name, status, 0)
    }
}

/// One row per app, each followed by one per instance.
fn table_rows(model: &Model) -> Vec<(Option<usize>, RowData<'_>)> {
    let mut rows = Vec::new();
    for (n, app) in model.apps.iter().enumerate() {
        rows.push((Some(n), RowData::App(app)));
        for i in &app.instances {
            rows.push((None, RowData::Instance(app, i)));
        }
    }
    rows
}

/// What a table row shows.
enum RowData<'a> {
    /// An app's totals.
    App(&'a AppStatus),
    /// One instance of an app.
    Instance(&'a AppStatus, &'a InstanceStatus),
}

/// The table of apps and instances, the selected app highlighted and scrolled into view.
fn render_table(
    frame: &mut Frame,
    model: &Model,
    rows: Vec<(Option<usize>, RowData<'_>)>,
    area: Rect,
) {
    let longest = model
        .apps
        .iter()
        .flat_map(|a| {
            let labels = a
                .instances
                .iter()
                .map(|i| instance_label(i).chars().count());
            labels.chain([a.name.chars().count()])
        })
        .max()
        .unwrap_or(0);
    let (name_w, status_w, history_w) = columns(area.width, longest);
    let selected_app = model
        .selected
        .as_ref()
        .and_then(|s| model.apps.iter().position(|a| &a.name == s));
    let selected_row = selected_app.and_then(|n| rows.iter().position(|(app, _)| *app == Some(n)));
    let body: Vec<Row> = rows
        .into_iter()
        .map(|(_, data)| row(model, data, history_w))
        .collect();
    let mut header = vec!["NAME", "READY", "STATUS", "↺", "CPU"];
    let mut widths = vec![name_w, FIXED[0], status_w, FIXED[2], FIXED[3]];
    if history_w > 0 {
        header.push("CPU 5m");
        widths.push(history_w);
    }
    header.push("MEM");
    widths.push(FIXED[4]);
    if history_w > 0 {
        header.push("MEM 5m/LIMIT");
        widths.push(history_w);
    }
    let table = Table::new(body, widths.into_iter().map(Constraint::Length))
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .column_spacing(1)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(selected_row);
    frame.render_stateful_widget(table, area, &mut state);
}

/// One row: the app's or instance's figures, with history columns when `history_w` > 0.
fn row<'a>(model: &Model, data: RowData<'a>, history_w: u16) -> Row<'a> {
    let w = usize::from(history_w);
    let (app, index) = match &data {
        RowData::App(app) => (*app, None),
        RowData::Instance(app, i) => (*app, Some(i.index)),
    };
    let history = model.history(&app.name, index);
    let cpu_line = history.map_or_else(String::new, |h| {
        let values: Vec<f64> = h.cpu.iter().map(|&c| f64::from(c)).collect();
        sparkline(&values, w, 0.0, 10.0)
    });
    let mem_line = history.map_or_else(String::new, |h| {
        let values: Vec<f64> = h.memory.iter().map(|&m| m as f64).collect();
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        sparkline(&values, w, lo, 1.0)
    });
    let mut cells: Vec<Cell> = match data {
        RowData::App(app) => {
            let status = match rollout(app) {
                Some((updated, desired)) => format!("Rolling {updated}/{desired}"),
                None => app.status.clone(),
            };
            vec![
                Cell::from(app.name.clone()).style(Style::new().add_modifier(Modifier::BOLD)),
                Cell::from(format!("{}/{}", app.ready, app.desired)),
                Cell::from(status).style(status_style(&app.status)),
                Cell::from(app.restarts.to_string()),
                Cell::from(human_cpu(app.cpu_percent)),
            ]
        }
        RowData::Instance(_, i) => vec![
            Cell::from(instance_label(i)),
            Cell::from(if i.ready { " ✓" } else { " ·" }),
            Cell::from(i.phase.clone()).style(status_style(&i.phase)),
            Cell::from(i.restarts.to_string()),
            Cell::from(human_cpu(i.cpu_percent)),
        ],
    };
    if w > 0 {
        cells.push(Cell::from(cpu_line).style(Style::new().fg(Color::Cyan)));
    }
    let memory = match &data {
        RowData::App(app) => app.memory_bytes,
        RowData::Instance(_, i) => i.memory_bytes,
    };
    cells.push(Cell::from(human_bytes(memory)));
    if w > 0 {
        let limit = model.memory_limit(&app.name).filter(|_| index.is_some());
        cells.push(match (limit, memory) {
            (Some(limit), Some(used)) => {
                let ratio = used as f64 / limit as f64;
                Cell::from(bar(ratio, w)).style(Style::new().fg(level_color(ratio)))
            }
            _ => Cell::from(mem_line).style(Style::new().fg(Color::Magenta)),
        });
    }
    Row::new(cells)
}

/// An instance's NAME cell: ` └ INDEX PID`.
fn instance_label(i: &InstanceStatus) -> String {
    let pid = i.pid.map_or_else(|| "-".into(), |p| p.to_string());
    format!(" └ {} {pid}", i.index)
}

/// Green when all is well, yellow while changing, red when failing.
fn status_style(status: &str) -> Style {
    match status {
        "Running" => Style::new().fg(Color::Green),
        "CrashLoopBackOff" | "Failed" | "Exited" => Style::new().fg(Color::Red),
        _ => Style::new().fg(Color::Yellow),
    }
}

/// Green under 70% of the limit, yellow under 90%, red above.
fn level_color(ratio: f64) -> Color {
    match ratio {
        r if r < 0.7 => Color::Green,
        r if r < 0.9 => Color::Yellow,
        _ => Color::Red,
    }
}

/// The last `width` values as block characters, scaled from `lo` to the largest value (at
/// least `lo + min_span`); right-aligned, so the newest sample is at the right edge.
pub fn sparkline(values: &[f64], width: usize, lo: f64, min_span: f64) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let hi = shown.iter().copied().fold(lo + min_span, f64::max);
    let mut out = " ".repeat(width - shown.len());
    for v in shown {
        let level = ((v - lo) / (hi - lo) * 7.0).round().clamp(0.0, 7.0) as usize;
        out.push(LEVELS[level]);
    }
    out
}

/// `ratio` of a limit as a bar `width` wide with the percent after it: `█████░░░ 62%`.
pub fn bar(ratio: f64, width: usize) -> String {
    let percent = format!("{:>3.0}%", (ratio * 100.0).min(999.0));
    let cells = width.saturating_sub(percent.len() + 1);
    let full = ((ratio * cells as f64).round() as usize).min(cells);
    format!("{}{} {percent}", "█".repeat(full), "░".repeat(cells - full))
}

/// The panel under the table: logs, events or help.
fn render_panel(frame: &mut Frame, model: &Model, area: Rect) {
    let name = model.selected.clone().unwrap_or_default();
    let visible = usize::from(area.height.saturating_sub(1));
    let (title, lines): (String, Vec<Line>) = match model.panel {
        Panel::Logs => (
            format!(" logs: {name} (l hides) "),
            tail(model.logs.iter().map(|l| Line::raw(l.clone())), visible),
        ),
        Panel::Events => (
            format!(" events: {name} (e closes) "),
            tail(events(model), visible),
        ),
        Panel::Help => (
            " keys (? closes) ".into(),
            KEYS.iter()
                .map(|(k, what)| Line::raw(format!("{k:>9}  {what}")))
                .collect(),
        ),
        Panel::Hidden => return,
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(title)
        .border_style(Style::new().fg(Color::DarkGray));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The selected app's events, oldest first: `  5s Warning BackOff: …`.
fn events(model: &Model) -> impl Iterator<Item = Line<'static>> + '_ {
    let events = model.selected_app().map_or(&[][..], |a| &a.events[..]);
    events.iter().map(|e| {
        let style = match e.kind.as_str() {
            "Warning" => Style::new().fg(Color::Yellow),
            _ => Style::new(),
        };
        Line::styled(
            format!(
                "{:>4} {} {}: {}",
                age(e.at_ms, model.now_ms),
                e.kind,
                e.reason,
                e.message
            ),
            style,
        )
    })
}

/// The last `n` lines.
fn tail<'a>(lines: impl Iterator<Item = Line<'a>>, n: usize) -> Vec<Line<'a>> {
    let all: Vec<Line> = lines.collect();
    let skip = all.len().saturating_sub(n);
    all.into_iter().skip(skip).collect()
}

/// The prompt of `s`, the outcome of the last command, or the key reminder.
fn footer_line(model: &Model) -> Paragraph<'static> {
    if let Some(typed) = &model.prompt {
        let name = model.selected.clone().unwrap_or_default();
        return Paragraph::new(format!(
            "scale {name} to: {typed}▏ instances (⏎ applies, Esc cancels)"
        ))
        .style(Style::new().add_modifier(Modifier::BOLD));
    }
    match &model.message {
        Some(message) => Paragraph::new(message.clone()).style(Style::new().fg(Color::Yellow)),
        None => Paragraph::new(HINT).style(Style::new().fg(Color::DarkGray)),
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
