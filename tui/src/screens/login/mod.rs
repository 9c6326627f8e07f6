//! The sign-up / log-in screen.
//!
//! This file holds its state and the local checks; `update.rs` handles its keys and the
//! answer of the server, [`view`] draws it.

use crate::components::input::TextInput;
use crate::screens::outcome::AfterLogin;

mod update;
pub mod view;

/// Log in to an existing account or create one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST /auth/login`.
    Login,
    /// `POST /auth/signup` then log in.
    Signup,
}

/// The focused field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginField {
    /// Username.
    Username,
    /// Password.
    Password,
}

/// State of the login screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginState {
    /// Log in or sign up.
    pub mode: Mode,
    /// Username editor.
    pub username: TextInput,
    /// Password editor (masked).
    pub password: TextInput,
    /// Focused field.
    pub focus: LoginField,
    /// A request is under way.
    pub busy: bool,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// Why the screen was opened ("Log in to post").
    pub reason: Option<String>,
    /// Where to go once logged in.
    pub after: AfterLogin,
}

impl Default for LoginState {
    fn default() -> Self {
        LoginState {
            mode: Mode::Login,
            username: TextInput::single(),
            password: TextInput::masked(),
            focus: LoginField::Username,
            busy: false,
            error: None,
            reason: None,
            after: AfterLogin::Feed,
        }
    }
}

impl LoginState {
    /// Prepares the screen to be shown: why, where to go afterwards, and the known
    /// username (`me`) filled in so only the password is left to type.
    pub fn open(&mut self, after: AfterLogin, reason: Option<&str>, me: Option<&str>) {
        self.after = after;
        self.busy = false;
        self.error = None;
        self.reason = reason.map(str::to_string);
        if let Some(me) = me {
            self.username.set(me);
            self.focus = LoginField::Password;
        }
    }
}

/// Checks the fields like the server does: 3–32 characters of `[A-Za-z0-9_.-]`, password ≥ 8.
pub fn validate(username: &str, password: &str, mode: Mode) -> Option<String> {
    let n = username.chars().count();
    if !(3..=32).contains(&n) {
        return Some("Username must be 3 to 32 characters.".into());
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Some("Username may use letters, digits, _ . and - only.".into());
    }
    if password.is_empty() {
        return Some("Password is required.".into());
    }
    if mode == Mode::Signup && password.chars().count() < 8 {
        return Some("Password must be at least 8 characters.".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_validation() {
        assert!(validate("al", "password1", Mode::Login).is_some());
        assert!(validate("al ice", "password1", Mode::Login).is_some());
        assert!(validate("alice", "", Mode::Login).is_some());
        assert!(validate("alice", "short", Mode::Signup).is_some());
        assert!(validate("alice", "short", Mode::Login).is_none());
        assert!(validate("alice.b-c_d", "longenough", Mode::Signup).is_none());
    }
}
