//! Usernames beyond their validation: the case-insensitive canonical form accounts are
//! looked up by, the escaped *key form* a name takes inside object keys and DynamoDB
//! keys, and the decoding of an `Authorization` header's bytes in header mode.
//!
//! The key form is the identity for every name of `[A-Za-z0-9_.-]` (every name the
//! strict rule of [`crate::validate::username`] accepts), so keys written before
//! header-mode names were widened stay valid. Any other character becomes `~` and two
//! lower-case hex digits per UTF-8 byte, except letters and digits beyond ASCII, which
//! stay as they are (`Jean Dupont` → `Jean~20Dupont`, `a/b#c` → `a~2fb~23c`,
//! `élodie` → `élodie`). So a key form never holds `/`, `\`, `#`, `%`, `~` (other than
//! its escapes), white space or a control character, and it is never `.` or `..` (a name
//! of one or two dots has them escaped). [`from_key`] accepts only what [`to_key`]
//! writes, so each key form belongs to exactly one name.

/// The escape character of the key form.
const ESCAPE: char = '~';

/// The case-insensitive form two names are the same account by: Unicode lower case
/// (`char::to_lowercase`). `ALICE`, `Alice` and `alice` are one account; `ÉLODIE` and
/// `élodie` too. Names are not Unicode-normalised: a decomposed `é` (e + U+0301) is
/// another name than the precomposed one (browsers and Latin-1 send the precomposed).
pub fn canonical(name: &str) -> String {
    name.to_lowercase()
}

/// Whether `name` is its own canonical form (then it is one key, not two).
pub fn is_canonical(name: &str) -> bool {
    canonical(name) == name
}

fn kept(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '-' | '.')
        || (!c.is_ascii() && c.is_alphanumeric())
}

/// The key form of a name (see the module documentation).
pub fn to_key(name: &str) -> String {
    let only_dots = !name.is_empty() && name.len() <= 2 && name.bytes().all(|b| b == b'.');
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if kept(c) && !only_dots {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push(ESCAPE);
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
    out
}

/// The name a key form stands for; `None` unless `key` is exactly what [`to_key`]
/// writes for some name (so `~41`, upper-case hex, a raw space or a bad escape are
/// refused). The name still has to pass validation to be an account's.
pub fn from_key(key: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(key.len());
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        if c == ESCAPE {
            let hi = chars.next()?;
            let lo = chars.next()?;
            let hex = |d: char| match d {
                '0'..='9' | 'a'..='f' => d.to_digit(16),
                _ => None,
            };
            bytes.push((hex(hi)? * 16 + hex(lo)?) as u8);
        } else {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    (!name.is_empty() && to_key(&name) == key).then_some(name)
}

/// The text of an `Authorization` header's bytes as header mode reads them: UTF-8 when
/// the bytes are valid UTF-8, else Latin-1 (ISO 8859-1, one character per byte), which is
/// what browsers send for a name such as `élodie` typed into a form (`fetch` sends each
/// character up to U+00FF as one byte). So `élodie` sent either way is the same name.
pub fn decode_header(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_form_is_the_identity_for_strict_names() {
        for name in [
            "alice",
            "Alice",
            "a.b-c_9",
            "...",
            "..a",
            "A1_",
            "x".repeat(32).as_str(),
        ] {
            assert_eq!(to_key(name), name);
            assert_eq!(from_key(name).as_deref(), Some(name));
        }
    }

    #[test]
    fn the_key_form_escapes_what_could_escape_a_prefix() {
        let cases = [
            ("Jean Dupont", "Jean~20Dupont"),
            ("alice@ensai.fr", "alice~40ensai.fr"),
            ("a/b", "a~2fb"),
            ("..", "~2e~2e"),
            (".", "~2e"),
            ("a#b", "a~23b"),
            ("100%", "100~25"),
            ("a~b", "a~7eb"),
            ("a\\b", "a~5cb"),
            ("a\0b", "a~00b"),
            ("élodie", "élodie"),
            ("مريم", "مريم"),
            ("\u{202e}x", "~e2~80~aex"),
            ("😀", "~f0~9f~98~80"),
        ];
        for (name, key) in cases {
            assert_eq!(to_key(name), key, "{name:?}");
            assert_eq!(from_key(key).as_deref(), Some(name), "{key:?}");
            for bad in ['/', '\\', '#', '%', ' ', '\0'] {
                assert!(!key.contains(bad), "{key:?} holds {bad:?}");
            }
            assert!(key != "." && key != "..");
        }
    }

    #[test]
    fn only_what_to_key_writes_decodes() {
        for bad in [
            "~41lice", "a~2Fb", "a b", "a/b", "~", "~2", "~zz", "~ff", "..", ".", "", "a~c3",
        ] {
            assert_eq!(from_key(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn distinct_names_have_distinct_keys() {
        let names = [
            "a b", "a~20b", "a_b", "A b", "a.b", "a..b", "..", "...", "a/b", "a~2fb",
        ];
        let keys: std::collections::HashSet<_> = names.iter().map(|n| to_key(n)).collect();
        assert_eq!(keys.len(), names.len());
    }

    #[test]
    fn canonical_is_unicode_lower_case() {
        assert_eq!(canonical("ALICE"), "alice");
        assert_eq!(canonical("ÉLODIE"), "élodie");
        assert_eq!(canonical("Jean Dupont"), "jean dupont");
        assert_eq!(canonical("a.b-c_9"), "a.b-c_9");
    }

    #[test]
    fn headers_are_utf8_or_latin1() {
        assert_eq!(decode_header("élodie".as_bytes()), "élodie");
        assert_eq!(decode_header(b"\xe9lodie"), "élodie");
        assert_eq!(decode_header(b"alice"), "alice");
        assert_eq!(decode_header(b"\x85x"), "\u{85}x");
    }
}
