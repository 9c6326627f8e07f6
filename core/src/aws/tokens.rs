//! The words of a post as the embedded store's full-text index sees them, for the
//! DynamoDB store's text search.
//!
//! The SQLite store indexes title, body and labels with FTS5's `unicode61` tokenizer
//! (`remove_diacritics 2`, see `sqlite/schema.rs`). Its rules — which characters are part
//! of a word, case folding, which diacritics are removed — come from SQLite's own Unicode
//! tables, which differ from Rust's in hundreds of code points. So this module does not
//! imitate them: it runs the very same tokenizer, on an in-memory SQLite database per
//! thread (an FTS5 table and its `fts5vocab` instance table; each call inserts one row in
//! a transaction that is rolled back), and both stores split and fold text identically by
//! construction.

use std::cell::RefCell;

use rusqlite::Connection;

use crate::store::StoreError;

/// The tokenizer of the SQLite store's `posts_fts` table.
pub const TOKENIZER: &str = "unicode61 remove_diacritics 2";

thread_local! {
    static CONN: RefCell<Option<Connection>> = const { RefCell::new(None) };
}

fn open() -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE t USING fts5(title, body, labels, tokenize = '{TOKENIZER}');
         CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');"
    ))?;
    Ok(conn)
}

fn tokenize(conn: &Connection, columns: [&str; 3]) -> rusqlite::Result<[Vec<String>; 3]> {
    conn.execute_batch("BEGIN")?;
    let result = (|| {
        conn.prepare_cached("INSERT INTO t (rowid, title, body, labels) VALUES (1, ?1, ?2, ?3)")?
            .execute(columns)?;
        let mut out: [Vec<String>; 3] = Default::default();
        let mut stmt = conn.prepare_cached("SELECT col, term FROM v ORDER BY col, offset")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (col, term) = row?;
            let i = match col.as_str() {
                "title" => 0,
                "body" => 1,
                _ => 2,
            };
            out[i].push(term);
        }
        Ok(out)
    })();
    conn.execute_batch("ROLLBACK")?;
    result
}

/// The tokens of a title, a body and a label text (label names joined by spaces), each
/// in order, folded as FTS5 folds them.
pub fn columns(title: &str, body: &str, labels: &str) -> Result<[Vec<String>; 3], StoreError> {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(open().map_err(tokenizer_err)?);
        }
        let conn = slot
            .as_ref()
            .ok_or_else(|| tokenizer_err("no connection"))?;
        match tokenize(conn, [title, body, labels]) {
            Ok(out) => Ok(out),
            Err(e) => {
                // Start from a fresh database next time.
                *slot = None;
                Err(tokenizer_err(e))
            }
        }
    })
}

/// The tokens of one text, in order.
pub fn tokens(text: &str) -> Result<Vec<String>, StoreError> {
    let [title, _, _] = columns(text, "", "")?;
    Ok(title)
}

fn tokenizer_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("search tokenizer (in-memory sqlite): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_diacritics_like_fts5() {
        assert_eq!(
            tokens("Café ÉCOLE naïve e-mail Łódź straße İstanbul x²").expect("tokens"),
            ["cafe", "ecole", "naive", "e", "mail", "łodz", "straße", "istanbul", "x²"]
        );
        // a decomposed accent is removed too; Greek keeps its tonos (as in FTS5)
        assert_eq!(
            tokens("cafe\u{301} Ελλάδα").expect("tokens"),
            ["cafe", "ελλάδα"]
        );
        assert_eq!(tokens("  !!! ").expect("tokens"), Vec::<String>::new());
        let [t, b, l] = columns("A b", "", "tiger cat").expect("columns");
        assert_eq!(
            (t, b, l),
            (
                vec!["a".into(), "b".into()],
                vec![],
                vec!["tiger".into(), "cat".into()]
            )
        );
    }

    #[test]
    fn the_tokenizer_is_the_sqlite_stores() {
        #[cfg(feature = "embedded")]
        {
            let sql = crate::sqlite::schema::MIGRATIONS.concat();
            assert!(sql.contains(&format!("tokenize = '{TOKENIZER}'")), "{sql}");
        }
        // many calls on one thread reuse one database and leave nothing behind
        for i in 0..1000 {
            assert_eq!(tokens(&format!("n{i}")).expect("tokens"), [format!("n{i}")]);
        }
    }
}
