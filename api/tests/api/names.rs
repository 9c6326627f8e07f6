//! Names as the course web app sends them in header mode (spaces, `@`, non-ASCII, in
//! UTF-8 or Latin-1), their keys, case-insensitive accounts in both auth modes, and
//! every post at once for the web app.

use postagram_core::keys::parse_object_key;
use postagram_core::username;
use postagram_core::wire::NewPost;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::helpers::{assert_error, header_mode, png_bytes, read_response, TestApp};

fn post_body() -> Value {
    json!({"title": "from the web app", "body": "hi"})
}

/// What the original accepted and header mode refused on every write (reads worked):
/// each name can post, upload and delete, and its posts show it as sent.
#[tokio::test]
async fn the_web_apps_names_can_write() {
    let app = TestApp::spawn_with(header_mode).await;
    for name in ["Jean Dupont", "alice@ensai.fr", "Al", "élodie", "x"] {
        let r = app
            .post_json_as("/posts", &post_body(), name.as_bytes())
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["user"], name);
        let id = v["id"].as_str().unwrap();
        let (put, key) = app
            .upload_as(name.as_bytes(), id, "image/png", png_bytes())
            .await;
        assert_eq!(put.status(), StatusCode::OK, "{name}: upload");
        assert_eq!(
            parse_object_key(&key).map(|(u, _)| u).as_deref(),
            Some(name)
        );
        let mine = app
            .list(&format!("/posts?user={}", urlencoding::encode(name)))
            .await;
        assert_eq!(mine.len(), 1, "{name}");
        let r = app.delete_post_as(id, name.as_bytes()).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{name}: delete");
    }
}

/// A browser sends `élodie` as Latin-1 bytes, another client as UTF-8: one account, in
/// any case, shown with the spelling it was first seen with.
#[tokio::test]
async fn latin1_and_utf8_names_are_one_account_in_any_case() {
    let app = TestApp::spawn_with(header_mode).await;
    let latin1 = b"\xe9lodie";
    let r = app.post_json_as("/posts", &post_body(), latin1).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["user"], "élodie");
    for sent in [
        "élodie".as_bytes(),
        b"\xc9LODIE".as_slice(),
        "ÉLODIE".as_bytes(),
        b"Bearer \xe9lodie".as_slice(),
    ] {
        let r = app.post_json_as("/posts", &post_body(), sent).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{sent:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["user"], "élodie", "the registered spelling");
    }
    assert_eq!(app.list("/posts?user=%C3%89LODIE").await.len(), 5);
    // Her post, deleted with the other encoding and another case.
    let id = first["id"].as_str().unwrap();
    let r = app.delete_post_as(id, "Élodie".as_bytes()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Another account may not.
    let other = app.list("/posts").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.delete_post_as(&other, b"elodie").await;
    assert_error(r, StatusCode::FORBIDDEN, "forbidden").await;
}

/// Control and bidirectional formatting characters, blank and too long names get a
/// JSON 401 naming the problem; NUL, CR and LF cannot be in a header at all (the HTTP
/// parser answers 400 before any route runs).
#[tokio::test]
async fn control_and_bidi_characters_are_refused() {
    let app = TestApp::spawn_with(header_mode).await;
    let long = "é".repeat(65);
    let emoji = "😀".repeat(22);
    let cases: [(&[u8], &str); 7] = [
        (b"al\tice", "control"),
        (b"al\x85ice", "control"),
        ("alice\u{200F}".as_bytes(), "bidirectional"),
        ("\u{202E}ecila".as_bytes(), "bidirectional"),
        ("a\u{2066}b".as_bytes(), "bidirectional"),
        (long.as_bytes(), "65"),
        (emoji.as_bytes(), "too long once escaped"),
    ];
    for (sent, why) in cases {
        let r = app.post_json_as("/posts", &post_body(), sent).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{sent:?}");
        let v = assert_error(r, StatusCode::UNAUTHORIZED, "invalid_user").await;
        assert!(
            v["message"].as_str().unwrap().contains(why),
            "{sent:?}: {v}"
        );
    }
    // An empty header (a trailing space of `Bearer ` is gone with the HTTP parser).
    let r = app.post_json_as("/posts", &post_body(), b"").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "missing_token").await;
    for bad in ["a\0b", "a\rb"] {
        let mut s = app.raw().await;
        let body = post_body().to_string();
        let req = format!(
            "POST /posts HTTP/1.1\r\nhost: x\r\nauthorization: {bad}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let resp = read_response(&mut s).await.expect("an answer");
        assert_eq!(resp.status, 400, "{bad:?}");
    }
    // Nothing was created by any of them.
    assert!(app.list("/posts").await.is_empty());
}

/// Names with path and key tricks stay inside their own prefix, on disk and in the
/// object key, and are never another user's.
#[tokio::test]
async fn names_with_path_tricks_stay_inside_their_prefix() {
    let app = TestApp::spawn_with(header_mode).await;
    let state = app.state.as_ref().unwrap();
    // Someone the tricks could aim at.
    let r = app.post_json_as("/posts", &post_body(), b"alice").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let alices: Value = r.json().await.unwrap();
    let alices = alices["id"].as_str().unwrap();
    let (put, _) = app
        .upload_as(b"alice", alices, "image/png", png_bytes())
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let names = [
        "../alice",
        "..",
        ".",
        "alice/..",
        "alice#PROFILE",
        "a%2Fb",
        "a~2fb",
        "مريم",
        "Jean Dupont",
        "alice@ensai.fr",
    ];
    let pictures = app.data_dir.join("pictures");
    for name in names {
        let r = app
            .post_json_as("/posts", &post_body(), name.as_bytes())
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["user"], name);
        let id = v["id"].as_str().unwrap();
        let (put, key) = app
            .upload_as(name.as_bytes(), id, "image/png", png_bytes())
            .await;
        assert_eq!(put.status(), StatusCode::OK, "{name}");
        let first = key.split('/').next().unwrap();
        assert_eq!(first, username::to_key(name), "{key}");
        assert_eq!(key.split('/').count(), 3, "{key}");
        let (user, post) = parse_object_key(&key).expect("parses back");
        assert_eq!((user.as_str(), post.wire()), (name, id.to_string()));
        // The file is where the key says, inside the picture folder, in its own folder.
        let file = pictures.join(&key);
        assert!(file.is_file(), "{}", file.display());
        let canon = file.canonicalize().unwrap();
        assert!(
            canon.starts_with(pictures.canonicalize().unwrap().join(first)),
            "{}",
            canon.display()
        );
        let post = state.store.get_post(post).await.unwrap().unwrap();
        assert_eq!(post.image_key.as_deref(), Some(key.as_str()));
    }
    // Alice's folder holds her one post folder with her one picture, nothing else.
    let alice = pictures.join("alice");
    let folders: Vec<_> = std::fs::read_dir(&alice).unwrap().collect();
    assert_eq!(folders.len(), 1, "{}", alice.display());
    let folder = folders[0].as_ref().unwrap().path();
    assert_eq!(std::fs::read_dir(folder).unwrap().count(), 1);
    assert_eq!(app.list("/posts?user=alice").await.len(), 1);
    assert_eq!(app.list("/posts").await.len(), names.len() + 1);
}

/// Usernames compare case-insensitively in jwt mode too: `Alice` is taken once `alice`
/// exists, any case signs in, and posts show the registered spelling.
#[tokio::test]
async fn jwt_accounts_are_case_insensitive() {
    let app = TestApp::spawn().await;
    let r = app.signup("Alice").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for taken in ["alice", "ALICE", "Alice"] {
        assert_error(app.signup(taken).await, StatusCode::CONFLICT, "conflict").await;
    }
    for spelling in ["alice", "ALICE", "aLiCe"] {
        let r = app.login(spelling, "correct horse").await;
        assert_eq!(r.status(), StatusCode::OK, "{spelling}");
        let token: Value = r.json().await.unwrap();
        let post = app
            .new_post(token["token"].as_str().unwrap(), "t", "b")
            .await;
        assert_eq!(post["user"], "Alice");
    }
    assert_eq!(app.list("/posts?user=alice").await.len(), 3);
    assert_eq!(app.list("/posts?user=ALICE").await.len(), 3);
    let r = app.login("ALICE", "wrong password").await;
    assert_error(r, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

/// The web app lists without `limit` and `cursor` and expects everything: more than a
/// page comes back in one streamed array (no `Content-Length`, no `Link`); filters
/// still apply; an explicit `limit` still pages. jwt mode keeps pages.
#[tokio::test]
async fn header_mode_lists_every_post_streamed() {
    let app = TestApp::spawn_with(header_mode).await;
    let store = app.state.as_ref().unwrap().store.clone();
    for name in ["Jean Dupont", "bob"] {
        let r = app
            .post_json_as("/posts", &post_body(), name.as_bytes())
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    // 250 + 1 posts by Jean, 1 by bob: straight into the store (the per-user post limit
    // is not what this tests).
    for i in 0..250 {
        store
            .create_post(
                "Jean Dupont",
                NewPost {
                    title: format!("post {i}"),
                    body: "b".into(),
                },
            )
            .await
            .unwrap();
    }
    let r = app.get("/posts").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("link").is_none());
    assert!(r.headers().get("content-length").is_none(), "streamed");
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    let all: Vec<Value> = r.json().await.unwrap();
    assert_eq!(all.len(), 252);
    let mut ids: Vec<&str> = all.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let listed = ids.clone();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(listed, ids, "newest first");
    ids.dedup();
    assert_eq!(ids.len(), 252, "no post twice");
    assert_eq!(app.list("/posts?user=jean%20dupont").await.len(), 251);
    assert_eq!(app.list("/posts?user=bob").await.len(), 1);
    assert_eq!(app.list("/posts?q=post").await.len(), 250);
    assert!(app.list("/posts?user=nobody").await.is_empty());
    // An explicit page size still pages.
    let r = app.get("/posts?limit=100").await;
    assert!(r.headers().get("link").is_some());
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 100);

    let jwt = TestApp::spawn().await;
    let token = jwt.user("carol").await;
    for i in 0..21 {
        jwt.new_post(&token, &format!("p{i}"), "b").await;
    }
    let r = jwt.get("/posts").await;
    assert!(r.headers().get("link").is_some(), "jwt mode keeps pages");
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 20);
}
