//! The other nodes' pods: the namespace (and network annotation) behind each of their
//! addresses. A flow between a pod of this node and a pod of another node, carried by
//! the overlay, is then decided with both ends' networks (namespace isolation, policy),
//! as TF's agent knows every interface of its virtual networks, not only its own.
//!
//! One reflector over all pods; every change marks the map dirty, and after a short
//! debounce the whole map is handed to the agent ([`crate::ports::Agent::set_remote_pods`]).

use super::{DEBOUNCE, RESYNC};
use crate::api::Shared;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{info, warn};

/// What says which network a pod of another node is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePod {
    pub namespace: String,
    /// Its `opencontrail.org/network` annotation (it overrides the namespace's network).
    pub network: Option<String>,
}

/// The addresses of `pod` when it is a networked pod of another node than `node`.
pub fn addresses(pod: &Pod, node: &str) -> Vec<(IpAddr, RemotePod)> {
    let (Some(spec), Some(status)) = (&pod.spec, &pod.status) else {
        return Vec::new();
    };
    let elsewhere = spec.node_name.as_deref().is_some_and(|n| n != node);
    let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
    let Some(namespace) = pod.namespace() else {
        return Vec::new();
    };
    if !elsewhere || spec.host_network == Some(true) || finished {
        return Vec::new();
    }
    let who = RemotePod {
        namespace,
        network: pod.annotations().get(super::network::NETWORK).cloned(),
    };
    status
        .pod_ips
        .iter()
        .flatten()
        .filter_map(|a| a.ip.parse().ok())
        .map(|ip| (ip, who.clone()))
        .collect()
}

/// Watches every pod and keeps the agent's map of the other nodes' pod addresses, for
/// ever.
pub async fn run(client: kube::Client, shared: Arc<Shared>, node_name: String) {
    let pods: Api<Pod> = Api::all(client);
    let (reader, writer) = reflector::store();
    let dirty = Arc::new(Notify::new());
    let stream = reflector(
        writer,
        watcher(pods, watcher::Config::default())
            .default_backoff()
            .modify(|p| p.managed_fields_mut().clear()),
    );
    tokio::spawn(super::network::drive(stream, dirty.clone(), "remote pod"));
    if reader.wait_until_ready().await.is_err() {
        warn!("remote pod store closed before it was ready");
        return;
    }
    let mut known = 0;
    loop {
        let map: HashMap<IpAddr, RemotePod> = reader
            .state()
            .iter()
            .flat_map(|p| addresses(p, &node_name))
            .collect();
        if map.len() != known {
            info!(addresses = map.len(), "other nodes' pod addresses");
            known = map.len();
        }
        if let Ok(mut a) = shared.agent.lock() {
            a.set_remote_pods(map);
        }
        let _ = tokio::time::timeout(RESYNC, dirty.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodIP, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(node: &str, host_network: bool, phase: &str, ips: &[&str]) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some(node.into()),
                host_network: Some(host_network),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                pod_ips: Some(ips.iter().map(|i| PodIP { ip: i.to_string() }).collect()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn only_other_nodes_networked_running_pods_count() {
        let ips = ["10.32.1.5", "fd00:32::1:5"];
        let a = addresses(&pod("node-2", false, "Running", &ips), "node-1");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].0.to_string(), "10.32.1.5");
        assert_eq!(a[1].1.namespace, "shop");
        assert!(addresses(&pod("node-1", false, "Running", &ips), "node-1").is_empty());
        assert!(addresses(&pod("node-2", true, "Running", &ips), "node-1").is_empty());
        assert!(addresses(&pod("node-2", false, "Succeeded", &ips), "node-1").is_empty());
        assert!(addresses(&pod("node-2", false, "Running", &["bogus"]), "node-1").is_empty());
    }
}
