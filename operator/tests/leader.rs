//! Leader election on a Lease against the loopback API server: one holder at a time,
//! renewal, hand-over on release and on expiry.

mod support;

use std::time::Duration;

use postagram_operator::leader::LeaderElector;
use support::apiserver::ApiServer;

#[tokio::test]
async fn one_leader_at_a_time() {
    let server = ApiServer::start().await;
    let lease = Duration::from_secs(2);
    let a = LeaderElector::new(server.client(), "ops", "postagram-operator", "a", lease);
    let b = LeaderElector::new(server.client(), "ops", "postagram-operator", "b", lease);

    assert!(a.try_acquire_or_renew().await.expect("a acquires"));
    assert!(!b.try_acquire_or_renew().await.expect("b waits"));
    assert!(a.try_acquire_or_renew().await.expect("a renews"));
    let l = server
        .get("coordination.k8s.io/v1/leases", "ops", "postagram-operator")
        .expect("lease");
    assert_eq!(l["spec"]["holderIdentity"], "a");
    assert_eq!(l["spec"]["leaseDurationSeconds"], 2);

    // Graceful hand-over.
    a.release().await.expect("release");
    assert!(b.try_acquire_or_renew().await.expect("b takes over"));
    assert!(!a.try_acquire_or_renew().await.expect("a now waits"));
    let l = server
        .get("coordination.k8s.io/v1/leases", "ops", "postagram-operator")
        .expect("lease");
    assert_eq!(l["spec"]["holderIdentity"], "b");
    assert_eq!(l["spec"]["leaseTransitions"], 1);

    // A holder that stops renewing loses the Lease once it expires.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(a
        .try_acquire_or_renew()
        .await
        .expect("a takes the expired lease"));
    assert!(!b.try_acquire_or_renew().await.expect("b lost it"));
}
