//! The PersistentVolumeClaim of embedded mode and the ServiceAccount.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, ServiceAccount, VolumeResourceRequirements,
};

use super::meta::{with_desired_hash, Component, Owner};
use super::names;
use crate::crd::{PostagramSpec, StorageSpec};

/// IRSA annotation binding a ServiceAccount to an IAM role.
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// The data claim (embedded mode only).
pub fn data_claim(owner: &Owner, spec: &PostagramSpec) -> Option<PersistentVolumeClaim> {
    let StorageSpec::Embedded(embedded) = &spec.storage else {
        return None;
    };
    Some(with_desired_hash(PersistentVolumeClaim {
        metadata: owner.meta(names::data_claim(owner), Some(Component::Api)),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: embedded.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), embedded.size.clone())])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }))
}

/// The pods' ServiceAccount, annotated for IRSA when `storage.aws.roleArn` is set.
pub fn service_account(owner: &Owner, spec: &PostagramSpec) -> ServiceAccount {
    let mut metadata = owner.meta(names::service_account(owner), None);
    if let StorageSpec::Aws(aws) = &spec.storage {
        if let Some(arn) = &aws.role_arn {
            metadata.annotations = Some(BTreeMap::from([(IRSA_ANNOTATION.into(), arn.clone())]));
        }
    }
    with_desired_hash(ServiceAccount {
        metadata,
        automount_service_account_token: Some(matches!(spec.storage, StorageSpec::Aws(_))),
        ..ServiceAccount::default()
    })
}
