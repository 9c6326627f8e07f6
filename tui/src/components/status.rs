//! The status line (messages, account, upload progress) and the hint bar.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// How a message is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral information ("Loading…").
    Info,
    /// Something worked ("Posted").
    Success,
    /// Something failed.
    Error,
}

/// A message in the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sentence.
    pub text: String,
    /// Its kind.
    pub level: Level,
    /// When it was set (messages fade after a while).
    pub at: DateTime<Utc>,
}

/// State of the status line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusState {
    /// The current message.
    pub message: Option<Message>,
}

impl StatusState {
    /// Shows a message from `now` on.
    pub fn set(&mut self, level: Level, text: impl Into<String>, now: DateTime<Utc>) {
        self.message = Some(Message {
            text: text.into(),
            level,
            at: now,
        });
    }

    /// Drops the message once it is old: 6 s for information, 20 s for errors.
    pub fn expire(&mut self, now: DateTime<Utc>) {
        if let Some(m) = &self.message {
            let keep = match m.level {
                Level::Error => 20,
                _ => 6,
            };
            if now - m.at > chrono::Duration::seconds(keep) {
                self.message = None;
            }
        }
    }
}

/// Draws the status line: message on the left, `right` (account, progress) on the right.
pub fn render_status(frame: &mut Frame, area: Rect, state: &StatusState, right: &str) {
    let right_w = (right.chars().count() as u16 + 1).min(area.width / 2);
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_w)]).areas(area);
    let msg = match &state.message {
        Some(m) => {
            let (style, mark) = match m.level {
                Level::Info => (Style::default().fg(Color::Cyan), "• "),
                Level::Success => (Style::default().fg(Color::Green), "✓ "),
                Level::Error => (
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                    "✗ ",
                ),
            };
            Line::from(vec![
                Span::styled(mark, style),
                Span::styled(m.text.as_str(), style),
            ])
        }
        None => Line::from(""),
    };
    frame.render_widget(Paragraph::new(msg), left_area);
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            right,
            Style::default().fg(Color::DarkGray),
        )))
        .right_aligned(),
        right_area,
    );
}

/// Draws the hint bar from `(keys, hint)` pairs (see [`crate::keymap::hints`]); hints that
/// do not fit the width are left out rather than cut in half.
pub fn render_hints(frame: &mut Frame, area: Rect, hints: &[(String, &str)]) {
    let key_style = Style::default()
        .fg(Color::Black)
        .bg(Color::Gray)
        .add_modifier(Modifier::BOLD);
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (keys, hint) in hints {
        let key = format!(" {keys} ");
        let text = format!(" {hint}  ");
        let w = key.chars().count() + text.trim_end().chars().count();
        if used + w > area.width as usize {
            break;
        }
        used += key.chars().count() + text.chars().count();
        spans.push(Span::styled(key, key_style));
        spans.push(Span::raw(text));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_expire() {
        let t0 = Utc::now();
        let mut s = StatusState::default();
        s.set(Level::Info, "hi", t0);
        s.expire(t0 + chrono::Duration::seconds(3));
        assert!(s.message.is_some());
        s.expire(t0 + chrono::Duration::seconds(7));
        assert!(s.message.is_none());
        s.set(Level::Error, "bad", t0);
        s.expire(t0 + chrono::Duration::seconds(7));
        assert!(s.message.is_some());
    }
}
