//! What a screen answers after handling a key or a result: work to start, a status
//! message, pictures to forget, and at most one request the app decides on ([`Nav`]: other
//! screens, overlays, the session).

use postagram_core::wire::PostView;

use crate::action::Effect;
use crate::components::confirm::ConfirmState;
use crate::components::prompt::PromptState;
use crate::components::status::Level;
use crate::config::Session;

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

/// A change of the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Show this message.
    Set(Level, String),
    /// Drop the current message if it is exactly this text (a progress note now done).
    ClearIf(&'static str),
}

/// Something only the app can do: it owns the screens, the overlays and the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Nav {
    /// Leave the program.
    Quit,
    /// Open the help overlay.
    Help,
    /// Open a one-line prompt over the feed.
    Prompt(PromptState),
    /// Ask before deleting a post.
    Confirm(ConfirmState),
    /// Show the feed.
    Feed,
    /// Show the compose screen.
    Compose,
    /// Open the login screen; go to `after` once logged in.
    Login {
        /// Where to go afterwards.
        after: AfterLogin,
        /// Why it opened ("Log in to post.").
        reason: Option<&'static str>,
    },
    /// The login screen was left without logging in.
    LoginCancelled(AfterLogin),
    /// Logged in.
    SignedIn {
        /// The new session.
        session: Session,
        /// Where to go now.
        after: AfterLogin,
    },
    /// Forget the session (the user logged out).
    LogOut,
    /// The server refused the token: forget it and log in again, then go to the target.
    SessionExpired(AfterLogin),
    /// Open the compose screen on this post (one of yours) to edit it.
    Edit(PostView),
    /// A post was written (and its picture uploaded): show it in the feed.
    Posted(PostView),
    /// A post was edited (and its new picture uploaded): show it in the current tab.
    Saved(PostView),
}

/// A screen's answer; empty by default.
#[derive(Debug, Default)]
pub struct Out {
    /// Work to start.
    pub effects: Vec<Effect>,
    /// Status line change.
    pub status: Option<Status>,
    /// Picture cache keys to drop.
    pub forget: Vec<String>,
    /// A request for the app.
    pub nav: Option<Nav>,
}

impl Out {
    /// Nothing to do.
    pub fn none() -> Self {
        Out::default()
    }

    /// Start this work.
    pub fn effect(e: Effect) -> Self {
        Out {
            effects: vec![e],
            ..Out::default()
        }
    }

    /// Ask the app for this.
    pub fn nav(nav: Nav) -> Self {
        Out {
            nav: Some(nav),
            ..Out::default()
        }
    }

    /// Show a status message.
    pub fn status(level: Level, text: impl Into<String>) -> Self {
        Out::default().with_status(level, text)
    }

    /// The same, also showing a status message.
    pub fn with_status(mut self, level: Level, text: impl Into<String>) -> Self {
        self.status = Some(Status::Set(level, text.into()));
        self
    }
}

impl From<Option<Effect>> for Out {
    fn from(e: Option<Effect>) -> Self {
        Out {
            effects: e.into_iter().collect(),
            ..Out::default()
        }
    }
}
