//! The feed's update: its keys and mouse, the pages and polls that come back, and what it
//! wants loaded next (more pages, the selected post's picture).

use chrono::{DateTime, Utc};
use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use postagram_core::wire::PostView;
use postagram_core::LabelStatus;
use ratatui::layout::{Position, Rect};

use super::{FeedState, Loading, Tab, POLL_MAX, POLL_SECS};
use crate::action::Effect;
use crate::api::{ApiError, Page};
use crate::components::confirm::ConfirmState;
use crate::components::prompt::{PromptKind, PromptState};
use crate::components::status::Level;
use crate::keymap::Command;
use crate::layout;
use crate::picture::{Origin, Source, Wanted};
use crate::screens::context::Ctx;
use crate::screens::outcome::{AfterLogin, Nav, Out, Status};

/// The status message shown while the tab reloads; cleared when the page arrives.
const REFRESHING: &str = "Refreshing…";

impl FeedState {
    /// Starts loading the first page of the current tab (`me` is the signed-in user).
    pub fn load_first(&mut self, me: Option<&str>) -> Effect {
        self.seq += 1;
        self.loading = Some(Loading::First);
        self.error = None;
        Effect::LoadFeed {
            seq: self.seq,
            query: self.query(me),
            next: None,
        }
    }

    /// Shows `tab` from its first page; "Mine" asks to log in first when there is no token.
    pub fn switch_tab(&mut self, tab: Tab, ctx: &Ctx) -> Out {
        if tab == Tab::Mine && ctx.token().is_none() {
            return Out::nav(Nav::Login {
                after: AfterLogin::Mine,
                reason: Some("Log in to see your posts."),
            });
        }
        self.tab = tab;
        self.reset_list();
        Out::effect(self.load_first(ctx.me()))
    }

    /// Applies the answer of the `u` or `/` prompt: the user or search tab with that text.
    pub fn apply_prompt(&mut self, kind: PromptKind, text: String, ctx: &Ctx) -> Out {
        match kind {
            PromptKind::User => {
                self.user_filter = Some(text);
                self.switch_tab(Tab::User, ctx)
            }
            PromptKind::Search => {
                self.search = Some(text);
                self.switch_tab(Tab::Search, ctx)
            }
        }
    }

    /// Shows a post just written: back to a tab that lists it, reloaded, with it selected.
    pub fn show_new_post(&mut self, post: &PostView, me: Option<&str>) -> Effect {
        self.select_on_load = Some(post.id.wire());
        if !matches!(self.tab, Tab::All | Tab::Mine) {
            self.tab = Tab::All;
            self.reset_list();
            self.select_on_load = Some(post.id.wire());
        }
        self.load_first(me)
    }

    /// Shows a post just edited: its new text at once, then the tab reloaded (search and
    /// filters may see it differently now) with it still selected.
    pub fn show_edited_post(&mut self, post: PostView, me: Option<&str>) -> Effect {
        self.select_on_load = Some(post.id.wire());
        self.replace_post(post);
        self.load_first(me)
    }

    /// Handles a key of the feed.
    pub fn on_key(&mut self, cmd: Option<Command>, ctx: &Ctx) -> Out {
        let rows = ctx.rows();
        let Some(cmd) = cmd else {
            return Out::none();
        };
        match cmd {
            Command::Quit => return Out::nav(Nav::Quit),
            Command::Help => return Out::nav(Nav::Help),
            Command::Down => self.move_by(1, rows),
            Command::Up => self.move_by(-1, rows),
            Command::PageDown => self.move_by(rows as isize, rows),
            Command::PageUp => self.move_by(-(rows as isize), rows),
            Command::Top => self.select(0, rows),
            Command::Bottom => self.select(usize::MAX, rows),
            Command::NextTab | Command::PrevTab => {
                let mut tabs = vec![Tab::All];
                if ctx.token().is_some() {
                    tabs.push(Tab::Mine);
                }
                if self.user_filter.is_some() {
                    tabs.push(Tab::User);
                }
                if self.search.is_some() {
                    tabs.push(Tab::Search);
                }
                let cur = tabs.iter().position(|t| *t == self.tab).unwrap_or(0);
                let n = tabs.len();
                let next = if cmd == Command::NextTab {
                    (cur + 1) % n
                } else {
                    (cur + n - 1) % n
                };
                if tabs[next] != self.tab {
                    return self.switch_tab(tabs[next], ctx);
                }
            }
            Command::TabAll => return self.switch_tab(Tab::All, ctx),
            Command::TabMine => return self.switch_tab(Tab::Mine, ctx),
            Command::ByUser => {
                let cur = self.user_filter.clone().unwrap_or_default();
                return Out::nav(Nav::Prompt(PromptState::new(PromptKind::User, &cur)));
            }
            Command::Search => {
                let cur = self.search.clone().unwrap_or_default();
                return Out::nav(Nav::Prompt(PromptState::new(PromptKind::Search, &cur)));
            }
            Command::Refresh => {
                let mut out = Out::status(Level::Info, REFRESHING);
                if let Some(p) = self.selected_post() {
                    let key = p.id.wire();
                    if matches!(ctx.pictures.source(&key), Some(Source::Failed(_))) {
                        out.forget.push(key);
                    }
                }
                out.effects.push(self.load_first(ctx.me()));
                return out;
            }
            Command::NewPost => {
                return Out::nav(if ctx.token().is_none() {
                    Nav::Login {
                        after: AfterLogin::Compose,
                        reason: Some("Log in or sign up to post."),
                    }
                } else {
                    Nav::Compose
                });
            }
            Command::Delete => {
                if ctx.token().is_none() {
                    return Out::nav(Nav::Login {
                        after: AfterLogin::Feed,
                        reason: Some("Log in to delete your posts."),
                    });
                } else if let Some(p) = self.selected_post() {
                    if Some(p.user.as_str()) == ctx.me() {
                        return Out::nav(Nav::Confirm(ConfirmState {
                            post_id: p.id.wire(),
                            title: p.title.clone(),
                        }));
                    }
                    return Out::status(Level::Error, "You can only delete your own posts.");
                }
            }
            Command::Edit => {
                if ctx.token().is_none() {
                    return Out::nav(Nav::Login {
                        after: AfterLogin::Feed,
                        reason: Some("Log in to edit your posts."),
                    });
                } else if let Some(p) = self.selected_post() {
                    if Some(p.user.as_str()) == ctx.me() {
                        return Out::nav(Nav::Edit(p.clone()));
                    }
                    return Out::status(Level::Error, "You can only edit your own posts.");
                }
            }
            Command::OpenPicture => {
                return match self.selected_post().and_then(|p| p.image.clone()) {
                    Some(url) => Out::effect(Effect::Open(url))
                        .with_status(Level::Info, "Opening the picture…"),
                    None => Out::status(Level::Error, "This post has no picture."),
                }
            }
            Command::DetailDown => self.detail_scroll = self.detail_scroll.saturating_add(3),
            Command::DetailUp => self.detail_scroll = self.detail_scroll.saturating_sub(3),
            Command::Account => {
                return Out::nav(if ctx.session.is_some() {
                    Nav::LogOut
                } else {
                    Nav::Login {
                        after: AfterLogin::Feed,
                        reason: None,
                    }
                });
            }
            _ => {}
        }
        Out::none()
    }

    /// The user said yes to deleting a post: delete it (with a token) or log in first.
    pub fn delete_confirmed(&mut self, c: ConfirmState, ctx: &Ctx) -> Out {
        match ctx.token() {
            Some(token) => Out::effect(Effect::Delete {
                token,
                id: c.post_id,
            })
            .with_status(Level::Info, format!("Deleting “{}”…", c.title)),
            None => Out::nav(Nav::Login {
                after: AfterLogin::Feed,
                reason: Some("Log in to delete."),
            }),
        }
    }

    /// Wheel over the list moves the selection, over the detail pane scrolls it; a click
    /// selects the post under the pointer.
    pub fn on_mouse(&mut self, m: MouseEvent, size: Rect) {
        let pos = Position::new(m.column, m.row);
        let has_pic = self.selected_post().is_some_and(|p| p.image.is_some());
        let lay = layout::feed(size, has_pic);
        let rows = layout::visible_rows(size);
        match m.kind {
            MouseEventKind::ScrollDown if lay.list_block.contains(pos) => self.move_by(1, rows),
            MouseEventKind::ScrollUp if lay.list_block.contains(pos) => self.move_by(-1, rows),
            MouseEventKind::ScrollDown if lay.detail_block.contains(pos) => {
                self.detail_scroll = self.detail_scroll.saturating_add(2)
            }
            MouseEventKind::ScrollUp if lay.detail_block.contains(pos) => {
                self.detail_scroll = self.detail_scroll.saturating_sub(2)
            }
            MouseEventKind::Down(MouseButton::Left) if lay.list.contains(pos) => {
                let idx = self.offset + ((pos.y - lay.list.y) / layout::ROW_HEIGHT) as usize;
                if idx < self.posts.len() {
                    self.select(idx, rows);
                }
            }
            _ => {}
        }
    }

    /// The clock ticked: re-read posts whose labels are pending, every [`POLL_SECS`].
    pub fn on_tick(&mut self, now: DateTime<Utc>) -> Option<Effect> {
        let due = self
            .last_poll
            .is_none_or(|t| now - t >= chrono::Duration::seconds(POLL_SECS));
        if !self.polling && due {
            let ids: Vec<String> = self.pending_ids().into_iter().take(POLL_MAX).collect();
            if !ids.is_empty() {
                self.polling = true;
                self.last_poll = Some(now);
                return Some(Effect::PollPosts(ids));
            }
        }
        None
    }

    /// A page arrived (or failed); answers to an older request are dropped.
    pub fn on_loaded(
        &mut self,
        seq: u64,
        append: bool,
        result: Result<Page, ApiError>,
        rows: usize,
    ) -> Out {
        if seq != self.seq {
            return Out::none();
        }
        match result {
            Ok(page) => {
                self.apply_page(page, append, rows);
                Out {
                    status: Some(Status::ClearIf(REFRESHING)),
                    ..Out::default()
                }
            }
            Err(e) => {
                self.loading = None;
                let msg = e.user_message();
                if self.posts.is_empty() || !append {
                    self.error = Some(msg.clone());
                }
                if append {
                    // Do not hammer a failing server: next pages wait for a refresh.
                    self.error = Some(msg.clone());
                }
                Out::status(Level::Error, msg)
            }
        }
    }

    /// Fresh versions of posts whose labels were pending; says when the user's own are done.
    pub fn on_polled(&mut self, results: Vec<Result<PostView, ApiError>>, ctx: &Ctx) -> Out {
        self.polling = false;
        let mut out = Out::none();
        for r in results {
            match r {
                Ok(post) => {
                    let was_pending = self
                        .posts
                        .iter()
                        .find(|p| p.id == post.id)
                        .is_some_and(|p| p.label_status == LabelStatus::Pending);
                    let mine = Some(post.user.as_str()) == ctx.me();
                    if was_pending && mine {
                        match post.label_status {
                            LabelStatus::Done => {
                                let names = post.labels.clone().unwrap_or_default().join(", ");
                                out = out.with_status(
                                    Level::Success,
                                    format!("Labels for “{}”: {names}", post.title),
                                );
                            }
                            LabelStatus::Failed => {
                                out = out.with_status(
                                    Level::Error,
                                    format!(
                                        "Labelling “{}” failed: {}",
                                        post.title,
                                        post.label_error.as_deref().unwrap_or("unknown reason")
                                    ),
                                )
                            }
                            _ => {}
                        }
                    }
                    self.replace_post(post);
                }
                // Deleted meanwhile: the next refresh drops it.
                Err(ApiError::Status { status: 404, .. }) => {}
                Err(_) => {}
            }
        }
        self.fix_offset(ctx.rows());
        out
    }

    /// `DELETE /posts/{id}` finished.
    pub fn on_deleted(&mut self, id: String, result: Result<(), ApiError>, rows: usize) -> Out {
        match result {
            Ok(()) => {
                self.remove_post(&id, rows);
                let mut out = Out::status(Level::Success, "Post deleted.");
                out.forget.push(id);
                out
            }
            Err(e) if e.is_unauthorized() => Out::nav(Nav::SessionExpired(AfterLogin::Feed)),
            Err(e) if e.status() == Some(404) => {
                self.remove_post(&id, rows);
                Out::status(Level::Info, "That post was already deleted.")
            }
            Err(e) => Out::status(Level::Error, format!("Not deleted: {}", e.user_message())),
        }
    }

    /// The next page, when the selection nears the end of what is loaded.
    pub fn more(&mut self, ctx: &Ctx) -> Option<Effect> {
        if !self.wants_more(ctx.rows()) {
            return None;
        }
        let next = self.next.clone()?;
        self.loading = Some(Loading::More);
        Some(Effect::LoadFeed {
            seq: self.seq,
            query: self.query(ctx.me()),
            next: Some(next),
        })
    }

    /// The selected post's picture, when it has one and the detail pane has room for it.
    pub fn wanted_picture(&self, size: Rect) -> Option<Wanted> {
        let (key, url) = self
            .selected_post()
            .and_then(|p| p.image.clone().map(|url| (p.id.wire(), url)))?;
        let area = layout::feed(size, true).picture?;
        Some(Wanted {
            key,
            origin: Origin::Url(url),
            area: Some(area),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Session;
    use crate::picture::PictureCache;

    fn now() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2025, 6, 1, 12, 0, 0)
            .single()
            .expect("time")
    }

    fn session() -> Session {
        Session {
            username: "alice".into(),
            token: "token".into(),
            expires_at: now() + chrono::Duration::hours(1),
        }
    }

    fn ctx<'a>(session: Option<&'a Session>, pictures: &'a PictureCache) -> Ctx<'a> {
        Ctx {
            now: now(),
            size: Rect::new(0, 0, 120, 40),
            server: "http://localhost:8080",
            session,
            pictures,
        }
    }

    fn post(n: u32, user: &str, status: &str) -> PostView {
        serde_json::from_value(serde_json::json!({
            "id": format!("POST#01890a5d-ac96-774b-bcce-{n:012}"),
            "user": user,
            "title": format!("post {n}"),
            "body": "b",
            "image": format!("http://localhost:8080/objects/{n}.png"),
            "label_status": status,
            "created_at": now().to_rfc3339(),
        }))
        .expect("post")
    }

    fn loaded(posts: Vec<PostView>) -> FeedState {
        let mut f = FeedState::default();
        let Effect::LoadFeed { seq, .. } = f.load_first(None) else {
            panic!("a feed load");
        };
        let page = Page { posts, next: None };
        let _ = f.on_loaded(seq, false, Ok(page), 17);
        f
    }

    #[test]
    fn actions_needing_an_account_ask_to_log_in_and_send_nothing() {
        let pictures = PictureCache::default();
        let ctx = ctx(None, &pictures);
        let mut f = loaded(vec![post(1, "bob", "none")]);
        for (cmd, after) in [
            (Command::NewPost, AfterLogin::Compose),
            (Command::Delete, AfterLogin::Feed),
            (Command::Edit, AfterLogin::Feed),
            (Command::TabMine, AfterLogin::Mine),
            (Command::Account, AfterLogin::Feed),
        ] {
            let out = f.on_key(Some(cmd), &ctx);
            assert!(out.effects.is_empty(), "{cmd:?} sent {:?}", out.effects);
            assert!(
                matches!(out.nav, Some(Nav::Login { after: a, .. }) if a == after),
                "{cmd:?}: {:?}",
                out.nav
            );
        }
        assert_eq!(f.tab, Tab::All);
    }

    #[test]
    fn only_own_posts_can_be_deleted() {
        let pictures = PictureCache::default();
        let s = session();
        let ctx = ctx(Some(&s), &pictures);
        let mut f = loaded(vec![post(1, "alice", "none"), post(2, "bob", "none")]);
        let out = f.on_key(Some(Command::Delete), &ctx);
        assert!(matches!(out.nav, Some(Nav::Confirm(ref c)) if c.title == "post 1"));
        f.on_key(Some(Command::Down), &ctx);
        let out = f.on_key(Some(Command::Delete), &ctx);
        assert!(out.nav.is_none());
        assert_eq!(
            out.status,
            Some(Status::Set(
                Level::Error,
                "You can only delete your own posts.".into()
            ))
        );
    }

    #[test]
    fn only_own_posts_can_be_edited() {
        let pictures = PictureCache::default();
        let s = session();
        let ctx = ctx(Some(&s), &pictures);
        let mut f = loaded(vec![post(1, "alice", "none"), post(2, "bob", "none")]);
        assert!(f.available(Command::Edit, Some("alice")));
        let out = f.on_key(Some(Command::Edit), &ctx);
        assert!(matches!(out.nav, Some(Nav::Edit(ref p)) if p.title == "post 1"));
        f.on_key(Some(Command::Down), &ctx);
        assert!(
            !f.available(Command::Edit, Some("alice")),
            "no hint on others' posts"
        );
        let out = f.on_key(Some(Command::Edit), &ctx);
        assert!(out.nav.is_none() && out.effects.is_empty());
        assert_eq!(
            out.status,
            Some(Status::Set(
                Level::Error,
                "You can only edit your own posts.".into()
            ))
        );
    }

    #[test]
    fn answers_to_an_older_request_are_dropped() {
        let pictures = PictureCache::default();
        let s = session();
        let ctx = ctx(Some(&s), &pictures);
        let mut f = loaded(vec![post(1, "alice", "none")]);
        let old = f.seq;
        let out = f.switch_tab(Tab::Mine, &ctx);
        assert!(matches!(
            out.effects.as_slice(),
            [Effect::LoadFeed { query: crate::api::FeedQuery::User(u), next: None, .. }] if u == "alice"
        ));
        let stale = Page {
            posts: vec![post(9, "zed", "none")],
            next: None,
        };
        let _ = f.on_loaded(old, false, Ok(stale), 17);
        assert!(f.posts.is_empty(), "stale page ignored");
        assert_eq!(f.loading, Some(Loading::First));
    }

    #[test]
    fn refresh_forgets_a_failed_picture_and_its_note_clears_on_arrival() {
        let mut pictures = PictureCache::default();
        let mut f = loaded(vec![post(1, "bob", "none")]);
        let key = f.posts[0].id.wire();
        pictures.set_source(&key, Err("broken".into()));
        let out = f.on_key(Some(Command::Refresh), &ctx(None, &pictures));
        assert_eq!(out.forget, vec![key]);
        assert_eq!(
            out.status,
            Some(Status::Set(Level::Info, REFRESHING.into()))
        );
        let page = Page {
            posts: vec![post(1, "bob", "none")],
            next: None,
        };
        let out = f.on_loaded(f.seq, false, Ok(page), 17);
        assert_eq!(out.status, Some(Status::ClearIf(REFRESHING)));
    }

    #[test]
    fn pending_posts_are_polled_every_few_seconds_one_poll_at_a_time() {
        let mut f = loaded(vec![post(1, "bob", "pending"), post(2, "bob", "done")]);
        let t0 = now();
        assert!(matches!(f.on_tick(t0), Some(Effect::PollPosts(ids)) if ids.len() == 1));
        assert!(
            f.on_tick(t0 + chrono::Duration::seconds(10)).is_none(),
            "one at a time"
        );
        let pictures = PictureCache::default();
        let s = session();
        let _ = f.on_polled(
            vec![Ok(post(1, "bob", "pending"))],
            &ctx(Some(&s), &pictures),
        );
        assert!(
            f.on_tick(t0 + chrono::Duration::seconds(1)).is_none(),
            "not due yet"
        );
        assert!(f
            .on_tick(t0 + chrono::Duration::seconds(POLL_SECS))
            .is_some());
    }
}
