//! The pods bound to this node: each gets its port (address, MAC, nexthop) as soon as the
//! scheduler binds it, before the runtime asks for its network (TF's kube-manager creates
//! the VMI the same way); a pod that is gone, or has finished, releases its port.
//!
//! One reflector store of this node's pods (field selector spec.nodeName); every change
//! marks the state dirty, and after a short debounce the whole store is compared with the
//! agent's ports ([`crate::ports::Agent::sync_pods`]). Nothing is tracked event by event:
//! a lost delete is found at the next pass, and a periodic pass runs anyway.

use super::attachments::{parse_networks, Attachment, NETWORKS, NETWORK_STATUS};
use super::report::{reference, Reports};
use super::{DEBOUNCE, RESYNC};
use crate::api::Shared;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, ResourceExt};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{info, warn};

/// What the agent needs of a pod of this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodWant {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// Being deleted: its port stays while its containers run (the CNI DEL releases it),
    /// but it gets none it does not have.
    pub terminating: bool,
    /// Its `opencontrail.org/network` annotation (it overrides the namespace's network).
    pub network: Option<String>,
    /// Its extra interfaces (`k8s.v1.cni.cncf.io/networks`), or why the annotation is bad.
    pub attachments: Result<Vec<Attachment>, String>,
    /// Its `k8s.v1.cni.cncf.io/network-status` as the API has it now.
    pub status: Option<String>,
}

/// The pods that need a port: not host-network, not finished (Succeeded/Failed pods keep
/// no network; the runtime tore their sandbox down).
pub fn wanted(pod: &Pod) -> Option<PodWant> {
    let spec = pod.spec.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    Some(PodWant {
        namespace: pod.namespace()?,
        name: pod.name_any(),
        uid: pod.uid()?,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        network: pod.annotations().get(super::network::NETWORK).cloned(),
        attachments: match pod.annotations().get(NETWORKS) {
            Some(v) => parse_networks(v, &pod.namespace()?),
            None => Ok(Vec::new()),
        },
        status: pod.annotations().get(NETWORK_STATUS).cloned(),
    })
}

/// Watches this node's pods and keeps the agent's ports in step, for ever.
pub async fn run(client: kube::Client, shared: Arc<Shared>, node_name: String) {
    let mut reports = Reports::new(client.clone(), &node_name);
    let pods: Api<Pod> = Api::all(client.clone());
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    let (reader, writer) = reflector::store();
    let dirty = Arc::new(Notify::new());
    let mark = dirty.clone();
    let stream = reflector(
        writer,
        watcher(pods, cfg)
            .default_backoff()
            .modify(|p| p.managed_fields_mut().clear()),
    );
    tokio::spawn(super::network::drive(stream, mark, "pod"));
    if reader.wait_until_ready().await.is_err() {
        warn!("pod store closed before it was ready");
        return;
    }
    info!(node = %node_name, pods = reader.state().len(), "pod store ready");
    loop {
        let want: Vec<PodWant> = reader.state().iter().filter_map(|p| wanted(p)).collect();
        let s = shared.clone();
        let r = tokio::task::spawn_blocking(move || {
            let mut a = s.agent.lock().ok()?;
            let counts = a.sync_pods(&want);
            let cluster = a.node.raw.cluster_name.clone();
            let vm_name = |p: &PodWant| format!("{cluster}__{}__{}", p.namespace, p.name);
            let mut statuses = Vec::new();
            let mut problems = Vec::new();
            for p in want {
                if let Some(why) = a.pod_problem(&vm_name(&p)) {
                    problems.push((p.clone(), why.to_string()));
                }
                if let Some(st) = a.network_status(&vm_name(&p)) {
                    if p.status.as_deref() != Some(st.as_str()) && !p.terminating {
                        statuses.push((p, st));
                    }
                }
            }
            Some((counts, statuses, problems))
        })
        .await;
        if let Ok(Some(((created, released), statuses, problems))) = r {
            if created + released > 0 {
                info!(created, released, "ports synced with the node's pods");
            }
            for (p, st) in statuses {
                report_status(&client, &p, &st).await;
            }
            for (p, why) in &problems {
                let r = reference("v1", "Pod", Some(&p.namespace), &p.name, Some(&p.uid));
                reports.problem(r, "NoNetwork", why).await;
            }
            reports.retain(|k| {
                problems
                    .iter()
                    .any(|(p, _)| k == format!("Pod/{}/{}", p.namespace, p.name))
            });
        }
        let _ = tokio::time::timeout(RESYNC, dirty.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// Writes the pod's network-status annotation (a merge patch: nothing else changes).
async fn report_status(client: &kube::Client, p: &PodWant, status: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &p.namespace);
    let patch = serde_json::json!({"metadata": {"annotations": {NETWORK_STATUS: status}}});
    if let Err(e) = api
        .patch(&p.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        warn!(pod = %format!("{}/{}", p.namespace, p.name), error = %e, "writing the pod's network-status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn pod(host_network: bool, phase: &str, deleting: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("web-1".into()),
                namespace: Some("shop".into()),
                uid: Some("u-1".into()),
                deletion_timestamp: deleting.then(|| Time(Default::default())),
                ..Default::default()
            },
            spec: Some(PodSpec {
                host_network: Some(host_network),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn which_pods_get_a_port() {
        let w = wanted(&pod(false, "Pending", false)).unwrap();
        assert_eq!(
            (
                w.namespace.as_str(),
                w.name.as_str(),
                w.uid.as_str(),
                w.terminating
            ),
            ("shop", "web-1", "u-1", false)
        );
        assert!(wanted(&pod(false, "Running", true)).unwrap().terminating);
        assert_eq!(wanted(&pod(true, "Running", false)), None, "host network");
        assert_eq!(wanted(&pod(false, "Succeeded", false)), None);
        assert_eq!(wanted(&pod(false, "Failed", false)), None);
    }
}
