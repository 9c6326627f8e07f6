//! The client's settings file: `$XDG_CONFIG_HOME/postagram/config.toml` (mode 0600).
//!
//! It keeps the server URL and, once signed in, the session token with its expiry.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The server used when neither `--server`, `POSTAGRAM_SERVER` nor the config file names one.
pub const DEFAULT_SERVER: &str = "http://localhost:8080";

/// Why the settings file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set.
    #[error("cannot find a config folder: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    /// Reading, creating or renaming the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// A stored session: who is signed in and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The username the token belongs to.
    pub username: String,
    /// The bearer token (a JWT).
    pub token: String,
    /// When the server stops accepting the token.
    pub expires_at: DateTime<Utc>,
}

impl Session {
    /// Whether the token is still usable at `now` (with a minute of slack for clock skew).
    pub fn is_valid_at(&self, now: DateTime<Utc>) -> bool {
        !self.token.is_empty() && self.expires_at > now + chrono::Duration::seconds(60)
    }
}

/// Everything kept in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Base URL of the Postagram API, without a trailing slash.
    pub server: String,
    /// The signed-in session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server: DEFAULT_SERVER.to_string(),
            session: None,
        }
    }
}

impl Config {
    /// Changes the server; a session for another server is dropped (its token means nothing there).
    pub fn set_server(&mut self, server: &str) {
        let server = normalize_server(server);
        if server != self.server {
            self.server = server;
            self.session = None;
        }
    }

    /// The session if its token is still valid at `now`.
    pub fn valid_session(&self, now: DateTime<Utc>) -> Option<&Session> {
        self.session.as_ref().filter(|s| s.is_valid_at(now))
    }
}

/// Trims whitespace and trailing slashes; adds `http://` when no scheme is given.
pub fn normalize_server(server: &str) -> String {
    let s = server.trim().trim_end_matches('/');
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// Where the settings live: `$XDG_CONFIG_HOME/postagram/config.toml`, else
/// `$HOME/.config/postagram/config.toml`.
pub fn default_path() -> Result<PathBuf, ConfigError> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => return Err(ConfigError::NoConfigDir),
        },
    };
    Ok(base.join("postagram").join("config.toml"))
}

/// Reads the settings; a missing file gives the defaults.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(source) => Err(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the settings atomically (temporary file + rename), readable by the owner only.
pub fn save(path: &Path, config: &Config) -> Result<(), ConfigError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ConfigError::Io { path: p, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let text = toml::to_string(config).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let tmp = path.with_extension("toml.tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io(&tmp))?;
        // An older file may have been created with a wider mode: narrow it.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(io(&tmp))?;
        }
        file.write_all(text.as_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("postagram").join("config.toml");
        assert_eq!(load(&path).unwrap(), Config::default());
        let mut c = Config::default();
        c.set_server("127.0.0.1:9000/");
        c.session = Some(Session {
            username: "alice".into(),
            token: "tok".into(),
            expires_at: Utc::now() + chrono::Duration::hours(1),
        });
        save(&path, &c).unwrap();
        assert_eq!(load(&path).unwrap(), c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn changing_server_drops_session() {
        let mut c = Config {
            server: "http://a".into(),
            session: Some(Session {
                username: "u".into(),
                token: "t".into(),
                expires_at: Utc::now() + chrono::Duration::hours(1),
            }),
        };
        c.set_server("http://a/");
        assert!(c.session.is_some());
        c.set_server("http://b");
        assert!(c.session.is_none());
    }

    #[test]
    fn expired_session_is_not_valid() {
        let now = Utc::now();
        let s = Session {
            username: "u".into(),
            token: "t".into(),
            expires_at: now + chrono::Duration::seconds(30),
        };
        assert!(!s.is_valid_at(now));
        let c = Config {
            server: DEFAULT_SERVER.into(),
            session: Some(s),
        };
        assert!(c.valid_session(now).is_none());
    }

    #[test]
    fn bad_toml_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "server = [").unwrap();
        assert!(matches!(load(&path), Err(ConfigError::Parse { .. })));
    }
}
