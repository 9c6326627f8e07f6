//! Full screens: the feed, the compose screen and the login screen.
//!
//! Each screen is a component with its own state (`FeedState`, `ComposeState`,
//! `LoginState`), its own update (`on_key`, `on_paste`, `on_<result>` methods that change
//! that state and answer with an [`outcome::Out`]: effects, a status message, and a
//! [`outcome::Nav`] request for the app) and its own `render(frame, &state, &Ctx)`.
//! They read the rest of the app only through the read-only [`context::Ctx`]; none of them
//! knows the app.

pub mod compose;
pub mod context;
pub mod feed;
pub mod login;
pub mod outcome;
