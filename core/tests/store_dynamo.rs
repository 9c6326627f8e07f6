//! The shared `PostStore` conformance suite on the DynamoDB store, against a real AWS API
//! emulator (moto_server) started for each test.
#![cfg(feature = "aws")]

#[path = "conformance/suite.rs"]
mod suite;

use std::sync::Arc;

use postagram_core::aws::init::{init_aws, InitSettings};
use postagram_core::aws::{AwsClients, DynamoStore};
use postagram_testkit::moto;

async fn make() -> (suite::Store, moto::Moto) {
    let moto = moto::Moto::start();
    let clients = AwsClients::connect(&moto.settings()).await;
    init_aws(&clients, &InitSettings::new("posts", "pictures", "uploads"))
        .await
        .expect("init-aws");
    let store = DynamoStore::new(clients.dynamo.clone(), "posts");
    (Arc::new(store), moto)
}

conformance_suite!(make, suite::Caps {});
