//! `corral top`'s keys: what each one does to the model, and which commands it sends.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::model::{Command, Model, Panel};

/// The keys, for the help panel and the footer: (keys, what they do).
pub const KEYS: [(&str, &str); 10] = [
    ("↑↓ j k", "select an app"),
    ("r", "reload: rolling restart, zero downtime"),
    ("R", "restart: every instance at once"),
    ("+ -", "scale by one instance (edits the manifest)"),
    ("s N ⏎", "scale to N instances (Esc cancels)"),
    ("e", "events of the selected app"),
    ("l", "show or hide its logs"),
    ("?", "this help"),
    ("q Ctrl-C", "quit"),
    (
        "",
        "figures refresh every --interval; sparklines cover the last 5 minutes",
    ),
];

/// What a key press leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Redraw; nothing else.
    Redraw,
    /// Send this to the controller, then redraw.
    Send(Command),
    /// Leave `top`.
    Quit,
}

/// Applies one key to the model.
pub fn handle(model: &mut Model, key: KeyEvent) -> Outcome {
    if key.kind == KeyEventKind::Release {
        return Outcome::Redraw;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c' | 'C')) {
        return Outcome::Quit;
    }
    if let Some(typed) = &mut model.prompt {
        match key.code {
            KeyCode::Char(c) if c.is_ascii_digit() && typed.len() < 6 => typed.push(c),
            KeyCode::Backspace => {
                typed.pop();
            }
            KeyCode::Esc => model.prompt = None,
            KeyCode::Enter => {
                if let Some(command) = model.submit_prompt() {
                    return Outcome::Send(command);
                }
            }
            _ => {}
        }
        return Outcome::Redraw;
    }
    model.message = None;
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc if model.panel == Panel::Help => {
            model.toggle(Panel::Help)
        }
        KeyCode::Char('q') => return Outcome::Quit,
        KeyCode::Up | KeyCode::Char('k') => model.select_by(-1),
        KeyCode::Down | KeyCode::Char('j') => model.select_by(1),
        KeyCode::PageUp => model.select_by(-10),
        KeyCode::PageDown => model.select_by(10),
        KeyCode::Char('r') => return send(model, Command::Reload),
        KeyCode::Char('R') => return send(model, Command::Restart),
        KeyCode::Char('+') => return scale(model.scale_by(1)),
        KeyCode::Char('-') => return scale(model.scale_by(-1)),
        KeyCode::Char('s') if model.selected.is_some() => model.prompt = Some(String::new()),
        KeyCode::Char('e') => model.toggle(Panel::Events),
        KeyCode::Char('l') => model.toggle(Panel::Logs),
        KeyCode::Char('?') => model.toggle(Panel::Help),
        _ => {}
    }
    Outcome::Redraw
}

/// A command on the selected app, when there is one.
fn send(model: &Model, command: fn(String) -> Command) -> Outcome {
    match &model.selected {
        Some(name) => Outcome::Send(command(name.clone())),
        None => Outcome::Redraw,
    }
}

/// A scale command, when the model made one.
fn scale(command: Option<Command>) -> Outcome {
    command.map_or(Outcome::Redraw, Outcome::Send)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{AppList, AppStatus};

    fn press(model: &mut Model, code: KeyCode) -> Outcome {
        handle(model, KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn model() -> Model {
        let mut m = Model::new(10);
        let app = |name: &str, desired| AppStatus {
            name: name.into(),
            desired,
            status: "Running".into(),
            ..Default::default()
        };
        let apps = vec![app("api", 2), app("web", 3)];
        m.update(
            AppList {
                cronjobs: Vec::new(),
                jobs: Vec::new(),
                apps,
                errors: vec![],
            },
            0,
        );
        m
    }

    #[test]
    fn keys_select_and_send_commands_for_the_selected_app() {
        let mut m = model();
        assert_eq!(
            press(&mut m, KeyCode::Char('r')),
            Outcome::Send(Command::Reload("api".into()))
        );
        press(&mut m, KeyCode::Down);
        assert_eq!(
            press(&mut m, KeyCode::Char('R')),
            Outcome::Send(Command::Restart("web".into()))
        );
        assert_eq!(
            press(&mut m, KeyCode::Char('+')),
            Outcome::Send(Command::Scale("web".into(), 4))
        );
        assert_eq!(
            press(&mut m, KeyCode::Char('-')),
            Outcome::Send(Command::Scale("web".into(), 2))
        );
        press(&mut m, KeyCode::Char('k'));
        assert_eq!(m.selected.as_deref(), Some("api"));
        assert_eq!(press(&mut m, KeyCode::Char('q')), Outcome::Quit);
        assert_eq!(
            handle(
                &mut m,
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Outcome::Quit
        );
    }

    #[test]
    fn s_prompts_for_a_count_and_refuses_non_numbers() {
        let mut m = model();
        press(&mut m, KeyCode::Char('s'));
        assert_eq!(m.prompt.as_deref(), Some(""));
        press(&mut m, KeyCode::Char('x')); // ignored: digits only
        press(&mut m, KeyCode::Char('1'));
        press(&mut m, KeyCode::Char('2'));
        press(&mut m, KeyCode::Backspace);
        press(&mut m, KeyCode::Char('5'));
        assert_eq!(
            press(&mut m, KeyCode::Enter),
            Outcome::Send(Command::Scale("api".into(), 15))
        );
        assert_eq!(m.prompt, None);
        press(&mut m, KeyCode::Char('s'));
        assert_eq!(press(&mut m, KeyCode::Enter), Outcome::Redraw);
        assert!(m
            .message
            .as_deref()
            .unwrap_or("")
            .contains("not an instance count"));
        press(&mut m, KeyCode::Char('s'));
        press(&mut m, KeyCode::Esc);
        assert_eq!(m.prompt, None);
        assert_eq!(press(&mut m, KeyCode::Char('q')), Outcome::Quit);
    }

    #[test]
    fn panels_toggle() {
        let mut m = model();
        assert_eq!(m.panel, Panel::Logs);
        press(&mut m, KeyCode::Char('e'));
        assert_eq!(m.panel, Panel::Events);
        press(&mut m, KeyCode::Char('e'));
        assert_eq!(m.panel, Panel::Logs);
        press(&mut m, KeyCode::Char('l'));
        assert_eq!(m.panel, Panel::Hidden);
        press(&mut m, KeyCode::Char('?'));
        assert_eq!(m.panel, Panel::Help);
        // q closes the help instead of quitting.
        assert_eq!(press(&mut m, KeyCode::Char('q')), Outcome::Redraw);
        assert_eq!(m.panel, Panel::Logs);
    }

    #[test]
    fn a_stopped_app_is_not_scaled_by_plus() {
        let mut m = model();
        m.apps[0].status = "Suspended".into();
        assert_eq!(press(&mut m, KeyCode::Char('+')), Outcome::Redraw);
        assert!(m
            .message
            .as_deref()
            .unwrap_or("")
            .contains("corral start api"));
    }
}
