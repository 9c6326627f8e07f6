//! The feed: tabs, the list of posts and the detail pane.

use chrono::{DateTime, Utc};
use postagram_core::wire::PostView;
use postagram_core::LabelStatus;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use ratatui_image::Image;

use crate::api::{FeedQuery, Page};
use crate::app::App;
use crate::layout::{self, ROW_HEIGHT};
use crate::picture::Source;

/// The feed's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Every post.
    All,
    /// The signed-in user's posts.
    Mine,
    /// Posts of the user chosen with `u`.
    User,
    /// Search results of `/`.
    Search,
}

/// What is being loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loading {
    /// The first page (the list is replaced).
    First,
    /// The next page (appended).
    More,
}

/// State of the feed screen.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedState {
    /// The current tab.
    pub tab: Tab,
    /// Username of the "by user" tab.
    pub user_filter: Option<String>,
    /// Text of the search tab (`#label` for a label).
    pub search: Option<String>,
    /// Loaded posts, newest first.
    pub posts: Vec<PostView>,
    /// Index of the selected post.
    pub selected: usize,
    /// Index of the first post shown.
    pub offset: usize,
    /// URL of the next page, if any.
    pub next: Option<String>,
    /// A request under way.
    pub loading: Option<Loading>,
    /// Number of the latest request (older answers are dropped).
    pub seq: u64,
    /// Why the last load failed.
    pub error: Option<String>,
    /// Lines the detail pane is scrolled by.
    pub detail_scroll: u16,
    /// Whether a first page ever arrived for this tab.
    pub loaded: bool,
    /// A post to select when the next first page arrives (a post just written).
    pub select_on_load: Option<String>,
}

impl Default for FeedState {
    fn default() -> Self {
        FeedState {
            tab: Tab::All,
            user_filter: None,
            search: None,
            posts: Vec::new(),
            selected: 0,
            offset: 0,
            next: None,
            loading: None,
            seq: 0,
            error: None,
            detail_scroll: 0,
            loaded: false,
            select_on_load: None,
        }
    }
}

/// Turns search text into a filter: `#dog` or `label:dog` is a label, the rest is text.
pub fn search_query(text: &str) -> FeedQuery {
    let t = text.trim();
    if let Some(l) = t.strip_prefix('#').or_else(|| t.strip_prefix("label:")) {
        FeedQuery::Label(l.trim().to_lowercase())
    } else {
        FeedQuery::Text(t.to_string())
    }
}

impl FeedState {
    /// The filter of the current tab (`me` is the signed-in user, for "Mine").
    pub fn query(&self, me: Option<&str>) -> FeedQuery {
        match self.tab {
            Tab::All => FeedQuery::All,
            Tab::Mine => FeedQuery::User(me.unwrap_or_default().to_string()),
            Tab::User => FeedQuery::User(self.user_filter.clone().unwrap_or_default()),
            Tab::Search => search_query(self.search.as_deref().unwrap_or_default()),
        }
    }

    /// The selected post.
    pub fn selected_post(&self) -> Option<&PostView> {
        self.posts.get(self.selected)
    }

    /// Selects post `idx` (clamped) and scrolls so it shows in `rows` rows.
    pub fn select(&mut self, idx: usize, rows: usize) {
        let idx = idx.min(self.posts.len().saturating_sub(1));
        if idx != self.selected {
            self.detail_scroll = 0;
        }
        self.selected = idx;
        self.fix_offset(rows);
    }

    /// Moves the selection by `delta` posts.
    pub fn move_by(&mut self, delta: isize, rows: usize) {
        let idx = (self.selected as isize + delta).max(0) as usize;
        self.select(idx, rows);
    }

    /// Keeps the selection within the visible window of `rows` posts.
    pub fn fix_offset(&mut self, rows: usize) {
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        let max_offset = self.posts.len().saturating_sub(rows);
        self.offset = self.offset.min(max_offset);
    }

    /// Whether the next page should be loaded now (the selection is near the end).
    pub fn wants_more(&self, rows: usize) -> bool {
        self.next.is_some()
            && self.loading.is_none()
            && self.error.is_none()
            && self.selected + rows.max(5) >= self.posts.len()
    }

    /// Ids of loaded posts whose labels are pending.
    pub fn pending_ids(&self) -> Vec<String> {
        self.posts
            .iter()
            .filter(|p| p.label_status == LabelStatus::Pending)
            .map(|p| p.id.wire())
            .collect()
    }

    /// Replaces a post by its fresh version, if it is loaded.
    pub fn replace_post(&mut self, post: PostView) {
        if let Some(p) = self.posts.iter_mut().find(|p| p.id == post.id) {
            *p = post;
        }
    }

    /// Removes a post.
    pub fn remove_post(&mut self, id: &str, rows: usize) {
        self.posts.retain(|p| p.id.wire() != id);
        let sel = self.selected.min(self.posts.len().saturating_sub(1));
        self.selected = sel;
        self.fix_offset(rows);
    }

    /// Applies a loaded page, keeping the selected post selected when it is still there.
    pub fn apply_page(&mut self, page: Page, append: bool, rows: usize) {
        self.loading = None;
        self.error = None;
        self.next = page.next;
        if append {
            let known: std::collections::HashSet<_> = self.posts.iter().map(|p| p.id).collect();
            self.posts
                .extend(page.posts.into_iter().filter(|p| !known.contains(&p.id)));
        } else {
            let keep = match self.select_on_load.take() {
                Some(id) => Some(id),
                None => self.selected_post().map(|p| p.id.wire()),
            };
            self.posts = page.posts;
            self.loaded = true;
            let idx = keep
                .and_then(|id| self.posts.iter().position(|p| p.id.wire() == id))
                .unwrap_or(0);
            if idx != self.selected {
                self.detail_scroll = 0;
            }
            self.selected = idx;
            self.offset = self.offset.min(idx);
        }
        self.fix_offset(rows);
    }

    /// Clears the list for a new tab or filter.
    pub fn reset_list(&mut self) {
        self.posts.clear();
        self.selected = 0;
        self.offset = 0;
        self.next = None;
        self.error = None;
        self.detail_scroll = 0;
        self.loaded = false;
    }
}

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

fn tab_bar(app: &App) -> Line<'static> {
    let f = &app.feed;
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
pub fn render(frame: &mut Frame, app: &App) {
    let size = frame.area();
    let f = &app.feed;
    let selected = f.selected_post();
    let lay = layout::feed(size, selected.is_some_and(|p| p.image.is_some()));
    frame.render_widget(Paragraph::new(tab_bar(app)), lay.tabs);
    render_list(frame, app, lay.list_block, lay.list);
    render_detail(frame, app, &lay);
}

fn render_list(frame: &mut Frame, app: &App, block_area: Rect, rows_area: Rect) {
    let f = &app.feed;
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
    let me = app.me();
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
                format!(" · {} ", age(app.now, post.created_at)),
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

fn render_detail(frame: &mut Frame, app: &App, lay: &layout::FeedLayout) {
    let block = Block::bordered()
        .title(" Post ")
        .border_style(Style::default().fg(Color::DarkGray));
    frame.render_widget(block, lay.detail_block);
    let Some(post) = app.feed.selected_post() else {
        frame.render_widget(
            Paragraph::new("Select a post to see it here.")
                .style(Style::default().fg(Color::DarkGray))
                .alignment(Alignment::Center),
            lay.text,
        );
        return;
    };
    if let Some(area) = lay.picture {
        render_picture(frame, app, &post.id.wire(), area);
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
                    age(app.now, post.created_at),
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
            .scroll((app.feed.detail_scroll, 0)),
        lay.text,
    );
}

/// Draws a cached picture into `area`, or a placeholder while it is being prepared.
pub fn render_picture(frame: &mut Frame, app: &App, key: &str, area: Rect) {
    if let Some(p) = app.pictures.encoded(key, area) {
        frame.render_widget(Image::new(p), area);
        return;
    }
    let msg = match app.pictures.source(key) {
        Some(Source::Failed(e)) => Span::styled(e.clone(), Style::default().fg(Color::Red)),
        _ => Span::styled("loading picture…", Style::default().fg(Color::DarkGray)),
    };
    let y = area.y + area.height / 2;
    frame.render_widget(
        Paragraph::new(Line::from(msg))
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        Rect::new(area.x, y, area.width, area.height - (y - area.y)),
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

    #[test]
    fn search_syntax() {
        assert_eq!(search_query("#Dog"), FeedQuery::Label("dog".into()));
        assert_eq!(search_query("label:cat"), FeedQuery::Label("cat".into()));
        assert_eq!(search_query(" coffee "), FeedQuery::Text("coffee".into()));
    }
}
