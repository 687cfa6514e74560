//! Networks from the Kubernetes API, with TF's namespace semantics:
//! - a namespace without annotations uses the default pod network;
//! - `opencontrail.org/isolation: "true"` gives the namespace a network of its own,
//!   `<cluster>-<namespace>-pod-network` (a VirtualNetwork the agent creates there); with
//!   `opencontrail.org/isolation.service: "false"` beside it, its Services stay open to
//!   every network (only its pods are isolated);
//! - `opencontrail.org/network: <name>` on a namespace or a pod picks a VirtualNetwork:
//!   `name` (the namespace's own), `namespace/name`, or TF's JSON form
//!   `{"domain": .., "project": "<cluster>-<namespace>" | "<namespace>", "name": ..}`.
//!
//! A VirtualNetwork's VRF is allocated once, cluster-wide, and kept in its status
//! (`status.vrf`), so every node agrees: the lowest VRF from `isolated-vrf-base` up that no
//! other network uses, written with the object's resourceVersion (a racing writer gets a
//! conflict and reads the winner's). Two networks that still end up with one VRF (two
//! nodes allocating for two new networks at once) are resolved the same way on every node:
//! the younger one gives its VRF up and is allocated again.

use super::attachments::{nad_network, Attachment, NetworkAttachmentDefinition, NAD_API_VERSION};
use super::report::{reference, Reports};
use super::{DEBOUNCE, RESYNC};
use crate::api::Shared;
use crate::config::Net;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{CustomResource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tokio::sync::Notify;
use tracing::{info, warn};

pub const ISOLATION: &str = "opencontrail.org/isolation";
pub const ISOLATION_SERVICE: &str = "opencontrail.org/isolation.service";
pub const NETWORK: &str = "opencontrail.org/network";

/// A virtual network: one VRF on every node that has pods in it.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "vrouter.io",
    version = "v1alpha1",
    kind = "VirtualNetwork",
    namespaced
)]
#[kube(status = "VirtualNetworkStatus", shortname = "vn")]
#[kube(printcolumn = r#"{"name":"VRF","type":"integer","jsonPath":".status.vrf"}"#)]
#[kube(
    printcolumn = r#"{"name":"Isolated-Namespace","type":"string","jsonPath":".spec.isolatedNamespace"}"#
)]
#[kube(printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#)]
#[serde(rename_all = "camelCase")]
pub struct VirtualNetworkSpec {
    /// Set when the agent made this network for an isolated namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated_namespace: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct VirtualNetworkStatus {
    /// The VRF every node uses for this network (allocated once, cluster-wide).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "vrf_schema")]
    pub vrf: Option<u32>,
}

/// A plain integer: the apiserver knows no "uint32" format and kubectl warns about it.
fn vrf_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "integer", "minimum": 1, "nullable": true})
}

/// The CRDs the agent needs, as a JSON List (`vrouter-agent --print-crds`, which kubectl
/// applies): the one definition the cluster's manifests come from. multus'
/// NetworkAttachmentDefinition is among them for clusters without multus.
pub fn crds_json() -> Result<String, String> {
    use kube::CustomResourceExt;
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [VirtualNetwork::crd(), NetworkAttachmentDefinition::crd()],
    });
    serde_json::to_string_pretty(&list).map_err(|e| e.to_string())
}

/// A network reference from an annotation, resolved to (namespace, name).
pub fn parse_ref(value: &str, own_ns: &str, cluster: &str) -> Result<(String, String), String> {
    let v = value.trim();
    if v.starts_with('{') {
        #[derive(Deserialize)]
        struct Fq {
            project: Option<String>,
            name: String,
        }
        let fq: Fq = serde_json::from_str(v).map_err(|e| format!("{NETWORK} {v:?}: {e}"))?;
        let ns = match fq.project {
            Some(p) => p
                .strip_prefix(&format!("{cluster}-"))
                .unwrap_or(&p)
                .to_string(),
            None => own_ns.to_string(),
        };
        return Ok((ns, fq.name));
    }
    let (ns, name) = match v.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => (own_ns, v),
    };
    if name.is_empty() || ns.is_empty() || name.contains('/') {
        return Err(format!(
            "{NETWORK} {v:?} is not <name>, <namespace>/<name> or TF's JSON form"
        ));
    }
    Ok((ns.to_string(), name.to_string()))
}

/// The networks of the API as the agent uses them: every VirtualNetwork with a VRF, and
/// the network each annotated or isolated namespace's pods go to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetView {
    /// By "<namespace>/<name>".
    pub nets: BTreeMap<String, Net>,
    /// Namespace -> its network key, or why it has none.
    pub namespaces: BTreeMap<String, Result<String, String>>,
    /// NetworkAttachmentDefinition "<namespace>/<name>" -> its network key, or why it
    /// cannot be used (attachments.rs).
    pub nads: BTreeMap<String, Result<String, String>>,
    /// The isolated namespaces' networks (keys of `nets`): they take no connections from
    /// other networks, and their pods reach the default network's (flows.rs).
    pub isolated: BTreeSet<String>,
    /// The isolated networks whose namespace says `isolation.service: "false"`: their
    /// pods take connections from any network through a Service VIP.
    pub services_open: BTreeSet<String>,
}

impl NetView {
    /// The network of a pod: its own annotation, else its namespace's; None: the TOML
    /// mapping decides (the default network). Err: the pod must not get a port.
    pub fn network_for(
        &self,
        namespace: &str,
        pod_annotation: Option<&str>,
        cluster: &str,
    ) -> Result<Option<&Net>, String> {
        let key = match pod_annotation {
            Some(a) => {
                let (ns, name) = parse_ref(a, namespace, cluster)?;
                format!("{ns}/{name}")
            }
            None => match self.namespaces.get(namespace) {
                None => return Ok(None),
                Some(Err(why)) => return Err(why.clone()),
                Some(Ok(k)) => k.clone(),
            },
        };
        self.net(&key).map(Some)
    }

    fn net(&self, key: &str) -> Result<&Net, String> {
        self.nets
            .get(key)
            .ok_or_else(|| format!("network {key} does not exist (or has no VRF yet)"))
    }

    /// The network of an extra interface: the one its NetworkAttachmentDefinition names.
    pub fn network_of_attachment(&self, a: &Attachment) -> Result<&Net, String> {
        let nad = format!("{}/{}", a.namespace, a.name);
        match self.nads.get(&nad) {
            None => Err(format!("NetworkAttachmentDefinition {nad} does not exist")),
            Some(Err(why)) => Err(why.clone()),
            Some(Ok(key)) => self
                .net(key)
                .map_err(|e| format!("NetworkAttachmentDefinition {nad}: {e}")),
        }
    }
}

fn key_of(vn: &VirtualNetwork) -> String {
    format!("{}/{}", vn.namespace().unwrap_or_default(), vn.name_any())
}

/// What the API should hold and does not: networks to create, VRFs to write.
#[derive(Debug, Default, PartialEq)]
pub struct Writes {
    /// Isolated namespaces' networks: (namespace, name).
    pub create: Vec<(String, String)>,
    /// (namespace, name, vrf): a VRF for a network without one (or that gave its VRF up).
    pub allocate: Vec<(String, String, u32)>,
}

/// Compiles the view from the stores, and the API writes it still needs. `reserved` are
/// the VRFs of the TOML networks (never allocated to an API network).
pub fn compile(
    namespaces: &[Namespace],
    vns: &[VirtualNetwork],
    nads: &[NetworkAttachmentDefinition],
    cluster: &str,
    reserved: &BTreeSet<u32>,
    vrf_base: u32,
) -> (NetView, Writes) {
    let mut view = NetView::default();
    let mut writes = Writes::default();
    // Oldest first: on a VRF clash the older network keeps it.
    let mut vns: Vec<&VirtualNetwork> = vns.iter().collect();
    vns.sort_by_key(|v| (v.creation_timestamp().map(|t| t.0), key_of(v)));
    let mut used: BTreeSet<u32> = reserved.clone();
    let mut unallocated = Vec::new();
    for vn in vns {
        match vn.status.as_ref().and_then(|s| s.vrf) {
            Some(vrf) if vrf != crate::config::HOST_VRF && used.insert(vrf) => {
                let uid = vn.uid().unwrap_or_default();
                if vn.spec.isolated_namespace.is_some() {
                    view.isolated.insert(key_of(vn));
                }
                view.nets.insert(
                    key_of(vn),
                    Net {
                        name: key_of(vn),
                        vrf,
                        uuid: uid,
                        namespaces: Vec::new(),
                        policy: None,
                    },
                );
            }
            _ => unallocated.push(vn),
        }
    }
    let mut next = vrf_base.max(1);
    for vn in unallocated {
        while used.contains(&next) {
            next += 1;
        }
        used.insert(next);
        writes
            .allocate
            .push((vn.namespace().unwrap_or_default(), vn.name_any(), next));
    }
    for ns in namespaces {
        let name = ns.name_any();
        let ann = ns.annotations();
        let choice = if let Some(v) = ann.get(NETWORK) {
            Some(parse_ref(v, &name, cluster).map(|(n, vn)| format!("{n}/{vn}")))
        } else if ann
            .get(ISOLATION)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        {
            let vn = format!("{cluster}-{name}-pod-network");
            let key = format!("{name}/{vn}");
            if ann
                .get(ISOLATION_SERVICE)
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
            {
                view.services_open.insert(key.clone());
            }
            if !view.nets.contains_key(&key)
                && !writes
                    .allocate
                    .iter()
                    .any(|(n, v, _)| *n == name && *v == vn)
            {
                writes.create.push((name.clone(), vn));
            }
            Some(Ok(key))
        } else {
            None
        };
        if let Some(c) = choice {
            view.namespaces.insert(name, c);
        }
    }
    for nad in nads {
        let key = format!("{}/{}", nad.namespace().unwrap_or_default(), nad.name_any());
        view.nads.insert(key, nad_network(nad, cluster));
    }
    (view, writes)
}

/// Makes the API writes: creates the isolated namespaces' networks, writes allocated
/// VRFs into their status (`compiled`: the VirtualNetworks the writes were compiled
/// from). A conflict means another node was first: its result arrives through the
/// watch. Returns the problems, one line each.
pub async fn apply(client: &kube::Client, w: &Writes, compiled: &[VirtualNetwork]) -> Vec<String> {
    let mut problems = Vec::new();
    for (ns, name) in &w.create {
        let api: Api<VirtualNetwork> = Api::namespaced(client.clone(), ns);
        let mut vn = VirtualNetwork::new(
            name,
            VirtualNetworkSpec {
                isolated_namespace: Some(ns.clone()),
            },
        );
        vn.metadata.labels = Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".into(),
            "vrouter-agent".into(),
        )]));
        match api.create(&PostParams::default(), &vn).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => problems.push(format!("creating VirtualNetwork {ns}/{name}: {e}")),
        }
    }
    for (ns, name, vrf) in &w.allocate {
        let api: Api<VirtualNetwork> = Api::namespaced(client.clone(), ns);
        // The object the allocation was compiled from, with its resourceVersion: if
        // another node wrote a VRF since, the write is refused (409) and the next pass
        // sees the winner, instead of overwriting it.
        let Some(mut vn) = compiled
            .iter()
            .find(|v| v.namespace().as_deref() == Some(ns) && v.name_any() == *name)
            .cloned()
        else {
            continue;
        };
        vn.status = Some(VirtualNetworkStatus { vrf: Some(*vrf) });
        match api.replace_status(name, &PostParams::default(), &vn).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => problems.push(format!(
                "writing the VRF of VirtualNetwork {ns}/{name}: {e}"
            )),
        }
    }
    problems
}

/// Watches Namespaces and VirtualNetworks, makes the API writes they call for, and hands
/// the compiled view to the agent: for ever. `reserved`: the TOML networks' VRFs.
pub async fn run(
    client: kube::Client,
    shared: Arc<Shared>,
    node_name: String,
    cluster: String,
    reserved: BTreeSet<u32>,
    vrf_base: u32,
) {
    let mut reports = Reports::new(client.clone(), &node_name);
    let (ns_reader, ns_writer) = reflector::store::<Namespace>();
    let (vn_reader, vn_writer) = reflector::store::<VirtualNetwork>();
    let dirty = Arc::new(Notify::new());
    let ns_stream = reflector(
        ns_writer,
        watcher(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    );
    let vn_stream = reflector(
        vn_writer,
        watcher(
            Api::<VirtualNetwork>::all(client.clone()),
            watcher::Config::default(),
        )
        .default_backoff(),
    );
    // NADs are optional (a cluster may lack their CRD): the view uses what the store has
    // and never waits for it.
    let (nad_reader, nad_writer) = reflector::store::<NetworkAttachmentDefinition>();
    let nad_api = Api::<NetworkAttachmentDefinition>::all(client.clone());
    let nad_stream = reflector(
        nad_writer,
        watcher(nad_api, watcher::Config::default()).default_backoff(),
    );
    tokio::spawn(drive(ns_stream, dirty.clone(), "namespace"));
    tokio::spawn(drive(vn_stream, dirty.clone(), "VirtualNetwork"));
    tokio::spawn(drive(
        nad_stream,
        dirty.clone(),
        "NetworkAttachmentDefinition",
    ));
    if ns_reader.wait_until_ready().await.is_err() || vn_reader.wait_until_ready().await.is_err() {
        warn!("network stores closed before they were ready");
        return;
    }
    // None until the first pass: the pod watch makes no port before the agent has a view.
    let mut last: Option<NetView> = None;
    loop {
        let nss: Vec<Namespace> = ns_reader.state().iter().map(|n| (**n).clone()).collect();
        let vns: Vec<VirtualNetwork> = vn_reader.state().iter().map(|n| (**n).clone()).collect();
        let nads: Vec<NetworkAttachmentDefinition> =
            nad_reader.state().iter().map(|n| (**n).clone()).collect();
        let (view, writes) = compile(&nss, &vns, &nads, &cluster, &reserved, vrf_base);
        for p in apply(&client, &writes, &vns).await {
            warn!(problem = %p, "networks");
        }
        if last.as_ref() != Some(&view) {
            for (ns, why) in view
                .namespaces
                .iter()
                .filter_map(|(ns, r)| r.as_ref().err().map(|e| (ns, e)))
            {
                warn!(namespace = %ns, problem = %why, "namespace network");
                let uid = nss
                    .iter()
                    .find(|n| n.name_any() == *ns)
                    .and_then(|n| n.uid());
                reports
                    .problem(
                        reference("v1", "Namespace", None, ns, uid.as_deref()),
                        "BadNetwork",
                        why,
                    )
                    .await;
            }
            for (key, why) in view
                .nads
                .iter()
                .filter_map(|(k, r)| r.as_ref().err().map(|e| (k, e)))
            {
                warn!(problem = %why, "NetworkAttachmentDefinition");
                let nad = nads.iter().find(|n| {
                    format!("{}/{}", n.namespace().unwrap_or_default(), n.name_any()) == *key
                });
                if let Some(n) = nad {
                    let ns = n.namespace();
                    let r = reference(
                        NAD_API_VERSION,
                        "NetworkAttachmentDefinition",
                        ns.as_deref(),
                        &n.name_any(),
                        n.uid().as_deref(),
                    );
                    reports.problem(r, "BadNetworkAttachment", why).await;
                }
            }
            info!(
                networks = view.nets.len(),
                namespaces = view.namespaces.len(),
                "networks from the API"
            );
            let s = shared.clone();
            let v = view.clone();
            // The new VRFs' routes go in now, not at the next periodic reconciliation.
            let _ = tokio::task::spawn_blocking(move || {
                s.agent
                    .lock()
                    .map(|mut a| {
                        a.set_net_view(v);
                        a.reconcile().is_ok()
                    })
                    .unwrap_or(false)
            })
            .await;
            last = Some(view);
        }
        let _ = tokio::time::timeout(RESYNC, dirty.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
    }
}

/// Drives a reflector stream, marking the state dirty on every event.
pub(super) async fn drive<S, T>(stream: S, dirty: Arc<Notify>, what: &'static str)
where
    S: futures_util::Stream<Item = Result<T, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        if let Err(e) = ev {
            warn!(error = %e, "{what} watch (retrying)");
        }
        dirty.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

    fn ns(name: &str, ann: &[(&str, &str)]) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: Some(
                    ann.iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn vn(ns: &str, name: &str, vrf: Option<u32>, age: i64) -> VirtualNetwork {
        let mut v = VirtualNetwork::new(name, VirtualNetworkSpec::default());
        v.metadata.namespace = Some(ns.into());
        v.metadata.uid = Some(format!("uid-{name}"));
        v.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1_000_000 - age).unwrap(),
        ));
        v.status = Some(VirtualNetworkStatus { vrf });
        v
    }

    #[test]
    fn references() {
        assert_eq!(
            parse_ref("blue", "team", "k8s").unwrap(),
            ("team".into(), "blue".into())
        );
        assert_eq!(
            parse_ref("net/blue", "team", "k8s").unwrap(),
            ("net".into(), "blue".into())
        );
        let fq = r#"{"domain":"default-domain","project":"k8s-net","name":"blue"}"#;
        assert_eq!(
            parse_ref(fq, "team", "k8s").unwrap(),
            ("net".into(), "blue".into())
        );
        assert!(parse_ref("a/b/c", "team", "k8s").is_err());
        assert!(parse_ref("{nope", "team", "k8s").is_err());
    }

    #[test]
    fn isolation_service_false_marks_the_isolated_network_services_open() {
        let nss = [
            ns("shop", &[(ISOLATION, "true"), (ISOLATION_SERVICE, "false")]),
            ns("vault", &[(ISOLATION, "true"), (ISOLATION_SERVICE, "true")]),
            ns("team", &[(ISOLATION_SERVICE, "false")]),
        ];
        let (view, _) = compile(&nss, &[], &[], "k8s", &BTreeSet::new(), 100);
        assert_eq!(
            view.services_open,
            BTreeSet::from(["shop/k8s-shop-pod-network".to_string()])
        );
    }

    #[test]
    fn isolation_creates_a_network_and_vrfs_are_allocated_once() {
        let nss = [
            ns("secure", &[(ISOLATION, "true")]),
            ns("team", &[(NETWORK, "blue")]),
            ns("plain", &[]),
        ];
        let reserved = BTreeSet::from([1, 100]);
        // nothing in the API yet: create the isolated network; blue does not exist
        let (view, w) = compile(&nss, &[], &[], "k8s", &reserved, 100);
        assert_eq!(
            w.create,
            vec![("secure".into(), "k8s-secure-pod-network".into())]
        );
        assert!(view
            .network_for("team", None, "k8s")
            .unwrap_err()
            .contains("team/blue does not exist"));
        assert_eq!(view.network_for("plain", None, "k8s").unwrap(), None);
        // both exist without VRFs: allocated from the base up, around the TOML VRFs
        let vns = [
            vn("secure", "k8s-secure-pod-network", None, 20),
            vn("team", "blue", None, 10),
        ];
        let (_, w) = compile(&nss, &vns, &[], "k8s", &reserved, 100);
        assert!(w.create.is_empty());
        assert_eq!(
            w.allocate,
            vec![
                ("secure".into(), "k8s-secure-pod-network".into(), 101),
                ("team".into(), "blue".into(), 102)
            ]
        );
        // allocated: the view has them, nothing to write; the agent's network for the
        // isolated namespace is the isolated one, blue is not
        let mut secure = vn("secure", "k8s-secure-pod-network", Some(101), 20);
        secure.spec.isolated_namespace = Some("secure".into());
        let vns = [secure, vn("team", "blue", Some(102), 10)];
        let (view, w) = compile(&nss, &vns, &[], "k8s", &reserved, 100);
        assert_eq!(w, Writes::default());
        assert_eq!(
            view.isolated,
            BTreeSet::from(["secure/k8s-secure-pod-network".to_string()])
        );
        assert_eq!(
            view.network_for("secure", None, "k8s")
                .unwrap()
                .unwrap()
                .vrf,
            101
        );
        assert_eq!(
            view.network_for("team", None, "k8s").unwrap().unwrap().vrf,
            102
        );
        assert_eq!(
            view.network_for("plain", Some("team/blue"), "k8s")
                .unwrap()
                .unwrap()
                .vrf,
            102
        );
    }

    #[test]
    fn a_vrf_clash_moves_the_younger_network() {
        let vns = [
            vn("a", "old", Some(101), 50),
            vn("b", "young", Some(101), 5),
        ];
        let (view, w) = compile(&[], &vns, &[], "k8s", &BTreeSet::new(), 100);
        assert_eq!(view.nets["a/old"].vrf, 101);
        assert_eq!(w.allocate, vec![("b".into(), "young".into(), 100)]);
    }
}
