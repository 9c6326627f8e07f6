//! The sign-up / log-in screen.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::app::App;
use crate::components::input::TextInput;
use crate::layout::{centered, chrome};

/// Log in to an existing account or create one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/signup` then log in.
    Signup,
}

/// The focused field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    /// Username.
    Username,
    /// Password.
    Password,
}

/// State of the login screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginState {
    /// Log in or sign up.
    pub mode: Mode,
    /// Username editor.
    pub username: TextInput,
    /// Password editor (masked).
    pub password: TextInput,
    /// Focused field.
    pub focus: LoginField,
    /// A request is under way.
    pub busy: bool,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Why the screen was opened ("Log in to post").
    pub reason: Option<String>,
}

impl Default for LoginState {
    fn default() -> Self {
        LoginState {
            mode: Mode::Login,
            username: TextInput::single(),
            password: TextInput::masked(),
            focus: LoginField::Username,
            busy: false,
            error: None,
            reason: None,
        }
    }
}

/// Checks the fields like the server does: 3–32 characters of `[A-Za-z0-9_.-]`, password ≥ 8.
pub fn validate(username: &str, password: &str, mode: Mode) -> Option<String> {
    let n = username.chars().count();
    if !(3..=32).contains(&n) {
        return Some("Username must be 3 to 32 characters.".into());
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Some("Username may use letters, digits, _ . and - only.".into());
    }
    if password.is_empty() {
        return Some("Password is required.".into());
    }
    if mode == Mode::Signup && password.chars().count() < 8 {
        return Some("Password must be at least 8 characters.".into());
    }
    None
}

/// Draws the login screen.
pub fn render(frame: &mut Frame, app: &App) {
    let s = &app.login;
    let (header, main, _, _) = chrome(frame.area());
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                " postagram ",
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Magenta)
                    .add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!("  {}", app.server),
                Style::default().fg(Color::DarkGray),
            ),
        ])),
        header,
    );
    let rect = centered(main, 56, 14);
    let title = match s.mode {
        Mode::Login => " Log in ",
        Mode::Signup => " Sign up ",
    };
    let block = Block::bordered()
        .title(title)
        .border_style(Style::default().fg(Color::Magenta));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.height < 3 || inner.width < 10 {
        return;
    }
    let tab = |m: Mode, name: &'static str| {
        if s.mode == m {
            Span::styled(
                format!("[{name}]"),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            )
        } else {
            Span::styled(format!(" {name} "), Style::default().fg(Color::DarkGray))
        }
    };
    let mut y = inner.y;
    let line = |y: u16| Rect::new(inner.x, y, inner.width, 1);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            tab(Mode::Login, "Log in"),
            Span::raw("  "),
            tab(Mode::Signup, "Sign up"),
            Span::styled("   (Ctrl-T switches)", Style::default().fg(Color::DarkGray)),
        ])),
        line(y),
    );
    y += 2;
    if let Some(r) = &s.reason {
        if y < inner.bottom() {
            frame.render_widget(
                Paragraph::new(Span::styled(r.as_str(), Style::default().fg(Color::Cyan))),
                line(y),
            );
        }
        y += 2;
    }
    for (label, input, field) in [
        ("Username", &s.username, LoginField::Username),
        ("Password", &s.password, LoginField::Password),
    ] {
        if y >= inner.bottom() {
            return;
        }
        let focused = s.focus == field && !s.busy;
        let label_style = if focused {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        frame.render_widget(
            Paragraph::new(Span::styled(format!("{label:<10}"), label_style)),
            Rect::new(inner.x, y, 10.min(inner.width), 1),
        );
        let field_area = Rect::new(inner.x + 10, y, inner.width.saturating_sub(10), 1);
        frame.render_widget(
            Paragraph::new("").style(Style::default().bg(Color::Indexed(236))),
            field_area,
        );
        input.render(
            frame,
            field_area,
            Style::default().bg(Color::Indexed(236)),
            focused,
        );
        y += 2;
    }
    if y >= inner.bottom() {
        return;
    }
    let (msg, style) = if s.busy {
        (
            match s.mode {
                Mode::Login => "Logging in…".to_string(),
                Mode::Signup => "Creating the account…".to_string(),
            },
            Style::default().fg(Color::Cyan),
        )
    } else if let Some(e) = &s.error {
        (format!("✗ {e}"), Style::default().fg(Color::Red))
    } else {
        (
            "Enter to submit · Esc to browse without an account".into(),
            Style::default().fg(Color::DarkGray),
        )
    };
    frame.render_widget(
        Paragraph::new(Span::styled(msg, style)).wrap(Wrap { trim: true }),
        Rect::new(inner.x, y, inner.width, inner.bottom() - y),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_validation() {
        assert!(validate("al", "password1", Mode::Login).is_some());
        assert!(validate("al ice", "password1", Mode::Login).is_some());
        assert!(validate("alice", "", Mode::Login).is_some());
        assert!(validate("alice", "short", Mode::Signup).is_some());
        assert!(validate("alice", "short", Mode::Login).is_none());
        assert!(validate("alice.b-c_d", "longenough", Mode::Signup).is_none());
    }
}
