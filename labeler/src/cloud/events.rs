//! S3 event notifications (`ObjectCreated`), as S3 sends them to SQS, to a Lambda, or
//! (MinIO) to a webhook.

use serde::Deserialize;

/// One object of an `ObjectCreated` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    /// The bucket.
    pub bucket: String,
    /// The URL-decoded key.
    pub key: String,
    /// When it was created (`eventTime`, Unix ms), if the record says; the order of
    /// uploads, which their events' arrival order need not be.
    pub uploaded_at_ms: Option<i64>,
}

/// What a notification asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Notification {
    /// Pictures were created.
    Created(Vec<CreatedObject>),
    /// `s3:TestEvent`, sent when a notification is configured: nothing to do.
    Test,
}

/// Why a notification cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an S3 event notification: {0}")]
pub struct BadEvent(pub String);

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Records", default)]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event", default)]
    event: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    #[serde(rename = "eventTime", default)]
    event_time: Option<String>,
    s3: S3Entity,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
}

/// Decodes an S3 event key: form-style URL encoding (`+` is a space).
pub fn decode_key(key: &str) -> Result<String, BadEvent> {
    let plus = key.replace('+', " ");
    urlencoding::decode(&plus)
        .map(|k| k.into_owned())
        .map_err(|_| BadEvent(format!("key `{key}` is not valid UTF-8 once decoded")))
}

/// Parses a notification body. Records that are not `ObjectCreated:*` are skipped.
pub fn parse(body: &str) -> Result<S3Notification, BadEvent> {
    let env: Envelope = serde_json::from_str(body).map_err(|e| BadEvent(e.to_string()))?;
    if env.event.as_deref() == Some("s3:TestEvent") {
        return Ok(S3Notification::Test);
    }
    let records = env
        .records
        .ok_or_else(|| BadEvent("no `Records` array".into()))?;
    let mut out = Vec::new();
    for r in records {
        if !r.event_name.starts_with("ObjectCreated")
            && !r.event_name.starts_with("s3:ObjectCreated")
        {
            continue;
        }
        let uploaded_at_ms = r
            .event_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        out.push(CreatedObject {
            bucket: r.s3.bucket.name,
            key: decode_key(&r.s3.object.key)?,
            uploaded_at_ms,
        });
    }
    Ok(S3Notification::Created(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_created_records_with_encoded_keys() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "eventTime":"2026-11-22T16:11:17.250Z",
            "s3":{"bucket":{"name":"pics"},"object":{"key":"alice/0190/abc+my%20cat%2B1.png","size":3}}},
            {"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"pics"},"object":{"key":"b"}}},
            {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"pics"},"object":{"key":"x"}}}]}"#;
        assert_eq!(
            parse(body),
            Ok(S3Notification::Created(vec![
                CreatedObject {
                    bucket: "pics".into(),
                    key: "alice/0190/abc my cat+1.png".into(),
                    uploaded_at_ms: Some(1_795_363_877_250),
                },
                CreatedObject {
                    bucket: "pics".into(),
                    key: "b".into(),
                    uploaded_at_ms: None,
                },
            ]))
        );
    }

    #[test]
    fn test_events_and_garbage() {
        let t = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z","Bucket":"pics"}"#;
        assert_eq!(parse(t), Ok(S3Notification::Test));
        assert!(parse("not json").is_err());
        assert!(parse("{}").is_err());
        assert!(parse(r#"{"Records":[{"s3":{}}]}"#).is_err());
    }
}
