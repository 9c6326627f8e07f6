//! Who is asking: password hashing, JWTs, the two auth modes (rate limits: `crate::limits`).

pub mod extract;
pub mod jwt;
pub mod password;

pub use extract::{AuthUser, PasswordUser};
