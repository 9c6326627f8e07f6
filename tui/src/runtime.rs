//! Runs [`Effect`]s on tokio tasks, and the async event loop that ties terminal events,
//! effect results and the clock to [`App::update`] and rendering.

use postagram_core::settings::env;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use ratatui::layout::Rect;
use ratatui_image::picker::{Picker, ProtocolType};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::action::{Action, Effect};
use crate::api::ApiClient;
use crate::app::{self, App};
use crate::config::{self, Config};
use crate::picture;
use crate::screens::compose::expand_path;
use crate::screens::feed::PAGE_SIZE;
use crate::term;

/// Largest local file read for a preview.
const MAX_PREVIEW_FILE: u64 = 64 * 1024 * 1024;
/// Least time between two upload progress messages.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// Why the client stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Terminal I/O failed.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
    /// The HTTP client could not be built.
    #[error("{0}")]
    Api(#[from] crate::api::ApiError),
    /// The settings file is unusable.
    #[error("settings: {0}")]
    Config(#[from] config::ConfigError),
}

/// Starts effects on tokio tasks; their outcomes come back through `tx` as actions.
#[derive(Clone)]
pub struct Executor {
    api: ApiClient,
    tx: UnboundedSender<Action>,
    picker: Picker,
    config_path: Option<PathBuf>,
}

impl Executor {
    /// An executor talking to `api`, encoding pictures with `picker`, saving settings to
    /// `config_path` (nowhere when `None`, as in tests).
    pub fn new(
        api: ApiClient,
        tx: UnboundedSender<Action>,
        picker: Picker,
        config_path: Option<PathBuf>,
    ) -> Self {
        Executor {
            api,
            tx,
            picker,
            config_path,
        }
    }

    /// Starts one effect. Never blocks.
    pub fn run(&self, effect: Effect) {
        let api = self.api.clone();
        let tx = self.tx.clone();
        let send = move |a: Action| {
            // The receiver is gone only when the app is quitting.
            let _ = tx.send(a);
        };
        match effect {
            Effect::LoadFeed { seq, query, next } => {
                tokio::spawn(async move {
                    let append = next.is_some();
                    let result = match next {
                        Some(url) => api.list_next(&url).await,
                        None => api.list(&query, PAGE_SIZE).await,
                    };
                    send(Action::FeedLoaded {
                        seq,
                        append,
                        result,
                    });
                });
            }
            Effect::PollPosts(ids) => {
                tokio::spawn(async move {
                    let results =
                        futures::future::join_all(ids.iter().map(|id| api.get_post(id))).await;
                    send(Action::PostsPolled(results));
                });
            }
            Effect::Login { creds, signup } => {
                tokio::spawn(async move {
                    let username = creds.username.clone();
                    if signup {
                        if let Err(e) = api.signup(&creds).await {
                            send(Action::LoggedIn {
                                username,
                                result: Err(e),
                            });
                            return;
                        }
                    }
                    let result = api.login(&creds).await;
                    send(Action::LoggedIn { username, result });
                });
            }
            Effect::CreatePost { token, post } => {
                tokio::spawn(async move {
                    send(Action::PostCreated(api.create_post(&token, &post).await));
                });
            }
            Effect::EditPost { token, id, edit } => {
                tokio::spawn(async move {
                    send(Action::PostEdited(api.edit_post(&token, &id, &edit).await));
                });
            }
            Effect::Upload {
                token,
                post_id,
                path,
                content_type,
            } => {
                tokio::spawn(async move {
                    let result = upload(&api, &send, &token, &post_id, &path, &content_type).await;
                    send(Action::UploadFinished { post_id, result });
                });
            }
            Effect::Delete { token, id } => {
                tokio::spawn(async move {
                    let result = api.delete_post(&token, &id).await;
                    send(Action::Deleted { id, result });
                });
            }
            Effect::FetchPicture { key, url } => {
                tokio::spawn(async move {
                    let result = match api.fetch_bytes(&url).await {
                        Ok(bytes) => decode_blocking(bytes.to_vec()).await,
                        Err(e) => Err(e.user_message()),
                    };
                    send(Action::PictureLoaded { key, result });
                });
            }
            Effect::ReadPicture { key, path } => {
                tokio::spawn(async move {
                    let result = read_picture(&path).await;
                    send(Action::PictureLoaded { key, result });
                });
            }
            Effect::EncodePicture { key, image, area } => {
                let picker = self.picker.clone();
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || {
                        term::guarded(|| picture::encode(&picker, &image, area)).and_then(|r| r)
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    send(Action::PictureEncoded { key, area, result });
                });
            }
            Effect::Complete(input) => {
                tokio::spawn(async move {
                    let i = input.clone();
                    let candidates = tokio::task::spawn_blocking(move || complete_path(&i))
                        .await
                        .unwrap_or_default();
                    send(Action::Completed { input, candidates });
                });
            }
            Effect::SaveConfig(cfg) => {
                let Some(path) = self.config_path.clone() else {
                    return;
                };
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || config::save(&path, &cfg))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(|e| e.to_string()));
                    send(Action::ConfigSaved(result));
                });
            }
            Effect::Open(url) => {
                tokio::spawn(async move {
                    let result = tokio::task::spawn_blocking(move || open_external(&url))
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r);
                    send(Action::Opened(result));
                });
            }
        }
    }
}

async fn upload(
    api: &ApiClient,
    send: &(impl Fn(Action) + Clone + Send + Sync + 'static),
    token: &str,
    post_id: &str,
    path: &Path,
    content_type: &str,
) -> Result<postagram_core::wire::PostView, crate::api::ApiError> {
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "picture".into());
    let signed = api
        .signed_url(token, post_id, &filename, content_type)
        .await?;
    let started = Instant::now();
    let last = Mutex::new(None::<Instant>);
    let id = post_id.to_string();
    let send2 = send.clone();
    api.upload(
        &signed.upload_url,
        content_type,
        path,
        move |sent, total| {
            let now = Instant::now();
            let Ok(mut last) = last.lock() else {
                return;
            };
            let due = last.is_none_or(|t| now - t >= PROGRESS_EVERY) || sent == total;
            if due {
                *last = Some(now);
                send2(Action::UploadProgress {
                    post_id: id.clone(),
                    sent,
                    total,
                    elapsed: now - started,
                });
            }
        },
    )
    .await?;
    api.get_post(post_id).await
}

async fn decode_blocking(bytes: Vec<u8>) -> Result<picture::Decoded, String> {
    tokio::task::spawn_blocking(move || term::guarded(|| picture::decode(&bytes)).and_then(|r| r))
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
}

async fn read_picture(path: &Path) -> Result<picture::Decoded, String> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a file", path.display()));
    }
    if meta.len() > MAX_PREVIEW_FILE {
        return Err(format!("{} is larger than 64 MB", path.display()));
    }
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    decode_blocking(bytes).await
}

/// Paths completing `input` (a path as typed, `~/` allowed); directories end with `/`.
pub fn complete_path(input: &str) -> Vec<String> {
    let (dir_part, prefix) = match input.rfind('/') {
        Some(i) => (&input[..=i], &input[i + 1..]),
        None => ("", input),
    };
    let dir = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand_path(dir_part)
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with(prefix) || (name.starts_with('.') && !prefix.starts_with('.')) {
                return None;
            }
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false) || e.path().is_dir();
            Some(format!("{dir_part}{name}{}", if is_dir { "/" } else { "" }))
        })
        .collect();
    out.sort();
    out.truncate(200);
    out
}

/// Opens a URL with `xdg-open` (or `open` on macOS), detached from the terminal.
fn open_external(url: &str) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let status = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {opener}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{opener} failed ({status})"))
    }
}

/// Chooses the graphics protocol.
///
/// `POSTAGRAM_PICTURES=halfblocks|kitty|sixel|iterm2|query` forces a choice (`query` asks the
/// terminal). Otherwise the terminal is only asked when its environment says it can show
/// pictures (kitty, WezTerm, iTerm2, Ghostty, foot, Konsole…): a terminal that does not answer
/// would leave ratatui-image's query thread reading stdin and swallowing the first keys. Every
/// other terminal gets Unicode half-blocks.
pub fn choose_picker() -> Picker {
    let forced = std::env::var(env::PICTURES).unwrap_or_default();
    let query = || Picker::from_query_stdio().unwrap_or_else(|_| Picker::halfblocks());
    let forced_type = match forced.as_str() {
        "halfblocks" => return Picker::halfblocks(),
        "query" => return query(),
        "kitty" => Some(ProtocolType::Kitty),
        "sixel" => Some(ProtocolType::Sixel),
        "iterm2" => Some(ProtocolType::Iterm2),
        _ => None,
    };
    if let Some(t) = forced_type {
        let mut picker = query();
        picker.set_protocol_type(t);
        return picker;
    }
    if graphics_hint(&|k| std::env::var(k).ok()) {
        query()
    } else {
        Picker::halfblocks()
    }
}

/// Whether the environment names a terminal known to support a graphics protocol.
pub fn graphics_hint(var: &dyn Fn(&str) -> Option<String>) -> bool {
    let term = var("TERM").unwrap_or_default();
    let program = var("TERM_PROGRAM").unwrap_or_default();
    let set = |k: &str| var(k).is_some_and(|v| !v.is_empty());
    set("KITTY_WINDOW_ID")
        || set("WEZTERM_EXECUTABLE")
        || set("KONSOLE_VERSION")
        || set("GHOSTTY_RESOURCES_DIR")
        || var("LC_TERMINAL").as_deref() == Some("iTerm2")
        || ["kitty", "ghostty", "foot", "mlterm", "sixel", "wezterm"]
            .iter()
            .any(|t| term.contains(t))
        || ["iTerm.app", "WezTerm", "ghostty", "vscode", "rio"]
            .iter()
            .any(|p| program == *p)
}

/// How the client was started.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Settings read at start.
    pub config: Config,
    /// Where settings are saved.
    pub config_path: PathBuf,
    /// Only log in, then quit (`postagram login`).
    pub login_only: bool,
    /// Where to write timing numbers for the benchmark (`POSTAGRAM_TUI_BENCH_OUT`).
    pub bench_out: Option<PathBuf>,
    /// When the process started.
    pub started: Instant,
}

/// What the run ended with.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The user signed in (for `postagram login`'s message).
    pub signed_in_as: Option<String>,
}

#[derive(Default)]
struct BenchLog {
    first_frame: Option<Duration>,
    first_posts: Option<Duration>,
    draws: Vec<(usize, Duration)>,
}

impl BenchLog {
    fn write(&self, path: &Path) -> std::io::Result<()> {
        let most = self.draws.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let mut at_most: Vec<Duration> = self
            .draws
            .iter()
            .filter(|(n, _)| *n == most)
            .map(|(_, d)| *d)
            .collect();
        at_most.sort();
        let median = at_most.get(at_most.len() / 2).copied().unwrap_or_default();
        let p95 = at_most
            .get((at_most.len() * 95 / 100).min(at_most.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default();
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0);
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(-1.0);
        let text = format!(
            "first_frame_ms={:.2}\nfirst_posts_ms={:.2}\nposts_loaded={most}\nframes_at_max={}\nrender_median_ms={:.3}\nrender_p95_ms={:.3}\npeak_rss_kb={rss}\n",
            ms(self.first_frame),
            ms(self.first_posts),
            at_most.len(),
            median.as_secs_f64() * 1000.0,
            p95.as_secs_f64() * 1000.0,
        );
        std::fs::write(path, text)
    }
}

fn event_action(ev: Event) -> Option<Action> {
    match ev {
        Event::Key(k) => Some(Action::Key(k)),
        Event::Mouse(m) => Some(Action::Mouse(m)),
        Event::Paste(p) => Some(Action::Paste(p)),
        Event::Resize(w, h) => Some(Action::Resize(w, h)),
        _ => None,
    }
}

/// Runs the client until the user quits. The terminal is restored on every exit path.
pub async fn run(opts: RunOptions) -> Result<Outcome, RunError> {
    let api = ApiClient::new(&opts.config.server)?;
    let mut terminal = term::init()?;
    let result = event_loop(&mut terminal, api, &opts).await;
    term::restore()?;
    result
}

async fn event_loop(
    terminal: &mut term::Term,
    api: ApiClient,
    opts: &RunOptions,
) -> Result<Outcome, RunError> {
    let size = terminal.size()?;
    let mut app = App::new(
        &opts.config,
        Utc::now(),
        Rect::new(0, 0, size.width, size.height),
    );
    let initial = if opts.login_only {
        app.start_login()
    } else {
        app.start()
    };
    let mut bench = BenchLog::default();
    terminal.draw(|f| app::render(f, &app))?;
    bench.first_frame = Some(opts.started.elapsed());

    // Asking the terminal about graphics must happen before the event stream reads stdin.
    let picker = choose_picker();
    let (tx, mut rx) = unbounded_channel();
    let exec = Executor::new(api, tx, picker, Some(opts.config_path.clone()));
    for e in initial {
        exec.run(e);
    }
    let mut events = EventStream::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    #[cfg(unix)]
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;

    loop {
        #[cfg(unix)]
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => match event_action(ev) { Some(a) => a, None => continue },
                Some(Err(e)) => return Err(RunError::Terminal(e)),
                None => break,
            },
            Some(a) = rx.recv() => a,
            _ = ticker.tick() => Action::Tick(Utc::now()),
            _ = sigterm.recv() => Action::Quit,
            _ = sighup.recv() => Action::Quit,
        };
        #[cfg(not(unix))]
        let action = tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => match event_action(ev) { Some(a) => a, None => continue },
                Some(Err(e)) => return Err(RunError::Terminal(e)),
                None => break,
            },
            Some(a) = rx.recv() => a,
            _ = ticker.tick() => Action::Tick(Utc::now()),
        };
        for e in app.update(action) {
            exec.run(e);
        }
        // Apply everything already waiting before drawing once.
        while let Ok(a) = rx.try_recv() {
            for e in app.update(a) {
                exec.run(e);
            }
        }
        if app.should_quit {
            break;
        }
        if term::panicked() {
            return Err(RunError::Terminal(std::io::Error::other(
                "internal error (see the message above); the terminal was restored",
            )));
        }
        let t = Instant::now();
        terminal.draw(|f| app::render(f, &app))?;
        let took = t.elapsed();
        if !app.feed.posts.is_empty() && bench.first_posts.is_none() {
            bench.first_posts = Some(opts.started.elapsed());
        }
        if opts.bench_out.is_some() {
            bench.draws.push((app.feed.posts.len(), took));
        }
    }
    if let Some(path) = &opts.bench_out {
        bench.write(path)?;
    }
    Ok(Outcome {
        signed_in_as: app.token().and(app.me().map(str::to_string)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_graphics_terminals_are_queried() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!graphics_hint(&env(&[("TERM", "xterm-256color")])));
        assert!(!graphics_hint(&env(&[("TERM", "screen-256color")])));
        assert!(graphics_hint(&env(&[("TERM", "xterm-kitty")])));
        assert!(graphics_hint(&env(&[("TERM_PROGRAM", "iTerm.app")])));
        assert!(graphics_hint(&env(&[("TERM", "foot")])));
    }

    #[test]
    fn completes_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("photo-a.png"), b"x").unwrap();
        std::fs::write(dir.path().join("photo-b.jpg"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("pics")).unwrap();
        std::fs::write(dir.path().join(".hidden.png"), b"x").unwrap();
        let base = format!("{}/", dir.path().display());
        assert_eq!(
            complete_path(&format!("{base}ph")),
            vec![format!("{base}photo-a.png"), format!("{base}photo-b.jpg")]
        );
        assert_eq!(
            complete_path(&format!("{base}pi")),
            vec![format!("{base}pics/")]
        );
        assert_eq!(complete_path(&format!("{base}.h")).len(), 1);
        assert_eq!(complete_path(&base).len(), 3);
        assert!(complete_path("/no/such/dir/x").is_empty());
    }
}
