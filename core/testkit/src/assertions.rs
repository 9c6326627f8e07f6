//! The one assertion on error answers every API test makes.

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Asserts an error answer: status, stable code and a non-empty message (the JSON error
/// body of the REST contract); returns the body for further checks.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let v: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(v["error"], code, "error code in {v}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message in {v}"
    );
    v
}

/// Asserts that `token` is refused with 401 `token_revoked` by every route the OpenAPI
/// document marks as needing a bearer token (so a route added later is covered too),
/// with `post_id` in `{id}` paths and an empty JSON object as the body; returns the
/// `METHOD path` pairs it tried.
pub async fn assert_token_revoked_everywhere(
    app: &crate::TestApp,
    token: &str,
    post_id: &str,
) -> Vec<String> {
    let doc: Value = app
        .get("/openapi.json")
        .await
        .json()
        .await
        .expect("the OpenAPI document");
    let mut tried = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let bearer = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            if !bearer {
                continue;
            }
            let url = app.at(&path.replace("{id}", &urlencoding::encode(post_id)));
            let resp = app
                .client
                .request(method.to_uppercase().parse().expect("method"), url)
                .query(&[
                    ("postId", post_id),
                    ("filename", "a.png"),
                    ("filetype", "image/png"),
                ])
                .bearer_auth(token)
                .json(&serde_json::json!({}))
                .send()
                .await
                .expect("request");
            let what = format!("{} {path}", method.to_uppercase());
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
            let v: Value = resp.json().await.expect("error body is JSON");
            assert_eq!(v["error"], "token_revoked", "{what}: {v}");
            tried.push(what);
        }
    }
    tried.sort();
    tried
}
