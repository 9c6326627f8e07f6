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
    /// Presigned GET URL of the picture's display size (a JPEG of at most 1280 px on the
    /// long side, upright, without EXIF/XMP/IPTC/ICC metadata), or null when there is
    /// none: no picture, a picture not processed yet (`label_status: pending`), or one
    /// that cannot be decoded. The uploaded original is never served.
    pub image: Option<String>,
    /// Presigned GET URL of the picture's thumbnail (a JPEG of at most 320 px on the long
    /// side, metadata-free like `image`); absent while `image` is null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
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

/// Body of `PATCH /posts/{id}`: the fields to change, at least one (checked by
/// `validate::post_edit`). Read strictly, by hand (serde's derive would also take a JSON
/// array as the fields in order, and `null` as "unchanged"): an object whose fields are
/// `title` and/or `body`, each a string, once; anything else is a type error (422), so a
/// misspelt field cannot make an edit that silently does nothing. Its OpenAPI schema is
/// written in `crate::schemas::post_edit` (the derive cannot say "at least one property").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PostEdit {
    /// New title, 1–200 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New body, 1–10 000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl<'de> Deserialize<'de> for PostEdit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = PostEdit;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object with `title` and/or `body`")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<PostEdit, A::Error> {
                use serde::de::Error;
                let mut edit = PostEdit::default();
                while let Some(key) = map.next_key::<String>()? {
                    let (name, slot) = match key.as_str() {
                        "title" => ("title", &mut edit.title),
                        "body" => ("body", &mut edit.body),
                        other => return Err(A::Error::unknown_field(other, &["title", "body"])),
                    };
                    if slot.is_some() {
                        return Err(A::Error::duplicate_field(name));
                    }
                    *slot = Some(map.next_value::<String>()?);
                }
                Ok(edit)
            }
        }
        d.deserialize_map(Fields)
    }
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

/// Body of `POST /users/me/password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordChange {
    /// The current password.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::password))]
    pub old_password: String,
    /// The new password, 8–1024 characters (as on sign-up).
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::password))]
    pub new_password: String,
}

/// Body of `DELETE /users/me`: the account's password, to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordConfirmation {
    /// The current password.
    #[cfg_attr(feature = "openapi", schema(schema_with = crate::schemas::password))]
    pub password: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A present field is a string: `null` and unknown fields are errors, absent is `None`.
    #[test]
    fn post_edits_parse_strictly() {
        let parse = |s: &str| serde_json::from_str::<PostEdit>(s);
        assert_eq!(
            parse(r#"{"title":"t"}"#).expect("title only"),
            PostEdit {
                title: Some("t".into()),
                body: None
            }
        );
        assert!(parse("{}").expect("empty parses").is_empty());
        for bad in [
            r#"{"title":null}"#,
            r#"{"body":null,"title":"t"}"#,
            r#"{"title":"t","extra":1}"#,
            r#"{"title":1}"#,
            r#"{"title":"a","title":"b"}"#,
            r#"["title"]"#,
            r#""title""#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
