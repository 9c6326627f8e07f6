//! Who is asking: password hashing, JWTs, the two auth modes, login rate limiting.

pub mod extract;
pub mod jwt;
pub mod password;
pub mod rate_limit;

pub use extract::AuthUser;
