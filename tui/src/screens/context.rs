//! The read-only view of the app a screen is given: the clock, the terminal size, the
//! server and the session, the picture cache.
//!
//! Screens never see the app itself: they read this, change their own state and answer
//! with an [`crate::screens::outcome::Out`].

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;

use crate::config::Session;
use crate::layout;
use crate::picture::PictureCache;

/// What every screen may read, borrowed from the app for one update or one frame.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The time, as of the last tick.
    pub now: DateTime<Utc>,
    /// Terminal size.
    pub size: Rect,
    /// Server base URL.
    pub server: &'a str,
    /// The signed-in session (even if its token has expired).
    pub session: Option<&'a Session>,
    /// Pictures decoded and encoded so far.
    pub pictures: &'a PictureCache,
}

impl<'a> Ctx<'a> {
    /// The signed-in username (even if the token has expired).
    pub fn me(&self) -> Option<&'a str> {
        self.session.map(|s| s.username.as_str())
    }

    /// The token, if still valid now.
    pub fn token(&self) -> Option<String> {
        self.session
            .filter(|s| s.is_valid_at(self.now))
            .map(|s| s.token.clone())
    }

    /// How many posts fit in the feed's list.
    pub fn rows(&self) -> usize {
        layout::visible_rows(self.size)
    }
}
