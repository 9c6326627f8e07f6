//! `postagram-api admin init-aws`: creates (or checks) everything the cloud store needs.
//!
//! The DynamoDB table with its `feed` index and the text search indexes `tok1`..`tok3`
//! (added to a table made before them, whose posts are then indexed: the backfill), the S3 bucket, the upload queue with a
//! dead-letter queue and redrive policy, and the bucket → queue `ObjectCreated`
//! notification; profiles written before usernames compared case-insensitively are
//! moved to their canonical key ([`super::profiles`]). Idempotent: a second run finds everything in place, changes nothing
//! and says so.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableStatus,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, NotificationConfiguration,
    QueueConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;

use super::client::AwsClients;
use super::dynamo::DynamoStore;
use super::dynamo_items::FEED_INDEX;
use super::sdk_message;
use super::search::{index_key_attr, TOKEN_INDEXES};

/// Names and settings of the resources to provision.
#[derive(Debug, Clone)]
pub struct InitSettings {
    /// DynamoDB table.
    pub table: String,
    /// S3 bucket.
    pub bucket: String,
    /// Upload-event queue name; the dead-letter queue is `<queue>-dlq`.
    pub queue: String,
    /// Receives of one message before it moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// Seconds a received message stays invisible to other workers.
    pub visibility_timeout_secs: u32,
}

impl InitSettings {
    /// Defaults for the given names: 3 receives, 120 s visibility.
    pub fn new(table: &str, bucket: &str, queue: &str) -> Self {
        InitSettings {
            table: table.into(),
            bucket: bucket.into(),
            queue: queue.into(),
            max_receive_count: 3,
            visibility_timeout_secs: 120,
        }
    }
}

/// The queue name in a queue URL (`https://…/<account>/<name>`), or the name itself.
pub fn queue_name(url_or_name: &str) -> &str {
    url_or_name
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(url_or_name)
}

/// What `init-aws` did to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed but differed and was brought in line.
    Updated,
    /// It was already as wanted.
    Unchanged,
}

/// The outcome of `init-aws`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// Each resource with what was done.
    pub steps: Vec<(String, Action)>,
    /// URL of the upload queue (for `POSTAGRAM_QUEUE_URL`).
    pub queue_url: String,
    /// URL of the dead-letter queue.
    pub dlq_url: String,
}

impl InitReport {
    /// True when nothing had to be created or updated.
    pub fn unchanged(&self) -> bool {
        self.steps.iter().all(|(_, a)| *a == Action::Unchanged)
    }
}

impl fmt::Display for InitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (what, action) in &self.steps {
            let a = match action {
                Action::Created => "created",
                Action::Updated => "updated",
                Action::Unchanged => "unchanged",
            };
            writeln!(f, "{a:>9}  {what}")?;
        }
        writeln!(f, "{}={}", crate::settings::env::QUEUE_URL, self.queue_url)?;
        if self.unchanged() {
            write!(f, "everything was already in place; nothing changed")
        } else {
            write!(f, "done")
        }
    }
}

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
#[error("init-aws: {0}")]
pub struct InitError(pub String);

fn aws_err(what: &str, e: impl std::error::Error) -> InitError {
    InitError(format!("{what}: {}", sdk_message(&e)))
}

fn build_err(e: impl std::error::Error) -> InitError {
    InitError(e.to_string())
}

fn attr(n: &str) -> Result<AttributeDefinition, InitError> {
    AttributeDefinition::builder()
        .attribute_name(n)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

fn key(n: &str, t: KeyType) -> Result<KeySchemaElement, InitError> {
    KeySchemaElement::builder()
        .attribute_name(n)
        .key_type(t)
        .build()
        .map_err(build_err)
}

/// The text search prefix index `tok<n>`: partition `TP<n>`, sort `TSK`, projecting the
/// author and the token (see `search`).
fn token_index(n: usize) -> Result<(GlobalSecondaryIndex, [AttributeDefinition; 2]), InitError> {
    let pk = index_key_attr(n);
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(TOKEN_INDEXES[n - 1])
        .key_schema(key(&pk, KeyType::Hash)?)
        .key_schema(key("TSK", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes("user")
                .non_key_attributes("tok")
                .build(),
        )
        .build()
        .map_err(build_err)?;
    Ok((gsi, [attr(&pk)?, attr("TSK")?]))
}

/// Waits until the table and every index of it are `ACTIVE` (an added index is built in
/// the background).
async fn wait_active(c: &AwsClients, table: &str) -> Result<(), InitError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1800);
    loop {
        let out = c
            .dynamo
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| aws_err("describe table", e))?;
        let t = out.table.as_ref();
        let table_active = t.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = t
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|g| g.index_status() == Some(&IndexStatus::Active));
        if table_active && indexes_active {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(InitError(format!(
                "table `{table}` or one of its indexes is still not ACTIVE"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

async fn ensure_table(c: &AwsClients, table: &str) -> Result<Action, InitError> {
    match c.dynamo.describe_table().table_name(table).send().await {
        Ok(out) => {
            let names: Vec<String> = out
                .table
                .as_ref()
                .map(|t| t.global_secondary_indexes())
                .unwrap_or_default()
                .iter()
                .filter_map(|g| g.index_name().map(str::to_string))
                .collect();
            if !names.iter().any(|n| n == FEED_INDEX) {
                return Err(InitError(format!(
                    "table `{table}` exists without the `{FEED_INDEX}` index; it was not created by init-aws"
                )));
            }
            // A table from before text search: add its indexes, one per update (DynamoDB
            // builds one new index at a time).
            let mut action = Action::Unchanged;
            for n in 1..=TOKEN_INDEXES.len() {
                if names.iter().any(|i| i == TOKEN_INDEXES[n - 1]) {
                    continue;
                }
                let (gsi, attrs) = token_index(n)?;
                let create = CreateGlobalSecondaryIndexAction::builder()
                    .index_name(TOKEN_INDEXES[n - 1])
                    .set_key_schema(Some(gsi.key_schema().to_vec()))
                    .set_projection(gsi.projection().cloned())
                    .build()
                    .map_err(build_err)?;
                c.dynamo
                    .update_table()
                    .table_name(table)
                    .set_attribute_definitions(Some(attrs.to_vec()))
                    .global_secondary_index_updates(
                        GlobalSecondaryIndexUpdate::builder().create(create).build(),
                    )
                    .send()
                    .await
                    .map_err(|e| aws_err("add search index", e))?;
                wait_active(c, table).await?;
                action = Action::Updated;
            }
            Ok(action)
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            let feed = GlobalSecondaryIndex::builder()
                .index_name(FEED_INDEX)
                .key_schema(key("GSI1PK", KeyType::Hash)?)
                .key_schema(key("GSI1SK", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)?;
            let mut req = c
                .dynamo
                .create_table()
                .table_name(table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(attr("PK")?)
                .attribute_definitions(attr("SK")?)
                .attribute_definitions(attr("GSI1PK")?)
                .attribute_definitions(attr("GSI1SK")?)
                .attribute_definitions(attr("TSK")?)
                .key_schema(key("PK", KeyType::Hash)?)
                .key_schema(key("SK", KeyType::Range)?)
                .global_secondary_indexes(feed);
            for n in 1..=TOKEN_INDEXES.len() {
                let (gsi, [pk, _]) = token_index(n)?;
                req = req.attribute_definitions(pk).global_secondary_indexes(gsi);
            }
            req.send().await.map_err(|e| aws_err("create table", e))?;
            c.dynamo
                .wait_until_table_exists()
                .table_name(table)
                .wait(std::time::Duration::from_secs(120))
                .await
                .map_err(|e| aws_err("wait for table", e))?;
            wait_active(c, table).await?;
            Ok(Action::Created)
        }
        Err(e) => Err(aws_err("describe table", e)),
    }
}

/// Indexes the posts written before text search existed.
async fn ensure_search_index(c: &AwsClients, table: &str) -> Result<(usize, Action), InitError> {
    let store = DynamoStore::new(c.dynamo.clone(), table);
    let n = store
        .backfill_search_index()
        .await
        .map_err(|e| InitError(format!("search index backfill: {e}")))?;
    Ok((
        n,
        if n == 0 {
            Action::Unchanged
        } else {
            Action::Updated
        },
    ))
}

async fn ensure_bucket(c: &AwsClients, bucket: &str) -> Result<Action, InitError> {
    if c.s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(Action::Unchanged);
    }
    let mut req = c.s3.create_bucket().bucket(bucket);
    let region = c
        .sdk_config
        .region()
        .map(|r| r.to_string())
        .unwrap_or_default();
    if !region.is_empty() && region != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    req.send().await.map_err(|e| aws_err("create bucket", e))?;
    Ok(Action::Created)
}

async fn queue_arn(c: &AwsClients, url: &str) -> Result<String, InitError> {
    let out = c
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_err("get queue arn", e))?;
    out.attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| InitError(format!("queue {url} has no ARN")))
}

/// Creates the queue with `attrs` or, when it exists, sets the attributes that differ.
async fn ensure_queue(
    c: &AwsClients,
    name: &str,
    attrs: HashMap<QueueAttributeName, String>,
) -> Result<(String, Action), InitError> {
    if let Ok(out) = c.sqs.get_queue_url().queue_name(name).send().await {
        let url = out
            .queue_url
            .ok_or_else(|| InitError(format!("queue {name} has no URL")))?;
        let current = c
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| aws_err("get queue attributes", e))?
            .attributes
            .unwrap_or_default();
        let differs: HashMap<_, _> = attrs
            .into_iter()
            .filter(|(k, v)| !same_attr(k, current.get(k), v))
            .collect();
        if differs.is_empty() {
            return Ok((url, Action::Unchanged));
        }
        c.sqs
            .set_queue_attributes()
            .queue_url(&url)
            .set_attributes(Some(differs))
            .send()
            .await
            .map_err(|e| aws_err("set queue attributes", e))?;
        return Ok((url, Action::Updated));
    }
    let out = c
        .sqs
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attrs))
        .send()
        .await
        .map_err(|e| aws_err("create queue", e))?;
    let url = out
        .queue_url
        .ok_or_else(|| InitError(format!("queue {name} has no URL")))?;
    Ok((url, Action::Created))
}

/// Compares queue attributes, JSON ones (policies) by value.
fn same_attr(name: &QueueAttributeName, current: Option<&String>, want: &str) -> bool {
    let Some(cur) = current else { return false };
    match name {
        QueueAttributeName::RedrivePolicy | QueueAttributeName::Policy => {
            let a: Option<serde_json::Value> = serde_json::from_str(cur).ok();
            let b: Option<serde_json::Value> = serde_json::from_str(want).ok();
            // maxReceiveCount comes back as a number or a string depending on the service.
            normalise_json(a) == normalise_json(b)
        }
        _ => cur == want,
    }
}

fn normalise_json(v: Option<serde_json::Value>) -> Option<String> {
    fn walk(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Number(n) => serde_json::Value::String(n.to_string()),
            serde_json::Value::Object(m) => {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k, walk(v))).collect())
            }
            serde_json::Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(walk).collect())
            }
            other => other,
        }
    }
    v.map(|v| walk(v).to_string())
}

async fn ensure_notification(
    c: &AwsClients,
    bucket: &str,
    queue_arn: &str,
) -> Result<Action, InitError> {
    let current = match c
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(c) => c,
        // moto answers an unconfigured bucket with a `GetBucketNotificationResponse`
        // root the SDK cannot parse: that means "no configuration yet".
        Err(e) if sdk_message(&e).contains("GetBucketNotificationResponse") => {
            aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
        }
        Err(e) => return Err(aws_err("get bucket notification", e)),
    };
    let present = current.queue_configurations().iter().any(|q| {
        q.queue_arn() == queue_arn
            && q.events()
                .iter()
                .any(|e| matches!(e, Event::S3ObjectCreated) || e.as_str() == "s3:ObjectCreated:*")
    });
    if present {
        return Ok(Action::Unchanged);
    }
    let mut queues: Vec<QueueConfiguration> = current
        .queue_configurations()
        .iter()
        .filter(|q| q.queue_arn() != queue_arn)
        .cloned()
        .collect();
    queues.push(
        QueueConfiguration::builder()
            .id("postagram-uploads")
            .queue_arn(queue_arn)
            .events(Event::S3ObjectCreated)
            .build()
            .map_err(build_err)?,
    );
    let config = NotificationConfiguration::builder()
        .set_queue_configurations(Some(queues))
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_lambda_function_configurations(Some(current.lambda_function_configurations().to_vec()))
        .build();
    c.s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map_err(|e| aws_err("put bucket notification", e))?;
    Ok(Action::Updated)
}

/// Provisions (or checks) the table, bucket, queues and notification.
pub async fn init_aws(c: &AwsClients, s: &InitSettings) -> Result<InitReport, InitError> {
    let mut steps = Vec::new();
    steps.push((
        format!(
            "dynamodb table {} (indexes {FEED_INDEX}, {})",
            s.table,
            TOKEN_INDEXES.join(", ")
        ),
        ensure_table(c, &s.table).await?,
    ));
    let rekeyed = super::profiles::rekey_profiles(&c.dynamo, &s.table)
        .await
        .map_err(InitError)?;
    steps.push((
        format!(
            "dynamodb profiles keyed by lower-case name ({} moved, {} kept at their old key: another account differs only in case)",
            rekeyed.moved, rekeyed.kept
        ),
        if rekeyed.moved > 0 {
            Action::Updated
        } else {
            Action::Unchanged
        },
    ));
    let (indexed, a) = ensure_search_index(c, &s.table).await?;
    steps.push((
        format!("text search index of existing posts ({indexed} indexed now)"),
        a,
    ));
    steps.push((
        format!("s3 bucket {}", s.bucket),
        ensure_bucket(c, &s.bucket).await?,
    ));
    let dlq_name = format!("{}-dlq", s.queue);
    let (dlq_url, a) = ensure_queue(
        c,
        &dlq_name,
        HashMap::from([(
            QueueAttributeName::MessageRetentionPeriod,
            (14 * 24 * 3600).to_string(),
        )]),
    )
    .await?;
    steps.push((format!("sqs dead-letter queue {dlq_name}"), a));
    let dlq_arn = queue_arn(c, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": s.max_receive_count.to_string(),
    })
    .to_string();
    let (queue_url, a) = ensure_queue(
        c,
        &s.queue,
        HashMap::from([
            (QueueAttributeName::RedrivePolicy, redrive),
            (
                QueueAttributeName::VisibilityTimeout,
                s.visibility_timeout_secs.to_string(),
            ),
        ]),
    )
    .await?;
    steps.push((
        format!(
            "sqs queue {} (redrive to {dlq_name} after {} receives)",
            s.queue, s.max_receive_count
        ),
        a,
    ));
    let arn = queue_arn(c, &queue_url).await?;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "postagram-s3-uploads",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arn,
            "Condition": {"ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{}", s.bucket)}}
        }]
    })
    .to_string();
    let (_, a) = ensure_queue(
        c,
        &s.queue,
        HashMap::from([(QueueAttributeName::Policy, policy)]),
    )
    .await?;
    steps.push((format!("sqs queue policy (s3 may send to {})", s.queue), a));
    steps.push((
        format!(
            "s3 notification {} → {} on ObjectCreated",
            s.bucket, s.queue
        ),
        ensure_notification(c, &s.bucket, &arn).await?,
    ));
    Ok(InitReport {
        steps,
        queue_url,
        dlq_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_from_urls() {
        assert_eq!(
            queue_name("http://localhost:4566/123456789012/uploads"),
            "uploads"
        );
        assert_eq!(queue_name("uploads"), "uploads");
    }

    #[test]
    fn policies_compare_by_value() {
        assert!(same_attr(
            &QueueAttributeName::RedrivePolicy,
            Some(&r#"{"deadLetterTargetArn":"a","maxReceiveCount":3}"#.to_string()),
            r#"{"maxReceiveCount":"3","deadLetterTargetArn":"a"}"#
        ));
    }
}
