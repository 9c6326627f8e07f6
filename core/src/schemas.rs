//! OpenAPI schemas of the constrained fields and parameters, built from the constants and
//! rules the server enforces (`validate`, `store`, `media`, `cursor`), so the document can
//! never drift from the checks. Used by the wire types' `ToSchema` derives and the API's
//! `IntoParams` derives through `schema_with`.
//!
//! Every schema states exactly what the server accepts: stricter would make clients
//! avoid valid requests, looser would promise that invalid ones work (schemathesis checks
//! both directions in `scripts/test-schemathesis.sh`).

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaFormat, Type};

use crate::validate::{
    BODY_MAX, PASSWORD_MAX, PASSWORD_MIN, TITLE_MAX, USERNAME_MAX, USERNAME_MIN,
};

/// Matches a string that has a character other than white space, as Rust's `str::trim`
/// (the server's blank check) understands white space: computed from `char::is_whitespace`.
pub fn non_blank_pattern() -> String {
    format!("[^{}]", whitespace())
}

/// The body of a character class of Rust's white space (`char::is_whitespace`).
fn whitespace() -> String {
    (0..=0x10FFFFu32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect()
}

/// The characters a username may have, as a regular expression of the whole name.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9_.-]+$";

/// `<uuid>` (hyphenated, any case) as a regular expression fragment.
const UUID: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// A post title: 1–`TITLE_MAX` characters, not only white space.
pub fn title() -> Object {
    string()
        .description(Some(format!(
            "1–{TITLE_MAX} characters, not only white space"
        )))
        .min_length(Some(1))
        .max_length(Some(TITLE_MAX))
        .pattern(Some(non_blank_pattern()))
        .build()
}

/// A post body: 1–`BODY_MAX` characters, not only white space.
pub fn body() -> Object {
    string()
        .description(Some(format!(
            "1–{BODY_MAX} characters, not only white space"
        )))
        .min_length(Some(1))
        .max_length(Some(BODY_MAX))
        .pattern(Some(non_blank_pattern()))
        .build()
}

/// The body of `PATCH /posts/{id}` ([`crate::wire::PostEdit`]): `title` and/or `body`,
/// each constrained like a new post's, at least one of them, nothing else (the server
/// refuses unknown fields and `null`).
pub fn post_edit() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "the fields to change: `title`, `body` or both; at least one, no other field",
        ))
        .property("title", title())
        .property("body", body())
        .min_properties(Some(1))
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
        .build()
}

/// A username: `USERNAME_MIN`–`USERNAME_MAX` characters of `[A-Za-z0-9_.-]`.
pub fn username() -> Object {
    string()
        .description(Some(format!(
            "{USERNAME_MIN}–{USERNAME_MAX} characters of `[A-Za-z0-9_.-]`"
        )))
        .min_length(Some(USERNAME_MIN))
        .max_length(Some(USERNAME_MAX))
        .pattern(Some(USERNAME_PATTERN))
        .examples(["alice"])
        .build()
}

/// A password: `PASSWORD_MIN`–`PASSWORD_MAX` characters.
pub fn password() -> Object {
    string()
        .description(Some(format!("{PASSWORD_MIN}–{PASSWORD_MAX} characters")))
        .min_length(Some(PASSWORD_MIN))
        .max_length(Some(PASSWORD_MAX))
        .format(Some(SchemaFormat::Custom("password".into())))
        .build()
}

/// A post id as the server sends it: `POST#<uuid>`.
pub fn post_id() -> Object {
    string()
        .description(Some("`POST#<uuid>`"))
        .pattern(Some(format!("^POST#{UUID}$")))
        .examples(["POST#01890a5d-ac96-774b-bcce-b302099a8057"])
        .build()
}

/// A post id as the server accepts it: `POST#<uuid>` or the bare `<uuid>`.
pub fn post_id_param() -> Object {
    string()
        .description(Some(
            "`POST#<uuid>` or `<uuid>` (in a path, the `#` URL-encoded as `%23`)",
        ))
        .pattern(Some(format!("^(POST#)?{UUID}$")))
        .examples(["POST#01890a5d-ac96-774b-bcce-b302099a8057"])
        .build()
}

/// The page size of `GET /posts`: 1–`MAX_PAGE`, `DEFAULT_PAGE` when absent.
#[cfg(feature = "storage")]
pub fn limit() -> Object {
    use crate::store::{DEFAULT_PAGE, MAX_PAGE};
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some(format!(
            "page size, 1–{MAX_PAGE} (default {DEFAULT_PAGE})"
        )))
        .minimum(Some(1))
        .maximum(Some(MAX_PAGE as u64))
        .default(Some(DEFAULT_PAGE.into()))
        .build()
}

/// A page cursor as the server reads it: one it issued ([`crate::cursor::pattern`]),
/// white space around it ignored; an empty or blank value is the first page.
#[cfg(feature = "storage")]
pub fn cursor() -> Object {
    string()
        .description(Some(
            "cursor from the previous page's `Link` header (base64url, opaque); empty: the first page",
        ))
        .pattern(Some(cursor_pattern()))
        .build()
}

/// [`crate::cursor::pattern`], optional and with white space around it.
#[cfg(feature = "storage")]
pub fn cursor_pattern() -> String {
    let issued = crate::cursor::pattern();
    let inner = issued
        .strip_prefix('^')
        .and_then(|p| p.strip_suffix('$'))
        .unwrap_or(&issued);
    let ws = whitespace();
    format!("^[{ws}]*(?:{inner})?[{ws}]*$")
}

/// A picture type accepted for upload ([`crate::media::ImageType`]).
#[cfg(feature = "storage")]
pub fn filetype() -> Object {
    use crate::media::ImageType;
    string()
        .description(Some(
            "the picture's MIME type; upload it with the same `Content-Type`",
        ))
        .enum_values(Some(
            [
                ImageType::Jpeg,
                ImageType::Png,
                ImageType::Webp,
                ImageType::Gif,
            ]
            .map(ImageType::mime),
        ))
        .build()
}

/// A file name: anything with a character other than white space (it is sanitized into
/// the object key).
pub fn filename() -> Object {
    string()
        .description(Some(
            "the picture's file name, sanitized into the object key",
        ))
        .min_length(Some(1))
        .pattern(Some(non_blank_pattern()))
        .examples(["chelsea.png"])
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_blank_is_rusts_blank_check() {
        let re = regex::Regex::new(&non_blank_pattern()).expect("compiles");
        for s in [
            "",
            " ",
            "\t\n\r",
            "\u{a0}",
            "\u{2028}",
            "\u{3000} ",
            "x",
            " x ",
            "\u{1c}",
            "\0",
            "é",
        ] {
            assert_eq!(re.is_match(s), !s.trim().is_empty(), "{s:?}");
        }
    }

    #[test]
    fn cursor_pattern_is_what_the_store_reads() {
        let re = regex::Regex::new(&cursor_pattern()).expect("compiles");
        let c = crate::cursor::encode(uuid::Uuid::new_v4());
        for s in [
            String::new(),
            " ".into(),
            c.clone(),
            format!(" {c}\t"),
            "x".into(),
            format!("{c}A"),
        ] {
            let blank = s.trim().is_empty();
            assert_eq!(
                re.is_match(&s),
                blank || crate::cursor::decode(&s).is_ok(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn username_pattern_is_the_validator() {
        let re = regex::Regex::new(USERNAME_PATTERN).expect("compiles");
        for s in [
            "alice", "a.b-c_9", "ab", "al ice", "../x", "élan", "abc\n", "ABC",
        ] {
            let by_schema =
                re.is_match(s) && (USERNAME_MIN..=USERNAME_MAX).contains(&s.chars().count());
            assert_eq!(by_schema, crate::validate::username(s).is_ok(), "{s:?}");
        }
    }

    #[test]
    fn post_id_patterns_accept_what_the_parser_accepts() {
        let id = crate::PostId::new();
        let any = regex::Regex::new(post_id_param().pattern.as_deref().expect("pattern"))
            .expect("compiles");
        let wire =
            regex::Regex::new(post_id().pattern.as_deref().expect("pattern")).expect("compiles");
        assert!(wire.is_match(&id.wire()));
        for s in [id.wire(), id.uuid_str(), id.uuid_str().to_uppercase()] {
            assert!(any.is_match(&s), "{s}");
            assert_eq!(crate::parse_post_id(&s).ok(), Some(id));
        }
        for s in ["POST#", "x", "POST#123"] {
            assert!(!any.is_match(s) && crate::parse_post_id(s).is_err(), "{s}");
        }
    }
}
