//! The application state and its `update` function.
//!
//! [`App::update`] takes one [`Action`], changes the state and returns [`Effect`]s for the
//! runtime to run; it never does I/O and never reads the clock (time comes in
//! [`Action::Tick`]), so rendering ([`render`]) is a pure function of the state.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use postagram_core::wire::{Credentials, NewPost};
use postagram_core::LabelStatus;
use ratatui::layout::{Position, Rect};
use ratatui::Frame;

use crate::action::{Action, Effect};
use crate::api::{content_type_for, ApiError};
use crate::components::confirm::{self, ConfirmState};
use crate::components::help;
use crate::components::prompt::{self, PromptKind, PromptState};
use crate::components::status::{self, Level, StatusState};
use crate::config::{Config, Session};
use crate::keymap::{self, Command, Context};
use crate::layout;
use crate::picture::{PictureCache, Source};
use crate::screens::compose::{self, ComposeState, Field, Phase, Progress};
use crate::screens::feed::{self, FeedState, Loading, Tab};
use crate::screens::login::{self, LoginField, LoginState, Mode};

/// Posts asked for per page.
pub const PAGE_SIZE: usize = 50;
/// Seconds between re-reads of posts whose labels are pending.
pub const POLL_SECS: i64 = 3;
/// Most posts re-read per poll.
const POLL_MAX: usize = 20;

/// The screen in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// List and detail.
    Feed,
    /// Writing a post.
    Compose,
    /// Signing up or logging in.
    Login,
}

/// A box drawn over the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// The key help, scrolled by some lines.
    Help {
        /// Lines scrolled.
        scroll: u16,
    },
    /// A one-line question.
    Prompt(PromptState),
    /// A yes/no question.
    Confirm(ConfirmState),
}

/// Where to go once logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterLogin {
    /// Back to the feed.
    Feed,
    /// The "Mine" tab.
    Mine,
    /// The compose screen (its draft is kept).
    Compose,
    /// Leave the program (`postagram login`).
    Quit,
}

/// Everything the UI shows.
#[derive(Debug)]
pub struct App {
    /// The time, as of the last tick.
    pub now: DateTime<Utc>,
    /// Terminal size.
    pub size: Rect,
    /// Server base URL.
    pub server: String,
    /// The signed-in session.
    pub session: Option<Session>,
    /// Screen in front.
    pub screen: Screen,
    /// Overlay, if any.
    pub overlay: Option<Overlay>,
    /// Feed state.
    pub feed: FeedState,
    /// Compose state (the draft).
    pub compose: ComposeState,
    /// Login state.
    pub login: LoginState,
    /// Status line.
    pub status: StatusState,
    /// Pictures.
    pub pictures: PictureCache,
    /// Set when the program should end.
    pub should_quit: bool,
    /// Where to go after logging in.
    pub after_login: AfterLogin,
    /// A poll of pending posts is under way.
    pub polling: bool,
    /// When pending posts were last polled.
    pub last_poll: Option<DateTime<Utc>>,
    next_seq: u64,
}

impl App {
    /// A new app for `config`'s server and session, at `now`, in a terminal of `size`.
    pub fn new(config: &Config, now: DateTime<Utc>, size: Rect) -> Self {
        App {
            now,
            size,
            server: config.server.clone(),
            session: config.session.clone(),
            screen: Screen::Feed,
            overlay: None,
            feed: FeedState::default(),
            compose: ComposeState::default(),
            login: LoginState::default(),
            status: StatusState::default(),
            pictures: PictureCache::default(),
            should_quit: false,
            after_login: AfterLogin::Feed,
            polling: false,
            last_poll: None,
            next_seq: 0,
        }
    }

    /// The first effects: load the feed.
    pub fn start(&mut self) -> Vec<Effect> {
        self.load_first()
    }

    /// Starts on the login screen and quits once logged in (`postagram login`).
    pub fn start_login(&mut self) -> Vec<Effect> {
        self.open_login(AfterLogin::Quit, None);
        Vec::new()
    }

    /// The settings to save (server and session).
    pub fn config(&self) -> Config {
        Config {
            server: self.server.clone(),
            session: self.session.clone(),
        }
    }

    /// The signed-in username (even if the token has expired).
    pub fn me(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.username.as_str())
    }

    /// The token, if still valid now.
    pub fn token(&self) -> Option<String> {
        self.session
            .as_ref()
            .filter(|s| s.is_valid_at(self.now))
            .map(|s| s.token.clone())
    }

    /// Which keymap context is active.
    pub fn context(&self) -> Context {
        match &self.overlay {
            Some(Overlay::Help { .. }) => Context::Help,
            Some(Overlay::Prompt(_)) => Context::Prompt,
            Some(Overlay::Confirm(_)) => Context::Confirm,
            None => match self.screen {
                Screen::Feed => Context::Feed,
                Screen::Compose => Context::Compose,
                Screen::Login => Context::Login,
            },
        }
    }

    /// Whether a command makes sense now (the hint bar only offers those).
    pub fn available(&self, cmd: Command) -> bool {
        let sel = self.feed.selected_post();
        match cmd {
            Command::Delete => sel.is_some_and(|p| Some(p.user.as_str()) == self.me()),
            Command::OpenPicture => sel.is_some_and(|p| p.image.is_some()),
            _ => true,
        }
    }

    fn rows(&self) -> usize {
        layout::visible_rows(self.size)
    }

    fn info(&mut self, level: Level, text: impl Into<String>) {
        self.status.set(level, text, self.now);
    }

    /// Applies one action; returns the work to start.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let mut fx = match action {
            Action::Key(key) => self.on_key(key),
            Action::Mouse(m) => self.on_mouse(m),
            Action::Paste(text) => {
                self.on_paste(&text);
                Vec::new()
            }
            Action::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                let rows = self.rows();
                self.feed.fix_offset(rows);
                Vec::new()
            }
            Action::Tick(now) => self.on_tick(now),
            Action::FeedLoaded {
                seq,
                append,
                result,
            } => self.on_feed_loaded(seq, append, result),
            Action::PostsPolled(results) => {
                self.on_polled(results);
                Vec::new()
            }
            Action::LoggedIn { username, result } => self.on_logged_in(username, result),
            Action::PostCreated(result) => self.on_post_created(result),
            Action::UploadProgress {
                post_id,
                sent,
                total,
                elapsed,
            } => {
                if self.compose.created.as_ref().map(|p| p.id.wire()) == Some(post_id) {
                    self.compose.progress = Some(Progress {
                        sent,
                        total,
                        elapsed,
                    });
                }
                Vec::new()
            }
            Action::UploadFinished { post_id, result } => self.on_uploaded(post_id, result),
            Action::Deleted { id, result } => self.on_deleted(id, result),
            Action::PictureLoaded { key, result } => {
                self.pictures.set_source(&key, result);
                Vec::new()
            }
            Action::PictureEncoded { key, area, result } => {
                self.pictures.set_encoded(&key, area, result);
                Vec::new()
            }
            Action::Completed { input, candidates } => {
                self.on_completed(input, candidates);
                Vec::new()
            }
            Action::ConfigSaved(r) => {
                if let Err(e) = r {
                    self.info(Level::Error, format!("Could not save the settings: {e}"));
                }
                Vec::new()
            }
            Action::Opened(r) => {
                if let Err(e) = r {
                    self.info(Level::Error, format!("Could not open the picture: {e}"));
                }
                Vec::new()
            }
            Action::Quit => {
                self.should_quit = true;
                Vec::new()
            }
        };
        fx.extend(self.reconcile());
        fx
    }

    // ----- loading -----

    fn load_first(&mut self) -> Vec<Effect> {
        self.next_seq += 1;
        self.feed.seq = self.next_seq;
        self.feed.loading = Some(Loading::First);
        self.feed.error = None;
        vec![Effect::LoadFeed {
            seq: self.feed.seq,
            query: self.feed.query(self.me()),
            next: None,
        }]
    }

    fn switch_tab(&mut self, tab: Tab) -> Vec<Effect> {
        if tab == Tab::Mine && self.token().is_none() {
            self.open_login(AfterLogin::Mine, Some("Log in to see your posts."));
            return Vec::new();
        }
        self.feed.tab = tab;
        self.feed.reset_list();
        self.load_first()
    }

    /// Things that follow from the state: more pages, pictures to fetch or encode.
    fn reconcile(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        let rows = self.rows();
        if self.screen == Screen::Feed && self.feed.wants_more(rows) {
            if let Some(next) = self.feed.next.clone() {
                self.feed.loading = Some(Loading::More);
                fx.push(Effect::LoadFeed {
                    seq: self.feed.seq,
                    query: self.feed.query(self.me()),
                    next: Some(next),
                });
            }
        }
        match self.screen {
            Screen::Feed => {
                let target = self
                    .feed
                    .selected_post()
                    .and_then(|p| p.image.clone().map(|url| (p.id.wire(), url)));
                if let Some((key, url)) = target {
                    if let Some(area) = layout::feed(self.size, true).picture {
                        if self.pictures.source(&key).is_none() {
                            self.pictures.set_loading(&key);
                            fx.push(Effect::FetchPicture {
                                key: key.clone(),
                                url,
                            });
                        }
                        fx.extend(self.encode_if_needed(&key, area));
                    }
                }
            }
            Screen::Compose => {
                if let Some(path) = self.compose.attachment() {
                    if content_type_for(&path).is_some() {
                        let key = compose::preview_key(&path);
                        if self.pictures.source(&key).is_none() {
                            self.pictures.set_loading(&key);
                            fx.push(Effect::ReadPicture {
                                key: key.clone(),
                                path,
                            });
                        }
                        let rows = self.compose.completions.len().min(4) as u16;
                        let area = layout::compose(self.size, rows).preview;
                        if area.width > 0 && area.height > 0 {
                            fx.extend(self.encode_if_needed(&key, area));
                        }
                    }
                }
            }
            Screen::Login => {}
        }
        fx
    }

    fn encode_if_needed(&mut self, key: &str, area: Rect) -> Option<Effect> {
        let Some(Source::Ready(d)) = self.pictures.source(key) else {
            return None;
        };
        if self.pictures.encoded(key, area).is_some() || self.pictures.is_encoding(key, area) {
            return None;
        }
        let image = d.image.clone();
        self.pictures.set_encoding(key, area);
        Some(Effect::EncodePicture {
            key: key.to_string(),
            image,
            area,
        })
    }

    // ----- input -----

    fn on_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctx = self.context();
        let cmd = keymap::lookup(ctx, &key);
        if cmd == Some(Command::Quit) && ctx != Context::Feed && ctx != Context::Help {
            // Ctrl-C everywhere.
            self.should_quit = true;
            return Vec::new();
        }
        match ctx {
            Context::Help => {
                if let Some(Overlay::Help { scroll }) = &mut self.overlay {
                    let max = help::max_scroll(self.size);
                    match cmd {
                        Some(Command::Down) => *scroll = (*scroll + 1).min(max),
                        Some(Command::Up) => *scroll = scroll.saturating_sub(1),
                        Some(Command::Back) | Some(Command::Help) => self.overlay = None,
                        Some(Command::Quit) => self.should_quit = true,
                        _ => {}
                    }
                }
                Vec::new()
            }
            Context::Prompt => self.on_prompt_key(cmd, &key),
            Context::Confirm => self.on_confirm_key(cmd),
            Context::Feed => self.on_feed_key(cmd),
            Context::Compose => self.on_compose_key(cmd, &key),
            Context::Login => self.on_login_key(cmd, &key),
            Context::Global => Vec::new(),
        }
    }

    fn on_paste(&mut self, text: &str) {
        match (&mut self.overlay, self.screen) {
            (Some(Overlay::Prompt(p)), _) => p.input.insert_str(text),
            (Some(_), _) => {}
            (None, Screen::Compose) if self.compose.phase == Phase::Editing => {
                let c = &mut self.compose;
                match c.focus {
                    Field::Title => c.title.insert_str(text),
                    Field::Body => c.body.insert_str(text),
                    Field::Path => {
                        c.path.insert_str(text.trim());
                        c.completions.clear();
                    }
                }
            }
            (None, Screen::Login) => match self.login.focus {
                LoginField::Username => self.login.username.insert_str(text.trim()),
                LoginField::Password => self.login.password.insert_str(text),
            },
            _ => {}
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> Vec<Effect> {
        let pos = Position::new(m.column, m.row);
        if let Some(Overlay::Help { scroll }) = &mut self.overlay {
            match m.kind {
                MouseEventKind::ScrollDown => {
                    *scroll = (*scroll + 1).min(help::max_scroll(self.size))
                }
                MouseEventKind::ScrollUp => *scroll = scroll.saturating_sub(1),
                _ => {}
            }
            return Vec::new();
        }
        if self.overlay.is_some() || self.screen != Screen::Feed {
            return Vec::new();
        }
        let has_pic = self.feed.selected_post().is_some_and(|p| p.image.is_some());
        let lay = layout::feed(self.size, has_pic);
        let rows = self.rows();
        match m.kind {
            MouseEventKind::ScrollDown if lay.list_block.contains(pos) => {
                self.feed.move_by(1, rows)
            }
            MouseEventKind::ScrollUp if lay.list_block.contains(pos) => self.feed.move_by(-1, rows),
            MouseEventKind::ScrollDown if lay.detail_block.contains(pos) => {
                self.feed.detail_scroll = self.feed.detail_scroll.saturating_add(2)
            }
            MouseEventKind::ScrollUp if lay.detail_block.contains(pos) => {
                self.feed.detail_scroll = self.feed.detail_scroll.saturating_sub(2)
            }
            MouseEventKind::Down(MouseButton::Left) if lay.list.contains(pos) => {
                let idx = self.feed.offset + ((pos.y - lay.list.y) / layout::ROW_HEIGHT) as usize;
                if idx < self.feed.posts.len() {
                    self.feed.select(idx, rows);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_tick(&mut self, now: DateTime<Utc>) -> Vec<Effect> {
        self.now = now;
        self.status.expire(now);
        let due = self
            .last_poll
            .is_none_or(|t| now - t >= chrono::Duration::seconds(POLL_SECS));
        if !self.polling && due {
            let ids: Vec<String> = self.feed.pending_ids().into_iter().take(POLL_MAX).collect();
            if !ids.is_empty() {
                self.polling = true;
                self.last_poll = Some(now);
                return vec![Effect::PollPosts(ids)];
            }
        }
        Vec::new()
    }

    // ----- feed -----

    fn open_login(&mut self, after: AfterLogin, reason: Option<&str>) {
        self.after_login = after;
        self.screen = Screen::Login;
        self.overlay = None;
        self.login.busy = false;
        self.login.error = None;
        self.login.reason = reason.map(str::to_string);
        if let Some(me) = self.me() {
            let me = me.to_string();
            self.login.username.set(&me);
            self.login.focus = LoginField::Password;
        }
    }

    fn on_feed_key(&mut self, cmd: Option<Command>) -> Vec<Effect> {
        let rows = self.rows();
        let Some(cmd) = cmd else {
            return Vec::new();
        };
        match cmd {
            Command::Quit => self.should_quit = true,
            Command::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Command::Down => self.feed.move_by(1, rows),
            Command::Up => self.feed.move_by(-1, rows),
            Command::PageDown => self.feed.move_by(rows as isize, rows),
            Command::PageUp => self.feed.move_by(-(rows as isize), rows),
            Command::Top => self.feed.select(0, rows),
            Command::Bottom => self.feed.select(usize::MAX, rows),
            Command::NextTab | Command::PrevTab => {
                let mut tabs = vec![Tab::All];
                if self.token().is_some() {
                    tabs.push(Tab::Mine);
                }
                if self.feed.user_filter.is_some() {
                    tabs.push(Tab::User);
                }
                if self.feed.search.is_some() {
                    tabs.push(Tab::Search);
                }
                let cur = tabs.iter().position(|t| *t == self.feed.tab).unwrap_or(0);
                let n = tabs.len();
                let next = if cmd == Command::NextTab {
                    (cur + 1) % n
                } else {
                    (cur + n - 1) % n
                };
                if tabs[next] != self.feed.tab {
                    return self.switch_tab(tabs[next]);
                }
            }
            Command::TabAll => return self.switch_tab(Tab::All),
            Command::TabMine => return self.switch_tab(Tab::Mine),
            Command::ByUser => {
                let cur = self.feed.user_filter.clone().unwrap_or_default();
                self.overlay = Some(Overlay::Prompt(PromptState::new(PromptKind::User, &cur)));
            }
            Command::Search => {
                let cur = self.feed.search.clone().unwrap_or_default();
                self.overlay = Some(Overlay::Prompt(PromptState::new(PromptKind::Search, &cur)));
            }
            Command::Refresh => {
                if let Some(p) = self.feed.selected_post() {
                    let key = p.id.wire();
                    if matches!(self.pictures.source(&key), Some(Source::Failed(_))) {
                        self.pictures.forget(&key);
                    }
                }
                self.info(Level::Info, "Refreshing…");
                return self.load_first();
            }
            Command::NewPost => {
                if self.token().is_none() {
                    self.open_login(AfterLogin::Compose, Some("Log in or sign up to post."));
                } else {
                    self.screen = Screen::Compose;
                }
            }
            Command::Delete => {
                if self.token().is_none() {
                    self.open_login(AfterLogin::Feed, Some("Log in to delete your posts."));
                } else if let Some(p) = self.feed.selected_post() {
                    if Some(p.user.as_str()) == self.me() {
                        self.overlay = Some(Overlay::Confirm(ConfirmState {
                            post_id: p.id.wire(),
                            title: p.title.clone(),
                        }));
                    } else {
                        self.info(Level::Error, "You can only delete your own posts.");
                    }
                }
            }
            Command::OpenPicture => match self.feed.selected_post().and_then(|p| p.image.clone()) {
                Some(url) => {
                    self.info(Level::Info, "Opening the picture…");
                    return vec![Effect::Open(url)];
                }
                None => self.info(Level::Error, "This post has no picture."),
            },
            Command::DetailDown => {
                self.feed.detail_scroll = self.feed.detail_scroll.saturating_add(3)
            }
            Command::DetailUp => {
                self.feed.detail_scroll = self.feed.detail_scroll.saturating_sub(3)
            }
            Command::Account => {
                if self.session.is_some() {
                    let who = self.me().unwrap_or_default().to_string();
                    self.session = None;
                    self.info(Level::Success, format!("Logged out {who}."));
                    let mut fx = vec![Effect::SaveConfig(self.config())];
                    if self.feed.tab == Tab::Mine {
                        fx.extend(self.switch_tab(Tab::All));
                    }
                    return fx;
                }
                self.open_login(AfterLogin::Feed, None);
            }
            _ => {}
        }
        Vec::new()
    }

    fn on_prompt_key(&mut self, cmd: Option<Command>, key: &KeyEvent) -> Vec<Effect> {
        let Some(Overlay::Prompt(p)) = &mut self.overlay else {
            return Vec::new();
        };
        match cmd {
            Some(Command::Back) => self.overlay = None,
            Some(Command::Help) => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Some(Command::Submit) => {
                let text = p.input.text().trim().to_string();
                let kind = p.kind;
                self.overlay = None;
                if text.is_empty() {
                    return Vec::new();
                }
                match kind {
                    PromptKind::User => {
                        self.feed.user_filter = Some(text);
                        return self.switch_tab(Tab::User);
                    }
                    PromptKind::Search => {
                        self.feed.search = Some(text);
                        return self.switch_tab(Tab::Search);
                    }
                }
            }
            _ => {
                p.input.handle_key(key);
            }
        }
        Vec::new()
    }

    fn on_confirm_key(&mut self, cmd: Option<Command>) -> Vec<Effect> {
        let Some(Overlay::Confirm(c)) = self.overlay.clone() else {
            return Vec::new();
        };
        match cmd {
            Some(Command::Yes) => {
                self.overlay = None;
                match self.token() {
                    Some(token) => {
                        self.info(Level::Info, format!("Deleting “{}”…", c.title));
                        return vec![Effect::Delete {
                            token,
                            id: c.post_id,
                        }];
                    }
                    None => self.open_login(AfterLogin::Feed, Some("Log in to delete.")),
                }
            }
            Some(Command::No) => self.overlay = None,
            _ => {}
        }
        Vec::new()
    }

    // ----- compose -----

    fn on_compose_key(&mut self, cmd: Option<Command>, key: &KeyEvent) -> Vec<Effect> {
        match cmd {
            Some(Command::Help) => {
                self.overlay = Some(Overlay::Help { scroll: 0 });
                return Vec::new();
            }
            Some(Command::Back) => {
                self.screen = Screen::Feed;
                if self.compose.phase == Phase::Editing {
                    self.info(Level::Info, "Draft kept — press n to continue it.");
                } else {
                    self.info(Level::Info, "Posting continues in the background…");
                }
                return Vec::new();
            }
            _ => {}
        }
        if self.compose.phase != Phase::Editing {
            return Vec::new();
        }
        let c = &mut self.compose;
        match cmd {
            Some(Command::Submit) => return self.submit_post(),
            Some(Command::NextField) => match c.focus {
                Field::Title => c.focus = Field::Body,
                Field::Body => c.focus = Field::Path,
                Field::Path => {
                    if c.path.text().trim().is_empty() {
                        c.focus = Field::Title;
                    } else {
                        return vec![Effect::Complete(c.path.text().to_string())];
                    }
                }
            },
            Some(Command::PrevField) => {
                c.focus = match c.focus {
                    Field::Title => Field::Path,
                    Field::Body => Field::Title,
                    Field::Path => Field::Body,
                };
                c.completions.clear();
            }
            _ => {
                if c.focus == Field::Title && key.code == KeyCode::Enter {
                    c.focus = Field::Body;
                    return Vec::new();
                }
                let changed = match c.focus {
                    Field::Title => c.title.handle_key(key),
                    Field::Body => c.body.handle_key(key),
                    Field::Path => {
                        let before = c.path.text().to_string();
                        let r = c.path.handle_key(key);
                        if c.path.text() != before {
                            c.completions.clear();
                        }
                        r
                    }
                };
                if changed && !c.errors.is_empty() {
                    c.errors = c.validate(&self.pictures);
                }
            }
        }
        Vec::new()
    }

    fn submit_post(&mut self) -> Vec<Effect> {
        let errors = self.compose.validate(&self.pictures);
        if !errors.is_empty() {
            self.info(Level::Error, format!("Cannot post yet: {}", errors[0]));
            self.compose.errors = errors;
            return Vec::new();
        }
        self.compose.errors.clear();
        let Some(token) = self.token() else {
            self.open_login(AfterLogin::Compose, Some("Log in or sign up to post."));
            return Vec::new();
        };
        if let Some(post) = self.compose.created.clone() {
            // Created before; only the upload failed.
            return self.start_upload(token, post.id.wire());
        }
        self.compose.phase = Phase::Creating;
        self.info(Level::Info, "Creating the post…");
        vec![Effect::CreatePost {
            token,
            post: NewPost {
                title: self.compose.title.text().trim().to_string(),
                body: self.compose.body.text().to_string(),
            },
        }]
    }

    fn start_upload(&mut self, token: String, post_id: String) -> Vec<Effect> {
        let Some(path) = self.compose.attachment() else {
            return Vec::new();
        };
        let Some(ct) = content_type_for(&path) else {
            return Vec::new();
        };
        self.compose.phase = Phase::Uploading;
        self.compose.progress = None;
        self.info(Level::Info, "Uploading the picture…");
        vec![Effect::Upload {
            token,
            post_id,
            path,
            content_type: ct.to_string(),
        }]
    }

    fn on_post_created(
        &mut self,
        result: Result<postagram_core::wire::PostView, ApiError>,
    ) -> Vec<Effect> {
        match result {
            Ok(post) => {
                self.compose.created = Some(post.clone());
                if self.compose.attachment().is_some() {
                    match self.token() {
                        Some(token) => self.start_upload(token, post.id.wire()),
                        None => {
                            self.compose.phase = Phase::Editing;
                            self.session_expired(AfterLogin::Compose)
                        }
                    }
                } else {
                    self.finish_post(post)
                }
            }
            Err(e) => {
                self.compose.phase = Phase::Editing;
                if e.is_unauthorized() {
                    return self.session_expired(AfterLogin::Compose);
                }
                let msg = e.user_message();
                self.compose.errors = vec![msg.clone()];
                self.info(Level::Error, format!("Post not created: {msg}"));
                Vec::new()
            }
        }
    }

    fn on_uploaded(
        &mut self,
        post_id: String,
        result: Result<postagram_core::wire::PostView, ApiError>,
    ) -> Vec<Effect> {
        if self.compose.created.as_ref().map(|p| p.id.wire()) != Some(post_id) {
            return Vec::new();
        }
        match result {
            Ok(post) => self.finish_post(post),
            Err(e) => {
                self.compose.phase = Phase::Editing;
                self.compose.progress = None;
                if e.is_unauthorized() {
                    return self.session_expired(AfterLogin::Compose);
                }
                let msg = e.user_message();
                self.compose.errors = vec![format!("Upload failed: {msg}")];
                self.info(
                    Level::Error,
                    format!("Upload failed: {msg} — the post exists; Ctrl-S in the draft retries"),
                );
                Vec::new()
            }
        }
    }

    fn finish_post(&mut self, post: postagram_core::wire::PostView) -> Vec<Effect> {
        let with_picture = post.image.is_some();
        self.info(
            Level::Success,
            if with_picture {
                format!("Posted “{}” — the picture is being labelled", post.title)
            } else {
                format!("Posted “{}”", post.title)
            },
        );
        self.compose.clear();
        if self.screen == Screen::Compose {
            self.screen = Screen::Feed;
        }
        self.feed.select_on_load = Some(post.id.wire());
        if !matches!(self.feed.tab, Tab::All | Tab::Mine) {
            self.feed.tab = Tab::All;
            self.feed.reset_list();
            self.feed.select_on_load = Some(post.id.wire());
        }
        self.load_first()
    }

    fn on_completed(&mut self, input: String, candidates: Vec<String>) {
        let c = &mut self.compose;
        if c.path.text() != input {
            return;
        }
        match candidates.len() {
            0 => self.status.set(Level::Error, "No file matches.", self.now),
            1 => {
                c.path.set(&candidates[0]);
                c.completions.clear();
            }
            _ => {
                let lcp = candidates
                    .iter()
                    .skip(1)
                    .fold(candidates[0].clone(), |acc, s| {
                        acc.chars()
                            .zip(s.chars())
                            .take_while(|(a, b)| a == b)
                            .map(|(a, _)| a)
                            .collect()
                    });
                if lcp.chars().count() > input.chars().count() {
                    c.path.set(&lcp);
                }
                c.completions = candidates;
            }
        }
    }

    // ----- login -----

    fn on_login_key(&mut self, cmd: Option<Command>, key: &KeyEvent) -> Vec<Effect> {
        let s = &mut self.login;
        match cmd {
            Some(Command::Help) => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Some(Command::Back) => {
                if self.after_login == AfterLogin::Quit {
                    self.should_quit = true;
                } else {
                    self.screen = Screen::Feed;
                    if self.compose.created.is_none() && self.after_login == AfterLogin::Compose {
                        self.info(Level::Info, "Not logged in — the draft is kept.");
                    }
                }
            }
            _ if s.busy => {}
            Some(Command::NextField) | Some(Command::PrevField) => {
                s.focus = match s.focus {
                    LoginField::Username => LoginField::Password,
                    LoginField::Password => LoginField::Username,
                };
            }
            Some(Command::ToggleMode) => {
                s.mode = match s.mode {
                    Mode::Login => Mode::Signup,
                    Mode::Signup => Mode::Login,
                };
                s.error = None;
            }
            Some(Command::Submit) => {
                let username = s.username.text().trim().to_string();
                let password = s.password.text().to_string();
                if let Some(err) = login::validate(&username, &password, s.mode) {
                    s.error = Some(err);
                    return Vec::new();
                }
                s.busy = true;
                s.error = None;
                return vec![Effect::Login {
                    creds: Credentials { username, password },
                    signup: s.mode == Mode::Signup,
                }];
            }
            _ => {
                let input = match s.focus {
                    LoginField::Username => &mut s.username,
                    LoginField::Password => &mut s.password,
                };
                if input.handle_key(key) {
                    s.error = None;
                }
            }
        }
        Vec::new()
    }

    fn on_logged_in(
        &mut self,
        username: String,
        result: Result<postagram_core::wire::TokenView, ApiError>,
    ) -> Vec<Effect> {
        self.login.busy = false;
        match result {
            Ok(t) => {
                self.session = Some(Session {
                    username: username.clone(),
                    token: t.token,
                    expires_at: t.expires_at,
                });
                self.login.password.clear();
                self.login.error = None;
                self.login.reason = None;
                self.info(Level::Success, format!("Signed in as {username}."));
                let mut fx = vec![Effect::SaveConfig(self.config())];
                match self.after_login {
                    AfterLogin::Quit => self.should_quit = true,
                    AfterLogin::Compose => self.screen = Screen::Compose,
                    AfterLogin::Mine => {
                        self.screen = Screen::Feed;
                        fx.extend(self.switch_tab(Tab::Mine));
                    }
                    AfterLogin::Feed => self.screen = Screen::Feed,
                }
                fx
            }
            Err(e) => {
                let msg = match e.status() {
                    Some(401) => "Wrong username or password.".to_string(),
                    Some(409) => "That username is taken — log in instead (Ctrl-T).".to_string(),
                    Some(422) | Some(400) => match &e {
                        ApiError::Status { message, .. } => message.clone(),
                        _ => e.user_message(),
                    },
                    Some(429) => "Too many attempts — wait a minute and try again.".to_string(),
                    _ => e.user_message(),
                };
                self.login.error = Some(msg);
                Vec::new()
            }
        }
    }

    fn session_expired(&mut self, after: AfterLogin) -> Vec<Effect> {
        self.session = None;
        self.open_login(after, Some("Your session expired — log in again."));
        self.info(
            Level::Error,
            "Your session is not valid any more — please log in again.",
        );
        vec![Effect::SaveConfig(self.config())]
    }

    // ----- results -----

    fn on_feed_loaded(
        &mut self,
        seq: u64,
        append: bool,
        result: Result<crate::api::Page, ApiError>,
    ) -> Vec<Effect> {
        if seq != self.feed.seq {
            return Vec::new();
        }
        let rows = self.rows();
        match result {
            Ok(page) => {
                self.feed.apply_page(page, append, rows);
                if let Some(m) = &self.status.message {
                    if m.text == "Refreshing…" {
                        self.status.message = None;
                    }
                }
            }
            Err(e) => {
                self.feed.loading = None;
                let msg = e.user_message();
                if self.feed.posts.is_empty() || !append {
                    self.feed.error = Some(msg.clone());
                }
                if append {
                    // Do not hammer a failing server: next pages wait for a refresh.
                    self.feed.error = Some(msg.clone());
                }
                self.info(Level::Error, msg);
            }
        }
        Vec::new()
    }

    fn on_polled(&mut self, results: Vec<Result<postagram_core::wire::PostView, ApiError>>) {
        self.polling = false;
        let rows = self.rows();
        for r in results {
            match r {
                Ok(post) => {
                    let was_pending = self
                        .feed
                        .posts
                        .iter()
                        .find(|p| p.id == post.id)
                        .is_some_and(|p| p.label_status == LabelStatus::Pending);
                    let mine = Some(post.user.as_str()) == self.me();
                    if was_pending && mine {
                        match post.label_status {
                            LabelStatus::Done => {
                                let names = post.labels.clone().unwrap_or_default().join(", ");
                                self.info(
                                    Level::Success,
                                    format!("Labels for “{}”: {names}", post.title),
                                );
                            }
                            LabelStatus::Failed => self.info(
                                Level::Error,
                                format!(
                                    "Labelling “{}” failed: {}",
                                    post.title,
                                    post.label_error.as_deref().unwrap_or("unknown reason")
                                ),
                            ),
                            _ => {}
                        }
                    }
                    self.feed.replace_post(post);
                }
                // Deleted meanwhile: the next refresh drops it.
                Err(ApiError::Status { status: 404, .. }) => {}
                Err(_) => {}
            }
        }
        self.feed.fix_offset(rows);
    }

    fn on_deleted(&mut self, id: String, result: Result<(), ApiError>) -> Vec<Effect> {
        let rows = self.rows();
        match result {
            Ok(()) => {
                self.feed.remove_post(&id, rows);
                self.pictures.forget(&id);
                self.info(Level::Success, "Post deleted.");
            }
            Err(e) if e.is_unauthorized() => return self.session_expired(AfterLogin::Feed),
            Err(e) if e.status() == Some(404) => {
                self.feed.remove_post(&id, rows);
                self.info(Level::Info, "That post was already deleted.");
            }
            Err(e) => self.info(Level::Error, format!("Not deleted: {}", e.user_message())),
        }
        Vec::new()
    }

    /// The right side of the status line: upload progress and who is signed in where.
    pub fn status_right(&self) -> String {
        let mut parts = Vec::new();
        if self.screen != Screen::Compose && self.compose.phase == Phase::Uploading {
            if let Some(p) = self.compose.progress {
                let pct = (p.sent * 100).checked_div(p.total).unwrap_or(100);
                parts.push(format!("↑ {pct}% {}/s", compose::human_bytes(p.speed())));
            }
        }
        match self.me() {
            Some(me) if self.token().is_some() => parts.push(format!("{me} @ {}", self.server)),
            _ => parts.push(format!("not signed in · {}", self.server)),
        }
        parts.join(" · ")
    }
}

/// Draws the whole UI for the state. Pure: same state, same frame.
pub fn render(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < 20 || area.height < 6 {
        frame.render_widget(
            ratatui::widgets::Paragraph::new("Terminal too small for postagram."),
            area,
        );
        return;
    }
    match app.screen {
        Screen::Feed => feed::render(frame, app),
        Screen::Compose => compose::render(frame, app),
        Screen::Login => login::render(frame, app),
    }
    let (_, main, status_area, hints_area) = layout::chrome(area);
    match &app.overlay {
        Some(Overlay::Help { scroll }) => help::render(frame, area, *scroll),
        Some(Overlay::Prompt(p)) => prompt::render(frame, main, p),
        Some(Overlay::Confirm(c)) => confirm::render(frame, main, c),
        None => {}
    }
    status::render_status(frame, status_area, &app.status, &app.status_right());
    let hints = keymap::hints(app.context(), |c| app.available(c));
    status::render_hints(frame, hints_area, &hints);
}
