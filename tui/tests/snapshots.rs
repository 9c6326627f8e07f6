//! Snapshot tests: each screen and state rendered on a `TestBackend`.
//!
//! Rendering is a pure function of the state (the time is in `App::now`), so these are stable.

use chrono::{DateTime, TimeZone, Utc};
use postagram_core::wire::PostView;
use postagram_tui::action::Action;
use postagram_tui::api::{ApiError, Page};
use postagram_tui::app::{render, App, Overlay, Screen};
use postagram_tui::components::confirm::ConfirmState;
use postagram_tui::components::prompt::{PromptKind, PromptState};
use postagram_tui::components::status::Level;
use postagram_tui::config::{Config, Session};
use postagram_tui::layout;
use postagram_tui::picture;
use postagram_tui::screens::compose::{Field, Phase, Progress};
use postagram_tui::screens::login::Mode;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use ratatui_image::picker::Picker;
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
        .single()
        .expect("time")
}

fn config(signed_in: bool) -> Config {
    Config {
        server: "http://localhost:8080".into(),
        session: signed_in.then(|| Session {
            username: "alice".into(),
            token: "token".into(),
            expires_at: now() + chrono::Duration::hours(24),
        }),
    }
}

fn app(w: u16, h: u16, signed_in: bool) -> App {
    App::new(&config(signed_in), now(), Rect::new(0, 0, w, h))
}

#[allow(clippy::too_many_arguments)]
fn post(
    n: u32,
    user: &str,
    title: &str,
    body: &str,
    minutes_ago: i64,
    status: &str,
    labels: &[(&str, f32)],
    image: bool,
) -> PostView {
    let mut v = json!({
        "id": format!("POST#01890a5d-ac96-774b-bcce-{n:012}"),
        "user": user,
        "title": title,
        "body": body,
        "image": if image { Some(format!("http://localhost:8080/objects/{n}.png")) } else { None },
        "label_status": status,
        "created_at": (now() - chrono::Duration::minutes(minutes_ago)).to_rfc3339(),
    });
    if status == "done" {
        let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
        v["labels"] = json!(names);
        v["label"] = json!(names);
        v["label_details"] = json!(labels
            .iter()
            .map(|(n, c)| json!({"name": n, "confidence": c}))
            .collect::<Vec<_>>());
    }
    serde_json::from_value(v).expect("post")
}

fn sample_posts() -> Vec<PostView> {
    vec![
        post(
            1,
            "alice",
            "Golden hour at the beach",
            "The light was perfect tonight.\nWe stayed until the sun was gone.",
            3,
            "done",
            &[("beach", 91.5), ("sunset", 77.0), ("sea", 42.3)],
            true,
        ),
        post(
            2,
            "bob",
            "Morning espresso",
            "Tried the new café on the corner.",
            65,
            "pending",
            &[],
            true,
        ),
        post(
            3,
            "carol",
            "Thoughts without a picture",
            "Just text today.",
            60 * 26,
            "none",
            &[],
            false,
        ),
        post(
            4,
            "bob",
            "Blurry cat",
            "Could not be labelled.",
            60 * 24 * 40,
            "failed",
            &[],
            true,
        ),
    ]
}

fn loaded(mut a: App, posts: Vec<PostView>, next: Option<&str>) -> App {
    let fx = a.start();
    assert_eq!(fx.len(), 1, "one load");
    let seq = a.feed.seq;
    let _ = a.update(Action::FeedLoaded {
        seq,
        append: false,
        result: Ok(Page {
            posts,
            next: next.map(str::to_string),
        }),
    });
    a
}

fn draw(a: &App) -> String {
    let mut t = Terminal::new(TestBackend::new(a.size.width, a.size.height)).expect("terminal");
    t.draw(|f| render(f, a)).expect("draw");
    t.backend().to_string()
}

#[test]
fn empty_feed() {
    let a = loaded(app(100, 30, false), vec![], None);
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn loading_feed() {
    let mut a = app(100, 30, false);
    let _ = a.start();
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn feed_with_posts_and_labels() {
    // The first post has a picture that is still loading; its labels are done.
    let a = loaded(app(120, 40, true), sample_posts(), Some("http://x/next"));
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn pending_labels_selected() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let _ = a.update(key('j'));
    assert_eq!(a.feed.selected, 1);
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn failed_labels_and_no_picture() {
    let mut a = loaded(app(120, 40, false), sample_posts(), None);
    let _ = a.update(key('j'));
    let _ = a.update(key('j'));
    let text = draw(&a);
    assert!(text.contains("No picture."));
    let _ = a.update(key('j'));
    insta::assert_snapshot!(draw(&a));
}

fn key(c: char) -> Action {
    Action::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    ))
}

fn png_gradient() -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 64, |x, y| {
        image::Rgb([(x * 255 / 95) as u8, (y * 255 / 63) as u8, 120])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

#[test]
fn detail_with_half_block_picture() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let key = a.feed.posts[0].id.wire();
    let area = layout::feed(a.size, true)
        .picture
        .expect("room for a picture");
    let decoded = picture::decode(&png_gradient()).expect("decode");
    let protocol = picture::encode(&Picker::halfblocks(), &decoded.image, area).expect("encode");
    let _ = a.update(Action::PictureLoaded {
        key: key.clone(),
        result: Ok(decoded),
    });
    let _ = a.update(Action::PictureEncoded {
        key,
        area,
        result: Ok(protocol),
    });
    let text = draw(&a);
    assert!(
        text.contains('▀') || text.contains('▄'),
        "half blocks drawn"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn picture_failed_to_load() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let key = a.feed.posts[0].id.wire();
    let _ = a.update(Action::PictureLoaded {
        key,
        result: Err("cannot decode the picture: truncated".into()),
    });
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn compose_with_errors() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let _ = a.update(key('n'));
    assert_eq!(a.screen, Screen::Compose);
    a.compose.title.set(&"x".repeat(205));
    a.compose.path.set("notes.txt");
    a.compose.focus = Field::Path;
    // Ctrl-S validates and shows the errors instead of posting.
    let fx = a.update(Action::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char('s'),
        crossterm::event::KeyModifiers::CONTROL,
    )));
    assert!(fx.is_empty(), "nothing sent");
    assert_eq!(a.compose.errors.len(), 3, "{:?}", a.compose.errors);
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn compose_uploading_with_progress() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let _ = a.update(key('n'));
    a.compose.title.set("Harbour at dawn");
    a.compose.body.set("Boats, fog and gulls.\nSecond line.");
    a.compose.phase = Phase::Uploading;
    a.compose.focus = Field::Body;
    a.compose.progress = Some(Progress {
        sent: 3 * 1024 * 1024,
        total: 4 * 1024 * 1024,
        elapsed: std::time::Duration::from_millis(1500),
    });
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn help_overlay() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let _ = a.update(key('?'));
    assert!(matches!(a.overlay, Some(Overlay::Help { .. })));
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn login_errors() {
    let mut a = loaded(app(100, 30, false), sample_posts(), None);
    let _ = a.update(key('n'));
    assert_eq!(a.screen, Screen::Login);
    a.login.username.set("al");
    let _ = a.update(Action::Key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Enter,
        crossterm::event::KeyModifiers::NONE,
    )));
    insta::assert_snapshot!("login_local_error", draw(&a));
    a.login.username.set("alice");
    a.login.password.set("wrong password");
    let _ = a.update(Action::LoggedIn {
        username: "alice".into(),
        result: Err(ApiError::Status {
            status: 401,
            code: "invalid_credentials".into(),
            message: "bad".into(),
        }),
    });
    insta::assert_snapshot!("login_wrong_password", draw(&a));
    a.login.mode = Mode::Signup;
    let _ = a.update(Action::LoggedIn {
        username: "alice".into(),
        result: Err(ApiError::Status {
            status: 429,
            code: "rate_limited".into(),
            message: "slow down".into(),
        }),
    });
    insta::assert_snapshot!("signup_rate_limited", draw(&a));
}

#[test]
fn search_prompt_and_delete_confirmation() {
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    a.overlay = Some(Overlay::Prompt(PromptState::new(
        PromptKind::Search,
        "#beach",
    )));
    insta::assert_snapshot!("search_prompt", draw(&a));
    a.overlay = Some(Overlay::Confirm(ConfirmState {
        post_id: a.feed.posts[0].id.wire(),
        title: a.feed.posts[0].title.clone(),
    }));
    insta::assert_snapshot!("delete_confirmation", draw(&a));
}

#[test]
fn server_down() {
    let mut a = app(100, 30, false);
    let _ = a.start();
    let seq = a.feed.seq;
    let _ = a.update(Action::FeedLoaded {
        seq,
        append: false,
        result: Err(ApiError::Unreachable {
            server: "http://localhost:8080".into(),
            detail: "Connection refused".into(),
        }),
    });
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn narrow_60x20() {
    let a = loaded(app(60, 20, true), sample_posts(), None);
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn wide_160x50() {
    let mut a = loaded(app(160, 50, true), sample_posts(), Some("http://x/next"));
    a.status
        .set(Level::Success, "Posted “Golden hour at the beach”", now());
    insta::assert_snapshot!(draw(&a));
}

#[test]
fn narrow_compose_and_login() {
    let mut a = loaded(app(60, 20, false), sample_posts(), None);
    let _ = a.update(key('n'));
    insta::assert_snapshot!("narrow_login", draw(&a));
    a.screen = Screen::Compose;
    a.compose.title.set("Short");
    insta::assert_snapshot!("narrow_compose", draw(&a));
}

#[test]
fn resize_keeps_selection_visible() {
    let posts: Vec<PostView> = (0..40)
        .map(|i| {
            post(
                100 + i,
                "dave",
                &format!("Post number {i}"),
                "b",
                i as i64,
                "none",
                &[],
                false,
            )
        })
        .collect();
    let mut a = loaded(app(120, 40, false), posts, None);
    for _ in 0..30 {
        let _ = a.update(key('j'));
    }
    let _ = a.update(Action::Resize(60, 20));
    let rows = layout::visible_rows(a.size);
    assert!(a.feed.selected >= a.feed.offset && a.feed.selected < a.feed.offset + rows);
    let text = draw(&a);
    assert!(text.contains("Post number 30"));
    insta::assert_snapshot!(text);
}

#[test]
fn tiny_terminal_does_not_panic() {
    for (w, h) in [(1, 1), (10, 3), (25, 7), (40, 10)] {
        let mut a = loaded(app(w, h, true), sample_posts(), None);
        let _ = draw(&a);
        a.overlay = Some(Overlay::Help { scroll: 100 });
        let _ = draw(&a);
        a.overlay = None;
        a.screen = Screen::Compose;
        let _ = draw(&a);
        a.screen = Screen::Login;
        let _ = draw(&a);
    }
}

#[test]
fn mouse_wheel_and_click() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mouse = |kind, column, row| {
        Action::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: crossterm::event::KeyModifiers::NONE,
        })
    };
    let mut a = loaded(app(120, 40, true), sample_posts(), None);
    let lay = layout::feed(a.size, true);
    // Wheel over the list moves the selection.
    let _ = a.update(mouse(
        MouseEventKind::ScrollDown,
        lay.list.x + 2,
        lay.list.y + 1,
    ));
    assert_eq!(a.feed.selected, 1);
    let _ = a.update(mouse(
        MouseEventKind::ScrollUp,
        lay.list.x + 2,
        lay.list.y + 1,
    ));
    assert_eq!(a.feed.selected, 0);
    // Wheel over the detail pane scrolls it.
    let _ = a.update(mouse(
        MouseEventKind::ScrollDown,
        lay.detail_block.x + 3,
        lay.detail_block.y + 3,
    ));
    assert_eq!(a.feed.detail_scroll, 2);
    // A click selects the post under the pointer (2 lines per post).
    let _ = a.update(mouse(
        MouseEventKind::Down(MouseButton::Left),
        lay.list.x + 3,
        lay.list.y + 5,
    ));
    assert_eq!(a.feed.selected, 2);
    assert_eq!(a.feed.detail_scroll, 0);
}
