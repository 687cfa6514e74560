//! The agent's local port API: the JSON bodies of the contrail vRouter agent's `port_ipc`
//! endpoints (same keys, so TF's Go CNI could talk to our agent and our CNI to theirs),
//! plus our own `/ports`, `/health` and `/metrics`. The agent serves it in full on a Unix
//! socket only root may use ([`DEFAULT_SOCKET`]) and read-only on 127.0.0.1:9091
//! ([`DEFAULT_PORT`], TF's address) unless its `tcp-mutations` option says otherwise.
//!
//! One source of truth: the agent serves these types and the CNI plugin sends and parses
//! them. Paths are built by the functions at the bottom so the two never disagree.
//!
//! | request                         | body / answer                                  |
//! |---------------------------------|------------------------------------------------|
//! | `GET /vm-cfg/<vm-name>`         | `[VmCfg]`: the pod's interfaces (the agent reserves the address and MAC on first ask) |
//! | `POST /vm`                      | [`PortAdd`] -> `{}`: bind the host end of the veth; kernel programmed before 200 |
//! | `GET /vm/<vm-uuid>[/<vmi-uuid>]`| `[PortInfo]`; 404 until the port is bound and programmed |
//! | `DELETE /vm/<vm-uuid>[/<vmi-uuid>][?vm-id=<sandbox>]` | `{}`: unbind and release every interface of the pod (or one; with vm-id only if unbound or bound to that sandbox); 200 when unknown too |
//! | `POST /syncports`               | [`SyncPorts`] -> [`SyncReport`]: mark-and-sweep of ports not listed |
//! | `GET /ports`                    | `[PortRecord]`: everything the agent holds (ours, for CHECK/GC and operators) |
//! | `GET /health`                   | [`Health`]: 200 when ready for ADD, 503 otherwise |
//! | `GET /metrics`                  | Prometheus text |
//!
//! Errors are `{"error": "..."}` ([`ApiError`]) with a 4xx/5xx status.

use serde::{Deserialize, Serialize};

/// The agent's default listen address (TF's `PortIpcVrouterAgentPort`).
pub const DEFAULT_PORT: u16 = 9091;

/// Where the agent serves the whole API (mode 0600: root only), and where the CNI plugin
/// looks for it unless its config names a TCP address.
pub const DEFAULT_SOCKET: &str = "/run/vrouter/agent.sock";

/// One interface of a pod as the agent knows it from configuration (`GET /vm-cfg/<name>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VmCfg {
    /// The VMI uuid.
    pub id: String,
    pub vm_uuid: String,
    pub vn_id: String,
    pub vn_name: String,
    pub mac_address: String,
    #[serde(default)]
    pub sub_interface: bool,
    #[serde(default = "no_vlan")]
    pub vlan_id: i32,
    /// TF's `"{key:value}"` strings (`index` is `"i/N"`, `network`, optional `interface`).
    #[serde(default)]
    pub annotations: Vec<String>,
}

fn no_vlan() -> i32 {
    -1
}

/// The body of `POST /vm` (the CNI's "add message", also what TF writes as a port file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PortAdd {
    #[serde(default)]
    pub time: String,
    /// The sandbox (container) id: CNI_CONTAINERID.
    #[serde(default)]
    pub vm_id: String,
    pub vm_uuid: String,
    pub vm_name: String,
    pub host_ifname: String,
    #[serde(default)]
    pub vm_ifname: String,
    /// The netns path.
    #[serde(default)]
    pub vm_namespace: String,
    pub vn_uuid: String,
    pub vmi_uuid: String,
}

impl PortAdd {
    /// The fields TF's agent requires, by their JSON names, that are empty here.
    pub fn missing_fields(&self) -> Vec<&'static str> {
        let required = [
            ("vm-uuid", &self.vm_uuid),
            ("vm-name", &self.vm_name),
            ("host-ifname", &self.host_ifname),
            ("vn-uuid", &self.vn_uuid),
            ("vmi-uuid", &self.vmi_uuid),
        ];
        required
            .iter()
            .filter(|(_, v)| v.is_empty())
            .map(|(k, _)| *k)
            .collect()
    }
}

/// A bound, programmed interface (`GET /vm/<vm-uuid>`): what the CNI configures in the pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PortInfo {
    /// The VMI uuid.
    pub id: String,
    /// The VM (pod) uuid.
    pub instance_id: String,
    pub vn_id: String,
    #[serde(default)]
    pub vm_project_id: String,
    pub mac_address: String,
    /// The host end of the veth.
    pub system_name: String,
    #[serde(default = "no_vlan")]
    pub rx_vlan_id: i32,
    #[serde(default = "no_vlan")]
    pub tx_vlan_id: i32,
    pub ip_address: String,
    pub plen: u8,
    pub dns_server: String,
    pub gateway: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub v6_ip_address: String,
    /// Ours: TF's agent has no v6 prefix length (its CNI ignores IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v6_plen: Option<u8>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub v6_dns_server: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub v6_gateway: String,
    /// Ours: the MTU the pod's interface should use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
}

/// `POST /syncports`: the ports that are still wanted. Every bound port whose
/// (vm-id, vm-ifname) is not listed is removed; without a list, ports whose host interface
/// is gone are removed (TF's stale-port sweep after a restart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SyncPorts {
    #[serde(default)]
    pub valid_attachments: Option<Vec<Attachment>>,
}

/// A (sandbox, interface) pair, as in CNI GC's `cni.dev/valid-attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

/// What `POST /syncports` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct SyncReport {
    pub removed: Vec<String>,
}

/// The state of a port in the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortState {
    /// Addresses and MAC reserved by `GET /vm-cfg`; no host interface bound yet.
    Reserved,
    /// Bound by `POST /vm` and programmed in the kernel.
    Active,
    /// Bound, but the kernel does not have it (host interface gone, or a kernel error).
    Down,
}

/// Everything the agent holds for one pod interface (`GET /ports`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PortRecord {
    pub vmi_uuid: String,
    pub vm_uuid: String,
    pub vm_name: String,
    pub network: String,
    pub vn_uuid: String,
    pub vrf: u32,
    pub mac_address: String,
    pub ip_address: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub v6_ip_address: String,
    pub state: PortState,
    #[serde(default)]
    pub vm_id: String,
    #[serde(default)]
    pub vm_ifname: String,
    #[serde(default)]
    pub host_ifname: String,
    #[serde(default)]
    pub vm_namespace: String,
    /// The kernel vif index while programmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vif: Option<u32>,
    /// The Encap nexthop id.
    pub nh: u32,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Health {
    pub ready: bool,
    pub kernel: bool,
    pub ports: usize,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// Every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// The VM name of a pod: `<cluster>__<namespace>__<pod>`.
pub fn vm_name(cluster: &str, namespace: &str, pod: &str) -> String {
    format!("{cluster}__{namespace}__{pod}")
}

/// Splits a VM name into (cluster, namespace, pod).
pub fn split_vm_name(name: &str) -> Option<(&str, &str, &str)> {
    let mut it = name.splitn(3, "__");
    let (c, n, p) = (it.next()?, it.next()?, it.next()?);
    (!c.is_empty() && !n.is_empty() && !p.is_empty()).then_some((c, n, p))
}

/// TF's annotation string `{key:value}`; values may contain ':' (only the first one splits).
pub fn annotation(key: &str, value: &str) -> String {
    format!("{{{key}:{value}}}")
}

/// Parses `{key:value}`.
pub fn parse_annotation(s: &str) -> Option<(&str, &str)> {
    s.strip_prefix('{')?.strip_suffix('}')?.split_once(':')
}

pub mod path {
    //! Request paths, shared by the server's router and the client.
    pub fn vm_cfg(vm_name: &str) -> String {
        format!("/vm-cfg/{vm_name}")
    }
    /// `GET /vm-cfg/<name>?vm-uuid=<pod uid>`: the port only if it is that pod's.
    pub fn vm_cfg_of_pod(vm_name: &str, vm_uuid: &str) -> String {
        format!("/vm-cfg/{vm_name}?vm-uuid={}", query_escape(vm_uuid))
    }
    pub const VM: &str = "/vm";
    pub fn vm(vm_uuid: &str) -> String {
        format!("/vm/{vm_uuid}")
    }
    pub fn vmi(vm_uuid: &str, vmi_uuid: &str) -> String {
        format!("/vm/{vm_uuid}/{vmi_uuid}")
    }
    /// `DELETE` of one interface on behalf of one sandbox: the agent releases it only
    /// while it is unbound or bound to that sandbox (a late DEL of an old sandbox, or a
    /// rollback, never takes a newer sandbox's port).
    pub fn vmi_of_sandbox(vm_uuid: &str, vmi_uuid: &str, vm_id: &str) -> String {
        format!("/vm/{vm_uuid}/{vmi_uuid}?vm-id={}", query_escape(vm_id))
    }
    fn query_escape(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    pub const SYNC_PORTS: &str = "/syncports";
    pub const PORTS: &str = "/ports";
    pub const HEALTH: &str = "/health";
    pub const METRICS: &str = "/metrics";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names_round_trip() {
        let n = vm_name("k8s", "default", "web-1");
        assert_eq!(n, "k8s__default__web-1");
        assert_eq!(split_vm_name(&n), Some(("k8s", "default", "web-1")));
        assert_eq!(split_vm_name("k8s__default"), None);
        assert_eq!(split_vm_name("k8s____x"), None);
    }

    #[test]
    fn annotations_keep_colons_in_values() {
        let a = annotation("network", "ns:blue");
        assert_eq!(parse_annotation(&a), Some(("network", "ns:blue")));
        assert_eq!(parse_annotation("index:0/1"), None);
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(
            path::vm_cfg_of_pod("k8s__a__b", "u-1"),
            "/vm-cfg/k8s__a__b?vm-uuid=u-1"
        );
        assert_eq!(
            path::vmi_of_sandbox("u", "i", "a&b c"),
            "/vm/u/i?vm-id=a%26b%20c"
        );
    }

    #[test]
    fn port_add_uses_tf_keys_and_names_missing_fields() {
        let p: PortAdd = serde_json::from_str(
            r#"{"time":"t","vm-id":"c1","vm-uuid":"u","vm-name":"k8s__a__b","host-ifname":"tapeth0-u",
                "vm-ifname":"eth0","vm-namespace":"/run/netns/x","vn-uuid":"","vmi-uuid":"i"}"#,
        )
        .unwrap();
        assert_eq!(p.vm_id, "c1");
        assert_eq!(p.missing_fields(), vec!["vn-uuid"]);
        let v = serde_json::to_value(&p).unwrap();
        assert!(v.get("host-ifname").is_some() && v.get("vmi-uuid").is_some());
    }

    #[test]
    fn port_info_omits_absent_v6() {
        let info = PortInfo {
            id: "i".into(),
            instance_id: "u".into(),
            vn_id: "n".into(),
            vm_project_id: String::new(),
            mac_address: "02:00:00:00:00:01".into(),
            system_name: "tapeth0-u".into(),
            rx_vlan_id: -1,
            tx_vlan_id: -1,
            ip_address: "10.0.0.2".into(),
            plen: 24,
            dns_server: "10.0.0.1".into(),
            gateway: "10.0.0.1".into(),
            v6_ip_address: String::new(),
            v6_plen: None,
            v6_dns_server: String::new(),
            v6_gateway: String::new(),
            mtu: None,
        };
        let v = serde_json::to_value(&info).unwrap();
        assert!(v.get("v6-ip-address").is_none());
        assert_eq!(v["rx-vlan-id"], -1);
        let back: PortInfo = serde_json::from_value(v).unwrap();
        assert_eq!(back, info);
    }
}
