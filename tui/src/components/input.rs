//! A text editor for one line (title, path, username…) or many (the body).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

/// Editable text with a cursor (a char index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    cursor: usize,
    multiline: bool,
    masked: bool,
}

impl TextInput {
    /// An empty one-line editor.
    pub fn single() -> Self {
        Self::default()
    }

    /// An empty editor where Enter inserts a line break.
    pub fn multi() -> Self {
        TextInput {
            multiline: true,
            ..Self::default()
        }
    }

    /// A one-line editor that shows `•` instead of the characters (passwords).
    pub fn masked() -> Self {
        TextInput {
            masked: true,
            ..Self::default()
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Number of characters (what the API's length limits count).
    pub fn chars(&self) -> usize {
        self.text.chars().count()
    }

    /// Replaces the text and puts the cursor at its end.
    pub fn set(&mut self, text: &str) {
        self.text = if self.multiline {
            text.to_string()
        } else {
            text.replace(['\n', '\r'], " ")
        };
        self.cursor = self.chars();
    }

    /// Empties the editor.
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(i, _)| i)
            .unwrap_or(self.text.len())
    }

    /// Inserts text at the cursor (typing or pasting).
    pub fn insert_str(&mut self, s: &str) {
        let s = if self.multiline {
            s.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            s.replace(['\n', '\r'], " ")
        };
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, &s);
        self.cursor += s.chars().count();
    }

    /// Applies an editing key; returns whether it was one (and so was consumed).
    pub fn handle_key(&mut self, key: &KeyEvent) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('u') if ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.replace_range(..at, "");
                self.cursor = 0;
            }
            KeyCode::Char('a') if ctrl => self.cursor = self.line_start(),
            KeyCode::Char('e') if ctrl => self.cursor = self.line_end(),
            KeyCode::Char(_) if ctrl => return false,
            KeyCode::Char(c) => self.insert_str(c.encode_utf8(&mut [0; 4])),
            KeyCode::Enter if self.multiline => self.insert_str("\n"),
            KeyCode::Backspace => {
                if self.cursor > 0 {
                    let start = self.byte_at(self.cursor - 1);
                    let end = self.byte_at(self.cursor);
                    self.text.replace_range(start..end, "");
                    self.cursor -= 1;
                }
            }
            KeyCode::Delete => {
                if self.cursor < self.chars() {
                    let start = self.byte_at(self.cursor);
                    let end = self.byte_at(self.cursor + 1);
                    self.text.replace_range(start..end, "");
                }
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.chars()),
            KeyCode::Home => self.cursor = self.line_start(),
            KeyCode::End => self.cursor = self.line_end(),
            KeyCode::Up if self.multiline => self.vertical(-1),
            KeyCode::Down if self.multiline => self.vertical(1),
            _ => return false,
        }
        true
    }

    fn line_start(&self) -> usize {
        let chars: Vec<char> = self.text.chars().collect();
        let mut i = self.cursor;
        while i > 0 && chars[i - 1] != '\n' {
            i -= 1;
        }
        i
    }

    fn line_end(&self) -> usize {
        let chars: Vec<char> = self.text.chars().collect();
        let mut i = self.cursor;
        while i < chars.len() && chars[i] != '\n' {
            i += 1;
        }
        i
    }

    fn vertical(&mut self, dir: i32) {
        let col = self.cursor - self.line_start();
        if dir < 0 {
            let start = self.line_start();
            if start == 0 {
                self.cursor = 0;
                return;
            }
            self.cursor = start - 1;
            let prev_start = self.line_start();
            self.cursor = (prev_start + col).min(start - 1);
        } else {
            let end = self.line_end();
            if end >= self.chars() {
                self.cursor = end;
                return;
            }
            self.cursor = end + 1;
            let next_end = self.line_end();
            self.cursor = (end + 1 + col).min(next_end);
        }
    }

    /// Lays the text out in `width` columns: the visual lines and the cursor's (row, column).
    pub fn wrap(&self, width: u16) -> (Vec<String>, (usize, u16)) {
        let width = width.max(1) as usize;
        let mut lines = vec![String::new()];
        let mut col = 0usize;
        let mut cursor = (0usize, 0u16);
        for (i, c) in self.text.chars().enumerate() {
            if i == self.cursor {
                cursor = (lines.len() - 1, col as u16);
            }
            if c == '\n' {
                lines.push(String::new());
                col = 0;
                continue;
            }
            let shown = if self.masked { '•' } else { c };
            let w = shown.width().unwrap_or(0);
            if col + w > width {
                lines.push(String::new());
                col = 0;
                if i == self.cursor {
                    cursor = (lines.len() - 1, 0);
                }
            }
            if let Some(last) = lines.last_mut() {
                last.push(shown);
            }
            col += w;
        }
        if self.cursor >= self.chars() {
            if col >= width {
                lines.push(String::new());
                col = 0;
            }
            cursor = (lines.len() - 1, col as u16);
        }
        (lines, cursor)
    }

    /// Draws the text in `area`, scrolled so the cursor shows; places the terminal cursor
    /// when `focused`.
    pub fn render(&self, frame: &mut Frame, area: Rect, style: Style, focused: bool) {
        if area.width == 0 || area.height == 0 {
            return;
        }
        let (lines, (row, col)) = if self.multiline {
            self.wrap(area.width)
        } else {
            self.single_line_view(area.width)
        };
        let height = area.height as usize;
        let top = row.saturating_sub(height.saturating_sub(1));
        let shown: Vec<Line> = lines
            .into_iter()
            .skip(top)
            .take(height)
            .map(Line::from)
            .collect();
        frame.render_widget(Paragraph::new(shown).style(style), area);
        if focused {
            frame.set_cursor_position(Position::new(
                area.x + col.min(area.width.saturating_sub(1)),
                area.y + (row - top) as u16,
            ));
        }
    }

    /// One line, horizontally scrolled so the cursor is visible.
    fn single_line_view(&self, width: u16) -> (Vec<String>, (usize, u16)) {
        let width = width.max(1) as usize;
        let chars: Vec<char> = self
            .text
            .chars()
            .map(|c| if self.masked { '•' } else { c })
            .collect();
        // Start far enough right that the cursor column fits.
        let mut start = 0;
        let col_of = |from: usize, to: usize| -> usize {
            chars[from..to].iter().map(|c| c.width().unwrap_or(0)).sum()
        };
        while col_of(start, self.cursor) >= width {
            start += 1;
        }
        let mut line = String::new();
        let mut w = 0;
        for c in &chars[start..] {
            let cw = c.width().unwrap_or(0);
            if w + cw > width {
                break;
            }
            line.push(*c);
            w += cw;
        }
        (vec![line], (0, col_of(start, self.cursor) as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEventKind;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: crossterm::event::KeyEventState::NONE,
        }
    }

    #[test]
    fn edits_and_counts_chars_not_bytes() {
        let mut t = TextInput::single();
        for c in "café".chars() {
            t.handle_key(&key(KeyCode::Char(c)));
        }
        assert_eq!(t.chars(), 4);
        t.handle_key(&key(KeyCode::Left));
        t.handle_key(&key(KeyCode::Backspace));
        assert_eq!(t.text(), "caé");
        t.handle_key(&key(KeyCode::Home));
        t.handle_key(&key(KeyCode::Delete));
        assert_eq!(t.text(), "aé");
        t.insert_str("x\ny");
        assert_eq!(t.text(), "x yaé");
    }

    #[test]
    fn multiline_wrap_and_cursor() {
        let mut t = TextInput::multi();
        t.insert_str("abcdef\ngh");
        let (lines, cursor) = t.wrap(4);
        assert_eq!(lines, vec!["abcd", "ef", "gh"]);
        assert_eq!(cursor, (2, 2));
        t.handle_key(&key(KeyCode::Up));
        assert_eq!(t.wrap(10).1, (0, 2));
        t.handle_key(&key(KeyCode::Down));
        assert_eq!(t.wrap(10).1, (1, 2));
    }
}
