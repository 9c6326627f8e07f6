//! Drawing the compose screen: editors with counters, errors, completions, the preview and
//! the upload gauge.

use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};
use ratatui::Frame;

use super::{human_bytes, preview_key, ComposeState, Field, Phase, BODY_MAX, TITLE_MAX};
use crate::api::content_type_for;
use crate::components::picture;
use crate::layout;
use crate::picture::Source;
use crate::screens::context::Ctx;

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
pub fn render(frame: &mut Frame, c: &ComposeState, ctx: &Ctx) {
    let completion_rows = c.completions.len().min(4) as u16;
    let lay = layout::compose(frame.area(), completion_rows);
    let heading = c.heading();
    let edit = c.editing.is_some();
    let header = match c.phase {
        Phase::Editing if c.created.is_some() => {
            let done = if edit { "saved" } else { "created" };
            format!(" {heading} — {done}; Ctrl-S retries the upload")
        }
        Phase::Editing => format!(" {heading}"),
        Phase::Creating if edit => format!(" {heading} — saving…"),
        Phase::Creating => format!(" {heading} — creating…"),
        Phase::Uploading => format!(" {heading} — uploading the picture…"),
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

    render_side(frame, c, ctx, &lay);
}

fn render_side(frame: &mut Frame, c: &ComposeState, ctx: &Ctx, lay: &layout::ComposeLayout) {
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
                picture::render(frame, ctx.pictures, &key, lay.preview);
            }
            if let Some(Source::Ready(d)) = ctx.pictures.source(&key) {
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
