//! A yes/no question over the feed (deleting a post).

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;

use crate::keymap::Command;
use crate::layout::centered;

/// A pending confirmation to delete a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmState {
    /// The post to delete.
    pub post_id: String,
    /// Its title, to say what is deleted.
    pub title: String,
}

impl ConfirmState {
    /// The answer a key gives: `Some(true)` yes, `Some(false)` no, `None` not an answer.
    pub fn answer(cmd: Option<Command>) -> Option<bool> {
        match cmd {
            Some(Command::Yes) => Some(true),
            Some(Command::No) => Some(false),
            _ => None,
        }
    }
}

/// Draws the question centred in `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &ConfirmState) {
    let rect = centered(area, 56, 6);
    frame.render_widget(Clear, rect);
    let text = vec![
        Line::from(vec![
            Span::raw("Delete “"),
            Span::styled(
                state.title.as_str(),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw("” and its picture?"),
        ]),
        Line::from(""),
        Line::from(vec![
            Span::styled(" y ", Style::default().fg(Color::Black).bg(Color::Red)),
            Span::raw(" delete    "),
            Span::styled(" n ", Style::default().fg(Color::Black).bg(Color::Gray)),
            Span::raw(" keep"),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(
            Block::bordered()
                .title(" Delete post ")
                .border_style(Style::default().fg(Color::Red)),
        ),
        rect,
    );
}
