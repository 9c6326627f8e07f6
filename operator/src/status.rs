//! Status computation: conditions Ready / Progressing / Degraded, ready replicas read from the
//! owned Deployments, the URL. Pure functions, so transitions are unit-tested.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::crd::{ApiStatus, ComponentStatus, Postagram, PostagramStatus, StorageSpec};
use crate::desired::scaling::autoscaling_summary;
use crate::desired::settings::public_url;
use crate::desired::Owner;

/// Condition type: every component serves.
pub const READY: &str = "Ready";
/// Condition type: a rollout is under way.
pub const PROGRESSING: &str = "Progressing";
/// Condition type: the operator cannot reach the desired state.
pub const DEGRADED: &str = "Degraded";

/// Why the operator cannot act on a Postagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// PascalCase reason, e.g. `InvalidSpec` or `SecretNotFound`.
    pub reason: String,
    /// Human sentence.
    pub message: String,
}

/// What the owned Deployments report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rollout {
    /// Ready pods.
    pub ready: i32,
    /// Whether the Deployment has rolled out its current generation completely.
    pub complete: bool,
}

impl Rollout {
    /// Reads a Deployment; `None` (not created yet) is an incomplete rollout.
    pub fn of(d: Option<&Deployment>) -> Self {
        let Some(d) = d else {
            return Self::default();
        };
        let status = d.status.clone().unwrap_or_default();
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let generation = d.metadata.generation.unwrap_or(0);
        let ready = status.ready_replicas.unwrap_or(0);
        let complete = status.observed_generation.unwrap_or(0) >= generation
            && status.updated_replicas.unwrap_or(0) >= wanted
            && status.replicas.unwrap_or(0) <= wanted
            && ready >= wanted.max(1);
        Self { ready, complete }
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// Keeps `lastTransitionTime` of conditions whose status did not change; stamps `now` on
/// the others.
fn carry_transitions(new: &mut [Condition], old: &[Condition], now: Timestamp) {
    for c in new.iter_mut() {
        c.last_transition_time = match old.iter().find(|o| o.type_ == c.type_) {
            Some(o) if o.status == c.status => o.last_transition_time.clone(),
            _ => Time(now),
        };
    }
}

/// The status a Postagram should carry, given its Deployments and any problem found.
pub fn desired_status(
    pg: &Postagram,
    owner: &Owner,
    api: Rollout,
    labeler: Option<Rollout>,
    problem: Option<&Problem>,
    now: Timestamp,
) -> PostagramStatus {
    let generation = pg.metadata.generation;
    let mut conditions = match problem {
        Some(p) => vec![
            condition(READY, false, &p.reason, p.message.clone(), generation),
            condition(
                PROGRESSING,
                false,
                &p.reason,
                "waiting for a valid spec".into(),
                generation,
            ),
            condition(DEGRADED, true, &p.reason, p.message.clone(), generation),
        ],
        None => {
            // Ready: every component serves (at least one ready pod each).
            // Progressing: some Deployment has not rolled out its current generation.
            let labeler_serves = labeler.is_none_or(|l| l.ready >= 1);
            let (ready, reason, message) = match (api.ready >= 1, labeler_serves) {
                (true, true) => (
                    true,
                    "AllComponentsReady",
                    "every component serves".to_string(),
                ),
                (false, _) => (
                    false,
                    "ApiNotReady",
                    "the API has no ready replica".to_string(),
                ),
                (true, false) => (
                    false,
                    "LabelerNotReady",
                    "the labeler has no ready replica".to_string(),
                ),
            };
            let rolled_out = api.complete && labeler.is_none_or(|l| l.complete);
            vec![
                condition(READY, ready, reason, message, generation),
                if rolled_out {
                    condition(
                        PROGRESSING,
                        false,
                        "UpToDate",
                        "rollout complete".into(),
                        generation,
                    )
                } else {
                    condition(
                        PROGRESSING,
                        true,
                        "RollingOut",
                        format!(
                            "API {} ready{}",
                            api.ready,
                            labeler
                                .map(|l| format!(", labeler {} ready", l.ready))
                                .unwrap_or_default()
                        ),
                        generation,
                    )
                },
                condition(
                    DEGRADED,
                    false,
                    "AsExpected",
                    "the spec is applied".into(),
                    generation,
                ),
            ]
        }
    };
    let old = pg
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or(&[]);
    carry_transitions(&mut conditions, old, now);
    let labeler_status = match pg.spec.storage {
        StorageSpec::Aws(_) => Some(ComponentStatus {
            ready_replicas: labeler.map(|l| l.ready).unwrap_or(0),
        }),
        StorageSpec::Embedded(_) => None,
    };
    PostagramStatus {
        observed_generation: generation,
        conditions,
        api: Some(ApiStatus {
            ready_replicas: api.ready,
            url: Some(public_url(owner, &pg.spec)),
        }),
        labeler: labeler_status,
        autoscaling: Some(autoscaling_summary(&pg.spec)),
    }
}

/// Whether a status says the Postagram is Degraded.
pub fn is_degraded(status: Option<&PostagramStatus>) -> bool {
    status.is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == DEGRADED && c.status == "True")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::PostagramSpec;
    use kube::api::ObjectMeta;

    fn pg() -> Postagram {
        let spec: PostagramSpec = serde_json::from_value(serde_json::json!({})).expect("spec");
        let mut pg = Postagram::new("demo", spec);
        pg.metadata = ObjectMeta {
            name: Some("demo".into()),
            namespace: Some("ns".into()),
            uid: Some("u".into()),
            generation: Some(3),
            ..ObjectMeta::default()
        };
        pg
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).expect("ts")
    }

    #[test]
    fn ready_when_api_serves_and_transition_time_kept() {
        let mut pg = pg();
        let owner = Owner::of(&pg).expect("owner");
        let s1 = desired_status(&pg, &owner, Rollout::default(), None, None, ts(100));
        assert_eq!(s1.conditions[0].status, "False");
        assert_eq!(s1.conditions[0].reason, "ApiNotReady");
        assert_eq!(s1.conditions[1].status, "True");
        assert_eq!(s1.observed_generation, Some(3));
        assert!(s1.labeler.is_none());
        pg.status = Some(s1.clone());
        let again = desired_status(&pg, &owner, Rollout::default(), None, None, ts(200));
        assert_eq!(again, s1, "unchanged status keeps its transition times");
        let ready = Rollout {
            ready: 1,
            complete: true,
        };
        let s2 = desired_status(&pg, &owner, ready, None, None, ts(300));
        assert_eq!(s2.conditions[0].status, "True");
        assert_eq!(s2.conditions[0].last_transition_time, Time(ts(300)));
        assert_eq!(
            s2.conditions[2].last_transition_time,
            Time(ts(100)),
            "Degraded stayed False"
        );
        assert_eq!(s2.api.as_ref().map(|a| a.ready_replicas), Some(1));
        assert!(s2
            .autoscaling
            .as_deref()
            .is_some_and(|a| a.starts_with("disabled")));
    }

    #[test]
    fn serving_but_rolling_is_ready_and_progressing() {
        let pg = pg();
        let owner = Owner::of(&pg).expect("owner");
        let rolling = Rollout {
            ready: 1,
            complete: false,
        };
        let s = desired_status(&pg, &owner, rolling, None, None, ts(1));
        assert_eq!(s.conditions[0].status, "True");
        assert_eq!(s.conditions[1].status, "True");
        assert_eq!(s.conditions[1].reason, "RollingOut");
    }

    #[test]
    fn problem_degrades() {
        let pg = pg();
        let owner = Owner::of(&pg).expect("owner");
        let p = Problem {
            reason: "SecretNotFound".into(),
            message: "Secret x not found".into(),
        };
        let s = desired_status(&pg, &owner, Rollout::default(), None, Some(&p), ts(1));
        assert!(is_degraded(Some(&s)));
        assert_eq!(s.conditions[2].reason, "SecretNotFound");
    }

    #[test]
    fn rollout_reads_deployment_status() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2}
        })).expect("deployment");
        assert_eq!(
            Rollout::of(Some(&d)),
            Rollout {
                ready: 2,
                complete: true
            }
        );
        let mut stale = d.clone();
        stale.metadata.generation = Some(3);
        assert!(!Rollout::of(Some(&stale)).complete);
        assert_eq!(Rollout::of(None), Rollout::default());
    }
}
