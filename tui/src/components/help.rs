//! The help overlay, generated from [`crate::keymap::KEYMAP`].

use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use ratatui::Frame;

use crossterm::event::MouseEventKind;

use crate::keymap::{keys_label, Command, Context, KEYMAP};
use crate::layout::centered;

/// Order of the sections in the overlay.
const SECTIONS: [Context; 7] = [
    Context::Feed,
    Context::Compose,
    Context::Login,
    Context::Prompt,
    Context::Confirm,
    Context::Help,
    Context::Global,
];

/// Lines of the help text (a section per context, a line per binding).
pub fn lines() -> Vec<Line<'static>> {
    let key_w = KEYMAP
        .iter()
        .map(|b| keys_label(b).chars().count())
        .max()
        .unwrap_or(10);
    let mut out = Vec::new();
    for ctx in SECTIONS {
        if !out.is_empty() {
            out.push(Line::from(""));
        }
        out.push(Line::from(Span::styled(
            ctx.title(),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )));
        for b in KEYMAP.iter().filter(|b| b.context == ctx) {
            let keys = keys_label(b);
            let pad = key_w.saturating_sub(keys.chars().count());
            out.push(Line::from(vec![
                Span::styled(
                    format!("  {keys}{}", " ".repeat(pad)),
                    Style::default().fg(Color::Cyan),
                ),
                Span::raw("  "),
                Span::raw(b.help),
            ]));
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(
        "Mouse: wheel scrolls the list or the detail pane; click selects a post.",
    ));
    out
}

/// Draws the overlay over `area`, scrolled by `scroll` lines.
pub fn render(frame: &mut Frame, area: Rect, scroll: u16) {
    let lines = lines();
    let width = 76u16;
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = centered(area, width, height);
    let max_scroll = (lines.len() as u16 + 2).saturating_sub(rect.height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(max_scroll), 0))
            .block(
                Block::bordered()
                    .title(" Keys — Esc to close, j/k to scroll ")
                    .border_style(Style::default().fg(Color::Yellow)),
            ),
        rect,
    );
}

/// The furthest the overlay can scroll in `area`.
pub fn max_scroll(area: Rect) -> u16 {
    let n = lines().len() as u16 + 2;
    n.saturating_sub(n.min(area.height))
}

/// What a key did to the overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpOutcome {
    /// It stays open (maybe scrolled).
    Open,
    /// Close it.
    Close,
    /// Leave the program.
    Quit,
}

/// Applies a key to the overlay scrolled by `scroll` lines in a terminal of `size`.
pub fn on_key(scroll: &mut u16, cmd: Option<Command>, size: Rect) -> HelpOutcome {
    match cmd {
        Some(Command::Down) => *scroll = (*scroll + 1).min(max_scroll(size)),
        Some(Command::Up) => *scroll = scroll.saturating_sub(1),
        Some(Command::Back) | Some(Command::Help) => return HelpOutcome::Close,
        Some(Command::Quit) => return HelpOutcome::Quit,
        _ => {}
    }
    HelpOutcome::Open
}

/// The mouse wheel scrolls the overlay.
pub fn on_mouse(scroll: &mut u16, kind: MouseEventKind, size: Rect) {
    match kind {
        MouseEventKind::ScrollDown => *scroll = (*scroll + 1).min(max_scroll(size)),
        MouseEventKind::ScrollUp => *scroll = scroll.saturating_sub(1),
        _ => {}
    }
}
