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
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use tokio::sync::Notify;

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

/// A reflector store of every `K` in the cluster, fed for ever; each change marks `dirty`
/// (`what` names the watch in the log when it has to retry).
pub(crate) fn watch_all<K>(
    client: &kube::Client,
    dirty: &Arc<Notify>,
    what: &'static str,
) -> reflector::Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store::<K>();
    let stream = reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .modify(|o| o.managed_fields_mut().clear()),
    );
    tokio::spawn(network::drive(stream, dirty.clone(), what));
    reader
}
