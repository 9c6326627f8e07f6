//! Field validation shared by every entry point (API, TUI, stores).

/// Maximum title length in characters.
pub const TITLE_MAX: usize = 200;
/// Maximum body length in characters.
pub const BODY_MAX: usize = 10_000;
/// Minimum password length in characters.
pub const PASSWORD_MIN: usize = 8;
/// Maximum password length (argon2 input is bounded to keep hashing cheap to refuse).
pub const PASSWORD_MAX: usize = 1024;
/// Username length bounds.
pub const USERNAME_MIN: usize = 3;
/// Username length bounds.
pub const USERNAME_MAX: usize = 32;
/// Longest name header mode accepts, in characters.
pub const HEADER_USERNAME_MAX: usize = 64;
/// Longest key form of a name ([`crate::username::to_key`]), in bytes: one path
/// component of the picture folder (255 on common file systems).
pub const USERNAME_KEY_MAX: usize = 255;

/// A field that failed validation, with a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    /// The JSON field name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidField {
    InvalidField {
        field,
        message: message.into(),
    }
}

fn check_len(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), InvalidField> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(invalid(
            field,
            format!("must be {min} to {max} characters long (got {n})"),
        ));
    }
    Ok(())
}

/// A title: 1–200 characters, not only white space.
pub fn title(value: &str) -> Result<(), InvalidField> {
    check_len("title", value, 1, TITLE_MAX)?;
    if value.trim().is_empty() {
        return Err(invalid("title", "must not be blank"));
    }
    Ok(())
}

/// A body: 1–10 000 characters, not only white space.
pub fn body(value: &str) -> Result<(), InvalidField> {
    check_len("body", value, 1, BODY_MAX)?;
    if value.trim().is_empty() {
        return Err(invalid("body", "must not be blank"));
    }
    Ok(())
}

/// An edit of a post (`PATCH /posts/{id}`): at least one field, each as on a new post.
pub fn post_edit(edit: &crate::wire::PostEdit) -> Result<(), InvalidField> {
    if edit.is_empty() {
        return Err(invalid(
            "title, body",
            "at least one of `title` and `body` is required",
        ));
    }
    if let Some(t) = &edit.title {
        title(t)?;
    }
    if let Some(b) = &edit.body {
        body(b)?;
    }
    Ok(())
}

/// A username: 3–32 characters of `[A-Za-z0-9_.-]`.
pub fn username(value: &str) -> Result<(), InvalidField> {
    check_len("username", value, USERNAME_MIN, USERNAME_MAX)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(invalid(
            "username",
            "may only contain letters, digits, '_', '.' and '-'",
        ));
    }
    Ok(())
}

/// Bidirectional formatting characters (marks, embeddings, overrides, isolates). They
/// are invisible and reorder how a name is shown, so `alice` with a right-to-left mark
/// would look like `alice` and be another account: refused. Right-to-left letters
/// (Arabic, Hebrew) are letters and are kept.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Any account's name, as header mode (the course web app's login form) may send it,
/// and so the rule object keys are parsed back with: 1–64 characters, any of them
/// (spaces, `@`, `/`, `#`, non-ASCII letters…) except control characters (Unicode `Cc`:
/// NUL, CR, LF, tab, DEL, C1) and bidirectional formatting characters
/// ([`is_bidi_control`]); no white space at either end; at most [`USERNAME_KEY_MAX`]
/// bytes once escaped for keys (only names full of symbols or emoji reach it). Every
/// name [`username`] accepts passes.
pub fn header_username(value: &str) -> Result<(), InvalidField> {
    check_len("username", value, 1, HEADER_USERNAME_MAX)?;
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(invalid(
            "username",
            format!(
                "must not contain control characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    if let Some(c) = value.chars().find(|&c| is_bidi_control(c)) {
        return Err(invalid(
            "username",
            format!(
                "must not contain bidirectional formatting characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    if value.trim() != value {
        return Err(invalid(
            "username",
            "must not start or end with white space",
        ));
    }
    let key = crate::username::to_key(value).len();
    if key > USERNAME_KEY_MAX {
        return Err(invalid(
            "username",
            format!("is too long once escaped for storage keys ({key} bytes, at most {USERNAME_KEY_MAX})"),
        ));
    }
    Ok(())
}

/// A password: at least 8 characters.
pub fn password(value: &str) -> Result<(), InvalidField> {
    check_len("password", value, PASSWORD_MIN, PASSWORD_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert!(title("a").is_ok());
        assert!(title("").is_err());
        assert!(title("   ").is_err());
        assert!(title(&"é".repeat(200)).is_ok());
        assert!(title(&"é".repeat(201)).is_err());
    }

    #[test]
    fn bodies() {
        assert!(body(&"x".repeat(10_000)).is_ok());
        assert!(body(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn edits() {
        use crate::wire::PostEdit;
        let edit = |t: Option<&str>, b: Option<&str>| PostEdit {
            title: t.map(String::from),
            body: b.map(String::from),
        };
        assert!(post_edit(&edit(Some("t"), None)).is_ok());
        assert!(post_edit(&edit(None, Some("b"))).is_ok());
        assert!(post_edit(&edit(Some("t"), Some("b"))).is_ok());
        assert_eq!(
            post_edit(&edit(None, None)).unwrap_err().field,
            "title, body"
        );
        assert_eq!(
            post_edit(&edit(Some(" "), Some("b"))).unwrap_err().field,
            "title"
        );
        let long = "b".repeat(BODY_MAX + 1);
        assert_eq!(
            post_edit(&edit(Some("t"), Some(&long))).unwrap_err().field,
            "body"
        );
    }

    #[test]
    fn usernames() {
        assert!(username("alice").is_ok());
        assert!(username("a.b-c_9").is_ok());
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(33)).is_err());
        assert!(username("al ice").is_err());
        assert!(username("../x").is_err());
        assert!(username("élan").is_err());
    }

    #[test]
    fn header_usernames() {
        for ok in [
            "Jean Dupont",
            "alice@ensai.fr",
            "Al",
            "x",
            "élodie",
            "مريم",
            "a/b",
            "..",
            "a#b",
            "100%",
            &"é".repeat(64),
        ] {
            assert!(header_username(ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            "a\0b",
            "a\rb",
            "a\nb",
            "a\tb",
            "a\u{7f}",
            "a\u{85}",
            "alice\u{200F}",
            "\u{202E}alice",
            "\u{2066}x",
            " alice",
            "alice ",
            &"a".repeat(65),
            &"😀".repeat(22),
        ] {
            assert!(header_username(bad).is_err(), "{bad:?}");
        }
        // Every strict name is a header name.
        for strict in ["alice", "a.b-c_9", "...", &"a".repeat(32)] {
            assert!(username(strict).is_ok() && header_username(strict).is_ok());
        }
    }

    #[test]
    fn passwords() {
        assert!(password("12345678").is_ok());
        assert!(password("1234567").is_err());
    }
}
