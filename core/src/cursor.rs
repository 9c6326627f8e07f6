//! Page cursors of `GET /posts`, the same for every store.
//!
//! A cursor names the last post of a page: `p1:<uuid>` (lower-case, hyphenated),
//! base64url without padding. Any UUID is a valid cursor (the page starts below it), so
//! what the server accepts is a syntax, and [`pattern`] spells that syntax as a regular
//! expression for the OpenAPI document. The stores rebuild their own query bounds from the
//! validated UUID: a client can never inject key attributes or SQL through a cursor.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use crate::store::StoreError;

/// Tag (and version) in front of the UUID.
const TAG: &str = "p1:";

/// The cursor of a page whose last post has id `last`.
pub fn encode(last: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TAG}{}", last.hyphenated()))
}

/// The UUID in a cursor; `BadCursor` for anything [`encode`] does not produce (white space
/// around it is ignored).
pub fn decode(cursor: &str) -> Result<Uuid, StoreError> {
    let raw = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| StoreError::BadCursor)?;
    let text = String::from_utf8(raw).map_err(|_| StoreError::BadCursor)?;
    let id = text.strip_prefix(TAG).ok_or(StoreError::BadCursor)?;
    Uuid::parse_str(id).map_err(|_| StoreError::BadCursor)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A regular expression (ECMA-262 and Rust `regex` alike) matching exactly the cursors
/// [`encode`] produces: the base64url spelling of `p1:` and a lower-case hyphenated UUID.
pub fn pattern() -> String {
    let hex: Vec<u8> = (b'0'..=b'9').chain(b'a'..=b'f').collect();
    let mut plain: Vec<Vec<u8>> = TAG.bytes().map(|b| vec![b]).collect();
    for i in 0..36 {
        plain.push(if [8, 13, 18, 23].contains(&i) {
            vec![b'-']
        } else {
            hex.clone()
        });
    }
    // 39 bytes: 13 groups of 3 bytes, 4 characters each, no padding.
    let groups: String = plain
        .chunks(3)
        .map(|g| group_pattern([&g[0], &g[1], &g[2]]))
        .collect();
    format!("^{groups}$")
}

/// The base64 spellings of every 3-byte string whose bytes are in `sets`.
fn group_pattern(sets: [&[u8]; 3]) -> String {
    // first char -> second -> third -> fourth chars
    let mut tree: BTreeMap<u8, BTreeMap<u8, BTreeMap<u8, BTreeSet<u8>>>> = BTreeMap::new();
    for &a in sets[0] {
        for &b in sets[1] {
            for &c in sets[2] {
                tree.entry(a >> 2)
                    .or_default()
                    .entry(((a & 3) << 4) | (b >> 4))
                    .or_default()
                    .entry(((b & 15) << 2) | (c >> 6))
                    .or_default()
                    .insert(c & 63);
            }
        }
    }
    alternatives(tree.into_iter().map(|(c1, t2)| {
        let tail = alternatives(t2.into_iter().map(|(c2, t3)| {
            let tail = alternatives(t3.into_iter().map(|(c3, c4)| (c3, class(&c4))));
            (c2, tail)
        }));
        (c1, tail)
    }))
}

/// `(?:[xs]tail|…)`: the characters that share a tail are merged into one class.
fn alternatives(branches: impl Iterator<Item = (u8, String)>) -> String {
    let mut by_tail: BTreeMap<String, BTreeSet<u8>> = BTreeMap::new();
    for (c, tail) in branches {
        by_tail.entry(tail).or_default().insert(c);
    }
    let parts: Vec<String> = by_tail
        .into_iter()
        .map(|(tail, heads)| format!("{}{tail}", class(&heads)))
        .collect();
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("(?:{})", parts.join("|"))
    }
}

/// A character class of base64 digits (a bare character when there is one), in ranges.
fn class(digits: &BTreeSet<u8>) -> String {
    let chars: BTreeSet<u8> = digits.iter().map(|d| ALPHABET[*d as usize]).collect();
    if chars.len() == 1 {
        return chars.iter().map(|c| *c as char).collect();
    }
    let list: Vec<u8> = chars.iter().copied().filter(|c| *c != b'-').collect();
    let mut out = String::from("[");
    let mut i = 0;
    while i < list.len() {
        let mut j = i;
        while j + 1 < list.len() && list[j + 1] == list[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            out.push_str(&format!("{}-{}", list[i] as char, list[j] as char));
        } else {
            out.extend(list[i..=j].iter().map(|c| *c as char));
        }
        i = j + 1;
    }
    if chars.contains(&b'-') {
        // Last in the class, a dash is itself in every regex dialect.
        out.push('-');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode(&encode(id)).ok(), Some(id));
        assert_eq!(decode(&format!(" {} ", encode(id))).ok(), Some(id));
        assert!(decode("").is_err());
        assert!(decode("garbage!").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("p1:nope")).is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode(r#"{"PK":{"S":"USER#bob"}}"#)).is_err());
    }

    #[test]
    fn the_pattern_matches_every_issued_cursor_and_nothing_else_nearby() {
        let re = regex::Regex::new(&pattern()).expect("pattern compiles");
        for _ in 0..2000 {
            let c = encode(Uuid::new_v4());
            assert!(re.is_match(&c), "{c}");
            // One character changed: matches exactly when it still decodes.
            let bytes = c.as_bytes();
            for (pos, ch) in [(3, b'A'), (20, b'_'), (51, b'-'), (51, b'Q')] {
                let mut m = bytes.to_vec();
                m[pos] = ch;
                let m = String::from_utf8(m).expect("ascii");
                let decodes = decode(&m).is_ok_and(|u| encode(u) == m);
                assert_eq!(re.is_match(&m), decodes, "{m}");
            }
        }
        assert!(!re.is_match(""));
        assert!(!re.is_match(&format!("{}A", encode(Uuid::nil()))));
    }

    #[test]
    fn each_group_pattern_is_exactly_its_byte_sets() {
        let hex: Vec<u8> = (b'0'..=b'9').chain(b'a'..=b'f').collect();
        let dash = vec![b'-'];
        let shapes: [[&[u8]; 3]; 4] = [
            [&hex, &hex, &hex],
            [&hex, &hex, &dash],
            [&hex, &dash, &hex],
            [&dash, &hex, &hex],
        ];
        for sets in shapes {
            let re = regex::Regex::new(&format!("^{}$", group_pattern(sets))).expect("compiles");
            // Every 4-character string of the characters that can stand at each position
            // (and a few that cannot): it matches exactly when it decodes to bytes of the sets.
            let mut at: [BTreeSet<u8>; 4] = Default::default();
            for &a in sets[0] {
                for &b in sets[1] {
                    for &c in sets[2] {
                        for (i, ch) in URL_SAFE_NO_PAD.encode([a, b, c]).bytes().enumerate() {
                            at[i].insert(ch);
                        }
                    }
                }
            }
            for set in &mut at {
                set.extend(b"AQgw_-9z");
            }
            let mut matched = 0;
            for (((c1, c2), c3), c4) in at[0]
                .iter()
                .flat_map(|a| at[1].iter().map(move |b| (a, b)))
                .flat_map(|ab| at[2].iter().map(move |c| (ab, c)))
                .flat_map(|abc| at[3].iter().map(move |d| (abc, d)))
            {
                let s = String::from_utf8(vec![*c1, *c2, *c3, *c4]).expect("ascii");
                let bytes = URL_SAFE_NO_PAD.decode(&s).expect("4 chars decode");
                let want = bytes.iter().zip(sets).all(|(b, set)| set.contains(b));
                let got = re.is_match(&s);
                assert_eq!(got, want, "{s}");
                matched += usize::from(got);
            }
            assert_eq!(matched, sets.iter().map(|s| s.len()).product::<usize>());
        }
    }
}
