//! Messages into the app ([`Action`]) and work it asks for ([`Effect`]).
//!
//! The app's `update` is synchronous and does no I/O: it turns an [`Action`] into state
//! changes and a list of [`Effect`]s; the [`crate::runtime::Executor`] runs each effect on a
//! tokio task and sends its outcome back as another [`Action`].

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyEvent, MouseEvent};
use postagram_core::wire::{Credentials, NewPost, PostEdit, PostView, TokenView};
use ratatui::layout::Rect;
use ratatui_image::protocol::Protocol;

use crate::api::{ApiError, FeedQuery, Page};
use crate::config::Config;
use crate::picture::Decoded;

/// Something that happened: input, time, or the outcome of an [`Effect`].
pub enum Action {
    /// A key press.
    Key(KeyEvent),
    /// A mouse event (wheel, click).
    Mouse(MouseEvent),
    /// Text pasted into the terminal.
    Paste(String),
    /// The terminal was resized to width × height.
    Resize(u16, u16),
    /// The clock ticked (about once a second); carries the time so rendering never reads it.
    Tick(DateTime<Utc>),
    /// A page of the feed arrived (or failed). `seq` identifies the request.
    FeedLoaded {
        /// Request number; stale answers (another tab meanwhile) are dropped.
        seq: u64,
        /// Whether it continues the list (next page) rather than replacing it.
        append: bool,
        /// The page.
        result: Result<Page, ApiError>,
    },
    /// Posts re-read while their labels were pending.
    PostsPolled(Vec<Result<PostView, ApiError>>),
    /// Signing up and/or logging in finished.
    LoggedIn {
        /// Who tried.
        username: String,
        /// The token.
        result: Result<TokenView, ApiError>,
    },
    /// `POST /posts` finished.
    PostCreated(Result<PostView, ApiError>),
    /// `PATCH /posts/{id}` finished.
    PostEdited(Result<PostView, ApiError>),
    /// Upload progress of the attachment.
    UploadProgress {
        /// The post the picture belongs to.
        post_id: String,
        /// Bytes sent so far.
        sent: u64,
        /// File size.
        total: u64,
        /// Time since the upload started.
        elapsed: Duration,
    },
    /// Upload finished; carries the post as re-read afterwards.
    UploadFinished {
        /// The post the picture belongs to.
        post_id: String,
        /// The post re-read after the upload, or why it failed.
        result: Result<PostView, ApiError>,
    },
    /// `DELETE /posts/{id}` finished.
    Deleted {
        /// The post.
        id: String,
        /// Outcome.
        result: Result<(), ApiError>,
    },
    /// A picture was downloaded (or read) and decoded.
    PictureLoaded {
        /// Cache key.
        key: String,
        /// The picture or why not.
        result: Result<Decoded, String>,
    },
    /// A picture was encoded for an area.
    PictureEncoded {
        /// Cache key.
        key: String,
        /// The area it was encoded for.
        area: Rect,
        /// The encoded picture or why not.
        result: Result<Protocol, String>,
    },
    /// Path completion candidates for the attachment field.
    Completed {
        /// The input they complete.
        input: String,
        /// Matching paths (directories end with `/`).
        candidates: Vec<String>,
    },
    /// The config file was written (or not).
    ConfigSaved(Result<(), String>),
    /// The system opener was started (or not).
    Opened(Result<(), String>),
    /// Stop now (signal).
    Quit,
}

/// Work the app asks for; each runs on its own tokio task.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Load the first page of a query, or the page at `next`.
    LoadFeed {
        /// Request number echoed in [`Action::FeedLoaded`].
        seq: u64,
        /// The filter.
        query: FeedQuery,
        /// Next-page URL from the `Link` header; `None` for the first page.
        next: Option<String>,
    },
    /// Re-read posts whose labels are pending.
    PollPosts(Vec<String>),
    /// Sign up (when `signup`) then log in.
    Login {
        /// Username and password.
        creds: Credentials,
        /// Create the account first.
        signup: bool,
    },
    /// Create a post.
    CreatePost {
        /// Bearer token.
        token: String,
        /// Title and body.
        post: NewPost,
    },
    /// Change the title and/or body of one of your posts.
    EditPost {
        /// Bearer token.
        token: String,
        /// The post.
        id: String,
        /// The changed fields.
        edit: PostEdit,
    },
    /// Ask for a signed URL and upload a file to it, reporting progress.
    Upload {
        /// Bearer token.
        token: String,
        /// The post.
        post_id: String,
        /// The file.
        path: PathBuf,
        /// Its `Content-Type`.
        content_type: String,
    },
    /// Delete a post.
    Delete {
        /// Bearer token.
        token: String,
        /// The post.
        id: String,
    },
    /// Download a picture and decode it.
    FetchPicture {
        /// Cache key.
        key: String,
        /// The presigned GET URL.
        url: String,
    },
    /// Read a local picture and decode it (attachment preview).
    ReadPicture {
        /// Cache key.
        key: String,
        /// The file.
        path: PathBuf,
    },
    /// Encode a decoded picture for an area of the screen.
    EncodePicture {
        /// Cache key.
        key: String,
        /// The picture.
        image: std::sync::Arc<image::DynamicImage>,
        /// The cell area.
        area: Rect,
    },
    /// List path completions.
    Complete(String),
    /// Write the config file.
    SaveConfig(Config),
    /// Open a URL with the system opener.
    Open(String),
}
