//! This node's Node object: its podCIDRs are the node's pod pool (node-ipam in
//! kube-controller-manager allocates them when kubelet registers the node).

use crate::config::PodCidrs;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn};

/// The pool out of `spec.podCIDRs` (or the older single `spec.podCIDR`): one IPv4 prefix,
/// at most one IPv6 prefix. None while the controller has not allocated them yet.
pub fn pod_cidrs(node: &Node) -> Result<Option<PodCidrs>, String> {
    let list = pod_cidr_list(node);
    let (mut v4, mut v6) = (None, None);
    for c in list {
        match c
            .parse::<IpNet>()
            .map_err(|e| format!("podCIDR {c:?}: {e}"))?
        {
            IpNet::V4(n) if v4.is_none() => v4 = Some(n),
            IpNet::V6(n) if v6.is_none() => v6 = Some(n),
            _ => return Err(format!("podCIDR {c}: a second prefix of its family")),
        }
    }
    match (v4, v6) {
        (Some(v4), v6) => Ok(Some(PodCidrs { v4, v6 })),
        (None, Some(_)) => {
            Err("podCIDRs without an IPv4 prefix (IPv6-only nodes are not supported)".into())
        }
        (None, None) => Ok(None),
    }
}

/// A Node's pod prefixes as written: `spec.podCIDRs`, or the older single `spec.podCIDR`.
pub fn pod_cidr_list(node: &Node) -> Vec<&str> {
    let spec = node.spec.as_ref();
    let mut list: Vec<&str> = spec
        .and_then(|s| s.pod_cidrs.as_ref())
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        list.extend(spec.and_then(|s| s.pod_cidr.as_deref()));
    }
    list
}

/// Waits until the Node `name` exists and has its podCIDRs (kubelet registers it, then
/// the node-ipam controller allocates). Retries every second, saying why once per reason.
/// When the API cannot be reached and `saved` holds the pool of an earlier run (a node's
/// podCIDRs do not change while the Node object lives), that pool is used: the agent
/// serves its pods while the API server is down.
pub async fn wait_for_pod_cidrs(
    client: &kube::Client,
    name: &str,
    saved: Option<PodCidrs>,
) -> PodCidrs {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut said = String::new();
    loop {
        let why = match nodes.get_opt(name).await {
            Ok(Some(node)) => match pod_cidrs(&node) {
                Ok(Some(p)) => {
                    info!(node = name, v4 = %p.v4, v6 = ?p.v6, "pod CIDRs from the Node object");
                    return p;
                }
                Ok(None) => format!("Node {name} has no podCIDRs yet"),
                Err(e) => format!("Node {name}: {e}"),
            },
            Ok(None) => format!("Node {name} does not exist yet"),
            Err(e) => match saved {
                Some(p) => {
                    warn!(error = %e, v4 = %p.v4, v6 = ?p.v6, "the API is not reachable; using the pod CIDRs of the last run");
                    return p;
                }
                None => format!("reading Node {name}: {e}"),
            },
        };
        if why != said {
            warn!(reason = %why, "waiting for the node's pod CIDRs");
            said = why;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The pool of the last run, kept in the state directory (`node.json`).
pub fn load_saved(state_dir: &Path) -> Option<PodCidrs> {
    let text = std::fs::read_to_string(state_dir.join(SAVED)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let v4 = v.get("pod-cidr")?.as_str()?.parse().ok()?;
    let v6 = v
        .get("pod-cidr-v6")
        .and_then(|s| s.as_str())
        .and_then(|s| s.parse().ok());
    Some(PodCidrs { v4, v6 })
}

/// Saves the pool (tmp file + rename, like the ports).
pub fn save(state_dir: &Path, p: &PodCidrs) -> std::io::Result<()> {
    let body = serde_json::json!({"pod-cidr": p.v4.to_string(), "pod-cidr-v6": p.v6.map(|n| n.to_string())});
    let tmp = state_dir.join(format!("{SAVED}.tmp"));
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(&tmp, body.to_string())?;
    std::fs::rename(tmp, state_dir.join(SAVED))
}

const SAVED: &str = "node.json";

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;

    fn node(cidrs: &[&str], single: Option<&str>) -> Node {
        Node {
            spec: Some(NodeSpec {
                pod_cidrs: Some(cidrs.iter().map(|s| s.to_string()).collect()),
                pod_cidr: single.map(String::from),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn dual_stack_single_and_missing() {
        let p = pod_cidrs(&node(&["10.32.1.0/24", "fd00:32::100/120"], None))
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.v4.to_string(), p.v6.map(|n| n.to_string())),
            ("10.32.1.0/24".into(), Some("fd00:32::100/120".into()))
        );
        let p = pod_cidrs(&node(&[], Some("10.32.2.0/24")))
            .unwrap()
            .unwrap();
        assert_eq!((p.v4.to_string(), p.v6), ("10.32.2.0/24".into(), None));
        assert_eq!(pod_cidrs(&node(&[], None)).unwrap(), None);
        assert_eq!(pod_cidrs(&Node::default()).unwrap(), None);
    }

    #[test]
    fn the_pool_is_saved_and_loaded() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load_saved(d.path()), None);
        let p = PodCidrs {
            v4: "10.32.1.0/24".parse().unwrap(),
            v6: Some("fd00:32::100/120".parse().unwrap()),
        };
        save(d.path(), &p).unwrap();
        assert_eq!(load_saved(d.path()), Some(p));
    }

    #[test]
    fn bad_pod_cidrs_are_errors() {
        assert!(pod_cidrs(&node(&["10.32.1.0/24", "10.32.2.0/24"], None))
            .unwrap_err()
            .contains("second"));
        assert!(pod_cidrs(&node(&["fd00::/112"], None))
            .unwrap_err()
            .contains("IPv6-only"));
        assert!(pod_cidrs(&node(&["nope"], None))
            .unwrap_err()
            .contains("nope"));
    }
}
