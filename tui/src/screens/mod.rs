//! Full screens: the feed, the compose screen and the login screen.

pub mod compose;
pub mod feed;
pub mod login;
