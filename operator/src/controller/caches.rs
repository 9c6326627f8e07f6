//! The child kinds the operator watches, written once in [`child_kinds!`]: their caches
//! ([`ChildStores`]), the watches that fill them ([`ChildWatches`], used by the controller,
//! the bench and the tests) and writers to fill them by hand ([`ChildWriters`]). Adding a
//! kind is one line there.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use futures::future::join_all;
use futures::stream::BoxStream;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::reflector::store::{Writer, WriterDropped};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use crate::crd::Postagram;
use crate::desired::meta::MANAGED_SELECTOR;

/// Watches one child kind (only objects labelled as managed by the operator) into a store,
/// returning the store and the stream of touched objects that triggers their owner. The
/// stream must be polled for the store to fill.
fn child_watch<K>(client: &Client) -> (Store<K>, BoxStream<'static, Result<K, watcher::Error>>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let config = watcher::Config::default()
        .labels(MANAGED_SELECTOR)
        .any_semantic();
    let stream = watcher(Api::<K>::all(client.clone()), config)
        .default_backoff()
        .reflect(writer)
        .touched_objects()
        .boxed();
    (reader, stream)
}

/// Declares, for each `field: Kind`, a cache in [`ChildStores`], a watch in
/// [`ChildWatches`] and a writer in [`ChildWriters`].
macro_rules! child_kinds {
    ($($(#[doc = $doc:literal])+ $field:ident: $kind:ty,)+) => {
        /// Read-only caches of the children, filled by watches on objects the operator
        /// manages.
        #[derive(Clone)]
        pub struct ChildStores {
            $($(#[doc = $doc])+ pub $field: Store<$kind>,)+
        }

        impl ChildStores {
            /// Waits until every cache holds its first complete list (all waits polled
            /// together, so each wake-up looks at every cache again).
            pub async fn wait_until_ready(&self) -> Result<(), WriterDropped> {
                let waits: Vec<Pin<Box<dyn Future<Output = Result<(), WriterDropped>> + Send + '_>>> =
                    vec![$(Box::pin(self.$field.wait_until_ready()),)+];
                join_all(waits).await.into_iter().collect()
            }
        }

        /// One watch per child kind, set up but not polled yet, and the caches they fill.
        pub struct ChildWatches {
            /// The caches; they fill while the watches are polled.
            pub stores: ChildStores,
            $($field: BoxStream<'static, Result<$kind, watcher::Error>>,)+
        }

        impl ChildWatches {
            /// Sets up the watch of every child kind.
            pub fn start(client: &Client) -> Self {
                $(let $field = child_watch::<$kind>(client);)+
                Self {
                    stores: ChildStores { $($field: $field.0,)+ },
                    $($field: $field.1,)+
                }
            }

            /// Hands every watch to the controller, which polls them and reconciles the
            /// owner of each touched child.
            pub fn owned_by(self, controller: Controller<Postagram>) -> Controller<Postagram> {
                controller$(.owns_stream(self.$field))+
            }

            /// Polls every watch in a task of its own, for callers that reconcile by hand
            /// (the bench); returns the caches.
            pub fn spawn(self) -> ChildStores {
                $(tokio::spawn(self.$field.for_each(|_| async {}));)+
                self.stores
            }
        }

        /// Writers behind a set of [`ChildStores`], to show the reconciler what exists
        /// without an API server to watch (the reconcile tests).
        #[derive(Default)]
        pub struct ChildWriters {
            $($field: Writer<$kind>,)+
        }

        impl ChildWriters {
            /// Caches that read what was written here.
            pub fn stores(&self) -> ChildStores {
                ChildStores { $($field: self.$field.as_reader(),)+ }
            }

            /// Puts a child given as JSON into the cache of its kind, as a watch event
            /// would; `Ok(false)` when its kind is not cached.
            pub fn apply(&mut self, object: &serde_json::Value) -> serde_json::Result<bool> {
                let kind = object["kind"].as_str().unwrap_or_default();
                $(if kind == <$kind as Resource>::kind(&()) {
                    let obj: $kind = serde_json::from_value(object.clone())?;
                    self.$field.apply_watcher_event(&watcher::Event::Apply(obj));
                    return Ok(true);
                })+
                Ok(false)
            }
        }
    };
}

child_kinds! {
    /// ServiceAccounts.
    service_accounts: ServiceAccount,
    /// ConfigMaps.
    config_maps: ConfigMap,
    /// PersistentVolumeClaims.
    claims: PersistentVolumeClaim,
    /// Deployments (also read for the status).
    deployments: Deployment,
    /// Services.
    services: Service,
    /// HorizontalPodAutoscalers.
    hpas: HorizontalPodAutoscaler,
    /// PodDisruptionBudgets.
    pdbs: PodDisruptionBudget,
    /// Ingresses.
    ingresses: Ingress,
}
