//! `/users/me`: password change (every earlier token revoked) and account deletion
//! (everything goes, crash-safe, racing uploads), through a real socket.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, assert_token_revoked_everywhere, header_mode, png_bytes, TestApp,
};

const NEW_PASSWORD: &str = "battery staple";

/// The files below `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

async fn token_of(app: &TestApp, user: &str, password: &str) -> String {
    let r = app.login(user, password).await;
    assert_eq!(r.status(), StatusCode::OK, "login {user}");
    let v: Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// Every route that takes a token is refused to both tokens issued before the change
/// (the one that changed it included); the old password no longer logs in, the new one
/// does, and its token works. Posts stay.
#[tokio::test]
async fn a_password_change_revokes_every_earlier_token() {
    let app = TestApp::spawn().await;
    let first = app.user("alice").await;
    let second = token_of(&app, "alice", app.password()).await;
    let post = app
        .new_post(&first, "kept", "through a password change")
        .await;
    let id = post["id"].as_str().unwrap().to_string();

    let r = app
        .change_password(&second, app.password(), NEW_PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for stale in [&first, &second] {
        let tried = assert_token_revoked_everywhere(&app, stale, &id).await;
        for route in [
            "POST /posts",
            "PATCH /posts/{id}",
            "DELETE /posts/{id}",
            "GET /signedUrlPut",
            "GET /getSignedUrlPut",
            "POST /users/me/password",
            "DELETE /users/me",
        ] {
            assert!(tried.iter().any(|t| t == route), "{route} in {tried:?}");
        }
    }
    assert_error(
        app.login("alice", app.password()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let fresh = token_of(&app, "alice", NEW_PASSWORD).await;
    app.new_post(&fresh, "after", "the change").await;
    assert_eq!(app.get_post(&id).await.status(), StatusCode::OK);
    // And again: the fresh token is revoked by the next change.
    let r = app
        .change_password(&fresh, NEW_PASSWORD, "third password")
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.post_json("/posts", &json!({"title": "t", "body": "b"}), Some(&fresh))
            .await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    // Other accounts' tokens are not touched.
    let bob = app.user("bob").await;
    app.new_post(&bob, "bob", "still signed in").await;
}

/// A wrong current password is 403 `wrong_password` and changes nothing (the token still
/// works); the new password is checked like a sign-up's (422 naming `new_password`);
/// malformed bodies and missing tokens get the usual errors.
#[tokio::test]
async fn a_password_change_checks_both_passwords() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let r = app
        .change_password(&token, "not my password", NEW_PASSWORD)
        .await;
    assert_error(r, StatusCode::FORBIDDEN, "wrong_password").await;
    let r = app.change_password(&token, app.password(), "short").await;
    let body = assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(
        body["message"].as_str().unwrap().contains("new_password"),
        "{body}"
    );
    for bad in [
        json!({"old_password": app.password()}),
        json!({"old_password": 1, "new_password": NEW_PASSWORD}),
    ] {
        let r = app
            .post_json("/users/me/password", &bad, Some(&token))
            .await;
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    let r = app
        .client
        .post(app.at("/users/me/password"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"old_password\":")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    let r = app
        .post_json(
            "/users/me/password",
            &json!({"old_password": app.password(), "new_password": NEW_PASSWORD}),
            None,
        )
        .await;
    assert_error(r, StatusCode::UNAUTHORIZED, "missing_token").await;
    // Nothing changed: the token and the password still work.
    app.new_post(&token, "still", "signed in").await;
    token_of(&app, "alice", app.password()).await;
}

/// Wrong current passwords count against the failed-login budget of the (account,
/// address) pair: these routes are no way around it.
#[tokio::test]
async fn wrong_current_passwords_spend_the_login_budget() {
    let app = TestApp::spawn_with(|c| c.limits.login_rate_per_minute = 3).await;
    let token = app.user("alice").await;
    for _ in 0..2 {
        let r = app.change_password(&token, "guess", NEW_PASSWORD).await;
        assert_error(r, StatusCode::FORBIDDEN, "wrong_password").await;
    }
    let r = app.delete_account(Some(&token), "guess").await;
    assert_error(r, StatusCode::FORBIDDEN, "wrong_password").await;
    let r = app
        .change_password(&token, app.password(), NEW_PASSWORD)
        .await;
    assert!(r.headers().get("retry-after").is_some());
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_error(
        app.login("alice", app.password()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    let r = app.delete_account(Some(&token), app.password()).await;
    assert_error(r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Nothing was changed or deleted.
    app.new_post(&token, "still", "here").await;
}

/// Header mode has no passwords: both routes answer 400 `no_passwords`, and asking
/// creates no account.
#[tokio::test]
async fn header_mode_has_no_passwords_to_change_or_confirm() {
    let app = TestApp::spawn_with(header_mode).await;
    let r = app
        .post_json_authorization(
            "/users/me/password",
            &json!({"old_password": "whatever1", "new_password": NEW_PASSWORD}),
            "webapp_user",
        )
        .await;
    let body = assert_error(r, StatusCode::BAD_REQUEST, "no_passwords").await;
    assert!(
        body["message"].as_str().unwrap().contains("header"),
        "{body}"
    );
    let r = app
        .client
        .delete(app.at("/users/me"))
        .header("authorization", "webapp_user")
        .json(&json!({"password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "no_passwords").await;
    let store = &app.state.as_ref().unwrap().store;
    assert!(store.get_user("webapp_user").await.unwrap().is_none());
}

/// Two posts with pictures, one being labelled: after `DELETE /users/me` no post, file,
/// label job or list entry of the account is left, its tokens and password are refused
/// (deleting twice is 401), other accounts keep everything, and the name can be taken
/// again by a new account that starts empty.
#[tokio::test]
async fn deleting_an_account_removes_everything_and_frees_the_name() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let other = token_of(&app, "alice", app.password()).await;
    let bob = app.user("bob").await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let post = app.new_post(&token, &format!("alice {i}"), "mine").await;
        let id = post["id"].as_str().unwrap().to_string();
        let (put, _) = app.upload(&token, &id, "image/png", png_bytes()).await;
        assert_eq!(put.status(), StatusCode::OK);
        ids.push(id);
    }
    let bobs = app.new_post(&bob, "bob's", "his").await;
    let bobs_id = bobs["id"].as_str().unwrap().to_string();
    let (put, bobs_key) = app.upload(&bob, &bobs_id, "image/png", png_bytes()).await;
    assert_eq!(put.status(), StatusCode::OK);
    let pictures = app.data_dir.join("pictures");
    assert_eq!(files_under(&pictures.join("alice")).len(), 2);
    let state = app.state.as_ref().unwrap();
    let jobs = state.jobs.as_ref().unwrap();
    assert_eq!(jobs.counts().await.unwrap().pending, 3);
    // One of alice's pictures is with a labeller when the account goes.
    let claimed = jobs.claim(Duration::from_secs(60)).await.unwrap().unwrap();
    assert!(claimed.object_key.starts_with("alice/"));

    let r = app.delete_account(Some(&token), "wrong password").await;
    assert_error(r, StatusCode::FORBIDDEN, "wrong_password").await;
    assert_eq!(
        app.list("/posts?user=alice").await.len(),
        2,
        "nothing deleted"
    );
    let r = app.delete_account(Some(&token), app.password()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    for id in &ids {
        assert_eq!(app.get_post(id).await.status(), StatusCode::NOT_FOUND);
    }
    assert!(app.list("/posts?user=alice").await.is_empty());
    let all = app.list("/posts").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["id"], bobs_id.as_str());
    assert!(files_under(&pictures.join("alice")).is_empty());
    assert!(
        !pictures.join("alice").exists(),
        "the user's folder is gone"
    );
    assert_eq!(files_under(&pictures.join("bob")).len(), 1);
    assert!(bobs_key.starts_with("bob/"));
    let counts = jobs.counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (1, 0), "{counts:?}");
    let job = jobs.claim(Duration::from_secs(60)).await.unwrap().unwrap();
    assert_eq!(job.object_key, bobs_key, "only bob's job is left");

    // Deleting twice: the token is revoked; so are all the others, everywhere.
    let r = app.delete_account(Some(&token), app.password()).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
    assert_token_revoked_everywhere(&app, &other, &bobs_id).await;
    assert_error(
        app.login("alice", app.password()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // The name is free: a new alice starts empty, and the old tokens stay refused.
    let fresh = app.user("alice").await;
    assert!(app.list("/posts?user=alice").await.is_empty());
    app.new_post(&fresh, "new alice", "hello").await;
    assert_error(
        app.post_json("/posts", &json!({"title": "t", "body": "b"}), Some(&token))
            .await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    // Bob's post and picture are untouched (the original on disk: only derived sizes are
    // served, and his job was claimed above without being processed).
    assert_eq!(app.get_post(&bobs_id).await.status(), StatusCode::OK);
    let bob_files = files_under(&pictures.join("bob"));
    assert_eq!(bob_files.len(), 1);
    assert_eq!(std::fs::read(&bob_files[0]).unwrap(), png_bytes());
}

/// `DELETE /users/me` needs a JSON body with the password and a token.
#[tokio::test]
async fn deleting_an_account_needs_the_password_and_a_token() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let r = app.delete_account(None, app.password()).await;
    assert_error(r, StatusCode::UNAUTHORIZED, "missing_token").await;
    let r = app
        .client
        .delete(app.at("/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let r = app
        .client
        .delete(app.at("/users/me"))
        .bearer_auth(&token)
        .json(&json!({"pass": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    app.new_post(&token, "still", "here").await;
}

/// A deletion interrupted after the account was marked and one of its posts deleted
/// (a crash): meanwhile the account cannot log in, its tokens are refused and its name
/// stays taken; the sweep at the next start finishes it and frees the name.
#[tokio::test]
async fn an_interrupted_deletion_is_finished_by_the_next_start() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let post = app.new_post(&token, &format!("p{i}"), "b").await;
        let id = post["id"].as_str().unwrap().to_string();
        let (put, _) = app.upload(&token, &id, "image/png", png_bytes()).await;
        assert_eq!(put.status(), StatusCode::OK);
        ids.push(id);
    }
    let store = app.state.as_ref().unwrap().store.clone();
    // What the request did before "the crash".
    store.mark_account_deleting("alice").await.unwrap();
    let first = postagram_core::parse_post_id(&ids[0]).unwrap();
    store.delete_post(first).await.unwrap().unwrap();
    assert_error(
        app.post_json("/posts", &json!({"title": "t", "body": "b"}), Some(&token))
            .await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_error(
        app.login("alice", app.password()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_error(app.signup("alice").await, StatusCode::CONFLICT, "conflict").await;
    drop(store);
    let dir = app.data_dir.clone();
    let tmp = app.stop().await;

    let app = TestApp::start_in(dir.clone(), |_| {}).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.signup("alice").await;
        if r.status() == StatusCode::CREATED {
            break;
        }
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert!(Instant::now() < deadline, "the sweep never freed the name");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for id in &ids {
        assert_eq!(app.get_post(id).await.status(), StatusCode::NOT_FOUND);
    }
    assert!(files_under(&dir.join("pictures/alice")).is_empty());
    let jobs = app.state.as_ref().unwrap().jobs.as_ref().unwrap();
    assert_eq!(jobs.counts().await.unwrap().pending, 0);
    app.stop().await;
    drop(tmp);
}

/// An account deleted while one of its pictures is being uploaded: whichever finishes
/// first, no post, picture file or label job is left, and the name is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_account_during_an_upload_leaves_nothing() {
    let app = TestApp::spawn().await;
    let pictures = app.data_dir.join("pictures");
    for round in 0..6 {
        let name = format!("racer{round}");
        let token = app.user(&name).await;
        let post = app.new_post(&token, "racing", "an upload").await;
        let id = post["id"].as_str().unwrap().to_string();
        let r = app.signed_url(&token, &id, "pic.png", "image/png").await;
        let v: Value = r.json().await.unwrap();
        let url = v["uploadURL"].as_str().unwrap().to_string();
        // Alternate which request starts first; they run at once.
        let upload = app.put_object(&url, "image/png", png_bytes());
        let delete = app.delete_account(Some(&token), app.password());
        let (put, del) = if round % 2 == 0 {
            tokio::join!(upload, delete)
        } else {
            let (d, u) = tokio::join!(delete, upload);
            (u, d)
        };
        assert_eq!(del.status(), StatusCode::NO_CONTENT, "round {round}");
        assert!(
            put.status() == StatusCode::OK || put.status() == StatusCode::NOT_FOUND,
            "round {round}: {}",
            put.status()
        );
        assert_eq!(app.get_post(&id).await.status(), StatusCode::NOT_FOUND);
        assert!(
            files_under(&pictures.join(&name)).is_empty(),
            "round {round}: {:?}",
            files_under(&pictures.join(&name))
        );
        assert_eq!(app.signup(&name).await.status(), StatusCode::CREATED);
    }
    let jobs = app.state.as_ref().unwrap().jobs.as_ref().unwrap();
    let counts = jobs.counts().await.unwrap();
    assert_eq!((counts.pending, counts.running), (0, 0), "{counts:?}");
}
