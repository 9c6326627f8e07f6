//! A one-line prompt over the feed: a user name (`u`) or a search (`/`).

use ratatui::layout::{Margin, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crossterm::event::KeyEvent;

use crate::components::input::TextInput;
use crate::keymap::Command;
use crate::layout::centered;

/// What the prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// A username for the "by user" tab.
    User,
    /// Search text, or `#label` for an exact label.
    Search,
}

/// State of an open prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptState {
    /// What is asked.
    pub kind: PromptKind,
    /// The answer being typed.
    pub input: TextInput,
}

impl PromptState {
    /// A prompt of `kind` pre-filled with `initial`.
    pub fn new(kind: PromptKind, initial: &str) -> Self {
        let mut input = TextInput::single();
        input.set(initial);
        PromptState { kind, input }
    }

    /// Applies a key: typing, or closing the prompt with an answer or without.
    pub fn on_key(&mut self, cmd: Option<Command>, key: &KeyEvent) -> PromptOutcome {
        match cmd {
            Some(Command::Back) => PromptOutcome::Cancel,
            Some(Command::Help) => PromptOutcome::Help,
            Some(Command::Submit) => {
                let text = self.input.text().trim().to_string();
                if text.is_empty() {
                    PromptOutcome::Cancel
                } else {
                    PromptOutcome::Submit(self.kind, text)
                }
            }
            _ => {
                self.input.handle_key(key);
                PromptOutcome::Open
            }
        }
    }
}

/// What a key did to the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOutcome {
    /// Still open (the key edited the answer, or did nothing).
    Open,
    /// Closed without an answer (Esc, or Enter on empty text).
    Cancel,
    /// Closed in favour of the help overlay.
    Help,
    /// Closed with this answer (trimmed, not empty).
    Submit(PromptKind, String),
}

/// Draws the prompt centred in `area`.
pub fn render(frame: &mut Frame, area: Rect, state: &PromptState) {
    let (title, help) = match state.kind {
        PromptKind::User => (" Posts by user ", "username, Enter to show, Esc to cancel"),
        PromptKind::Search => (
            " Search ",
            "words (title, body, labels) or #label — Enter, Esc",
        ),
    };
    let rect = centered(area, 60, 4);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(title)
        .border_style(Style::default().fg(Color::Cyan));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.height == 0 {
        return;
    }
    let field = Rect::new(inner.x, inner.y, inner.width, 1);
    state.input.render(frame, field, Style::default(), true);
    if inner.height > 1 {
        let help_area = Rect::new(inner.x, inner.y + 1, inner.width, 1).inner(Margin::new(0, 0));
        frame.render_widget(
            Paragraph::new(Line::from(help)).style(Style::default().fg(Color::DarkGray)),
            help_area,
        );
    }
}
