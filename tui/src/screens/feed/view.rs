//! Drawing the feed: the tab bar, the list of posts and the detail pane.

use chrono::{DateTime, Utc};
use postagram_core::wire::PostView;
use postagram_core::LabelStatus;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::{FeedState, Tab};
use crate::components::picture;
use crate::layout::{self, ROW_HEIGHT};
use crate::screens::context::Ctx;

/// "just now", "5m ago", "3h ago", "2d ago", or the date for old posts.
pub fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds().max(0);
    match secs {
        0..=9 => "just now".into(),
        10..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        86_400..=2_591_999 => format!("{}d ago", secs / 86_400),
        _ => then.format("%Y-%m-%d").to_string(),
    }
}

/// A stable colour per label name, so a label always looks the same.
fn chip_color(name: &str) -> Color {
    const PALETTE: [Color; 6] = [
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Green,
        Color::Yellow,
        Color::LightRed,
    ];
    let h = name
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    PALETTE[(h as usize) % PALETTE.len()]
}

/// Spans of label chips: `[dog] [beach]`.
pub fn chips(post: &PostView) -> Vec<Span<'static>> {
    let mut out = Vec::new();
    match post.label_status {
        LabelStatus::Pending => out.push(Span::styled(
            "◌ labelling…",
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::ITALIC),
        )),
        LabelStatus::Failed => {
            out.push(Span::styled("✗ no labels", Style::default().fg(Color::Red)))
        }
        LabelStatus::Done | LabelStatus::None => {
            for name in post.labels.iter().flatten() {
                out.push(Span::styled(
                    format!("[{name}]"),
                    Style::default().fg(chip_color(name)),
                ));
                out.push(Span::raw(" "));
            }
        }
    }
    out
}

fn tab_bar(f: &FeedState) -> Line<'static> {
    let tabs = [
        (Tab::All, "All".to_string()),
        (Tab::Mine, "Mine".to_string()),
        (
            Tab::User,
            match &f.user_filter {
                Some(u) => format!("@{u}"),
                None => "User (u)".into(),
            },
        ),
        (
            Tab::Search,
            match &f.search {
                Some(s) => format!("/{s}"),
                None => "Search (/)".into(),
            },
        ),
    ];
    let mut spans = vec![Span::styled(
        " postagram ",
        Style::default()
            .fg(Color::Black)
            .bg(Color::Magenta)
            .add_modifier(Modifier::BOLD),
    )];
    for (tab, name) in tabs {
        spans.push(Span::raw(" "));
        if tab == f.tab {
            spans.push(Span::styled(
                format!("[{name}]"),
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ));
        } else {
            spans.push(Span::styled(
                format!(" {name} "),
                Style::default().fg(Color::Gray),
            ));
        }
    }
    Line::from(spans)
}

/// Draws the feed screen.
pub fn render(frame: &mut Frame, f: &FeedState, ctx: &Ctx) {
    let size = frame.area();
    let selected = f.selected_post();
    let lay = layout::feed(size, selected.is_some_and(|p| p.image.is_some()));
    frame.render_widget(Paragraph::new(tab_bar(f)), lay.tabs);
    render_list(frame, f, ctx, lay.list_block, lay.list);
    render_detail(frame, f, ctx, &lay);
}

fn render_list(frame: &mut Frame, f: &FeedState, ctx: &Ctx, block_area: Rect, rows_area: Rect) {
    let count = if f.next.is_some() {
        format!("{}+", f.posts.len())
    } else {
        f.posts.len().to_string()
    };
    let mut title = format!(" Posts ({count}) ");
    if f.loading.is_some() {
        title.push_str("· loading… ");
    }
    frame.render_widget(
        Block::bordered()
            .title(title)
            .border_style(Style::default().fg(Color::DarkGray)),
        block_area,
    );
    if f.posts.is_empty() {
        let msg = if let Some(e) = &f.error {
            vec![
                Line::from(Span::styled(e.as_str(), Style::default().fg(Color::Red))),
                Line::from(""),
                Line::from("Press r to retry."),
            ]
        } else if f.loading.is_some() || !f.loaded {
            vec![Line::from("Loading posts…")]
        } else {
            match f.tab {
                Tab::All => vec![
                    Line::from("No posts yet."),
                    Line::from(""),
                    Line::from("Press n to write the first one."),
                ],
                Tab::Mine => vec![
                    Line::from("You have not posted yet."),
                    Line::from(""),
                    Line::from("Press n to write a post."),
                ],
                Tab::User => vec![Line::from(format!(
                    "No posts by @{}.",
                    f.user_filter.as_deref().unwrap_or_default()
                ))],
                Tab::Search => vec![Line::from(format!(
                    "Nothing matches “{}”.",
                    f.search.as_deref().unwrap_or_default()
                ))],
            }
        };
        let top = rows_area.y + rows_area.height / 3;
        let area = Rect::new(
            rows_area.x,
            top,
            rows_area.width,
            rows_area.height.saturating_sub(top - rows_area.y),
        );
        frame.render_widget(
            Paragraph::new(msg)
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let rows = (rows_area.height / ROW_HEIGHT) as usize;
    let me = ctx.me();
    for (i, post) in f.posts.iter().enumerate().skip(f.offset).take(rows) {
        let y = rows_area.y + ((i - f.offset) as u16) * ROW_HEIGHT;
        let area = Rect::new(rows_area.x, y, rows_area.width, ROW_HEIGHT);
        let is_sel = i == f.selected;
        let base = if is_sel {
            Style::default().bg(Color::Indexed(236))
        } else {
            Style::default()
        };
        let marker = if is_sel { "▌" } else { " " };
        let mut title_spans = vec![
            Span::styled(marker, Style::default().fg(Color::Magenta)),
            Span::styled(
                post.title.replace(['\n', '\r'], " "),
                Style::default().add_modifier(Modifier::BOLD),
            ),
        ];
        if post.image.is_some() {
            title_spans.push(Span::styled(" ▣", Style::default().fg(Color::DarkGray)));
        }
        let author_style = if Some(post.user.as_str()) == me {
            Style::default().fg(Color::Green)
        } else {
            Style::default().fg(Color::Cyan)
        };
        let mut meta = vec![
            Span::raw(if is_sel { "▌" } else { " " }),
            Span::styled(format!("@{}", post.user), author_style),
            Span::styled(
                format!(" · {} ", age(ctx.now, post.created_at)),
                Style::default().fg(Color::DarkGray),
            ),
        ];
        if is_sel {
            meta[0] = Span::styled("▌", Style::default().fg(Color::Magenta));
        }
        meta.extend(chips(post));
        frame.render_widget(
            Paragraph::new(vec![Line::from(title_spans), Line::from(meta)]).style(base),
            area,
        );
    }
}

fn render_detail(frame: &mut Frame, f: &FeedState, ctx: &Ctx, lay: &layout::FeedLayout) {
    let block = Block::bordered()
        .title(" Post ")
        .border_style(Style::default().fg(Color::DarkGray));
    frame.render_widget(block, lay.detail_block);
    let Some(post) = f.selected_post() else {
        frame.render_widget(
            Paragraph::new("Select a post to see it here.")
                .style(Style::default().fg(Color::DarkGray))
                .alignment(Alignment::Center),
            lay.text,
        );
        return;
    };
    if let Some(area) = lay.picture {
        picture::render(frame, ctx.pictures, &post.id.wire(), area);
    }
    let mut lines = vec![
        Line::from(Span::styled(
            post.title.as_str(),
            Style::default()
                .add_modifier(Modifier::BOLD)
                .fg(Color::White),
        )),
        Line::from(vec![
            Span::styled(
                format!("by @{}", post.user),
                Style::default().fg(Color::Cyan),
            ),
            Span::styled(
                format!(
                    " · {} · {}",
                    age(ctx.now, post.created_at),
                    post.created_at.format("%Y-%m-%d %H:%M UTC")
                ),
                Style::default().fg(Color::DarkGray),
            ),
        ]),
        Line::from(""),
    ];
    match post.label_status {
        LabelStatus::None => {
            if post.image.is_none() {
                lines.push(Line::from(Span::styled(
                    "No picture.",
                    Style::default().fg(Color::DarkGray),
                )));
            }
        }
        LabelStatus::Pending => lines.push(Line::from(Span::styled(
            "◌ Labelling the picture… (refreshes by itself)",
            Style::default().fg(Color::Yellow),
        ))),
        LabelStatus::Failed => lines.push(Line::from(Span::styled(
            format!(
                "✗ Labelling failed: {}",
                post.label_error.as_deref().unwrap_or("unknown reason")
            ),
            Style::default().fg(Color::Red),
        ))),
        LabelStatus::Done => {
            let details = post.label_details.clone().unwrap_or_else(|| {
                post.labels
                    .iter()
                    .flatten()
                    .map(|n| postagram_core::Label {
                        name: n.clone(),
                        confidence: f32::NAN,
                    })
                    .collect()
            });
            if details.is_empty() {
                lines.push(Line::from(Span::styled(
                    "No labels found.",
                    Style::default().fg(Color::DarkGray),
                )));
            }
            let name_w = details
                .iter()
                .map(|l| l.name.chars().count())
                .max()
                .unwrap_or(0)
                .min(24);
            for l in details {
                let mut spans = vec![Span::styled(
                    format!("{:<name_w$} ", l.name),
                    Style::default().fg(chip_color(&l.name)),
                )];
                if l.confidence.is_finite() {
                    let filled = ((l.confidence.clamp(0.0, 100.0) / 10.0).round()) as usize;
                    spans.push(Span::styled(
                        "█".repeat(filled),
                        Style::default().fg(chip_color(&l.name)),
                    ));
                    spans.push(Span::styled(
                        "░".repeat(10 - filled),
                        Style::default().fg(Color::DarkGray),
                    ));
                    spans.push(Span::raw(format!(" {:>3.0}%", l.confidence)));
                }
                lines.push(Line::from(spans));
            }
        }
    }
    lines.push(Line::from(""));
    for l in post.body.lines() {
        lines.push(Line::from(l.to_string()));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((f.detail_scroll, 0)),
        lay.text,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        let now = Utc::now();
        assert_eq!(age(now, now), "just now");
        assert_eq!(age(now, now - chrono::Duration::minutes(5)), "5m ago");
        assert_eq!(age(now, now - chrono::Duration::hours(3)), "3h ago");
        assert_eq!(age(now, now - chrono::Duration::days(2)), "2d ago");
        assert_eq!(age(now, now + chrono::Duration::minutes(5)), "just now");
    }
}
