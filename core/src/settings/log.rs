//! The one log initialisation of every Postagram binary: `RUST_LOG` filter (default
//! `info`), text or JSON lines on stdout, where a container runtime collects them.
//!
//! Values a client chose (usernames, paths, request ids, object keys) go into fields
//! through [`user_value`], as plain `&str` fields (`user = &*user_value(&name)`, no `%`):
//! the text format writes `&str` fields quoted and escaped (`user="a\nb"`), so a `\n`
//! or a `key=value` inside cannot forge a line or a field, and the JSON format escapes
//! them as JSON. `%` (Display) would write them raw.

use std::borrow::Cow;
use std::io::IsTerminal;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use super::args::LogFormat;
use super::{defaults, env};

/// Longest client-chosen value written to a log field, in bytes.
pub const MAX_LOGGED_VALUE: usize = 256;

/// Installs the global subscriber. A second call (tests) keeps the first one. Colours
/// only on a terminal: a pipe or a container log gets plain text.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_env(env::RUST_LOG)
        .unwrap_or_else(|_| EnvFilter::new(defaults::RUST_LOG));
    let ansi = std::io::stdout().is_terminal();
    let _ = subscriber(format, filter, ansi, std::io::stdout).try_init();
}

/// The subscriber [`init`] installs, writing to `writer` (tests pass a buffer).
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .finish(),
        ),
        LogFormat::Text => Box::new(builder.finish()),
    }
}

/// A client-chosen value cut for a log field: at most [`MAX_LOGGED_VALUE`] bytes (on a
/// character boundary), then `…(N bytes)` with the full length. Log the result as a
/// `&str` field (see the module documentation), never with `%`.
pub fn user_value(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_LOGGED_VALUE {
        return Cow::Borrowed(value);
    }
    let mut end = MAX_LOGGED_VALUE;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…({} bytes)", &value[..end], value.len()))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log destination the test can read.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What one event with a hostile `user` field looks like in `format`.
    fn logged(format: LogFormat, user: &str) -> String {
        let buf = Buffer::default();
        let out = buf.clone();
        let sub = subscriber(format, EnvFilter::new("info"), false, move || out.clone());
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("request", path = &*user_value("/a\nb"));
            let _enter = span.enter();
            tracing::info!(user = &*user_value(user), "failed login");
        });
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_newline_in_a_value_does_not_forge_a_text_line() {
        let hostile = "eve\n2026-12-03T00:00:00Z  INFO forged=1 \"quoted\"";
        let text = logged(LogFormat::Text, hostile);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains(r#"user="eve\n2026-12-03T00:00:00Z  INFO forged=1 \"quoted\"""#),
            "quoted and escaped: {text}"
        );
        let json = logged(LogFormat::Json, hostile);
        assert_eq!(json.lines().count(), 1, "{json}");
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(v["user"], hostile, "JSON keeps the value, escaped as JSON");
    }

    #[test]
    fn short_values_are_kept_long_ones_cut_with_their_length() {
        assert_eq!(user_value("alice"), "alice");
        let exact = "x".repeat(MAX_LOGGED_VALUE);
        assert_eq!(user_value(&exact), exact.as_str());
        let long = "y".repeat(10_000);
        let cut = user_value(&long);
        assert_eq!(
            cut,
            format!("{}…(10000 bytes)", "y".repeat(MAX_LOGGED_VALUE))
        );
        // A multi-byte character across the limit is not split.
        let wide = format!("{}é{}", "z".repeat(MAX_LOGGED_VALUE - 1), "z".repeat(10));
        let cut = user_value(&wide);
        assert!(cut.starts_with(&"z".repeat(MAX_LOGGED_VALUE - 1)));
        assert!(cut.ends_with(&format!("…({} bytes)", wide.len())), "{cut}");
        assert!(!cut.contains('é'));
    }
}
