//! Accounts on SQLite: reading a user, password changes (token version), and the states
//! of an account deletion.

use rusqlite::{params, Connection, OptionalExtension};

use super::{db_err, SqliteStore};
use crate::model::{AccountState, User};
use crate::store::{parse_time, StoreError};
use crate::username::canonical;

/// The user row `username` stands for, if any: the exact spelling first (an account left
/// without a case-insensitive key by migration 6 is found by it), else the canonical form.
pub(crate) fn get_user_tx(conn: &Connection, username: &str) -> Result<Option<User>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT username, password_hash, created_at, token_version, state FROM users
             WHERE username = ?1 OR username_key = ?2 ORDER BY username = ?1 DESC LIMIT 1",
        )
        .map_err(db_err)?
        .query_row([username, canonical(username).as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    row.map(|(username, password_hash, t, version, state)| {
        Ok(User {
            username,
            password_hash,
            created_at: parse_time(&t)?,
            token_version: u64::try_from(version)
                .map_err(|_| StoreError::Corrupt(format!("bad token version {version}")))?,
            state: AccountState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("bad account state `{state}`")))?,
        })
    })
    .transpose()
}

impl SqliteStore {
    /// `PostStore::set_password`.
    pub(crate) async fn set_password_row(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        let (username, hash) = (username.to_string(), password_hash.to_string());
        self.write(move |conn| {
            let n = conn
                .execute(
                    "UPDATE users SET password_hash = ?2, token_version = token_version + 1
                     WHERE username = ?1 AND state = 'active'",
                    params![username, hash],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user `{username}`")));
            }
            Ok(())
        })
        .await
    }

    /// `PostStore::mark_account_deleting`.
    pub(crate) async fn mark_deleting_row(&self, username: &str) -> Result<(), StoreError> {
        let username = username.to_string();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let n = tx
                .execute(
                    "UPDATE users SET state = 'deleting', token_version = token_version + 1
                     WHERE username = ?1 AND state = 'active'",
                    [&username],
                )
                .map_err(db_err)?;
            if n == 0 && get_user_tx(&tx, &username)?.is_none() {
                return Err(StoreError::NotFound(format!("user `{username}`")));
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    /// `PostStore::delete_user`.
    pub(crate) async fn delete_user_row(&self, username: &str) -> Result<bool, StoreError> {
        let username = username.to_string();
        self.write(move |conn| {
            let tx = conn.transaction().map_err(db_err)?;
            let n = tx
                .execute(
                    "DELETE FROM users WHERE username = ?1 AND state = 'deleting'
                     AND NOT EXISTS (SELECT 1 FROM posts WHERE user = ?1)",
                    [&username],
                )
                .map_err(db_err)?;
            let gone = n > 0 || get_user_tx(&tx, &username)?.is_none();
            tx.commit().map_err(db_err)?;
            Ok(gone)
        })
        .await
    }

    /// `PostStore::accounts_being_deleted`.
    pub(crate) async fn deleting_rows(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT username FROM users WHERE state = 'deleting' ORDER BY username",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }
}
