//! JSON shapes of the REST contract, shared by the API and its clients (TUI, tests).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::PostId;
use crate::label::{Label, LabelStatus};

/// A post as the API sends it (compatible with the original course web app).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PostView {
    /// `POST#<uuid>`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::post_id))]
    pub id: PostId,
    /// Author's username.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::username))]
    pub user: String,
    /// Title, 1–200 characters.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::title))]
    pub title: String,
    /// Body, 1–10 000 characters.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::body))]
    pub body: String,
    /// Presigned GET URL of the picture, or null when there is none.
    pub image: Option<String>,
    /// Label names; absent until the picture has been labelled (the web app relies on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Deprecated alias of `labels` (the seed document's name), same content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Vec<String>>,
    /// Labels with their confidence (0–100); absent until labelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_details: Option<Vec<Label>>,
    /// Where the picture is in the labelling flow.
    pub label_status: LabelStatus,
    /// Why labelling failed, when `label_status` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_error: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: DateTime<Utc>,
    /// Time of the last edit of the title or body (`PATCH /posts/{id}`), RFC 3339;
    /// absent until the post is edited (the original web app does not know it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

/// Body of `POST /posts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPost {
    /// 1–200 characters.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::title))]
    pub title: String,
    /// 1–10 000 characters.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::body))]
    pub body: String,
}

/// Body of `PATCH /posts/{id}`: the fields to change, at least one. A field that is
/// present must be a string (`null` is refused, not read as "unchanged"), and unknown
/// fields are refused, so a misspelt field cannot make an edit that silently does nothing.
/// Its OpenAPI schema is written in `crate::schemas::post_edit` (the derive cannot say
/// "at least one property").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostEdit {
    /// New title, 1–200 characters.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    /// New body, 1–10 000 characters.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub body: Option<String>,
}

/// A field that, when present, is a string: `null` is a type error like any other.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for PostEdit {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::schemas::post_edit().into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for PostEdit {}

impl PostEdit {
    /// True when the edit changes nothing (no field given).
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.body.is_none()
    }
}

/// Body of `POST /auth/signup` and `POST /auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credentials {
    /// 3–32 characters of `[A-Za-z0-9_.-]`.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::username))]
    pub username: String,
    /// 8–1024 characters.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::password))]
    pub password: String,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserView {
    /// The username.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::username))]
    pub username: String,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
}

/// Answer of `POST /auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    /// A JWT (HS256) to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When the token stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// Answer of `GET /signedUrlPut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignedUrlView {
    /// Where to `PUT` the picture, with the same `Content-Type`.
    #[serde(rename = "uploadURL")]
    pub upload_url: String,
    /// The object key the picture will have.
    pub object_name: String,
}

/// Every error answer: a stable machine code and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable code, e.g. `invalid_field`, `not_found`.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
}
