//! Names, labels, owner references and the desired-state hash shared by every child.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::crd::Postagram;

/// Field manager of every server-side apply the operator sends.
pub const MANAGER: &str = "postagram-operator";
/// Annotation on each child holding the hash of the state the operator last applied.
pub const DESIRED_HASH: &str = "postagram.dev/desired-hash";
/// Pod-template annotation holding the hash of the pods' configuration.
pub const CONFIG_HASH: &str = "postagram.dev/config-hash";
/// `app.kubernetes.io/managed-by` value of every child; watches select on it.
pub const MANAGED_BY: &str = "postagram-operator";
/// Label selector matching every child the operator manages.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=postagram-operator";

/// The two workloads a Postagram runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// `postagram-api`.
    Api,
    /// `postagram-labeler` workers.
    Labeler,
}

impl Component {
    /// `app.kubernetes.io/component` value and name suffix.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Api => "api",
            Component::Labeler => "labeler",
        }
    }
}

/// Everything a builder needs to know about the owner.
#[derive(Clone, Debug)]
pub struct Owner {
    /// `metadata.name` of the Postagram.
    pub name: String,
    /// Namespace of the Postagram and of every child.
    pub namespace: String,
    /// Controller owner reference pointing at the Postagram.
    pub owner_ref: OwnerReference,
}

impl Owner {
    /// Reads name, namespace and owner reference; `None` when the object lacks them
    /// (not yet persisted, or cluster-scoped by mistake).
    pub fn of(pg: &Postagram) -> Option<Self> {
        Some(Self {
            name: pg.metadata.name.clone()?,
            namespace: pg.namespace()?,
            owner_ref: pg.controller_owner_ref(&())?,
        })
    }

    /// Labels selecting a component's pods.
    pub fn selector(&self, component: Component) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".into(), "postagram".into()),
            ("app.kubernetes.io/instance".into(), self.name.clone()),
            (
                "app.kubernetes.io/component".into(),
                component.as_str().into(),
            ),
        ])
    }

    /// Standard labels of a child (component optional).
    pub fn labels(&self, component: Option<Component>) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            ("app.kubernetes.io/name".into(), "postagram".into()),
            ("app.kubernetes.io/instance".into(), self.name.clone()),
            ("app.kubernetes.io/part-of".into(), "postagram".into()),
            ("app.kubernetes.io/managed-by".into(), MANAGED_BY.into()),
        ]);
        if let Some(c) = component {
            labels.insert("app.kubernetes.io/component".into(), c.as_str().into());
        }
        labels
    }

    /// Metadata of a child: name, namespace, labels, controller owner reference.
    pub fn meta(&self, name: String, component: Option<Component>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels(component)),
            owner_references: Some(vec![self.owner_ref.clone()]),
            ..ObjectMeta::default()
        }
    }
}

/// Hex SHA-256 (first 16 bytes) of a value's JSON form.
pub fn hash_of<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..16])
}

/// Stamps [`DESIRED_HASH`] on an object, computed over the object without it.
pub fn with_desired_hash<K: Resource + Serialize>(mut obj: K) -> K {
    let hash = hash_of(&obj);
    obj.meta_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DESIRED_HASH.into(), hash);
    obj
}

/// The hash an existing child carries, if any.
pub fn desired_hash_of<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta()
        .annotations
        .as_ref()?
        .get(DESIRED_HASH)
        .map(String::as_str)
}
