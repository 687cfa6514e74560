//! The kube-manager role: the agent reads the Kubernetes API (kube-rs) and turns it into
//! the node's desired state: the node's pod pool from its Node object (node.rs), a port
//! for every pod bound to the node (pods.rs), networks and namespaces with TF's semantics
//! (network.rs), extra interfaces from NetworkAttachmentDefinitions (attachments.rs), the
//! other nodes and the overlay's encapsulation (nodes.rs), the networks of the other
//! nodes' pods, for flow verdicts across the overlay (remote_pods.rs), Services and their
//! EndpointSlices as VIPs the flow loop translates (services.rs), NetworkPolicies with the
//! pods and namespaces they select, for the flow verdicts (network_policies.rs).
//! Each watch feeds a reflector store; a debounced pass compiles the whole
//! store into the agent's state.

pub mod attachments;
pub mod network;
pub mod network_policies;
pub mod node;
pub mod nodes;
pub mod pods;
pub mod remote_pods;
pub mod report;
pub mod services;

use std::time::Duration;

/// How long changes settle before a pass (a rollout binds many pods at once).
const DEBOUNCE: Duration = Duration::from_millis(50);
/// A pass runs at least this often, whatever the watches say.
const RESYNC: Duration = Duration::from_secs(10);

use crate::config::Kubernetes;
use futures_util::StreamExt;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tracing::warn;

/// A client as `[kubernetes]` says: its kubeconfig file, or the usual inference
/// (in-cluster service account, $KUBECONFIG, ~/.kube/config).
pub async fn client(k: &Kubernetes) -> Result<kube::Client, String> {
    let config = match &k.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no Kubernetes configuration: {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("Kubernetes client: {e}"))
}

/// What a watch event marks: a controller's dirty flag, or a shared store's change count.
pub(crate) trait Mark: Send + 'static {
    fn mark(&self);
}

impl Mark for Arc<Notify> {
    fn mark(&self) {
        self.notify_one();
    }
}

impl Mark for watch::Sender<u64> {
    fn mark(&self) {
        self.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// Drives a reflector stream, marking on every event; a watch error is logged and the
/// stream's backoff retries.
pub(crate) async fn drive<S, T>(stream: S, mark: impl Mark, what: &'static str)
where
    S: futures_util::Stream<Item = Result<T, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        if let Err(e) = ev {
            warn!(error = %e, "{what} watch (retrying)");
        }
        mark.mark();
    }
}

/// The bounds of an object kind a store can hold.
pub(crate) trait Watchable:
    Resource<DynamicType = ()> + Clone + std::fmt::Debug + DeserializeOwned + Send + Sync + 'static
{
}

impl<K> Watchable for K where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// A reflector store of every `K` in the cluster that several controllers read: one watch
/// on the API server however many follow it (the pods, for the other nodes' addresses and
/// for NetworkPolicy peers; the namespaces, for networks and for policy).
#[derive(Clone)]
pub struct SharedStore<K: Watchable> {
    store: reflector::Store<K>,
    changes: watch::Receiver<u64>,
}

impl<K: Watchable> SharedStore<K> {
    /// Starts the watch (`what` names it in the log when it has to retry); it runs for ever.
    pub fn watch(client: &kube::Client, what: &'static str) -> Self {
        let (store, writer) = reflector::store::<K>();
        let (count, changes) = watch::channel(0);
        let stream = reflector(
            writer,
            watcher(Api::<K>::all(client.clone()), watcher::Config::default())
                .default_backoff()
                .modify(|o| o.managed_fields_mut().clear()),
        );
        tokio::spawn(drive(stream, count, what));
        SharedStore { store, changes }
    }

    /// The store, every change from now on marking `dirty`.
    pub fn follow(&self, dirty: &Arc<Notify>) -> reflector::Store<K> {
        let (mut changes, dirty) = (self.changes.clone(), dirty.clone());
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                dirty.notify_one();
            }
        });
        self.store.clone()
    }
}

/// A reflector store of every `K` in the cluster for one controller, each change marking
/// `dirty`.
pub(crate) fn watch_all<K: Watchable>(
    client: &kube::Client,
    dirty: &Arc<Notify>,
    what: &'static str,
) -> reflector::Store<K> {
    SharedStore::watch(client, what).follow(dirty)
}
