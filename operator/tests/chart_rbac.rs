//! The chart's RBAC must grant exactly what the operator uses: every request kind the
//! reconciler and leader election send is allowed, and nothing broad (`*`, Secret
//! list/watch) is.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

fn template(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/postagram-operator/templates")
        .join(name);
    std::fs::read_to_string(&path).expect("template")
}

/// `(apiGroup, resource, verb)` triples of the first `rules:` block of a template (the
/// rules are plain YAML; only metadata uses template expressions).
fn rules(name: &str) -> BTreeSet<(String, String, String)> {
    let text = template(name);
    let start = text.find("rules:").expect("rules");
    let block: String = text[start..]
        .lines()
        .take_while(|l| !l.starts_with("---"))
        .collect::<Vec<_>>()
        .join("\n");
    let doc: Value = serde_yaml::from_str(&block).expect("rules yaml");
    let mut out = BTreeSet::new();
    for rule in doc["rules"].as_array().expect("list") {
        for g in rule["apiGroups"].as_array().expect("groups") {
            for r in rule["resources"].as_array().expect("resources") {
                for v in rule["verbs"].as_array().expect("verbs") {
                    out.insert((
                        g.as_str().expect("g").to_string(),
                        r.as_str().expect("r").to_string(),
                        v.as_str().expect("v").to_string(),
                    ));
                }
            }
        }
    }
    out
}

fn t(g: &str, r: &str, v: &str) -> (String, String, String) {
    (g.into(), r.into(), v.into())
}

#[test]
fn cluster_role_grants_what_the_operator_uses_and_no_more() {
    let granted = rules("clusterrole.yaml");
    let mut needed = vec![
        t("postagram.dev", "postagrams", "get"),
        t("postagram.dev", "postagrams", "list"),
        t("postagram.dev", "postagrams", "watch"),
        t("postagram.dev", "postagrams/status", "patch"),
        t("", "secrets", "get"),
        t("", "secrets", "create"),
        t("events.k8s.io", "events", "create"),
        t("events.k8s.io", "events", "patch"),
    ];
    // Applied children: watched (list, watch) and server-side applied (create, patch).
    for (g, r) in [
        ("", "serviceaccounts"),
        ("", "configmaps"),
        ("", "services"),
        ("", "persistentvolumeclaims"),
        ("apps", "deployments"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "ingresses"),
    ] {
        for v in ["list", "watch", "create", "patch"] {
            needed.push(t(g, r, v));
        }
    }
    // Pruned children.
    for (g, r) in [
        ("apps", "deployments"),
        ("autoscaling", "horizontalpodautoscalers"),
        ("policy", "poddisruptionbudgets"),
        ("networking.k8s.io", "ingresses"),
    ] {
        needed.push(t(g, r, "delete"));
    }
    for n in &needed {
        assert!(granted.contains(n), "missing permission {n:?}");
    }
    for (g, r, v) in &granted {
        assert!(g != "*" && r != "*" && v != "*", "wildcard in {g}/{r}/{v}");
        assert!(
            !(r == "secrets"
                && ["list", "watch", "patch", "update", "delete"].contains(&v.as_str())),
            "Secrets must only be read by name and created: {v}"
        );
        assert!(
            !(r == "persistentvolumeclaims" && v == "delete"),
            "the data claim is never deleted"
        );
    }
}

#[test]
fn lease_role_is_namespaced_and_minimal() {
    let text = template("leader-election-rbac.yaml");
    assert!(
        text.contains("kind: Role\n"),
        "a namespaced Role, not a ClusterRole"
    );
    let granted = rules("leader-election-rbac.yaml");
    let want: BTreeSet<_> = ["get", "create", "update"]
        .iter()
        .map(|v| t("coordination.k8s.io", "leases", v))
        .collect();
    assert_eq!(granted, want);
}
