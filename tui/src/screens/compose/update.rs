//! The compose screen's update: editing keys and paste, path completion, and the steps of
//! posting (create, upload, progress) with their failures.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};
use postagram_core::wire::{NewPost, PostEdit, PostView};
use ratatui::layout::Rect;

use super::{preview_key, ComposeState, Field, Phase, Progress};
use crate::action::Effect;
use crate::api::{content_type_for, ApiError};
use crate::components::status::Level;
use crate::keymap::Command;
use crate::layout;
use crate::picture::{Origin, Wanted};
use crate::screens::context::Ctx;
use crate::screens::outcome::{AfterLogin, Nav, Out};

impl ComposeState {
    /// Handles a key of the compose screen.
    pub fn on_key(&mut self, cmd: Option<Command>, key: &KeyEvent, ctx: &Ctx) -> Out {
        match cmd {
            Some(Command::Help) => return Out::nav(Nav::Help),
            Some(Command::Back) => {
                let note = match (self.phase, self.editing.is_some()) {
                    (Phase::Editing, false) => "Draft kept — press n to continue it.",
                    (Phase::Editing, true) => {
                        self.clear();
                        "Edit cancelled — the post is unchanged."
                    }
                    (_, false) => "Posting continues in the background…",
                    (_, true) => "Saving continues in the background…",
                };
                return Out::nav(Nav::Feed).with_status(Level::Info, note);
            }
            _ => {}
        }
        if self.phase != Phase::Editing {
            return Out::none();
        }
        match cmd {
            Some(Command::Submit) => return self.submit(ctx),
            Some(Command::NextField) => match self.focus {
                Field::Title => self.focus = Field::Body,
                Field::Body => self.focus = Field::Path,
                Field::Path => {
                    if self.path.text().trim().is_empty() {
                        self.focus = Field::Title;
                    } else {
                        return Out::effect(Effect::Complete(self.path.text().to_string()));
                    }
                }
            },
            Some(Command::PrevField) => {
                self.focus = match self.focus {
                    Field::Title => Field::Path,
                    Field::Body => Field::Title,
                    Field::Path => Field::Body,
                };
                self.completions.clear();
            }
            _ => {
                if self.focus == Field::Title && key.code == KeyCode::Enter {
                    self.focus = Field::Body;
                    return Out::none();
                }
                let changed = match self.focus {
                    Field::Title => self.title.handle_key(key),
                    Field::Body => self.body.handle_key(key),
                    Field::Path => {
                        let before = self.path.text().to_string();
                        let r = self.path.handle_key(key);
                        if self.path.text() != before {
                            self.completions.clear();
                        }
                        r
                    }
                };
                if changed && !self.errors.is_empty() {
                    self.errors = self.validate(ctx.pictures);
                }
            }
        }
        Out::none()
    }

    /// Text pasted into the focused editor (only while editing).
    pub fn on_paste(&mut self, text: &str) {
        if self.phase != Phase::Editing {
            return;
        }
        match self.focus {
            Field::Title => self.title.insert_str(text),
            Field::Body => self.body.insert_str(text),
            Field::Path => {
                self.path.insert_str(text.trim());
                self.completions.clear();
            }
        }
    }

    /// `Ctrl-S`: checks the draft, then creates the post (or, when it exists, retries the
    /// upload only).
    fn submit(&mut self, ctx: &Ctx) -> Out {
        let errors = self.validate(ctx.pictures);
        if !errors.is_empty() {
            let out = Out::status(Level::Error, format!("Cannot post yet: {}", errors[0]));
            self.errors = errors;
            return out;
        }
        self.errors.clear();
        let Some(token) = ctx.token() else {
            return Out::nav(Nav::Login {
                after: AfterLogin::Compose,
                reason: Some("Log in or sign up to post."),
            });
        };
        if let Some(post) = self.created.clone() {
            // Created (or edited) before; only the upload failed.
            return self.start_upload(token, post.id.wire());
        }
        if let Some(original) = self.editing.clone() {
            return self.submit_edit(token, original);
        }
        self.phase = Phase::Creating;
        Out::effect(Effect::CreatePost {
            token,
            post: NewPost {
                title: self.title.text().trim().to_string(),
                body: self.body.text().to_string(),
            },
        })
        .with_status(Level::Info, "Creating the post…")
    }

    /// Sends the fields that changed (`PATCH /posts/{id}`); with none changed, only the new
    /// picture if there is one.
    fn submit_edit(&mut self, token: String, original: PostView) -> Out {
        let title = self.title.text().trim().to_string();
        let body = self.body.text().to_string();
        let edit = PostEdit {
            title: (title != original.title).then_some(title),
            body: (body != original.body).then_some(body),
        };
        if edit.is_empty() {
            if self.attachment().is_some() {
                let id = original.id.wire();
                self.created = Some(original);
                return self.start_upload(token, id);
            }
            return Out::status(
                Level::Info,
                "Nothing changed — edit the title or body, or Esc to leave.",
            );
        }
        self.phase = Phase::Creating;
        Out::effect(Effect::EditPost {
            token,
            id: original.id.wire(),
            edit,
        })
        .with_status(Level::Info, "Saving the changes…")
    }

    fn start_upload(&mut self, token: String, post_id: String) -> Out {
        let Some(path) = self.attachment() else {
            return Out::none();
        };
        let Some(ct) = content_type_for(&path) else {
            return Out::none();
        };
        self.phase = Phase::Uploading;
        self.progress = None;
        Out::effect(Effect::Upload {
            token,
            post_id,
            path,
            content_type: ct.to_string(),
        })
        .with_status(Level::Info, "Uploading the picture…")
    }

    /// `PATCH /posts/{id}` finished: like a creation, upload the attachment next or done.
    pub fn on_post_edited(&mut self, result: Result<PostView, ApiError>, ctx: &Ctx) -> Out {
        if self.editing.is_none() || self.phase != Phase::Creating {
            return Out::none();
        }
        match result {
            Err(e) if !e.is_unauthorized() => {
                self.phase = Phase::Editing;
                let msg = e.user_message();
                self.errors = vec![msg.clone()];
                Out::status(Level::Error, format!("Not saved: {msg}"))
            }
            other => self.on_post_created(other, ctx),
        }
    }

    /// `POST /posts` finished: upload the attachment next, or the post is done.
    pub fn on_post_created(&mut self, result: Result<PostView, ApiError>, ctx: &Ctx) -> Out {
        match result {
            Ok(post) => {
                self.created = Some(post.clone());
                if self.attachment().is_some() {
                    match ctx.token() {
                        Some(token) => self.start_upload(token, post.id.wire()),
                        None => {
                            self.phase = Phase::Editing;
                            Out::nav(Nav::SessionExpired(AfterLogin::Compose))
                        }
                    }
                } else {
                    self.finish(post)
                }
            }
            Err(e) => {
                self.phase = Phase::Editing;
                if e.is_unauthorized() {
                    return Out::nav(Nav::SessionExpired(AfterLogin::Compose));
                }
                let msg = e.user_message();
                self.errors = vec![msg.clone()];
                Out::status(Level::Error, format!("Post not created: {msg}"))
            }
        }
    }

    /// Upload progress of the attachment of `post_id`.
    pub fn on_progress(&mut self, post_id: String, sent: u64, total: u64, elapsed: Duration) {
        if self.created.as_ref().map(|p| p.id.wire()) == Some(post_id) {
            self.progress = Some(Progress {
                sent,
                total,
                elapsed,
            });
        }
    }

    /// The upload finished; on failure the draft stays and `Ctrl-S` retries the upload.
    pub fn on_uploaded(&mut self, post_id: String, result: Result<PostView, ApiError>) -> Out {
        if self.created.as_ref().map(|p| p.id.wire()) != Some(post_id) {
            return Out::none();
        }
        match result {
            Ok(post) => self.finish(post),
            Err(e) => {
                self.phase = Phase::Editing;
                self.progress = None;
                if e.is_unauthorized() {
                    return Out::nav(Nav::SessionExpired(AfterLogin::Compose));
                }
                let msg = e.user_message();
                self.errors = vec![format!("Upload failed: {msg}")];
                Out::status(
                    Level::Error,
                    format!("Upload failed: {msg} — the post exists; Ctrl-S in the draft retries"),
                )
            }
        }
    }

    fn finish(&mut self, post: PostView) -> Out {
        let edited = self.editing.is_some();
        let uploaded = self.attachment().is_some();
        let done = if edited { "Saved" } else { "Posted" };
        let text = if uploaded {
            format!("{done} “{}” — the picture is being labelled", post.title)
        } else {
            format!("{done} “{}”", post.title)
        };
        self.clear();
        let nav = if edited {
            Nav::Saved(post.clone())
        } else {
            Nav::Posted(post.clone())
        };
        let mut out = Out::nav(nav).with_status(Level::Success, text);
        if edited && uploaded {
            // The feed caches the old picture under the post's id.
            out.forget.push(post.id.wire());
        }
        out
    }

    /// Path completions arrived for `input` (dropped if the path changed meanwhile).
    pub fn on_completed(&mut self, input: String, candidates: Vec<String>) -> Out {
        if self.path.text() != input {
            return Out::none();
        }
        match candidates.len() {
            0 => return Out::status(Level::Error, "No file matches."),
            1 => {
                self.path.set(&candidates[0]);
                self.completions.clear();
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
                    self.path.set(&lcp);
                }
                self.completions = candidates;
            }
        }
        Out::none()
    }

    /// The attachment's preview, when the path names a picture type.
    pub fn wanted_picture(&self, size: Rect) -> Option<Wanted> {
        let path = self.attachment()?;
        content_type_for(&path)?;
        let rows = self.completions.len().min(4) as u16;
        let area = layout::compose(size, rows).preview;
        Some(Wanted {
            key: preview_key(&path),
            origin: Origin::File(path),
            area: (area.width > 0 && area.height > 0).then_some(area),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::PictureCache;
    use crossterm::event::KeyModifiers;

    fn ctx(pictures: &PictureCache) -> Ctx<'_> {
        Ctx {
            now: chrono::Utc::now(),
            size: Rect::new(0, 0, 120, 40),
            server: "http://localhost:8080",
            session: None,
            pictures,
        }
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn enter_in_the_title_moves_to_the_body_and_esc_keeps_the_draft() {
        let pictures = PictureCache::default();
        let mut c = ComposeState::default();
        for ch in "Hi".chars() {
            let _ = c.on_key(None, &key(KeyCode::Char(ch)), &ctx(&pictures));
        }
        let _ = c.on_key(None, &key(KeyCode::Enter), &ctx(&pictures));
        assert_eq!(c.focus, Field::Body);
        let out = c.on_key(Some(Command::Back), &key(KeyCode::Esc), &ctx(&pictures));
        assert_eq!(out.nav, Some(Nav::Feed));
        assert_eq!(c.title.text(), "Hi", "draft kept");
    }

    #[test]
    fn submitting_without_a_token_asks_to_log_in() {
        let pictures = PictureCache::default();
        let mut c = ComposeState::default();
        c.title.set("Title");
        c.body.set("Body");
        let out = c.on_key(
            Some(Command::Submit),
            &key(KeyCode::Char('s')),
            &ctx(&pictures),
        );
        assert!(out.effects.is_empty());
        assert!(matches!(
            out.nav,
            Some(Nav::Login {
                after: AfterLogin::Compose,
                ..
            })
        ));
        assert_eq!(c.phase, Phase::Editing);
    }

    fn session() -> crate::config::Session {
        crate::config::Session {
            username: "alice".into(),
            token: "token".into(),
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        }
    }

    fn signed_in<'a>(pictures: &'a PictureCache, session: &'a crate::config::Session) -> Ctx<'a> {
        Ctx {
            session: Some(session),
            ..ctx(pictures)
        }
    }

    fn mine(title: &str, body: &str) -> PostView {
        serde_json::from_value(serde_json::json!({
            "id": "POST#01890a5d-ac96-774b-bcce-000000000001",
            "user": "alice",
            "title": title,
            "body": body,
            "image": null,
            "label_status": "none",
            "created_at": chrono::Utc::now().to_rfc3339(),
        }))
        .expect("post")
    }

    /// `e`: the editors are prefilled, Ctrl-S sends only what changed, the answer ends the
    /// edit and the new-post draft put aside comes back.
    #[test]
    fn an_edit_sends_the_changed_fields_and_gives_the_draft_back() {
        let pictures = PictureCache::default();
        let s = session();
        let ctx = signed_in(&pictures, &s);
        let mut c = ComposeState::default();
        c.title.set("half-written new post");
        c.start_edit(mine("Harbour", "fog")).expect("edit");
        assert_eq!((c.title.text(), c.body.text()), ("Harbour", "fog"));
        assert_eq!(c.heading(), "Edit post");

        let submit =
            |c: &mut ComposeState| c.on_key(Some(Command::Submit), &key(KeyCode::Char('s')), &ctx);
        let out = submit(&mut c);
        assert!(out.effects.is_empty(), "nothing changed, nothing sent");
        assert_eq!(c.phase, Phase::Editing);

        c.body.set("fog and gulls");
        let out = submit(&mut c);
        match out.effects.as_slice() {
            [Effect::EditPost { id, edit, .. }] => {
                assert_eq!(id, "POST#01890a5d-ac96-774b-bcce-000000000001");
                assert_eq!(
                    edit,
                    &PostEdit {
                        title: None,
                        body: Some("fog and gulls".into())
                    }
                );
            }
            other => panic!("expected one EditPost, got {other:?}"),
        }
        assert_eq!(c.phase, Phase::Creating);
        let edited = mine("Harbour", "fog and gulls");
        let out = c.on_post_edited(Ok(edited.clone()), &ctx);
        assert_eq!(out.nav, Some(Nav::Saved(edited)));
        assert!(c.editing.is_none());
        assert_eq!(c.title.text(), "half-written new post", "draft back");
    }

    /// A refused edit stays open with the reason; Esc leaves it and the post unchanged.
    #[test]
    fn a_refused_edit_stays_open_and_esc_cancels_it() {
        let pictures = PictureCache::default();
        let s = session();
        let ctx = signed_in(&pictures, &s);
        let mut c = ComposeState::default();
        c.start_edit(mine("Harbour", "fog")).expect("edit");
        c.title.set("Harbour at dawn");
        let out = c.on_key(Some(Command::Submit), &key(KeyCode::Char('s')), &ctx);
        assert!(matches!(
            out.effects.as_slice(),
            [Effect::EditPost { edit: PostEdit { title: Some(t), body: None }, .. }] if t == "Harbour at dawn"
        ));
        assert!(
            c.start_edit(mine("other", "x")).is_err(),
            "no new edit while one is being sent"
        );
        let refused = ApiError::Status {
            status: 403,
            code: "forbidden".into(),
            message: "only the author can edit a post".into(),
        };
        let _ = c.on_post_edited(Err(refused), &ctx);
        assert_eq!(c.phase, Phase::Editing);
        assert!(c.errors[0].contains("Not allowed"), "{:?}", c.errors);
        assert_eq!(
            c.title.text(),
            "Harbour at dawn",
            "the edit is kept to retry"
        );
        let out = c.on_key(Some(Command::Back), &key(KeyCode::Esc), &ctx);
        assert_eq!(out.nav, Some(Nav::Feed));
        assert_eq!(
            c,
            ComposeState::default(),
            "edit dropped, no draft to restore"
        );
    }

    #[test]
    fn completion_extends_to_the_common_prefix() {
        let mut c = ComposeState::default();
        c.path.set("pics/ph");
        let _ = c.on_completed(
            "pics/ph".into(),
            vec!["pics/photo-a.png".into(), "pics/photo-b.png".into()],
        );
        assert_eq!(c.path.text(), "pics/photo-");
        assert_eq!(c.completions.len(), 2);
        // An answer for text that has changed since is dropped.
        let _ = c.on_completed("pics/ph".into(), vec!["pics/photo-a.png".into()]);
        assert_eq!(c.path.text(), "pics/photo-");
    }
}
