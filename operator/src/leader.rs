//! Leader election on a `coordination.k8s.io/v1` Lease, so two or more operator replicas can
//! run: one holds the Lease and reconciles, the others wait. Writes use the Lease's
//! resourceVersion, so two candidates cannot both win the same round. [`LeaderElector::acquire`]
//! waits for the Lease, [`LeaderElector::keep`] renews it while the controller runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// One candidate for the Lease.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl LeaderElector {
    /// A candidate `identity` for the Lease `namespace/name` held for `duration`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            identity: identity.into(),
            duration,
        }
    }

    /// Seconds between renewals (a third of the lease).
    pub fn renew_period(&self) -> Duration {
        (self.duration / 3).max(Duration::from_secs(1))
    }

    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.duration.as_secs()).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Takes or renews the Lease; `Ok(false)` when another live holder has it.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now, None, 0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let mine = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        let held = spec
            .holder_identity
            .as_deref()
            .is_some_and(|h| !h.is_empty());
        let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
            (Some(renewed), Some(secs)) => {
                renewed
                    .0
                    .saturating_add(SignedDuration::from_secs(i64::from(secs)))
                    .unwrap_or(renewed.0)
                    < now
            }
            _ => true,
        };
        if !mine && held && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!mine);
        let acquired = if mine {
            spec.acquire_time.clone()
        } else {
            None
        };
        lease.spec = Some(self.spec(now, acquired, transitions));
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (on graceful shutdown) so a standby takes over at once.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if conflict(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Asks for the Lease every renew period until this candidate holds it (`true`) or
    /// `stop` turns true first (`false`). Failed requests are logged and retried.
    pub async fn acquire(&self, stop: &watch::Receiver<bool>) -> bool {
        loop {
            if *stop.borrow() {
                return false;
            }
            match self.try_acquire_or_renew().await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => warn!(error = %e, "lease request failed"),
            }
            let mut rx = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(self.renew_period()) => {},
                _ = rx.changed() => {},
            }
        }
    }

    /// Renews the held Lease every renew period, in a task of its own, until `stop_rx`
    /// changes. Losing the Lease (another holder took it, or no renewal succeeded for a
    /// whole lease duration) sends `stop` itself, so the controller stops and the process
    /// exits non-zero, and the pod restarts as a standby.
    pub fn keep(
        self,
        stop_tx: watch::Sender<bool>,
        mut stop_rx: watch::Receiver<bool>,
    ) -> Leadership {
        let lost = Arc::new(AtomicBool::new(false));
        let elector = self.clone();
        let flag = lost.clone();
        tokio::spawn(async move {
            let mut last_renewal = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(elector.renew_period()) => {},
                    _ = stop_rx.changed() => return,
                }
                match elector.try_acquire_or_renew().await {
                    Ok(true) => last_renewal = tokio::time::Instant::now(),
                    Ok(false) => {
                        error!("leadership taken by another replica");
                        break;
                    }
                    Err(e) => {
                        warn!(error = %e, "lease renewal failed");
                        if last_renewal.elapsed() < elector.duration {
                            continue;
                        }
                        error!("lease expired without renewal");
                        break;
                    }
                }
            }
            flag.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
        });
        Leadership {
            elector: self,
            lost,
        }
    }
}

/// A Lease this process holds, renewed by [`LeaderElector::keep`].
pub struct Leadership {
    elector: LeaderElector,
    lost: Arc<AtomicBool>,
}

impl Leadership {
    /// Whether the Lease was lost while held.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }

    /// Gives the Lease up on a graceful stop, so a standby takes over at once; does
    /// nothing when it was lost. Failures are logged: the Lease then simply expires.
    pub async fn release(&self) {
        if self.lost() {
            return;
        }
        match self.elector.release().await {
            Ok(()) => info!("lease released"),
            Err(e) => warn!(error = %e, "could not release the lease"),
        }
    }
}
