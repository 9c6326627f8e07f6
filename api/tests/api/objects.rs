use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_error, jpeg_bytes, png_bytes, process_pictures, TestApp};

async fn upload_url(app: &TestApp, filetype: &str) -> (String, String, String) {
    let token = app.user("alice").await;
    let post = app.new_post(&token, "pic", "b").await;
    let id = post["id"].as_str().unwrap().to_string();
    let v: Value = app
        .signed_url(&token, &id, "pic.img", filetype)
        .await
        .json()
        .await
        .unwrap();
    (v["uploadURL"].as_str().unwrap().to_string(), id, token)
}

#[tokio::test]
async fn bytes_must_match_the_announced_type() {
    let app = TestApp::spawn().await;
    let (url, id, _) = upload_url(&app, "image/jpeg").await;
    let r = app.put_object(&url, "image/jpeg", png_bytes()).await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_mismatch",
    )
    .await;
    let r = app
        .put_object(&url, "image/jpeg", "just some text, not a picture")
        .await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_mismatch",
    )
    .await;
    let r = app.put_object(&url, "image/jpeg", Vec::new()).await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "content_type_mismatch",
    )
    .await;
    // Nothing was recorded.
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    assert_eq!(v["label_status"], "none");
    assert_eq!(v["image"], Value::Null);
    // The right bytes go through.
    let r = app.put_object(&url, "image/jpeg", jpeg_bytes()).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn content_type_must_be_an_image_and_match_the_signature() {
    let app = TestApp::spawn().await;
    let (url, _, _) = upload_url(&app, "image/png").await;
    let r = app.put_object(&url, "text/plain", "hello").await;
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let r = app.client.put(&url).body(png_bytes()).send().await.unwrap();
    assert_error(
        r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Signed for PNG, sent as JPEG: the signature covers the type.
    let r = app.put_object(&url, "image/jpeg", jpeg_bytes()).await;
    assert_error(r, StatusCode::FORBIDDEN, "bad_signature").await;
}

#[tokio::test]
async fn bad_and_expired_signatures_are_403() {
    let app = TestApp::spawn().await;
    let (url, _, _) = upload_url(&app, "image/png").await;
    let tampered = format!("{}0", &url[..url.len() - 1]);
    let tampered = if tampered == url {
        format!("{}1", &url[..url.len() - 1])
    } else {
        tampered
    };
    let r = app.put_object(&tampered, "image/png", png_bytes()).await;
    assert_error(r, StatusCode::FORBIDDEN, "bad_signature").await;
    let unsigned = url.split('?').next().unwrap().to_string();
    let r = app.put_object(&unsigned, "image/png", png_bytes()).await;
    assert_error(r, StatusCode::FORBIDDEN, "bad_signature").await;
    // Another key with the same signature.
    let other_key = url.replacen("/objects/alice/", "/objects/bob/", 1);
    let r = app.put_object(&other_key, "image/png", png_bytes()).await;
    assert_error(r, StatusCode::FORBIDDEN, "bad_signature").await;
    // Moving the expiry invalidates the signature.
    let later = regex_replace_expires(&url, 9_999_999_999);
    let r = app.put_object(&later, "image/png", png_bytes()).await;
    assert_error(r, StatusCode::FORBIDDEN, "bad_signature").await;

    // A URL issued with a past expiry.
    let short = TestApp::spawn_with(|c| c.url_expiry_secs = 60).await;
    let (url, _, _) = upload_url(&short, "image/png").await;
    let _ = url;
    let signer_expired = {
        use postagram_core::signing::{derive_key, UrlSigner};
        let secret = std::fs::read_to_string(short.data_dir.join("secret.key")).ok();
        // Tests use a fixed POSTAGRAM_JWT_SECRET; the object key derives from it.
        let secret = secret
            .map(|s| hex::decode(s.trim()).unwrap())
            .unwrap_or_else(|| b"test-secret-test-secret-test-secret".to_vec());
        UrlSigner::new(&derive_key(&secret, "postagram objects"))
    };
    let token = short.user("carol").await;
    let post = short.new_post(&token, "p", "b").await;
    let v: Value = short
        .signed_url(&token, post["id"].as_str().unwrap(), "a.png", "image/png")
        .await
        .json()
        .await
        .unwrap();
    let key = v["objectName"].as_str().unwrap();
    let past = chrono::Utc::now().timestamp() - 5;
    let sig = signer_expired.sign("PUT", key, "image/png", past);
    let expired = format!("{}/objects/{}?expires={past}&sig={sig}", short.url, key);
    let r = short.put_object(&expired, "image/png", png_bytes()).await;
    let v = assert_error(r, StatusCode::FORBIDDEN, "bad_signature").await;
    assert!(v["message"].as_str().unwrap().contains("expired"));
}

fn regex_replace_expires(url: &str, value: i64) -> String {
    let start = url.find("expires=").unwrap() + "expires=".len();
    let end = url[start..].find('&').map(|i| start + i).unwrap();
    format!("{}{}{}", &url[..start], value, &url[end..])
}

#[tokio::test]
async fn oversized_upload_is_413() {
    let app = TestApp::spawn_with(|c| c.max_upload_bytes = 1024).await;
    let (url, id, _) = upload_url(&app, "image/png").await;
    let mut big = png_bytes();
    big.resize(4096, 0);
    let r = app.put_object(&url, "image/png", big).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    // Streamed without Content-Length, too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![0x89u8; 512])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = app.put_object(&url, "image/png", body).await;
    assert_error(r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    assert_eq!(v["label_status"], "none");
}

#[tokio::test]
async fn get_object_requires_a_valid_signature() {
    let app = TestApp::spawn().await;
    let (url, id, _) = upload_url(&app, "image/png").await;
    app.put_object(&url, "image/png", png_bytes()).await;
    process_pictures(&app).await;
    let v: Value = app.get_post(&id).await.json().await.unwrap();
    let image = v["image"].as_str().unwrap();
    assert_eq!(app.get_url(image).await.status(), StatusCode::OK);
    let unsigned = image.split('?').next().unwrap();
    assert_error(
        app.get_url(unsigned).await,
        StatusCode::FORBIDDEN,
        "bad_signature",
    )
    .await;
    // The PUT URL does not allow reading.
    assert_error(
        app.get_url(&url).await,
        StatusCode::FORBIDDEN,
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn upload_for_a_deleted_post_is_refused() {
    let app = TestApp::spawn().await;
    let (url, id, token) = upload_url(&app, "image/png").await;
    let r = app.delete_post(&id, Some(&token)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = app.put_object(&url, "image/png", png_bytes()).await;
    assert_error(r, StatusCode::NOT_FOUND, "not_found").await;
}
