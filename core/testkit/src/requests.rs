//! [`TestApp`]'s request helpers: each builds one kind of request the tests send, sends
//! it and returns the response (the tests assert on it), so building a request is written
//! once. A transport error fails the test.

use reqwest::{Body, Response, StatusCode};
use serde_json::{json, Value};

use crate::TestApp;

/// The password every helper-made account has.
const PASSWORD: &str = "correct horse";

impl TestApp {
    /// `GET path` on this server.
    pub async fn get(&self, path: &str) -> Response {
        self.get_url(&self.at(path)).await
    }

    /// `GET path` with extra request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.get_url_with(&self.at(path), headers).await
    }

    /// `GET url` for an absolute URL (a picture, a `Link: rel="next"` target, a worker).
    pub async fn get_url(&self, url: &str) -> Response {
        self.get_url_with(url, &[]).await
    }

    /// `GET url` (absolute) with extra request headers.
    pub async fn get_url_with(&self, url: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = self.client.get(url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("request")
    }

    /// `POST path` with a JSON body, with `Authorization: Bearer <token>` when given.
    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut req = self.client.post(self.at(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// `POST path` with a JSON body and `authorization` as the whole `Authorization`
    /// header (header auth mode, or a value that is not a bearer token).
    pub async fn post_json_authorization(
        &self,
        path: &str,
        body: &Value,
        authorization: &str,
    ) -> Response {
        self.client
            .post(self.at(path))
            .header("authorization", authorization)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST path` with `body` sent as is under `content_type` (malformed or non-JSON bodies).
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Response {
        self.client
            .post(self.at(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// `POST /auth/signup` for `user` with the helpers' password.
    pub async fn signup(&self, user: &str) -> Response {
        self.post_json(
            "/auth/signup",
            &json!({"username": user, "password": PASSWORD}),
            None,
        )
        .await
    }

    /// Signs up `user` (owned, for many concurrent sign-ups).
    pub async fn signup_as(&self, user: String) -> Response {
        self.signup(&user).await
    }

    /// `POST /auth/login` for `user` with `password`.
    pub async fn login(&self, user: &str, password: &str) -> Response {
        self.post_json(
            "/auth/login",
            &json!({"username": user, "password": password}),
            None,
        )
        .await
    }

    /// Signs up and logs in; returns the token.
    pub async fn user(&self, user: &str) -> String {
        let r = self.signup(user).await;
        assert_eq!(r.status(), StatusCode::CREATED, "signup {user}");
        let r = self.login(user, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::OK, "login {user}");
        let v: Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }

    /// Creates a post; returns its JSON.
    pub async fn new_post(&self, token: &str, title: &str, body: &str) -> Value {
        let r = self
            .post_json(
                "/posts",
                &json!({"title": title, "body": body}),
                Some(token),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json().await.expect("json")
    }

    /// `GET /posts/{id}` (the id URL-encoded).
    pub async fn get_post(&self, id: &str) -> Response {
        self.get(&format!("/posts/{}", urlencoding::encode(id)))
            .await
    }

    /// `DELETE /posts/{id}` (the id URL-encoded), with a bearer token when given.
    pub async fn delete_post(&self, id: &str, token: Option<&str>) -> Response {
        let mut req = self
            .client
            .delete(self.at(&format!("/posts/{}", urlencoding::encode(id))));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// `GET path` (`/signedUrlPut` or its alias) with `query`, with a bearer token when
    /// given: for missing parameters and aliases; [`TestApp::signed_url`] is the usual ask.
    pub async fn signed_url_request(
        &self,
        path: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
    ) -> Response {
        let mut req = self.client.get(self.at(path)).query(query);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Asks for an upload URL.
    pub async fn signed_url(
        &self,
        token: &str,
        post_id: &str,
        filename: &str,
        filetype: &str,
    ) -> Response {
        self.signed_url_request(
            "/signedUrlPut",
            &[
                ("filename", filename),
                ("filetype", filetype),
                ("postId", post_id),
            ],
            Some(token),
        )
        .await
    }

    /// `PUT url` (an upload URL) with `body` under `Content-Type: content_type`.
    pub async fn put_object(
        &self,
        url: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Response {
        self.client
            .put(url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("put")
    }

    /// Uploads bytes to a fresh upload URL; returns the PUT response and the object key.
    pub async fn upload(
        &self,
        token: &str,
        post_id: &str,
        filetype: &str,
        bytes: Vec<u8>,
    ) -> (Response, String) {
        let r = self.signed_url(token, post_id, "pic.bin", filetype).await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: Value = r.json().await.expect("json");
        let url = v["uploadURL"].as_str().expect("url").to_string();
        let key = v["objectName"].as_str().expect("key").to_string();
        let put = self.put_object(&url, filetype, bytes).await;
        (put, key)
    }

    /// `POST path` with a JSON body and `authorization` as the raw bytes of the
    /// `Authorization` header (header auth mode: a name in UTF-8, or in Latin-1 as a
    /// browser sends it).
    pub async fn post_json_as(&self, path: &str, body: &Value, authorization: &[u8]) -> Response {
        self.client
            .post(self.at(path))
            .header("authorization", raw_header(authorization))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `DELETE /posts/{id}` with `authorization` as the raw `Authorization` bytes.
    pub async fn delete_post_as(&self, id: &str, authorization: &[u8]) -> Response {
        self.client
            .delete(self.at(&format!("/posts/{}", urlencoding::encode(id))))
            .header("authorization", raw_header(authorization))
            .send()
            .await
            .expect("request")
    }

    /// Asks for an upload URL with `authorization` as the raw `Authorization` bytes, then
    /// uploads `bytes` there; returns the PUT response and the object key.
    pub async fn upload_as(
        &self,
        authorization: &[u8],
        post_id: &str,
        filetype: &str,
        bytes: Vec<u8>,
    ) -> (Response, String) {
        let r = self
            .client
            .get(self.at("/signedUrlPut"))
            .query(&[
                ("filename", "pic.bin"),
                ("filetype", filetype),
                ("postId", post_id),
            ])
            .header("authorization", raw_header(authorization))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), StatusCode::OK, "signedUrlPut");
        let v: Value = r.json().await.expect("json");
        let url = v["uploadURL"].as_str().expect("url").to_string();
        let key = v["objectName"].as_str().expect("key").to_string();
        let put = self.put_object(&url, filetype, bytes).await;
        (put, key)
    }

    /// `GET path` answered 200 with a JSON array of posts.
    pub async fn list(&self, path: &str) -> Vec<Value> {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.expect("json array")
    }

    /// `POST /users/me/password` `{old_password, new_password}` with a bearer token.
    pub async fn change_password(&self, token: &str, old: &str, new: &str) -> Response {
        self.post_json(
            "/users/me/password",
            &json!({"old_password": old, "new_password": new}),
            Some(token),
        )
        .await
    }

    /// `DELETE /users/me` `{password}`, with a bearer token when given.
    pub async fn delete_account(&self, token: Option<&str>, password: &str) -> Response {
        let mut req = self
            .client
            .delete(self.at("/users/me"))
            .json(&json!({ "password": password }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// The password every helper-made account has ([`TestApp::user`], [`TestApp::signup`]).
    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let r = self.get("/metrics").await;
        assert_eq!(r.status(), StatusCode::OK, "GET /metrics");
        r.text().await.expect("text")
    }
}

/// A header value of exactly these bytes (any but the few HTTP forbids: NUL, CR, LF…).
fn raw_header(bytes: &[u8]) -> reqwest::header::HeaderValue {
    reqwest::header::HeaderValue::from_bytes(bytes).expect("bytes a header value may hold")
}
