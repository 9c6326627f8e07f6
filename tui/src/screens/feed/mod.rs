//! The feed: tabs, the list of posts and the detail pane.
//!
//! This file holds the screen's state and the list operations; `update.rs` handles its keys,
//! mouse and API results, [`view`] draws it.

use chrono::{DateTime, Utc};
use postagram_core::wire::PostView;
use postagram_core::LabelStatus;

use crate::api::{FeedQuery, Page};
use crate::keymap::Command;

mod update;
pub mod view;

/// Posts asked for per page.
pub const PAGE_SIZE: usize = 50;
/// Seconds between re-reads of posts whose labels are pending.
pub const POLL_SECS: i64 = 3;
/// Most posts re-read per poll.
const POLL_MAX: usize = 20;

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
    /// A poll of pending posts is under way.
    pub polling: bool,
    /// When pending posts were last polled.
    pub last_poll: Option<DateTime<Utc>>,
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
            polling: false,
            last_poll: None,
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

    /// Whether a command makes sense now (`me` is the signed-in user): the hint bar only
    /// offers those.
    pub fn available(&self, cmd: Command, me: Option<&str>) -> bool {
        let sel = self.selected_post();
        match cmd {
            Command::Delete | Command::Edit => sel.is_some_and(|p| Some(p.user.as_str()) == me),
            Command::OpenPicture => sel.is_some_and(|p| p.image.is_some()),
            _ => true,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_syntax() {
        assert_eq!(search_query("#Dog"), FeedQuery::Label("dog".into()));
        assert_eq!(search_query("label:cat"), FeedQuery::Label("cat".into()));
        assert_eq!(search_query(" coffee "), FeedQuery::Text("coffee".into()));
    }
}
