use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, TestApp};

fn next_link(r: &reqwest::Response) -> Option<String> {
    let link = r.headers().get("link")?.to_str().ok()?;
    assert!(link.ends_with("rel=\"next\""), "{link}");
    Some(link.trim_start_matches('<').split('>').next()?.to_string())
}

#[tokio::test]
async fn create_get_and_wire_shape() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let r = app
        .post_json(
            "/posts",
            &json!({"title": "Hello", "body": "World"}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("/posts/POST%23"));
    let v: Value = r.json().await.unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(id.starts_with("POST#"));
    assert_eq!(v["user"], "alice");
    assert_eq!(v["image"], Value::Null);
    assert_eq!(v["label_status"], "none");
    // labels are omitted (not []) until the picture is labelled: the web app relies on it.
    assert!(v.get("labels").is_none() && v.get("label").is_none());
    assert!(chrono::DateTime::parse_from_rfc3339(v["created_at"].as_str().unwrap()).is_ok());

    // Both id forms work.
    let by_wire: Value = app.get_post(id).await.json().await.unwrap();
    assert_eq!(by_wire, v);
    let bare = id.trim_start_matches("POST#");
    let by_bare: Value = app
        .get(&format!("/posts/{bare}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_bare, v);
}

#[tokio::test]
async fn get_unknown_and_malformed() {
    let app = TestApp::spawn().await;
    let r = app
        .get_post(&format!("POST#{}", uuid::Uuid::now_v7()))
        .await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.get_post("POST#not-a-uuid").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_id").await;
}

#[tokio::test]
async fn invalid_fields_are_422() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    for body in [
        json!({"title": "", "body": "b"}),
        json!({"title": "   ", "body": "b"}),
        json!({"title": "t".repeat(201), "body": "b"}),
        json!({"title": "t", "body": "b".repeat(10_001)}),
        json!({"title": 1, "body": "b"}),
        json!({"title": "t"}),
        json!([1, 2]),
    ] {
        assert_error(
            app.post_json("/posts", &body, Some(&token)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
    }
    // Limits are inclusive.
    let r = app
        .post_json(
            "/posts",
            &json!({"title": "t".repeat(200), "body": "b".repeat(10_000)}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn delete_is_owner_only_and_removes_the_post() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "mine", "body").await;
    let id = post["id"].as_str().unwrap();
    assert_error(
        app.delete_post(id, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_error(
        app.delete_post(id, Some(&bob)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(app.get_post(id).await.status(), StatusCode::OK);
    let r = app.delete_post(id, Some(&alice)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_error(app.get_post(id).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_error(
        app.delete_post(id, Some(&alice)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn pagination_has_no_duplicates_or_gaps() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    let mut created = Vec::new();
    for i in 0..23 {
        let p = app.new_post(&token, &format!("post {i}"), "body").await;
        created.push(p["id"].as_str().unwrap().to_string());
    }
    created.reverse(); // newest first
    let mut seen = Vec::new();
    let mut url = app.at("/posts?limit=5");
    let mut pages = 0;
    loop {
        let r = app.get_url(&url).await;
        assert_eq!(r.status(), StatusCode::OK);
        let next = next_link(&r);
        let page: Vec<Value> = r.json().await.unwrap();
        assert!(page.len() <= 5);
        seen.extend(page.iter().map(|p| p["id"].as_str().unwrap().to_string()));
        pages += 1;
        match next {
            Some(n) => url = n,
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, created);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 23);
}

#[tokio::test]
async fn list_limits_and_cursor_errors() {
    let app = TestApp::spawn().await;
    for bad in ["0", "101", "abc", "-1"] {
        let r = app.get(&format!("/posts?limit={bad}")).await;
        assert_error(r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    let r = app.get("/posts?cursor=forged").await;
    assert_error(r, StatusCode::BAD_REQUEST, "invalid_cursor").await;
}

#[tokio::test]
async fn filter_by_user_and_text_search() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.new_post(&alice, "Sunset at the beach", "golden light")
        .await;
    app.new_post(&bob, "Espresso", "morning coffee at the café")
        .await;
    app.new_post(&bob, "Mountains", "snow everywhere").await;

    let list = |q: &'static str| {
        let app = &app;
        async move {
            app.list(&format!("/posts?{q}"))
                .await
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list("user=bob").await, vec!["Mountains", "Espresso"]);
    assert_eq!(list("user=alice").await, vec!["Sunset at the beach"]);
    assert_eq!(list("q=coffee").await, vec!["Espresso"]);
    assert_eq!(list("q=cafe").await, vec!["Espresso"], "diacritics folded");
    assert_eq!(list("q=BEACH").await, vec!["Sunset at the beach"]);
    assert_eq!(list("q=mount").await, vec!["Mountains"], "prefix match");
    assert_eq!(
        list("q=beach%20snow").await,
        Vec::<String>::new(),
        "all words must match"
    );
    assert_eq!(
        list("q=%22%20OR%20*").await,
        Vec::<String>::new(),
        "operators are not interpreted"
    );
    assert_eq!(
        list("q=%22%22%22").await,
        Vec::<String>::new(),
        "no words, no results"
    );
    assert_eq!(list("user=bob&q=snow").await, vec!["Mountains"]);
    assert_eq!(list("label=dog").await, Vec::<String>::new());
}

#[tokio::test]
async fn list_etag_and_304() {
    let app = TestApp::spawn().await;
    let token = app.user("alice").await;
    app.new_post(&token, "one", "b").await;
    let r = app.get("/posts").await;
    let etag = r
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let r = app
        .get_with("/posts", &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers().get("etag").unwrap().to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());
    // A write changes the answer and its ETag.
    app.new_post(&token, "two", "b").await;
    let r = app
        .get_with("/posts", &[("if-none-match", etag.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(r.headers().get("etag").unwrap().to_str().unwrap(), etag);
    let v: Vec<Value> = r.json().await.unwrap();
    assert_eq!(v.len(), 2);
}
