//! Drawing the login screen: the server, the mode tabs, the two fields and the outcome of
//! the last attempt.

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{LoginField, LoginState, Mode};
use crate::layout::{centered, chrome};
use crate::screens::context::Ctx;

/// Draws the login screen.
pub fn render(frame: &mut Frame, s: &LoginState, ctx: &Ctx) {
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
                format!("  {}", ctx.server),
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
