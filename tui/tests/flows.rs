//! Key sequences → state changes and API calls, against a real embedded API server started
//! in-process on a random port (as `TestApp` in `core/testkit` does).

use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use postagram_api::config::Config as ServerConfig;
use postagram_api::startup::Application;
use postagram_core::wire::PostView;
use postagram_core::{Label, LabelStatus};
use postagram_labeler::pipeline::{JobOutcome, Pipeline, PipelineConfig};
use postagram_labeler::{DetectError, Detector};
use postagram_tui::action::{Action, Effect};
use postagram_tui::api::FeedQuery;
use postagram_tui::app::{App, Overlay, Screen};
use postagram_tui::config::{Config, Session};
use postagram_tui::runtime::Executor;
use postagram_tui::screens::compose::Phase;
use postagram_tui::screens::feed::Tab;
use ratatui::layout::Rect;
use ratatui_image::picker::Picker;
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::sync::oneshot;

/// Sees a harbour in every picture.
struct Harbour;

#[async_trait::async_trait]
impl Detector for Harbour {
    async fn detect(&self, _picture: bytes::Bytes) -> Result<Vec<Label>, DetectError> {
        Ok(vec![Label {
            name: "harbour".into(),
            confidence: 88.0,
        }])
    }
    fn name(&self) -> &'static str {
        "harbour"
    }
}

/// A running API server.
struct Server {
    url: String,
    state: postagram_api::state::AppState,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

impl Server {
    async fn start(f: impl FnOnce(&mut ServerConfig)) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::for_tests(dir.path());
        f(&mut config);
        let app = Application::build(config).await.expect("build");
        let url = app.public_url().to_string();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        Server {
            url,
            state,
            http: reqwest::Client::new(),
            _dir: dir,
            _stop: tx,
        }
    }

    async fn token(&self, user: &str) -> String {
        let creds = json!({"username": user, "password": "correct horse"});
        let _ = self
            .http
            .post(format!("{}/auth/signup", self.url))
            .json(&creds)
            .send()
            .await
            .expect("signup");
        let v: Value = self
            .http
            .post(format!("{}/auth/login", self.url))
            .json(&creds)
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        v["token"].as_str().expect("token").to_string()
    }

    async fn post(&self, token: &str, title: &str, body: &str) -> PostView {
        self.http
            .post(format!("{}/posts", self.url))
            .bearer_auth(token)
            .json(&json!({"title": title, "body": body}))
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json")
    }

    async fn status_of(&self, id: &str) -> u16 {
        self.http
            .get(format!("{}/posts/{}", self.url, urlencoding::encode(id)))
            .send()
            .await
            .expect("get")
            .status()
            .as_u16()
    }
}

/// The app wired to a real executor; records every effect it asked for.
struct Harness {
    app: App,
    exec: Executor,
    rx: UnboundedReceiver<Action>,
    effects: Vec<Effect>,
}

impl Harness {
    fn new(server: &str, session: Option<Session>) -> Harness {
        let cfg = Config {
            server: server.to_string(),
            session,
        };
        let (tx, rx) = unbounded_channel();
        let api = postagram_tui::api::ApiClient::new(server).expect("client");
        Harness {
            app: App::new(&cfg, chrono::Utc::now(), Rect::new(0, 0, 120, 40)),
            exec: Executor::new(api, tx, Picker::halfblocks(), None),
            rx,
            effects: Vec::new(),
        }
    }

    fn apply(&mut self, a: Action) {
        for e in self.app.update(a) {
            self.effects.push(e.clone());
            self.exec.run(e);
        }
    }

    fn start(&mut self) {
        for e in self.app.start() {
            self.effects.push(e.clone());
            self.exec.run(e);
        }
    }

    fn key(&mut self, code: KeyCode) {
        self.apply(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    fn ctrl(&mut self, c: char) {
        self.apply(Action::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::CONTROL,
        )));
    }

    fn char(&mut self, c: char) {
        self.key(KeyCode::Char(c));
    }

    fn type_text(&mut self, s: &str) {
        for c in s.chars() {
            if c == '\n' {
                self.key(KeyCode::Enter);
            } else {
                self.char(c);
            }
        }
    }

    /// Applies incoming actions until `done` holds (10 s at most).
    async fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(&self.app) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(a)) => self.apply(a),
                Ok(None) => panic!("channel closed waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; status: {:?}; screen {:?}",
                    self.app.status.message, self.app.screen
                ),
            }
        }
    }

    fn took(&self, f: impl Fn(&Effect) -> bool) -> bool {
        self.effects.iter().any(f)
    }

    fn status(&self) -> String {
        self.app
            .status
            .message
            .as_ref()
            .map(|m| m.text.clone())
            .unwrap_or_default()
    }

    fn tick_in(&mut self, secs: i64) {
        let t = self.app.now + chrono::Duration::seconds(secs);
        self.apply(Action::Tick(t));
    }
}

fn session_for(user: &str, token: &str) -> Session {
    Session {
        username: user.into(),
        token: token.into(),
        expires_at: chrono::Utc::now() + chrono::Duration::hours(12),
    }
}

fn photo(dir: &std::path::Path, name: &str, side: u32) -> PathBuf {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    });
    let path = dir.join(name);
    img.save(&path).expect("save png");
    path
}

#[tokio::test]
async fn browsing_works_without_an_account_and_posting_asks_to_log_in() {
    let server = Server::start(|_| {}).await;
    let bob = server.token("bob").await;
    server.post(&bob, "first", "one").await;
    server.post(&bob, "second", "two").await;

    let mut h = Harness::new(&server.url, None);
    h.start();
    h.until("feed", |a| a.feed.loaded).await;
    assert_eq!(h.app.feed.posts.len(), 2);
    assert_eq!(h.app.feed.posts[0].title, "second", "newest first");
    h.char('j');
    assert_eq!(h.app.feed.selected, 1);
    h.key(KeyCode::Up);
    assert_eq!(h.app.feed.selected, 0);

    // Posting and deleting need an account: the login screen opens, nothing is sent.
    let before = h.effects.len();
    h.char('n');
    assert_eq!(h.app.screen, Screen::Login);
    assert_eq!(h.effects.len(), before);
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Feed);
    h.char('d');
    assert_eq!(h.app.screen, Screen::Login);
    h.key(KeyCode::Esc);
    // The "Mine" tab too.
    h.char('2');
    assert_eq!(h.app.screen, Screen::Login);
}

#[tokio::test]
async fn sign_up_post_with_picture_labels_then_delete() {
    let server = Server::start(|_| {}).await;
    let dir = tempfile::tempdir().expect("tmp");
    let pic = photo(dir.path(), "harbour.png", 300);

    let mut h = Harness::new(&server.url, None);
    h.start();
    h.until("feed", |a| a.feed.loaded).await;

    // n → login screen; sign up.
    h.char('n');
    h.ctrl('t');
    h.type_text("zoe");
    h.key(KeyCode::Tab);
    h.type_text("long enough");
    h.key(KeyCode::Enter);
    assert!(h.took(|e| matches!(e, Effect::Login { signup: true, .. })));
    h.until("signed in", |a| a.session.is_some()).await;
    assert_eq!(h.app.screen, Screen::Compose, "back to the draft");
    assert_eq!(h.app.me(), Some("zoe"));

    // Write the post; attach the picture with tab completion.
    h.type_text("Harbour\nFog and gulls.\nSecond line.");
    h.key(KeyCode::Tab);
    let partial = format!("{}/harb", dir.path().display());
    h.type_text(&partial);
    h.key(KeyCode::Tab);
    h.until("completion", |a| {
        a.compose.path.text().ends_with("harbour.png")
    })
    .await;
    h.until("preview decoded", |a| {
        a.pictures.len().0 > 0
            && matches!(
                a.pictures.source(&format!("file:{}", pic.display())),
                Some(postagram_tui::picture::Source::Ready(_))
            )
    })
    .await;

    h.ctrl('s');
    assert!(h.took(|e| matches!(e, Effect::CreatePost { post, .. } if post.title == "Harbour" && post.body == "Fog and gulls.\nSecond line.")));
    h.until("uploading", |a| a.compose.phase == Phase::Uploading)
        .await;
    h.until("posted", |a| {
        a.screen == Screen::Feed && a.compose.created.is_none()
    })
    .await;
    assert!(
        h.took(|e| matches!(e, Effect::Upload { content_type, .. } if content_type == "image/png"))
    );
    h.until("feed reloaded", |a| {
        a.feed.loading.is_none() && !a.feed.posts.is_empty()
    })
    .await;
    let sel = h.app.feed.selected_post().expect("selected").clone();
    assert_eq!(sel.title, "Harbour");
    // Nothing of the picture is served until the labeler made its derived sizes.
    assert!(sel.image.is_none());
    assert_eq!(sel.label_status, LabelStatus::Pending);
    assert!(h.status().contains("Posted"), "{}", h.status());

    // The labelling pipeline (with a detector that sees a harbour) makes the derived
    // sizes and writes labels; the periodic refresh picks them up.
    let jobs = server.state.jobs.clone().expect("embedded job queue");
    let job = jobs
        .claim(Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("a job");
    let pipeline = Pipeline::new(
        jobs,
        server.state.blobs.clone(),
        std::sync::Arc::new(Harbour),
        PipelineConfig::default(),
    );
    assert_eq!(pipeline.process(job).await.outcome, JobOutcome::Labelled(1));
    h.tick_in(5);
    assert!(h.took(|e| matches!(e, Effect::PollPosts(ids) if ids.contains(&sel.id.wire()))));
    h.until("labels done", |a| {
        a.feed
            .selected_post()
            .is_some_and(|p| p.label_status == LabelStatus::Done)
    })
    .await;
    assert_eq!(
        h.app.feed.selected_post().and_then(|p| p.labels.clone()),
        Some(vec!["harbour".to_string()])
    );
    assert_eq!(h.status(), "Labels for “Harbour”: harbour");
    let sel = h.app.feed.selected_post().expect("selected").clone();
    let image = sel.image.clone().expect("the display size");
    assert!(image.contains("~display.jpg"), "{image}");
    assert!(sel
        .thumbnail
        .as_deref()
        .is_some_and(|t| t.contains("~thumb.jpg")));

    // The detail pane fetches and encodes the display size off the render path.
    h.until("picture encoded", |a| {
        let area = postagram_tui::layout::feed(a.size, true)
            .picture
            .expect("area");
        a.pictures.encoded(&sel.id.wire(), area).is_some()
    })
    .await;

    // Search by label, then by text.
    h.char('/');
    h.type_text("#harbour");
    h.key(KeyCode::Enter);
    assert!(h.took(
        |e| matches!(e, Effect::LoadFeed { query: FeedQuery::Label(l), .. } if l == "harbour")
    ));
    h.until("search results", |a| {
        a.feed.loaded && a.feed.loading.is_none()
    })
    .await;
    assert_eq!(h.app.feed.tab, Tab::Search);
    assert_eq!(h.app.feed.posts.len(), 1);
    h.char('/');
    h.ctrl('u');
    h.type_text("gulls");
    h.key(KeyCode::Enter);
    h.until("text search", |a| a.feed.loaded && a.feed.loading.is_none())
        .await;
    assert_eq!(h.app.feed.posts.len(), 1);

    // Delete with confirmation.
    h.char('d');
    assert!(matches!(h.app.overlay, Some(Overlay::Confirm(_))));
    h.char('n');
    assert!(h.app.overlay.is_none());
    h.char('d');
    h.char('y');
    assert!(h.took(|e| matches!(e, Effect::Delete { .. })));
    h.until("deleted", |a| a.feed.posts.is_empty()).await;
    assert_eq!(server.status_of(&sel.id.wire()).await, 404);
}

#[tokio::test]
async fn tabs_user_filter_and_infinite_scroll() {
    let server = Server::start(|_| {}).await;
    let amy = server.token("amy").await;
    let ben = server.token("ben").await;
    for i in 0..120 {
        server.post(&amy, &format!("amy {i}"), "x").await;
    }
    server.post(&ben, "ben only", "y").await;

    let mut h = Harness::new(&server.url, Some(session_for("ben", &ben)));
    h.start();
    h.until("feed", |a| a.feed.loaded).await;
    assert_eq!(h.app.feed.posts.len(), 50);
    assert!(h.app.feed.next.is_some());
    // G jumps to the end; more pages load as the selection nears it.
    for _ in 0..5 {
        h.char('G');
        h.until("page", |a| a.feed.loading.is_none()).await;
    }
    assert_eq!(h.app.feed.posts.len(), 121);
    assert!(h.app.feed.next.is_none());
    let mut ids: Vec<_> = h.app.feed.posts.iter().map(|p| p.id.wire()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 121, "no duplicates");
    h.char('g');
    assert_eq!(h.app.feed.selected, 0);

    // Mine.
    h.char('2');
    h.until("mine", |a| a.feed.loaded && a.feed.loading.is_none())
        .await;
    assert_eq!(h.app.feed.tab, Tab::Mine);
    assert_eq!(h.app.feed.posts.len(), 1);
    assert!(h.app.available(postagram_tui::keymap::Command::Delete));

    // By user.
    h.char('u');
    h.type_text("amy");
    h.key(KeyCode::Enter);
    assert!(h.took(|e| matches!(e, Effect::LoadFeed { query: FeedQuery::User(u), next: None, .. } if u == "amy")));
    h.until("amy", |a| a.feed.loaded && a.feed.loading.is_none())
        .await;
    assert_eq!(h.app.feed.posts[0].user, "amy");
    // Delete is not offered on others' posts.
    assert!(!h.app.available(postagram_tui::keymap::Command::Delete));
    h.char('d');
    assert!(h.app.overlay.is_none());
    assert!(h.status().contains("only delete your own"));

    // Tab cycles All → Mine → User.
    h.key(KeyCode::Tab);
    assert_eq!(h.app.feed.tab, Tab::All);
    h.key(KeyCode::Tab);
    assert_eq!(h.app.feed.tab, Tab::Mine);

    // Refresh reloads the first page.
    h.until("mine", |a| a.feed.loading.is_none()).await;
    let n = h.effects.len();
    h.char('r');
    assert!(matches!(h.effects[n], Effect::LoadFeed { next: None, .. }));
}

#[tokio::test]
async fn login_errors_are_readable() {
    let server = Server::start(|c| c.limits.login_rate_per_minute = 4).await;
    server.token("taken").await; // one login used

    let mut h = Harness::new(&server.url, None);
    h.start();
    h.char('L');
    assert_eq!(h.app.screen, Screen::Login);
    h.type_text("taken");
    h.key(KeyCode::Tab);
    h.type_text("wrong password");
    h.key(KeyCode::Enter);
    h.until("answer", |a| !a.login.busy).await;
    assert_eq!(
        h.app.login.error.as_deref(),
        Some("Wrong username or password.")
    );
    // Sign up with a taken name → 409.
    h.ctrl('t');
    h.key(KeyCode::Enter);
    h.until("answer", |a| !a.login.busy).await;
    assert!(h
        .app
        .login
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("taken"));
    // Hammering the login → 429.
    h.ctrl('t');
    for _ in 0..6 {
        h.key(KeyCode::Enter);
        h.until("answer", |a| !a.login.busy).await;
    }
    assert!(
        h.app
            .login
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("Too many attempts"),
        "{:?}",
        h.app.login.error
    );
}

#[tokio::test]
async fn expired_token_goes_back_to_login_keeping_the_draft() {
    let server = Server::start(|_| {}).await;
    let mut h = Harness::new(&server.url, Some(session_for("ghost", "not-a-jwt")));
    h.start();
    h.until("feed", |a| a.feed.loaded).await;
    h.char('n');
    assert_eq!(h.app.screen, Screen::Compose);
    h.type_text("Title\nBody");
    h.ctrl('s');
    h.until("401", |a| a.screen == Screen::Login).await;
    assert!(h.app.session.is_none(), "token dropped");
    assert!(h.took(|e| matches!(e, Effect::SaveConfig(c) if c.session.is_none())));
    assert_eq!(h.app.compose.title.text(), "Title", "draft kept");
    assert!(h
        .app
        .login
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("expired"));
}

#[tokio::test]
async fn forbidden_too_large_and_server_down() {
    let server = Server::start(|c| c.max_upload_bytes = 2_000).await;
    let alice = server.token("alice").await;
    let bob = server.token("bob").await;
    let bobs = server.post(&bob, "bob's", "b").await;

    // 403: deleting someone else's post (the UI never offers it; the server refuses anyway).
    let mut h = Harness::new(&server.url, Some(session_for("alice", &alice)));
    h.exec.run(Effect::Delete {
        token: alice.clone(),
        id: bobs.id.wire(),
    });
    h.until("403", |a| a.status.message.is_some()).await;
    assert!(
        h.status().starts_with("Not deleted: Not allowed"),
        "{}",
        h.status()
    );

    // 413: a picture larger than the server accepts; the draft stays, the post exists.
    let dir = tempfile::tempdir().expect("tmp");
    let pic = photo(dir.path(), "big.png", 200);
    h.char('n');
    h.type_text("Big\nbody");
    h.key(KeyCode::Tab);
    h.type_text(&pic.display().to_string());
    h.until("preview", |a| {
        matches!(
            a.pictures.source(&format!("file:{}", pic.display())),
            Some(postagram_tui::picture::Source::Ready(_))
        )
    })
    .await;
    h.ctrl('s');
    h.until("upload failed", |a| {
        a.compose.phase == Phase::Editing && !a.compose.errors.is_empty()
    })
    .await;
    assert!(
        h.app.compose.errors[0].contains("Too large"),
        "{:?}",
        h.app.compose.errors
    );
    assert_eq!(h.app.screen, Screen::Compose);
    assert_eq!(h.app.compose.title.text(), "Big");
    assert!(h.app.compose.created.is_some(), "retry uploads only");

    // Server down.
    let mut down = Harness::new("http://127.0.0.1:9", None);
    down.start();
    down.until("error", |a| a.feed.error.is_some()).await;
    assert!(
        down.status().contains("Cannot reach the server"),
        "{}",
        down.status()
    );
}

/// `e` on your own post opens the compose screen prefilled; Ctrl-S sends the PATCH; the
/// feed shows the new text and the server (and its search) has it. Others' posts are not
/// editable, and Esc leaves an edit without changing anything.
#[tokio::test]
async fn edit_own_post_from_the_feed() {
    let server = Server::start(|_| {}).await;
    let alice = server.token("alice").await;
    let bob = server.token("bob").await;
    let mine = server.post(&alice, "Harbour", "fog").await;
    server.post(&bob, "Bob's boat", "sails").await;

    let mut h = Harness::new(&server.url, Some(session_for("alice", &alice)));
    h.start();
    h.until("feed", |a| a.feed.loaded).await;
    assert_eq!(h.app.feed.posts[0].title, "Bob's boat", "newest first");

    // Bob's post: not editable.
    let before = h.effects.len();
    h.char('e');
    assert_eq!(h.app.screen, Screen::Feed);
    assert!(h.status().contains("only edit your own"), "{}", h.status());
    assert_eq!(h.effects.len(), before, "nothing sent");

    // Alice's: prefilled; Esc leaves it unchanged.
    h.char('j');
    h.char('e');
    assert_eq!(h.app.screen, Screen::Compose);
    assert_eq!(h.app.compose.title.text(), "Harbour");
    assert_eq!(h.app.compose.body.text(), "fog");
    h.type_text(" at dawn");
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Feed);
    assert!(h.app.compose.editing.is_none());
    h.char('e');
    assert_eq!(
        h.app.compose.title.text(),
        "Harbour",
        "the cancelled edit is gone"
    );

    // Edit the title, save.
    h.type_text(" at dawn");
    h.ctrl('s');
    assert!(h.took(|e| matches!(e, Effect::EditPost { id, edit, .. }
        if *id == mine.id.wire() && edit.title.as_deref() == Some("Harbour at dawn") && edit.body.is_none())));
    h.until("saved", |a| {
        a.screen == Screen::Feed && a.compose.editing.is_none()
    })
    .await;
    assert!(
        h.status().contains("Saved “Harbour at dawn”"),
        "{}",
        h.status()
    );
    h.until("feed reloaded", |a| a.feed.loading.is_none()).await;
    let sel = h.app.feed.selected_post().expect("selected").clone();
    assert_eq!(sel.id, mine.id, "the edited post stays selected");
    assert_eq!(sel.title, "Harbour at dawn");
    assert_eq!(sel.body, "fog");
    assert!(sel.updated_at.is_some());

    // The server has it, and finds it by its new words.
    let got: PostView = server
        .http
        .get(format!(
            "{}/posts/{}",
            server.url,
            urlencoding::encode(&mine.id.wire())
        ))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(got.title, "Harbour at dawn");
    let found: Vec<PostView> = server
        .http
        .get(format!("{}/posts?q=dawn", server.url))
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, mine.id);
}
