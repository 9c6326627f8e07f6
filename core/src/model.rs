//! Domain records as the stores keep them.

use chrono::{DateTime, Utc};

use crate::id::PostId;
use crate::keys::DerivedSize;
use crate::label::{Label, LabelStatus};
use crate::wire::{NewPost, PostView, UserView};

/// A stored post.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    /// Time-ordered id.
    pub id: PostId,
    /// Author.
    pub user: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Object key of the current picture, if one was uploaded.
    pub image_key: Option<String>,
    /// The derived sizes of the current picture that exist (made by the labeler, after
    /// the upload; empty until then and when the picture cannot be decoded), smallest first.
    pub derived: Vec<DerivedSize>,
    /// Labels of the current picture, best first.
    pub labels: Vec<Label>,
    /// Where the picture is in the labelling flow.
    pub label_status: LabelStatus,
    /// Why labelling failed.
    pub label_error: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Time of the last edit of title or body; `None` until edited.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Post {
    /// A post as it is created: no picture, no labels yet.
    pub fn new(id: PostId, user: String, post: NewPost, created_at: DateTime<Utc>) -> Post {
        Post {
            id,
            user,
            title: post.title,
            body: post.body,
            image_key: None,
            derived: Vec::new(),
            labels: Vec::new(),
            label_status: LabelStatus::None,
            label_error: None,
            created_at,
            updated_at: None,
        }
    }

    /// True when the derived picture of `size` of the current picture exists.
    pub fn has_derived(&self, size: DerivedSize) -> bool {
        self.image_key.is_some() && self.derived.contains(&size)
    }

    /// The wire form, given the presigned GET URLs of the display size (`image`) and the
    /// thumbnail of the picture, where they exist. The original is never on the wire.
    pub fn to_view(&self, image_url: Option<String>, thumbnail_url: Option<String>) -> PostView {
        let labelled = matches!(self.label_status, LabelStatus::Done);
        let names: Option<Vec<String>> =
            labelled.then(|| self.labels.iter().map(|l| l.name.clone()).collect());
        PostView {
            id: self.id,
            user: self.user.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            image: image_url,
            thumbnail: thumbnail_url,
            label: names.clone(),
            labels: names,
            label_details: labelled.then(|| self.labels.clone()),
            label_status: self.label_status,
            label_error: self.label_error.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A stored user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Unique username.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// Bumped by a password change and by the start of an account deletion; every login
    /// token carries the version it was issued under, and only the current one is valid.
    pub token_version: u64,
    /// Whether the account is in use or being deleted.
    pub state: AccountState,
}

/// The life of an account: in use, or being deleted (it can no longer log in, its
/// tokens are refused, and its name stays taken until everything of it is gone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccountState {
    /// A normal account.
    #[default]
    Active,
    /// `DELETE /users/me` started; a sweep at start finishes an interrupted one.
    Deleting,
}

impl AccountState {
    /// The stored name (`active`, `deleting`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Active => "active",
            AccountState::Deleting => "deleting",
        }
    }

    /// Reads a stored name back.
    pub fn parse(s: &str) -> Option<AccountState> {
        match s {
            "active" => Some(AccountState::Active),
            "deleting" => Some(AccountState::Deleting),
            _ => None,
        }
    }
}

impl User {
    /// True for an account in use (not being deleted).
    pub fn is_active(&self) -> bool {
        self.state == AccountState::Active
    }

    /// The public wire form.
    pub fn to_view(&self) -> UserView {
        UserView {
            username: self.username.clone(),
            created_at: self.created_at,
        }
    }
}
