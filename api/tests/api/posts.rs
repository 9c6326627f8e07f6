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

/// `PATCH /posts/{id}` with a JSON body, as `token` (or anonymously).
async fn patch(app: &TestApp, id: &str, body: &Value, token: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .patch(app.at(&format!("/posts/{}", urlencoding::encode(id))))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn etag(r: &reqwest::Response) -> String {
    r.headers()
        .get("etag")
        .expect("an ETag")
        .to_str()
        .unwrap()
        .to_string()
}

async fn titles(app: &TestApp, query: &str) -> Vec<String> {
    app.list(&format!("/posts?{query}"))
        .await
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

/// The author edits: the answer, `GET`, the lists (cached before the edit), the user
/// filter and text search show the new text at once, the post's and the list's ETags
/// change, `updated_at` appears (absent before), labels stay.
#[tokio::test]
async fn edit_shows_everywhere_and_changes_etags() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let created = app.new_post(&alice, "Sunrise", "espresso at dawn").await;
    assert!(
        created.get("updated_at").is_none(),
        "absent until edited: {created}"
    );
    let id = created["id"].as_str().unwrap().to_string();
    // Labels, as the labeller writes them, on the real store.
    let store = &app.state.as_ref().unwrap().store;
    let pid = postagram_core::parse_post_id(&id).unwrap();
    let key = format!("alice/{}/{}sun.png", pid.uuid_str(), "0".repeat(32));
    store.set_image(pid, &key, 1).await.unwrap();
    let labels = vec![postagram_core::label::Label {
        name: "sky".into(),
        confidence: 80.0,
    }];
    store
        .set_labels(
            pid,
            &key,
            postagram_core::store::LabelOutcome::Labelled(labels),
        )
        .await
        .unwrap();

    let before = app.get_post(&id).await;
    assert_eq!(before.status(), StatusCode::OK);
    let post_etag = etag(&before);
    let r = app
        .client
        .get(app.at(&format!("/posts/{}", urlencoding::encode(&id))))
        .header("if-none-match", &post_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let list = app.client.get(app.at("/posts")).send().await.unwrap();
    let list_etag = etag(&list);
    // Warm the list cache with the answers the edit must invalidate.
    assert_eq!(titles(&app, "q=espresso").await, ["Sunrise"]);
    assert!(titles(&app, "q=latte").await.is_empty());
    assert_eq!(titles(&app, "label=sky").await, ["Sunrise"]);

    let r = patch(&app, &id, &json!({"body": "latte at noon"}), Some(&alice)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let new_etag = etag(&r);
    assert_ne!(new_etag, post_etag, "the post's ETag changes");
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["title"], "Sunrise", "title kept");
    assert_eq!(edited["body"], "latte at noon");
    assert_eq!(edited["created_at"], created["created_at"]);
    assert_eq!(edited["labels"], json!(["sky"]), "labels kept");
    let updated = chrono::DateTime::parse_from_rfc3339(edited["updated_at"].as_str().unwrap())
        .expect("updated_at is RFC 3339");
    let created_at =
        chrono::DateTime::parse_from_rfc3339(created["created_at"].as_str().unwrap()).unwrap();
    assert!(updated >= created_at);

    // GET: the stale ETag no longer matches; the new one does.
    let r = app
        .client
        .get(app.at(&format!("/posts/{}", urlencoding::encode(&id))))
        .header("if-none-match", &post_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(etag(&r), new_etag);
    assert_eq!(r.json::<Value>().await.unwrap(), edited);
    let r = app
        .client
        .get(app.at(&format!("/posts/{}", urlencoding::encode(&id))))
        .header("if-none-match", &new_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    // Lists: the stale list ETag no longer matches; search, user and label filters follow.
    let r = app
        .client
        .get(app.at("/posts"))
        .header("if-none-match", &list_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_ne!(etag(&r), list_etag);
    let listed: Vec<Value> = r.json().await.unwrap();
    assert_eq!(listed, vec![edited.clone()]);
    assert_eq!(titles(&app, "q=latte").await, ["Sunrise"]);
    assert!(
        titles(&app, "q=espresso").await.is_empty(),
        "old words are gone"
    );
    assert_eq!(titles(&app, "user=alice").await, ["Sunrise"]);
    assert_eq!(app.list("/posts?label=sky").await, vec![edited.clone()]);

    // Both fields at once; the title is searchable under its new words.
    let r = patch(
        &app,
        &id,
        &json!({"title": "High noon", "body": "flat white"}),
        Some(&alice),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let both: Value = r.json().await.unwrap();
    assert_eq!(
        (both["title"].as_str(), both["body"].as_str()),
        (Some("High noon"), Some("flat white"))
    );
    assert_eq!(titles(&app, "q=noon").await, ["High noon"]);
    assert!(titles(&app, "q=sunrise").await.is_empty());
}

/// Only the author edits: 401 without a token, 403 for another user (the post unchanged),
/// 404 for an unknown or deleted post, 400 for a bad id.
#[tokio::test]
async fn edit_is_author_only() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.new_post(&alice, "mine", "body").await;
    let id = post["id"].as_str().unwrap().to_string();
    let change = json!({"title": "hijacked"});
    assert_error(
        patch(&app, &id, &change, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    assert_error(
        patch(&app, &id, &change, Some(&bob)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // Even an invalid edit of someone else's post is 403: nothing about it is checked.
    assert_error(
        patch(&app, &id, &json!({}), Some(&bob)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let unchanged: Value = app.get_post(&id).await.json().await.unwrap();
    assert_eq!(unchanged, post);
    assert_eq!(titles(&app, "q=hijacked").await, Vec::<String>::new());

    let unknown = format!("POST#{}", uuid::Uuid::now_v7());
    assert_error(
        patch(&app, &unknown, &change, Some(&alice)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        patch(&app, "POST#not-a-uuid", &change, Some(&alice)).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    )
    .await;
    let r = app
        .client
        .delete(app.at(&format!("/posts/{}", urlencoding::encode(&id))))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_error(
        patch(&app, &id, &change, Some(&alice)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(app.get_post(&id).await, StatusCode::NOT_FOUND, "not_found").await;
}

/// Bad edits: 422 for no field, `null`, an unknown field, wrong types and the create
/// limits; 400 for malformed JSON; 415 for a body that is not JSON. None changes the post.
#[tokio::test]
async fn invalid_edits_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let post = app.new_post(&alice, "keep", "me").await;
    let id = post["id"].as_str().unwrap().to_string();
    for body in [
        json!({}),
        json!({"title": null}),
        json!({"body": null, "title": "t"}),
        json!({"tittle": "typo"}),
        json!({"title": "t", "extra": 1}),
        json!({"title": ""}),
        json!({"title": "   "}),
        json!({"body": "\n\t"}),
        json!({"title": "t".repeat(201)}),
        json!({"body": "b".repeat(10_001)}),
        json!({"title": 1}),
        json!(["title"]),
        json!("title"),
    ] {
        let v = assert_error(
            patch(&app, &id, &body, Some(&alice)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
        )
        .await;
        assert!(!v["message"].as_str().unwrap().is_empty(), "{body}: {v}");
    }
    let url = app.at(&format!("/posts/{}", urlencoding::encode(&id)));
    let r = app
        .client
        .patch(&url)
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{\"title\": ")
        .send()
        .await
        .unwrap();
    assert_error(r, StatusCode::BAD_REQUEST, "malformed_json").await;
    let r = app
        .client
        .patch(&url)
        .bearer_auth(&alice)
        .header("content-type", "text/plain")
        .body("title=x")
        .send()
        .await
        .unwrap();
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let unchanged: Value = app.get_post(&id).await.json().await.unwrap();
    assert_eq!(unchanged, post, "no rejected edit changed the post");
    // The limits are inclusive, as on create.
    let r = patch(
        &app,
        &id,
        &json!({"title": "t".repeat(200), "body": "b".repeat(10_000)}),
        Some(&alice),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// The OpenAPI document has the operation, with the body schema the server enforces.
#[tokio::test]
async fn the_document_describes_the_edit() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let op = &doc["paths"]["/posts/{id}"]["patch"];
    for status in [
        "200", "400", "401", "403", "404", "408", "413", "415", "422", "429",
    ] {
        assert!(op["responses"][status].is_object(), "PATCH: no {status}");
    }
    let schema = &doc["components"]["schemas"]["PostEdit"];
    assert_eq!(schema["minProperties"], 1, "{schema}");
    assert_eq!(schema["additionalProperties"], false, "{schema}");
    assert_eq!(schema["properties"]["title"]["maxLength"], 200);
    assert_eq!(schema["properties"]["body"]["maxLength"], 10_000);
    assert!(doc["paths"]["/posts/{id}"]["get"]["responses"]["304"].is_object());
}
