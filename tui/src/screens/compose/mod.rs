//! The compose screen: title and body editors, the attachment with preview, upload progress;
//! for a new post, or for editing one of yours (`e` in the feed), with the new-post draft
//! put aside meanwhile.
//!
//! This file holds the draft and its checks; `update.rs` handles the keys, paste and the
//! post/upload results, [`view`] draws it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use postagram_core::wire::PostView;

use crate::api::content_type_for;
use crate::components::input::TextInput;
use crate::picture::{PictureCache, Source};

mod update;
pub mod view;

/// Most characters in a title.
pub const TITLE_MAX: usize = 200;
/// Most characters in a body.
pub const BODY_MAX: usize = 10_000;

/// The editor that has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Title.
    Title,
    /// Body.
    Body,
    /// Attachment path.
    Path,
}

/// Where the submission is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Being edited.
    Editing,
    /// `POST /posts` under way.
    Creating,
    /// The picture is being uploaded.
    Uploading,
}

/// Upload progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes sent.
    pub sent: u64,
    /// File size.
    pub total: u64,
    /// Time since the upload started.
    pub elapsed: Duration,
}

impl Progress {
    /// Bytes per second so far.
    pub fn speed(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.sent as f64 / s
        } else {
            0.0
        }
    }
}

/// State of the compose screen (the draft survives errors and leaving the screen).
#[derive(Debug, Clone, PartialEq)]
pub struct ComposeState {
    /// Title editor.
    pub title: TextInput,
    /// Body editor.
    pub body: TextInput,
    /// Attachment path editor.
    pub path: TextInput,
    /// Focused editor.
    pub focus: Field,
    /// Submission phase.
    pub phase: Phase,
    /// The post, once created (a failed upload is retried without creating it again).
    pub created: Option<PostView>,
    /// Problems to fix, shown under the editors.
    pub errors: Vec<String>,
    /// Path completion candidates.
    pub completions: Vec<String>,
    /// Upload progress.
    pub progress: Option<Progress>,
    /// The post being edited, as it was when the edit started; `None` for a new post.
    pub editing: Option<PostView>,
    /// The new-post draft put aside while a post is edited (back when the edit ends).
    pub draft: Option<Box<ComposeState>>,
}

impl Default for ComposeState {
    fn default() -> Self {
        ComposeState {
            title: TextInput::single(),
            body: TextInput::multi(),
            path: TextInput::single(),
            focus: Field::Title,
            phase: Phase::Editing,
            created: None,
            errors: Vec::new(),
            completions: Vec::new(),
            progress: None,
            editing: None,
            draft: None,
        }
    }
}

/// Expands a leading `~/` to the home folder.
pub fn expand_path(input: &str) -> PathBuf {
    let input = input.trim();
    if let Some(rest) = input.strip_prefix("~/") {
        if let Some(home) = std::env::var_os("HOME") {
            return PathBuf::from(home).join(rest);
        }
    }
    PathBuf::from(input)
}

/// Cache key of a local file's preview.
pub fn preview_key(path: &Path) -> String {
    format!("file:{}", path.display())
}

/// Human size: `812 B`, `24.1 KB`, `3.2 MB`.
pub fn human_bytes(n: f64) -> String {
    if n < 1024.0 {
        format!("{n:.0} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KB", n / 1024.0)
    } else {
        format!("{:.1} MB", n / 1024.0 / 1024.0)
    }
}

impl ComposeState {
    /// The attachment, if a path was typed.
    pub fn attachment(&self) -> Option<PathBuf> {
        let t = self.path.text().trim();
        (!t.is_empty()).then(|| expand_path(t))
    }

    /// Problems that prevent submitting (lengths, attachment type and readability).
    pub fn validate(&self, pictures: &PictureCache) -> Vec<String> {
        let mut errs = Vec::new();
        let title = self.title.text().trim();
        if title.is_empty() {
            errs.push("Title is required.".to_string());
        } else if self.title.chars() > TITLE_MAX {
            errs.push(format!(
                "Title is too long: {} of {TITLE_MAX} characters.",
                self.title.chars()
            ));
        }
        if self.body.text().trim().is_empty() {
            errs.push("Body is required.".to_string());
        } else if self.body.chars() > BODY_MAX {
            errs.push(format!(
                "Body is too long: {} of {BODY_MAX} characters.",
                self.body.chars()
            ));
        }
        if let Some(path) = self.attachment() {
            if content_type_for(&path).is_none() {
                errs.push("Attachment must be a JPEG, PNG, WebP or GIF file.".to_string());
            } else {
                match pictures.source(&preview_key(&path)) {
                    Some(Source::Ready(_)) => {}
                    Some(Source::Failed(e)) => errs.push(format!("Attachment: {e}")),
                    _ => errs.push("Attachment: still reading the file, try again.".to_string()),
                }
            }
        }
        errs
    }

    /// Forgets the draft after a successful post, or ends an edit: the new-post draft
    /// put aside for it comes back.
    pub fn clear(&mut self) {
        *self = self.draft.take().map(|d| *d).unwrap_or_default();
    }

    /// Opens `post` (one of yours) for editing, prefilled; the new-post draft, if any, is
    /// put aside until the edit ends. Refused while a post is being sent.
    pub fn start_edit(&mut self, post: PostView) -> Result<(), &'static str> {
        if self.phase != Phase::Editing {
            return Err("Wait until the post being sent is done, then edit.");
        }
        let draft = if self.editing.is_some() {
            // Another edit, never sent: dropped; the new-post draft stays aside.
            self.draft.take()
        } else if *self != ComposeState::default() {
            Some(Box::new(std::mem::take(self)))
        } else {
            None
        };
        *self = ComposeState {
            draft,
            ..ComposeState::default()
        };
        self.title.set(&post.title);
        self.body.set(&post.body);
        self.editing = Some(post);
        Ok(())
    }

    /// `n` in the feed: the new-post draft, leaving an edit that was not sent.
    pub fn new_post(&mut self) {
        if self.editing.is_some() && self.phase == Phase::Editing {
            self.clear();
        }
    }

    /// What the screen is for, for its header.
    pub fn heading(&self) -> &'static str {
        if self.editing.is_some() {
            "Edit post"
        } else {
            "New post"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_speed() {
        assert_eq!(human_bytes(512.0), "512 B");
        assert_eq!(human_bytes(2048.0), "2.0 KB");
        let p = Progress {
            sent: 1024 * 1024,
            total: 2 * 1024 * 1024,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(human_bytes(p.speed()), "512.0 KB");
    }

    #[test]
    fn validation() {
        let cache = crate::picture::PictureCache::default();
        let mut c = ComposeState::default();
        assert_eq!(c.validate(&cache).len(), 2);
        c.title.set(&"t".repeat(201));
        c.body.set("b");
        c.path.set("notes.txt");
        let errs = c.validate(&cache);
        assert!(errs[0].contains("201 of 200"), "{errs:?}");
        assert!(errs[1].contains("JPEG"), "{errs:?}");
    }
}
