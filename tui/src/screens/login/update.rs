//! The login screen's update: its keys and paste, and the server's answer turned into a
//! session or a readable sentence.

use crossterm::event::KeyEvent;
use postagram_core::wire::{Credentials, TokenView};

use super::{validate, LoginField, LoginState, Mode};
use crate::action::Effect;
use crate::api::ApiError;
use crate::components::status::Level;
use crate::config::Session;
use crate::keymap::Command;
use crate::screens::outcome::{AfterLogin, Nav, Out};

impl LoginState {
    /// Handles a key of the login screen.
    pub fn on_key(&mut self, cmd: Option<Command>, key: &KeyEvent) -> Out {
        match cmd {
            Some(Command::Help) => return Out::nav(Nav::Help),
            Some(Command::Back) => {
                return Out::nav(if self.after == AfterLogin::Quit {
                    Nav::Quit
                } else {
                    Nav::LoginCancelled(self.after)
                })
            }
            _ if self.busy => {}
            Some(Command::NextField) | Some(Command::PrevField) => {
                self.focus = match self.focus {
                    LoginField::Username => LoginField::Password,
                    LoginField::Password => LoginField::Username,
                };
            }
            Some(Command::ToggleMode) => {
                self.mode = match self.mode {
                    Mode::Login => Mode::Signup,
                    Mode::Signup => Mode::Login,
                };
                self.error = None;
            }
            Some(Command::Submit) => {
                let username = self.username.text().trim().to_string();
                let password = self.password.text().to_string();
                if let Some(err) = validate(&username, &password, self.mode) {
                    self.error = Some(err);
                    return Out::none();
                }
                self.busy = true;
                self.error = None;
                return Out::effect(Effect::Login {
                    creds: Credentials { username, password },
                    signup: self.mode == Mode::Signup,
                });
            }
            _ => {
                let input = match self.focus {
                    LoginField::Username => &mut self.username,
                    LoginField::Password => &mut self.password,
                };
                if input.handle_key(key) {
                    self.error = None;
                }
            }
        }
        Out::none()
    }

    /// Text pasted into the focused field (a username loses surrounding blanks).
    pub fn on_paste(&mut self, text: &str) {
        match self.focus {
            LoginField::Username => self.username.insert_str(text.trim()),
            LoginField::Password => self.password.insert_str(text),
        }
    }

    /// Signing up and/or logging in finished for `username`.
    pub fn on_logged_in(&mut self, username: String, result: Result<TokenView, ApiError>) -> Out {
        self.busy = false;
        match result {
            Ok(t) => {
                self.password.clear();
                self.error = None;
                self.reason = None;
                let text = format!("Signed in as {username}.");
                Out::nav(Nav::SignedIn {
                    session: Session {
                        username,
                        token: t.token,
                        expires_at: t.expires_at,
                    },
                    after: self.after,
                })
                .with_status(Level::Success, text)
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
                self.error = Some(msg);
                Out::none()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn leaving_quits_only_for_postagram_login() {
        let mut s = LoginState::default();
        s.open(AfterLogin::Quit, None, None);
        let out = s.on_key(Some(Command::Back), &key(KeyCode::Esc));
        assert_eq!(out.nav, Some(Nav::Quit));
        s.open(
            AfterLogin::Compose,
            Some("Log in or sign up to post."),
            None,
        );
        let out = s.on_key(Some(Command::Back), &key(KeyCode::Esc));
        assert_eq!(out.nav, Some(Nav::LoginCancelled(AfterLogin::Compose)));
    }

    #[test]
    fn submit_checks_locally_then_logs_in_and_reports_the_session() {
        let mut s = LoginState::default();
        s.open(AfterLogin::Mine, None, Some("alice"));
        assert_eq!(s.focus, LoginField::Password, "known username filled in");
        let out = s.on_key(Some(Command::Submit), &key(KeyCode::Enter));
        assert!(out.effects.is_empty());
        assert_eq!(s.error.as_deref(), Some("Password is required."));
        s.password.set("correct horse");
        let out = s.on_key(Some(Command::Submit), &key(KeyCode::Enter));
        assert!(matches!(
            out.effects.as_slice(),
            [Effect::Login { creds, signup: false }] if creds.username == "alice"
        ));
        assert!(s.busy);
        let expires_at = chrono::Utc::now();
        let out = s.on_logged_in(
            "alice".into(),
            Ok(TokenView {
                token: "t".into(),
                expires_at,
            }),
        );
        assert!(!s.busy);
        assert!(s.password.text().is_empty());
        assert!(matches!(
            out.nav,
            Some(Nav::SignedIn { ref session, after: AfterLogin::Mine }) if session.token == "t"
        ));
    }

    #[test]
    fn a_taken_username_is_explained() {
        let mut s = LoginState::default();
        let out = s.on_logged_in(
            "bob".into(),
            Err(ApiError::Status {
                status: 409,
                code: "conflict".into(),
                message: "taken".into(),
            }),
        );
        assert!(out.nav.is_none());
        assert_eq!(
            s.error.as_deref(),
            Some("That username is taken — log in instead (Ctrl-T).")
        );
    }
}
