//! Extra pod interfaces, the multus convention: a pod annotated
//! `k8s.v1.cni.cncf.io/networks` gets, besides eth0 in its own network, one interface per
//! NetworkAttachmentDefinition it lists (net1, net2, ... unless it names them), each in the
//! VirtualNetwork that attachment stands for. vrouter-cni makes them all in the runtime's
//! one ADD (no multus needed), and the agent reports them in the pod's
//! `k8s.v1.cni.cncf.io/network-status` annotation.
//!
//! A NetworkAttachmentDefinition is vrouter's when its `spec.config` is CNI JSON of type
//! `vrouter`; its network is the config's `"network"` (a reference in the forms of
//! `opencontrail.org/network`), else TF's `opencontrail.org/network` annotation on the
//! NAD, else the VirtualNetwork of the NAD's own name in the NAD's namespace.

use super::network::{parse_ref, NETWORK};
use kube::{CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The pod annotation listing extra networks.
pub const NETWORKS: &str = "k8s.v1.cni.cncf.io/networks";
/// The pod annotation the agent writes: every interface, its network and addresses.
pub const NETWORK_STATUS: &str = "k8s.v1.cni.cncf.io/network-status";
/// The NAD's group/version, as an Event's reference names it.
pub const NAD_API_VERSION: &str = "k8s.cni.cncf.io/v1";
/// The CNI type that makes a NAD vrouter's.
pub const CNI_TYPE: &str = "vrouter";

/// multus' NetworkAttachmentDefinition (k8s.cni.cncf.io/v1), as far as vrouter reads it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "k8s.cni.cncf.io",
    version = "v1",
    kind = "NetworkAttachmentDefinition",
    namespaced
)]
#[kube(
    shortname = "net-attach-def",
    plural = "network-attachment-definitions"
)]
pub struct NetworkAttachmentDefinitionSpec {
    /// The CNI configuration (JSON) for the interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

/// Extra interfaces a pod may have (each gets routing table 100+i in the pod, below the
/// kernel's reserved tables 253-255).
pub const MAX_ATTACHMENTS: usize = 32;

/// One entry of a pod's `k8s.v1.cni.cncf.io/networks`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The NAD: namespace (the pod's unless given) and name.
    pub namespace: String,
    pub name: String,
    /// The interface name the pod asked for, if any.
    pub interface: Option<String>,
}

/// Parses the annotation: a comma-separated list of `[namespace/]name[@interface]`, or a
/// JSON list of `{"name", "namespace"?, "interface"?}` objects.
pub fn parse_networks(value: &str, pod_ns: &str) -> Result<Vec<Attachment>, String> {
    let v = value.trim();
    let bad = |why: String| format!("{NETWORKS} {v:?}: {why}");
    let list = if v.starts_with('[') {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            name: String,
            namespace: Option<String>,
            interface: Option<String>,
            // Accepted (multus' selection elements) and ignored: vrouter gives the addresses.
            #[serde(default, rename = "ips")]
            _ips: Option<serde_json::Value>,
            #[serde(default, rename = "mac")]
            _mac: Option<serde_json::Value>,
        }
        let entries: Vec<Entry> = serde_json::from_str(v).map_err(|e| bad(e.to_string()))?;
        entries
            .into_iter()
            .map(|e| Attachment {
                namespace: e.namespace.unwrap_or_else(|| pod_ns.to_string()),
                name: e.name,
                interface: e.interface,
            })
            .collect()
    } else {
        let mut out = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (rest, interface) = match item.split_once('@') {
                Some((r, i)) => (r, Some(i.to_string())),
                None => (item, None),
            };
            let (namespace, name) = match rest.split_once('/') {
                Some((ns, n)) => (ns.to_string(), n.to_string()),
                None => (pod_ns.to_string(), rest.to_string()),
            };
            out.push(Attachment {
                namespace,
                name,
                interface,
            });
        }
        out
    };
    if list.len() > MAX_ATTACHMENTS {
        return Err(bad(format!(
            "{} networks; at most {MAX_ATTACHMENTS} extra interfaces",
            list.len()
        )));
    }
    for a in &list {
        if a.name.is_empty() || a.namespace.is_empty() || a.name.contains('/') {
            return Err(bad(format!(
                "{:?} is not a NetworkAttachmentDefinition name",
                a.name
            )));
        }
        if let Some(i) = &a.interface {
            if !valid_ifname(i) || i == "eth0" {
                return Err(bad(format!(
                    "interface {i:?} is not a free Linux interface name"
                )));
            }
        }
    }
    Ok(list)
}

fn valid_ifname(s: &str) -> bool {
    !s.is_empty() && s.len() < 16 && s != "." && s != ".." && !s.contains(['/', ':', ' ', '\0'])
}

/// The VirtualNetwork ("<namespace>/<name>") a NAD stands for, or why it is not usable.
pub fn nad_network(nad: &NetworkAttachmentDefinition, cluster: &str) -> Result<String, String> {
    let ns = nad.namespace().unwrap_or_default();
    let id = format!("NetworkAttachmentDefinition {ns}/{}", nad.name_any());
    let config = nad.spec.config.as_deref().unwrap_or("{}");
    let conf: serde_json::Value =
        serde_json::from_str(config).map_err(|e| format!("{id}: spec.config is not JSON: {e}"))?;
    // A conflist has its plugins in "plugins"; vrouter must be the first.
    let plugin = conf.get("plugins").and_then(|p| p.get(0)).unwrap_or(&conf);
    match plugin.get("type").and_then(|t| t.as_str()) {
        Some(CNI_TYPE) | None => {}
        Some(other) => {
            return Err(format!(
            "{id}: CNI type {other:?} is not {CNI_TYPE:?} (vrouter makes only its own interfaces)"
        ))
        }
    }
    let reference = match plugin.get("network") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Object(_)) => Some(plugin["network"].to_string()),
        Some(other) => {
            return Err(format!(
                "{id}: \"network\" must be a string or TF's object form, not {other}"
            ))
        }
        None => nad.annotations().get(NETWORK).cloned(),
    };
    let (vn_ns, vn) = match reference {
        Some(r) => parse_ref(&r, &ns, cluster).map_err(|e| format!("{id}: {e}"))?,
        None => (ns.clone(), nad.name_any()),
    };
    Ok(format!("{vn_ns}/{vn}"))
}

/// The interface name of extra attachment `i` (1-based): the one asked for, else net<i>.
pub fn ifname(a: &Attachment, i: usize) -> String {
    a.interface.clone().unwrap_or_else(|| format!("net{i}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nad(ns: &str, name: &str, config: &str, ann: Option<&str>) -> NetworkAttachmentDefinition {
        let mut n = NetworkAttachmentDefinition::new(
            name,
            NetworkAttachmentDefinitionSpec {
                config: Some(config.into()),
            },
        );
        n.metadata.namespace = Some(ns.into());
        if let Some(a) = ann {
            n.metadata.annotations = Some([(NETWORK.to_string(), a.to_string())].into());
        }
        n
    }

    #[test]
    fn both_annotation_forms() {
        let a = parse_networks("blue, other/red@data", "team").unwrap();
        assert_eq!(
            a[0],
            Attachment {
                namespace: "team".into(),
                name: "blue".into(),
                interface: None
            }
        );
        assert_eq!(
            a[1],
            Attachment {
                namespace: "other".into(),
                name: "red".into(),
                interface: Some("data".into())
            }
        );
        let j = parse_networks(
            r#"[{"name":"blue"},{"name":"red","namespace":"other","interface":"data"}]"#,
            "team",
        )
        .unwrap();
        assert_eq!(a, j);
        assert_eq!(ifname(&a[0], 1), "net1");
        assert_eq!(ifname(&a[1], 2), "data");
        assert!(parse_networks("", "team").unwrap().is_empty());
    }

    #[test]
    fn bad_annotations_say_why() {
        assert!(parse_networks("[{\"nam\":\"x\"}]", "t")
            .unwrap_err()
            .contains("nam"));
        assert!(parse_networks("[nope", "t").unwrap_err().contains(NETWORKS));
        assert!(parse_networks("a/b/c", "t")
            .unwrap_err()
            .contains("not a NetworkAttachmentDefinition name"));
        assert!(parse_networks("blue@eth0", "t")
            .unwrap_err()
            .contains("eth0"));
        assert!(parse_networks("blue@waytoolonginterfacename", "t")
            .unwrap_err()
            .contains("interface"));
    }

    #[test]
    fn a_nad_names_its_network() {
        let c = r#"{"cniVersion":"1.1.0","type":"vrouter"}"#;
        assert_eq!(
            nad_network(&nad("team", "blue", c, None), "k8s").unwrap(),
            "team/blue"
        );
        let c2 = r#"{"cniVersion":"1.1.0","type":"vrouter","network":"net/red"}"#;
        assert_eq!(
            nad_network(&nad("team", "x", c2, None), "k8s").unwrap(),
            "net/red"
        );
        let tf = r#"{"domain":"default-domain","project":"k8s-net","name":"green"}"#;
        assert_eq!(
            nad_network(&nad("team", "x", c, Some(tf)), "k8s").unwrap(),
            "net/green"
        );
        let list = r#"{"cniVersion":"1.1.0","plugins":[{"type":"vrouter","network":"red"}]}"#;
        assert_eq!(
            nad_network(&nad("team", "x", list, None), "k8s").unwrap(),
            "team/red"
        );
    }

    #[test]
    fn a_bad_nad_says_why() {
        assert!(nad_network(&nad("t", "x", "{not json", None), "k8s")
            .unwrap_err()
            .contains("t/x: spec.config is not JSON"));
        assert!(
            nad_network(&nad("t", "x", r#"{"type":"macvlan"}"#, None), "k8s")
                .unwrap_err()
                .contains("\"macvlan\"")
        );
        assert!(nad_network(
            &nad("t", "x", r#"{"type":"vrouter","network":5}"#, None),
            "k8s"
        )
        .unwrap_err()
        .contains("network"));
    }
}
