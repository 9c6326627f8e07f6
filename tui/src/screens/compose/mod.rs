//! The compose screen: title and body editors, the attachment with preview, upload progress.

use std::path::{Path, PathBuf};
use std::time::Duration;

use postagram_core::wire::PostView;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};
use ratatui::Frame;

use crate::api::content_type_for;
use crate::app::App;
use crate::components::input::TextInput;
use crate::layout;
use crate::picture::Source;

/// Most characters in a title.
pub const TITLE_MAX: usize = 200;
/// Most characters in a body.
pub const BODY_MAX: usize = 10_000;

/// The editor that has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Title.
    Title,
    /// Body.
    Body,
    /// Attachment path.
    Path,
}

/// Where the submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Being edited.
    Editing,
    /// `POST /posts` under way.
    Creating,
    /// The picture is being uploaded.
    Uploading,
}

/// Upload progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes sent.
    pub sent: u64,
    /// File size.
    pub total: u64,
    /// Time since the upload started.
    pub elapsed: Duration,
}

impl Progress {
    /// Bytes per second so far.
    pub fn speed(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.sent as f64 / s
        } else {
            0.0
        }
    }
}

/// State of the compose screen (the draft survives errors and leaving the screen).
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeState {
    /// Title editor.
    pub title: TextInput,
    /// Body editor.
    pub body: TextInput,
    /// Attachment path editor.
    pub path: TextInput,
    /// Focused editor.
    pub focus: Field,
    /// Submission phase.
    pub phase: Phase,
    /// The post, once created (a failed upload is retried without creating it again).
    pub created: Option<PostView>,
    /// Problems to fix, shown under the editors.
    pub errors: Vec<String>,
    /// Path completion candidates.
    pub completions: Vec<String>,
    /// Upload progress.
    pub progress: Option<Progress>,
}

impl Default for ComposeState {
    fn default() -> Self {
        ComposeState {
            title: TextInput::single(),
            body: TextInput::multi(),
            path: TextInput::single(),
            focus: Field::Title,
            phase: Phase::Editing,
            created: None,
            errors: Vec::new(),
            completions: Vec::new(),
            progress: None,
        }
    }
}

/// Expands a leading `~/` to the home folder.
pub fn expand_path(input: &str) -> PathBuf {
    let input = input.trim();
    if let Some(rest) = input.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    PathBuf::from(input)
}

/// Cache key of a local file's preview.
pub fn preview_key(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// Human size: `812 B`, `24.1 KB`, `3.2 MB`.
pub fn human_bytes(n: f64) -> String {
    if n < 1024.0 {
        format!("{n:.0} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KB", n / 1024.0)
    } else {
        format!("{:.1} MB", n / 1024.0 / 1024.0)
    }
}

impl ComposeState {
    /// The attachment, if a path was typed.
    pub fn attachment(&self) -> Option<PathBuf> {
        let t = self.path.text().trim();
        (!t.is_empty()).then(|| expand_path(t))
    }

    /// Problems that prevent submitting (lengths, attachment type and readability).
    pub fn validate(&self, app_pictures: &crate::picture::PictureCache) -> Vec<String> {
        let mut errs = Vec::new();
        let title = self.title.text().trim();
        if title.is_empty() {
            errs.push("Title is required.".to_string());
        } else if self.title.chars() > TITLE_MAX {
            errs.push(format!(
                "Title is too long: {} of {TITLE_MAX} characters.",
                self.title.chars()
            ));
        }
        if self.body.text().trim().is_empty() {
            errs.push("Body is required.".to_string());
        } else if self.body.chars() > BODY_MAX {
            errs.push(format!(
                "Body is too long: {} of {BODY_MAX} characters.",
                self.body.chars()
            ));
        }
        if let Some(path) = self.attachment() {
            if content_type_for(&path).is_none() {
                errs.push("Attachment must be a JPEG, PNG, WebP or GIF file.".to_string());
            } else {
                match app_pictures.source(&preview_key(&path)) {
                    Some(Source::Ready(_)) => {}
                    Some(Source::Failed(e)) => errs.push(format!("Attachment: {e}")),
                    _ => errs.push("Attachment: still reading the file, try again.".to_string()),
                }
            }
        }
        errs
    }

    /// Forgets the draft after a successful post.
    pub fn clear(&mut self) {
        *self = ComposeState::default();
    }
}

fn counter(n: usize, max: usize) -> Span<'static> {
    let style = if n == 0 || n > max {
        Style::default().fg(Color::Red)
    } else {
        Style::default().fg(Color::DarkGray)
    };
    Span::styled(format!(" {n}/{max} "), style)
}

fn field_block(title: &str, focused: bool, right: Option<Span<'static>>) -> Block<'static> {
    let border = if focused {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default().fg(Color::DarkGray)
    };
    let mut b = Block::bordered()
        .title(format!(" {title} "))
        .border_style(border);
    if let Some(r) = right {
        b = b.title_top(Line::from(r).right_aligned());
    }
    b
}

/// Draws the compose screen.
pub fn render(frame: &mut Frame, app: &App) {
    let c = &app.compose;
    let completion_rows = c.completions.len().min(4) as u16;
    let lay = layout::compose(frame.area(), completion_rows);
    let header = match c.phase {
        Phase::Editing if c.created.is_some() => {
            " New post — created; Ctrl-S retries the upload".to_string()
        }
        Phase::Editing => " New post".to_string(),
        Phase::Creating => " New post — creating…".to_string(),
        Phase::Uploading => " New post — uploading the picture…".to_string(),
    };
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            header,
            Style::default()
                .fg(Color::Magenta)
                .add_modifier(Modifier::BOLD),
        ))),
        lay.header,
    );

    let editing = c.phase == Phase::Editing;
    let tb = field_block(
        "Title",
        editing && c.focus == Field::Title,
        Some(counter(c.title.chars(), TITLE_MAX)),
    );
    let inner = tb.inner(lay.title);
    frame.render_widget(tb, lay.title);
    c.title.render(
        frame,
        inner,
        Style::default(),
        editing && c.focus == Field::Title,
    );

    let bb = field_block(
        "Body",
        editing && c.focus == Field::Body,
        Some(counter(c.body.chars(), BODY_MAX)),
    );
    let body_inner = bb.inner(lay.body);
    frame.render_widget(bb, lay.body);
    // Errors go at the bottom of the body box so they are seen next to what they are about.
    let err_rows = (c.errors.len() as u16).min(body_inner.height.saturating_sub(1));
    let text_area = Rect::new(
        body_inner.x,
        body_inner.y,
        body_inner.width,
        body_inner.height - err_rows,
    );
    c.body.render(
        frame,
        text_area,
        Style::default(),
        editing && c.focus == Field::Body,
    );
    if err_rows > 0 {
        let lines: Vec<Line> = c
            .errors
            .iter()
            .take(err_rows as usize)
            .map(|e| {
                Line::from(Span::styled(
                    format!("✗ {e}"),
                    Style::default().fg(Color::Red),
                ))
            })
            .collect();
        frame.render_widget(
            Paragraph::new(lines),
            Rect::new(
                body_inner.x,
                body_inner.y + body_inner.height - err_rows,
                body_inner.width,
                err_rows,
            ),
        );
    }

    let pb = field_block(
        "Picture (optional path, Tab completes)",
        editing && c.focus == Field::Path,
        None,
    );
    let path_inner = pb.inner(lay.path);
    frame.render_widget(pb, lay.path);
    c.path.render(
        frame,
        path_inner,
        Style::default(),
        editing && c.focus == Field::Path,
    );
    if completion_rows > 0 {
        let more = c.completions.len().saturating_sub(4);
        let mut lines: Vec<Line> = c
            .completions
            .iter()
            .take(if more > 0 { 3 } else { 4 })
            .map(|s| {
                Line::from(Span::styled(
                    format!("  {s}"),
                    Style::default().fg(Color::Cyan),
                ))
            })
            .collect();
        if more > 0 {
            lines.push(Line::from(Span::styled(
                format!("  … and {} more", c.completions.len() - 3),
                Style::default().fg(Color::DarkGray),
            )));
        }
        frame.render_widget(Paragraph::new(lines), lay.completions);
    }

    render_side(frame, app, &lay);
}

fn render_side(frame: &mut Frame, app: &App, lay: &layout::ComposeLayout) {
    let c = &app.compose;
    frame.render_widget(
        Block::bordered()
            .title(" Preview ")
            .border_style(Style::default().fg(Color::DarkGray)),
        lay.side,
    );
    let dim = Style::default().fg(Color::DarkGray);
    let mut info: Vec<Line> = Vec::new();
    match c.attachment() {
        None => {
            frame.render_widget(
                Paragraph::new("No picture attached.")
                    .style(dim)
                    .alignment(Alignment::Center)
                    .wrap(Wrap { trim: true }),
                lay.preview,
            );
        }
        Some(path) if content_type_for(&path).is_none() => {
            frame.render_widget(
                Paragraph::new("Not a picture type: use .jpg, .png, .webp or .gif")
                    .style(Style::default().fg(Color::Red))
                    .alignment(Alignment::Center)
                    .wrap(Wrap { trim: true }),
                lay.preview,
            );
        }
        Some(path) => {
            let key = preview_key(&path);
            if lay.preview.height > 0 {
                crate::screens::feed::render_picture(frame, app, &key, lay.preview);
            }
            if let Some(Source::Ready(d)) = app.pictures.source(&key) {
                info.push(Line::from(Span::styled(
                    format!(
                        "{}×{} · {}",
                        d.original.0,
                        d.original.1,
                        human_bytes(d.bytes as f64)
                    ),
                    dim,
                )));
            }
        }
    }
    frame.render_widget(Paragraph::new(info), lay.info);
    if let Some(p) = c.progress {
        if lay.progress.height > 0 {
            let ratio = if p.total > 0 {
                (p.sent as f64 / p.total as f64).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let label = format!(
                "{} / {} · {}/s",
                human_bytes(p.sent as f64),
                human_bytes(p.total as f64),
                human_bytes(p.speed())
            );
            frame.render_widget(
                Gauge::default()
                    .ratio(ratio)
                    .label(label)
                    .gauge_style(Style::default().fg(Color::Green).bg(Color::Indexed(236))),
                Rect::new(lay.progress.x, lay.progress.y, lay.progress.width, 1),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_speed() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(2048.0), "2.0 KB");
        let p = Progress {
            sent: 1024 * 1024,
            total: 2 * 1024 * 1024,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(human_bytes(p.speed()), "512.0 KB");
    }

    #[test]
    fn validation() {
        let cache = crate::picture::PictureCache::default();
        let mut c = ComposeState::default();
        assert_eq!(c.validate(&cache).len(), 2);
        c.title.set(&"t".repeat(201));
        c.body.set("b");
        c.path.set("notes.txt");
        let errs = c.validate(&cache);
        assert!(errs[0].contains("201 of 200"), "{errs:?}");
        assert!(errs[1].contains("JPEG"), "{errs:?}");
    }
}
