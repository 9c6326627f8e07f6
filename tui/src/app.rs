//! The top-level state machine: which screen is in front, the overlays, the session, and
//! the routing of keys and results to the screens.
//!
//! [`App::update`] takes one [`Action`], hands it to the screen (or overlay) it belongs to,
//! applies the screen's [`Out`] (status line, picture cache, [`Nav`] requests) and returns
//! [`Effect`]s for the runtime to run; it never does I/O and never reads the clock (time
//! comes in [`Action::Tick`]), so rendering ([`render`]) is a pure function of the state.
//! Screen-specific behaviour lives in `crate::screens`.

use chrono::{DateTime, Utc};
use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::action::{Action, Effect};
use crate::components::confirm::{self, ConfirmState};
use crate::components::help::{self, HelpOutcome};
use crate::components::prompt::{self, PromptOutcome, PromptState};
use crate::components::status::{self, Level, StatusState};
use crate::config::{Config, Session};
use crate::keymap::{self, Command, Context};
use crate::layout;
use crate::picture::{Origin, PictureCache, Source, Wanted};
use crate::screens::compose::{self, ComposeState, Phase};
use crate::screens::context::Ctx;
use crate::screens::feed::{self, FeedState, Tab};
use crate::screens::login::{self, LoginState};
pub use crate::screens::outcome::AfterLogin;
use crate::screens::outcome::{Nav, Out, Status};

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
}

/// The read-only context of `$app` for a screen: borrows only the fields it names, so the
/// screens' own fields stay free to be borrowed mutably beside it.
macro_rules! ctx {
    ($app:expr) => {
        Ctx {
            now: $app.now,
            size: $app.size,
            server: &$app.server,
            session: $app.session.as_ref(),
            pictures: &$app.pictures,
        }
    };
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
        }
    }

    /// The first effects: load the feed.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![self.feed.load_first(ctx!(self).me())]
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
        ctx!(self).token()
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
        self.feed.available(cmd, self.me())
    }

    fn info(&mut self, level: Level, text: impl Into<String>) {
        self.status.set(level, text, self.now);
    }

    /// Applies one action; returns the work to start.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let rows = layout::visible_rows(self.size);
        let out = match action {
            Action::Key(key) => self.on_key(key),
            Action::Mouse(m) => {
                self.on_mouse(m);
                Out::none()
            }
            Action::Paste(text) => {
                self.on_paste(&text);
                Out::none()
            }
            Action::Resize(w, h) => {
                self.size = Rect::new(0, 0, w, h);
                self.feed.fix_offset(layout::visible_rows(self.size));
                Out::none()
            }
            Action::Tick(now) => {
                self.now = now;
                self.status.expire(now);
                self.feed.on_tick(now).into()
            }
            Action::FeedLoaded {
                seq,
                append,
                result,
            } => self.feed.on_loaded(seq, append, result, rows),
            Action::PostsPolled(results) => self.feed.on_polled(results, &ctx!(self)),
            Action::LoggedIn { username, result } => self.login.on_logged_in(username, result),
            Action::PostCreated(result) => self.compose.on_post_created(result, &ctx!(self)),
            Action::PostEdited(result) => self.compose.on_post_edited(result, &ctx!(self)),
            Action::UploadProgress {
                post_id,
                sent,
                total,
                elapsed,
            } => {
                self.compose.on_progress(post_id, sent, total, elapsed);
                Out::none()
            }
            Action::UploadFinished { post_id, result } => self.compose.on_uploaded(post_id, result),
            Action::Deleted { id, result } => self.feed.on_deleted(id, result, rows),
            Action::PictureLoaded { key, result } => {
                self.pictures.set_source(&key, result);
                Out::none()
            }
            Action::PictureEncoded { key, area, result } => {
                self.pictures.set_encoded(&key, area, result);
                Out::none()
            }
            Action::Completed { input, candidates } => self.compose.on_completed(input, candidates),
            Action::ConfigSaved(r) => match r {
                Err(e) => Out::status(Level::Error, format!("Could not save the settings: {e}")),
                Ok(()) => Out::none(),
            },
            Action::Opened(r) => match r {
                Err(e) => Out::status(Level::Error, format!("Could not open the picture: {e}")),
                Ok(()) => Out::none(),
            },
            Action::Quit => Out::nav(Nav::Quit),
        };
        let mut fx = self.apply(out);
        fx.extend(self.reconcile());
        fx
    }

    /// Carries out a screen's answer: pictures to forget, the status line, then its request.
    fn apply(&mut self, out: Out) -> Vec<Effect> {
        let Out {
            mut effects,
            status,
            forget,
            nav,
        } = out;
        for key in forget {
            self.pictures.forget(&key);
        }
        match status {
            Some(Status::Set(level, text)) => self.info(level, text),
            Some(Status::ClearIf(text))
                if self.status.message.as_ref().is_some_and(|m| m.text == text) =>
            {
                self.status.message = None;
            }
            Some(Status::ClearIf(_)) | None => {}
        }
        if let Some(nav) = nav {
            effects.extend(self.navigate(nav));
        }
        effects
    }

    fn navigate(&mut self, nav: Nav) -> Vec<Effect> {
        match nav {
            Nav::Quit => self.should_quit = true,
            Nav::Help => self.overlay = Some(Overlay::Help { scroll: 0 }),
            Nav::Prompt(p) => self.overlay = Some(Overlay::Prompt(p)),
            Nav::Confirm(c) => self.overlay = Some(Overlay::Confirm(c)),
            Nav::Feed => self.screen = Screen::Feed,
            Nav::Compose => {
                self.compose.new_post();
                self.screen = Screen::Compose;
            }
            Nav::Edit(post) => match self.compose.start_edit(post) {
                Ok(()) => self.screen = Screen::Compose,
                Err(why) => self.info(Level::Error, why),
            },
            Nav::Login { after, reason } => self.open_login(after, reason),
            Nav::LoginCancelled(after) => {
                self.screen = Screen::Feed;
                if self.compose.created.is_none() && after == AfterLogin::Compose {
                    self.info(Level::Info, "Not logged in — the draft is kept.");
                }
            }
            Nav::SignedIn { session, after } => {
                self.session = Some(session);
                let mut fx = vec![Effect::SaveConfig(self.config())];
                match after {
                    AfterLogin::Quit => self.should_quit = true,
                    AfterLogin::Compose => self.screen = Screen::Compose,
                    AfterLogin::Mine => {
                        self.screen = Screen::Feed;
                        let out = self.feed.switch_tab(Tab::Mine, &ctx!(self));
                        fx.extend(self.apply(out));
                    }
                    AfterLogin::Feed => self.screen = Screen::Feed,
                }
                return fx;
            }
            Nav::LogOut => {
                let who = self.me().unwrap_or_default().to_string();
                self.session = None;
                self.info(Level::Success, format!("Logged out {who}."));
                let mut fx = vec![Effect::SaveConfig(self.config())];
                if self.feed.tab == Tab::Mine {
                    let out = self.feed.switch_tab(Tab::All, &ctx!(self));
                    fx.extend(self.apply(out));
                }
                return fx;
            }
            Nav::SessionExpired(after) => {
                self.session = None;
                self.open_login(after, Some("Your session expired — log in again."));
                self.info(
                    Level::Error,
                    "Your session is not valid any more — please log in again.",
                );
                return vec![Effect::SaveConfig(self.config())];
            }
            Nav::Saved(post) => {
                if self.screen == Screen::Compose {
                    self.screen = Screen::Feed;
                }
                return vec![self.feed.show_edited_post(post, ctx!(self).me())];
            }
            Nav::Posted(post) => {
                if self.screen == Screen::Compose {
                    self.screen = Screen::Feed;
                }
                return vec![self.feed.show_new_post(&post, ctx!(self).me())];
            }
        }
        Vec::new()
    }

    fn open_login(&mut self, after: AfterLogin, reason: Option<&str>) {
        self.screen = Screen::Login;
        self.overlay = None;
        let me = self.session.as_ref().map(|s| s.username.as_str());
        self.login.open(after, reason, me);
    }

    /// Things that follow from the state: more pages, pictures to fetch or encode.
    fn reconcile(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        let wanted = match self.screen {
            Screen::Feed => {
                fx.extend(self.feed.more(&ctx!(self)));
                self.feed.wanted_picture(self.size)
            }
            Screen::Compose => self.compose.wanted_picture(self.size),
            Screen::Login => None,
        };
        if let Some(Wanted { key, origin, area }) = wanted {
            if self.pictures.source(&key).is_none() {
                self.pictures.set_loading(&key);
                fx.push(match origin {
                    Origin::Url(url) => Effect::FetchPicture {
                        key: key.clone(),
                        url,
                    },
                    Origin::File(path) => Effect::ReadPicture {
                        key: key.clone(),
                        path,
                    },
                });
            }
            if let Some(area) = area {
                fx.extend(self.encode_if_needed(&key, area));
            }
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

    // ----- input routing -----

    fn on_key(&mut self, key: KeyEvent) -> Out {
        if key.kind == KeyEventKind::Release {
            return Out::none();
        }
        let ctx = self.context();
        let cmd = keymap::lookup(ctx, &key);
        if cmd == Some(Command::Quit) && ctx != Context::Feed && ctx != Context::Help {
            // Ctrl-C everywhere.
            return Out::nav(Nav::Quit);
        }
        match self.overlay.as_mut() {
            Some(Overlay::Help { scroll }) => match help::on_key(scroll, cmd, self.size) {
                HelpOutcome::Open => Out::none(),
                HelpOutcome::Close => {
                    self.overlay = None;
                    Out::none()
                }
                HelpOutcome::Quit => Out::nav(Nav::Quit),
            },
            Some(Overlay::Prompt(p)) => match p.on_key(cmd, &key) {
                PromptOutcome::Open => Out::none(),
                PromptOutcome::Cancel => {
                    self.overlay = None;
                    Out::none()
                }
                PromptOutcome::Help => Out::nav(Nav::Help),
                PromptOutcome::Submit(kind, text) => {
                    self.overlay = None;
                    self.feed.apply_prompt(kind, text, &ctx!(self))
                }
            },
            Some(Overlay::Confirm(c)) => match ConfirmState::answer(cmd) {
                Some(true) => {
                    let c = c.clone();
                    self.overlay = None;
                    self.feed.delete_confirmed(c, &ctx!(self))
                }
                Some(false) => {
                    self.overlay = None;
                    Out::none()
                }
                None => Out::none(),
            },
            None => match self.screen {
                Screen::Feed => self.feed.on_key(cmd, &ctx!(self)),
                Screen::Compose => self.compose.on_key(cmd, &key, &ctx!(self)),
                Screen::Login => self.login.on_key(cmd, &key),
            },
        }
    }

    fn on_paste(&mut self, text: &str) {
        match (&mut self.overlay, self.screen) {
            (Some(Overlay::Prompt(p)), _) => p.input.insert_str(text),
            (Some(_), _) => {}
            (None, Screen::Compose) => self.compose.on_paste(text),
            (None, Screen::Login) => self.login.on_paste(text),
            (None, Screen::Feed) => {}
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) {
        match &mut self.overlay {
            Some(Overlay::Help { scroll }) => help::on_mouse(scroll, m.kind, self.size),
            Some(_) => {}
            None if self.screen == Screen::Feed => self.feed.on_mouse(m, self.size),
            None => {}
        }
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
    let ctx = ctx!(app);
    match app.screen {
        Screen::Feed => feed::view::render(frame, &app.feed, &ctx),
        Screen::Compose => compose::view::render(frame, &app.compose, &ctx),
        Screen::Login => login::view::render(frame, &app.login, &ctx),
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
