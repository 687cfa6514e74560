//! The CNI specification's data: versions, the network configuration, errors and results.
//!
//! One in-memory result type ([`CniResult`]) serialised in the config's version:
//! 0.3.1 and 0.4.0 carry `"version":"4"|"6"` in each ip; 1.x drop it and add the
//! interface `mtu` (1.1.0 fields are omitted when empty, so 1.0.0 parsers are happy).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Map, Value};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use vrouter_port_api::Attachment;

/// The spec versions we accept, oldest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"];
/// The newest version (what VERSION answers without a config, and errors without one).
pub const CURRENT_VERSION: &str = "1.1.0";

/// A supported spec version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    V031,
    V040,
    V100,
    V110,
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "0.3.1" => Some(Version::V031),
            "0.4.0" => Some(Version::V040),
            "1.0.0" => Some(Version::V100),
            "1.1.0" => Some(Version::V110),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V031 => "0.3.1",
            Version::V040 => "0.4.0",
            Version::V100 => "1.0.0",
            Version::V110 => "1.1.0",
        }
    }

    /// 0.3.x and 0.4.0 results carry `version` in each ip.
    pub fn ips_have_version(self) -> bool {
        self < Version::V100
    }

    /// CHECK exists since 0.4.0.
    pub fn has_check(self) -> bool {
        self >= Version::V040
    }

    /// STATUS and GC exist since 1.1.0.
    pub fn has_status_and_gc(self) -> bool {
        self >= Version::V110
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The spec's well-known error codes, and ours (100+).
#[allow(dead_code)] // the full table, including codes we never raise
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO: u32 = 5;
    pub const DECODE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    pub const NOT_AVAILABLE: u32 = 50;
    pub const NOT_AVAILABLE_LIMITED: u32 = 51;
    /// ADD: CNI_IFNAME already exists in the netns.
    pub const IF_EXISTS: u32 = 100;
    /// The netns could not be opened or entered.
    pub const NETNS: u32 = 101;
    /// A link, address or route operation failed.
    pub const NETLINK: u32 = 102;
    /// The agent refused a request or answered something unusable.
    pub const AGENT: u32 = 103;
    /// CHECK found a difference from prevResult.
    pub const CHECK_FAILED: u32 = 104;
    /// The vrouter kernel module is missing or has no vif for the port.
    pub const KERNEL: u32 = 105;
}

/// A CNI error: printed as `{"cniVersion","code","msg","details"}` on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> CniError {
        self.details = details.into();
        self
    }

    /// The JSON the runtime reads.
    pub fn to_json(&self, cni_version: &str) -> Value {
        json!({
            "cniVersion": cni_version,
            "code": self.code,
            "msg": self.msg,
            "details": self.details,
        })
    }

    /// The process exit status: the code itself (non-zero, at most 255).
    pub fn exit_status(&self) -> i32 {
        self.code.clamp(1, 255) as i32
    }
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

impl std::error::Error for CniError {}

pub type CniResultT<T> = Result<T, CniError>;

// ---------------------------------------------------------------------------------------
// Network configuration
// ---------------------------------------------------------------------------------------

/// Defaults of the `contrail` object.
pub const DEFAULT_CLUSTER: &str = "k8s";
pub const DEFAULT_VROUTER_IP: &str = "127.0.0.1";
pub const DEFAULT_MTU: u32 = 1500;
pub const DEFAULT_POLL_TIMEOUT_S: f64 = 0.2;
pub const DEFAULT_POLL_RETRIES: u32 = 25;

/// TF's `contrail` object (unknown keys ignored; numbers also accepted as strings,
/// since TF configs in the wild have both).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawContrail {
    #[serde(default)]
    cluster_name: Option<String>,
    #[serde(default)]
    vrouter_ip: Option<String>,
    #[serde(default, deserialize_with = "opt_number")]
    vrouter_port: Option<f64>,
    /// Ours: the agent's Unix socket, when not [`vrouter_port_api::DEFAULT_SOCKET`].
    #[serde(default)]
    agent_socket: Option<String>,
    /// TF's `veth` or `macvlan` (nested mode); we make veths only.
    #[serde(default)]
    vif_type: Option<Value>,
    /// TF's macvlan parent (nested mode); refused like macvlan.
    #[serde(default)]
    parent_interface: Option<Value>,
    #[serde(default, deserialize_with = "opt_number")]
    mtu: Option<f64>,
    #[serde(default, deserialize_with = "opt_number")]
    poll_timeout: Option<f64>,
    #[serde(default, deserialize_with = "opt_number")]
    poll_retries: Option<f64>,
    #[serde(default)]
    log_file: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    log_level: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct RawConf {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    contrail: Option<RawContrail>,
    #[serde(default, rename = "prevResult")]
    prev_result: Option<Value>,
    #[serde(default, rename = "cni.dev/valid-attachments")]
    valid_attachments: Option<Vec<Attachment>>,
}

fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| D::Error::custom("bad number")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{s:?} is not a number"))),
        Some(other) => Err(D::Error::custom(format!(
            "expected a number, found {other}"
        ))),
    }
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(D::Error::custom(format!(
            "expected a string, found {other}"
        ))),
    }
}

/// Where the agent's port API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAddr {
    /// The agent's Unix socket (the default): the whole API, for root.
    Unix(PathBuf),
    /// TF's `vrouter-ip` / `vrouter-port`: the agent answers changes there only with its
    /// `tcp-mutations` on.
    Tcp { host: String, port: u16 },
}

impl AgentAddr {
    /// The HTTP Host header.
    pub fn host_header(&self) -> String {
        match self {
            AgentAddr::Unix(_) => "localhost".into(),
            AgentAddr::Tcp { host, port } => match host.parse::<IpAddr>() {
                Ok(IpAddr::V6(a)) => format!("[{a}]:{port}"),
                _ => format!("{host}:{port}"),
            },
        }
    }
}

impl fmt::Display for AgentAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            AgentAddr::Tcp { .. } => write!(f, "http://{}", self.host_header()),
        }
    }
}

/// The validated network configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    pub version: Version,
    pub name: String,
    pub kind: String,
    pub cluster_name: String,
    pub agent: AgentAddr,
    /// Only when the config sets it (the agent's answer or 1500 otherwise).
    pub mtu: Option<u32>,
    pub poll_interval: std::time::Duration,
    pub poll_retries: u32,
    pub log_file: Option<String>,
    pub log_level: Option<String>,
    pub prev_result: Option<Value>,
    pub valid_attachments: Option<Vec<Attachment>>,
}

/// The `cniVersion` of a config, whatever else is wrong with it (for error JSON).
pub fn sniff_version(stdin: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(stdin).ok()?;
    v.get("cniVersion")?.as_str().map(str::to_string)
}

/// The version to print in an error answer: the config's when we support it.
pub fn error_version(stdin: &[u8]) -> &'static str {
    sniff_version(stdin)
        .as_deref()
        .and_then(Version::parse)
        .map(Version::as_str)
        .unwrap_or(CURRENT_VERSION)
}

/// CNI network and container ids: `^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`.
pub fn valid_id(s: &str) -> bool {
    let mut it = s.chars();
    match it.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    it.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl NetConf {
    /// Parses stdin: bad JSON -> 6, missing or unsupported cniVersion -> 1, anything
    /// invalid -> 7.
    pub fn parse(stdin: &[u8]) -> CniResultT<NetConf> {
        let value: Value = serde_json::from_slice(stdin).map_err(|e| {
            CniError::new(code::DECODE, "failed to decode the network configuration")
                .with_details(e.to_string())
        })?;
        let obj = value.as_object().ok_or_else(|| {
            CniError::new(
                code::DECODE,
                "the network configuration is not a JSON object",
            )
        })?;
        let version = match obj.get("cniVersion") {
            None | Some(Value::Null) => {
                return Err(CniError::new(
                    code::INCOMPATIBLE_VERSION,
                    "the network configuration has no cniVersion (0.1.0 is not supported)",
                )
                .with_details(format!(
                    "supported versions: {}",
                    SUPPORTED_VERSIONS.join(", ")
                )))
            }
            Some(Value::String(s)) => Version::parse(s).ok_or_else(|| {
                CniError::new(
                    code::INCOMPATIBLE_VERSION,
                    format!("unsupported CNI version {s:?}"),
                )
                .with_details(format!(
                    "supported versions: {}",
                    SUPPORTED_VERSIONS.join(", ")
                ))
            })?,
            Some(other) => {
                return Err(CniError::new(
                    code::DECODE,
                    format!("cniVersion must be a string, not {other}"),
                ))
            }
        };
        let raw: RawConf = serde_json::from_value(value.clone()).map_err(|e| {
            CniError::new(code::INVALID_CONFIG, "invalid network configuration")
                .with_details(e.to_string())
        })?;
        let invalid = |msg: String| CniError::new(code::INVALID_CONFIG, msg);

        let name = raw.name.unwrap_or_default();
        if name.is_empty() {
            return Err(invalid("missing network name".into()));
        }
        if !valid_id(&name) {
            return Err(invalid(format!("invalid network name {name:?}")));
        }
        let c = raw.contrail.unwrap_or_default();
        refuse_nested_mode(&c)?;
        let agent = agent_addr(&c)?;
        let cluster_name = c
            .cluster_name
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_CLUSTER.into());
        if cluster_name.contains("__") || cluster_name.contains('/') {
            return Err(invalid(format!(
                "invalid contrail.cluster-name {cluster_name:?}"
            )));
        }
        let mtu = match c.mtu {
            None => None,
            Some(0.0) => None,
            Some(m) if m.fract() == 0.0 && (68.0..=65535.0).contains(&m) => Some(m as u32),
            Some(m) => return Err(invalid(format!("invalid contrail.mtu {m} (68..65535)"))),
        };
        let poll_interval = match c.poll_timeout {
            None => std::time::Duration::from_secs_f64(DEFAULT_POLL_TIMEOUT_S),
            Some(t) if (0.0..=60.0).contains(&t) => std::time::Duration::from_secs_f64(t),
            Some(t) => {
                return Err(invalid(format!(
                    "invalid contrail.poll-timeout {t} (0..60 s)"
                )))
            }
        };
        let poll_retries = match c.poll_retries {
            None => DEFAULT_POLL_RETRIES,
            Some(r) if r.fract() == 0.0 && (0.0..=10000.0).contains(&r) => (r as u32).max(1),
            Some(r) => return Err(invalid(format!("invalid contrail.poll-retries {r}"))),
        };
        let prev_result = match raw.prev_result {
            Some(Value::Null) | None => None,
            Some(v @ Value::Object(_)) => Some(v),
            Some(_) => return Err(invalid("prevResult must be an object".into())),
        };
        Ok(NetConf {
            version,
            name,
            kind: raw.kind.unwrap_or_default(),
            cluster_name,
            agent,
            mtu,
            poll_interval,
            poll_retries,
            log_file: c.log_file.filter(|s| !s.is_empty()),
            log_level: c.log_level.filter(|s| !s.is_empty()),
            prev_result,
            valid_attachments: raw.valid_attachments,
        })
    }
}

/// TF's nested mode (a macvlan on `parent-interface` inside a VM) is not implemented:
/// such a config is refused rather than given a veth it did not ask for.
fn refuse_nested_mode(c: &RawContrail) -> CniResultT<()> {
    let unsupported = |key: &str, v: &Value| {
        CniError::new(
            code::UNSUPPORTED_FIELD,
            format!("unsupported field contrail.{key}: {v}"),
        )
        .with_details(
            "vrouter-cni makes veth pairs only; TF's nested mode (macvlan on a parent \
             interface) is not implemented",
        )
    };
    match &c.vif_type {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t.is_empty() || t.eq_ignore_ascii_case("veth") => {}
        Some(v) => return Err(unsupported("vif-type", v)),
    }
    match &c.parent_interface {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(p)) if p.is_empty() => Ok(()),
        Some(v) => Err(unsupported("parent-interface", v)),
    }
}

/// The agent's Unix socket, unless `vrouter-ip` or `vrouter-port` ask for TCP.
fn agent_addr(c: &RawContrail) -> CniResultT<AgentAddr> {
    let invalid = |msg: String| CniError::new(code::INVALID_CONFIG, msg);
    let ip = c.vrouter_ip.clone().filter(|s| !s.is_empty());
    let socket = c.agent_socket.clone().filter(|s| !s.is_empty());
    if ip.is_none() && c.vrouter_port.is_none() {
        let path = PathBuf::from(
            socket
                .as_deref()
                .unwrap_or(vrouter_port_api::DEFAULT_SOCKET),
        );
        if !path.is_absolute() {
            return Err(invalid(format!(
                "invalid contrail.agent-socket {:?} (an absolute path)",
                path.display()
            )));
        }
        return Ok(AgentAddr::Unix(path));
    }
    if socket.is_some() {
        return Err(invalid(
            "contrail.agent-socket and contrail.vrouter-ip/vrouter-port name two agents; \
             give one"
                .into(),
        ));
    }
    let host = ip.unwrap_or_else(|| DEFAULT_VROUTER_IP.into());
    if host.parse::<IpAddr>().is_err()
        && !host
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
    {
        return Err(invalid(format!("invalid contrail.vrouter-ip {host:?}")));
    }
    let port = match c.vrouter_port {
        None => vrouter_port_api::DEFAULT_PORT,
        Some(p) if p.fract() == 0.0 && (1.0..=65535.0).contains(&p) => p as u16,
        Some(p) => return Err(invalid(format!("invalid contrail.vrouter-port {p}"))),
    };
    Ok(AgentAddr::Tcp { host, port })
}

/// The VERSION answer.
pub fn version_info(cni_version: &str) -> Value {
    json!({ "cniVersion": cni_version, "supportedVersions": SUPPORTED_VERSIONS })
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_path: Option<String>,
    #[serde(default, rename = "pciID", skip_serializing_if = "Option::is_none")]
    pub pci_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// CIDR: `10.0.0.2/24`.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
}

impl IpConfig {
    /// (address, prefix length), if `address` is a valid CIDR.
    pub fn cidr(&self) -> Option<(IpAddr, u8)> {
        parse_cidr(&self.address)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteCfg {
    pub dst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// A result, independent of its version (the serialisation decides).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CniResult {
    #[serde(default)]
    pub interfaces: Vec<Interface>,
    #[serde(default)]
    pub ips: Vec<IpConfig>,
    #[serde(default)]
    pub routes: Vec<RouteCfg>,
    #[serde(default)]
    pub dns: Dns,
}

/// `a.b.c.d/n` or `x::y/n`.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = s.split_once('/')?;
    let ip: IpAddr = a.parse().ok()?;
    let len: u8 = l.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

impl CniResult {
    /// Parses a prevResult (of any supported version: `version` in ips is ignored).
    pub fn from_value(v: &Value) -> CniResultT<CniResult> {
        serde_json::from_value(v.clone()).map_err(|e| {
            CniError::new(code::DECODE, "failed to decode prevResult").with_details(e.to_string())
        })
    }

    /// The result in the given spec version.
    pub fn to_value(&self, version: Version) -> Value {
        let mut out = Map::new();
        out.insert("cniVersion".into(), Value::from(version.as_str()));
        let interfaces: Vec<Value> = self
            .interfaces
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if version < Version::V110 {
                    // Before 1.1.0 interfaces are {name, mac, sandbox}.
                    i.mtu = None;
                    i.socket_path = None;
                    i.pci_id = None;
                }
                serde_json::to_value(i).unwrap_or(Value::Null)
            })
            .collect();
        if !interfaces.is_empty() {
            out.insert("interfaces".into(), Value::Array(interfaces));
        }
        let ips: Vec<Value> = self
            .ips
            .iter()
            .map(|ip| {
                let mut v = serde_json::to_value(ip).unwrap_or(Value::Null);
                if version.ips_have_version() {
                    let fam = match ip.cidr() {
                        Some((IpAddr::V6(_), _)) => "6",
                        _ => "4",
                    };
                    if let Value::Object(m) = &mut v {
                        m.insert("version".into(), Value::from(fam));
                    }
                }
                v
            })
            .collect();
        if !ips.is_empty() {
            out.insert("ips".into(), Value::Array(ips));
        }
        if !self.routes.is_empty() {
            out.insert(
                "routes".into(),
                serde_json::to_value(&self.routes).unwrap_or(Value::Null),
            );
        }
        out.insert(
            "dns".into(),
            serde_json::to_value(&self.dns).unwrap_or(Value::Null),
        );
        Value::Object(out)
    }

    /// Chaining: `ours` appended to the previous plugin's result (interface indices shifted).
    pub fn chained(prev: CniResult, ours: CniResult) -> CniResult {
        let shift = prev.interfaces.len();
        let mut out = prev;
        out.interfaces.extend(ours.interfaces);
        out.ips.extend(ours.ips.into_iter().map(|mut ip| {
            ip.interface = ip.interface.map(|i| i + shift);
            ip
        }));
        out.routes.extend(ours.routes);
        if !ours.dns.nameservers.is_empty() || ours.dns.domain.is_some() {
            out.dns = ours.dns;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(v: &str) -> String {
        format!(
            r#"{{"cniVersion":"{v}","name":"vrouter-net","type":"vrouter-cni",
                "contrail":{{"cluster-name":"c1","vrouter-ip":"127.0.0.2","vrouter-port":9191,"mtu":1400,
                             "poll-timeout":0.5,"poll-retries":"3","log-level":"debug","unknown":1}},
                "some-other-key":{{"x":[1,2]}}}}"#
        )
    }

    #[test]
    fn parses_each_supported_version() {
        for v in SUPPORTED_VERSIONS {
            let c = NetConf::parse(conf(v).as_bytes()).unwrap();
            assert_eq!(c.version.as_str(), v);
            assert_eq!(c.name, "vrouter-net");
            assert_eq!(c.kind, "vrouter-cni");
            assert_eq!(c.cluster_name, "c1");
            assert_eq!(c.agent.to_string(), "http://127.0.0.2:9191");
            assert_eq!(c.mtu, Some(1400));
            assert_eq!(c.poll_interval, std::time::Duration::from_millis(500));
            assert_eq!(c.poll_retries, 3);
            assert_eq!(c.log_level.as_deref(), Some("debug"));
        }
    }

    #[test]
    fn defaults_without_contrail_object() {
        let c =
            NetConf::parse(br#"{"cniVersion":"1.0.0","name":"n","type":"vrouter-cni"}"#).unwrap();
        assert_eq!(c.cluster_name, "k8s");
        assert_eq!(
            c.agent,
            AgentAddr::Unix(vrouter_port_api::DEFAULT_SOCKET.into())
        );
        assert_eq!(c.agent.to_string(), "unix:/run/vrouter/agent.sock");
        assert_eq!(c.mtu, None);
        assert_eq!(c.poll_retries, DEFAULT_POLL_RETRIES);
        assert!(c.prev_result.is_none() && c.valid_attachments.is_none());
        let c =
            NetConf::parse(br#"{"cniVersion":"1.0.0","name":"n","contrail":{"vrouter-ip":"::1"}}"#)
                .unwrap();
        assert_eq!(c.agent.to_string(), "http://[::1]:9091");
    }

    #[test]
    fn the_socket_unless_a_tcp_address_is_given() {
        let agent = |contrail: &str| {
            NetConf::parse(
                format!(r#"{{"cniVersion":"1.0.0","name":"n","contrail":{contrail}}}"#).as_bytes(),
            )
            .map(|c| c.agent)
        };
        assert_eq!(
            agent(r#"{"cluster-name":"k8s"}"#).unwrap(),
            AgentAddr::Unix("/run/vrouter/agent.sock".into())
        );
        assert_eq!(
            agent(r#"{"agent-socket":"/tmp/a.sock"}"#).unwrap(),
            AgentAddr::Unix("/tmp/a.sock".into())
        );
        // An empty vrouter-ip is no address (empty keys take their defaults, as before).
        assert_eq!(
            agent(r#"{"vrouter-ip":""}"#).unwrap(),
            AgentAddr::Unix("/run/vrouter/agent.sock".into())
        );
        assert_eq!(
            agent(r#"{"vrouter-port":9091}"#).unwrap(),
            AgentAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 9091
            }
        );
        assert_eq!(
            agent(r#"{"vrouter-ip":"node-1.local"}"#).unwrap(),
            AgentAddr::Tcp {
                host: "node-1.local".into(),
                port: 9091
            }
        );
        assert_eq!(
            agent(r#"{"vrouter-ip":"node-1.local"}"#)
                .unwrap()
                .host_header(),
            "node-1.local:9091"
        );
        for bad in [
            r#"{"agent-socket":"agent.sock"}"#,
            r#"{"agent-socket":"/tmp/a.sock","vrouter-port":9091}"#,
            r#"{"vrouter-ip":"a b"}"#,
        ] {
            assert_eq!(agent(bad).unwrap_err().code, code::INVALID_CONFIG, "{bad}");
        }
    }

    #[test]
    fn nested_mode_is_refused_not_ignored() {
        let parse = |contrail: &str| {
            NetConf::parse(
                format!(r#"{{"cniVersion":"0.4.0","name":"n","contrail":{contrail}}}"#).as_bytes(),
            )
        };
        for ok in [
            r#"{"vif-type":"veth"}"#,
            r#"{"vif-type":"VETH","parent-interface":""}"#,
            r#"{"vif-type":null,"parent-interface":null}"#,
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for (bad, field) in [
            (
                r#"{"vif-type":"macvlan"}"#,
                r#"contrail.vif-type: "macvlan""#,
            ),
            (
                r#"{"vif-type":"veth","parent-interface":"eth0"}"#,
                r#"contrail.parent-interface: "eth0""#,
            ),
            (
                r#"{"parent-interface":"eth1","vif-type":"macvlan"}"#,
                r#"contrail.vif-type: "macvlan""#,
            ),
            (r#"{"vif-type":"tap"}"#, r#"contrail.vif-type: "tap""#),
            (r#"{"vif-type":1}"#, "contrail.vif-type: 1"),
        ] {
            let e = parse(bad).unwrap_err();
            // The spec's "unsupported field": the message names the key and its value.
            assert_eq!(e.code, code::UNSUPPORTED_FIELD, "{bad}");
            assert!(e.msg.contains(field), "{bad}: {}", e.msg);
            assert!(e.details.contains("veth pairs only"), "{}", e.details);
            assert_eq!(e.to_json("0.4.0")["code"], 2);
        }
    }

    #[test]
    fn prev_result_and_valid_attachments() {
        let c = NetConf::parse(
            br#"{"cniVersion":"1.1.0","name":"n","prevResult":{"cniVersion":"1.1.0","ips":[]},
                 "cni.dev/valid-attachments":[{"containerID":"c1","ifname":"eth0"}]}"#,
        )
        .unwrap();
        assert!(c.prev_result.is_some());
        assert_eq!(c.valid_attachments.unwrap()[0].container_id, "c1");
    }

    #[test]
    fn config_error_codes() {
        let err = |s: &str| NetConf::parse(s.as_bytes()).unwrap_err().code;
        assert_eq!(err("{not json"), code::DECODE);
        assert_eq!(err(""), code::DECODE);
        assert_eq!(err("[1]"), code::DECODE);
        assert_eq!(err(r#"{"name":"n"}"#), code::INCOMPATIBLE_VERSION);
        assert_eq!(
            err(r#"{"cniVersion":"0.2.0","name":"n"}"#),
            code::INCOMPATIBLE_VERSION
        );
        assert_eq!(
            err(r#"{"cniVersion":"1.2.0","name":"n"}"#),
            code::INCOMPATIBLE_VERSION
        );
        assert_eq!(err(r#"{"cniVersion":"1.0.0"}"#), code::INVALID_CONFIG);
        assert_eq!(
            err(r#"{"cniVersion":"1.0.0","name":"bad name"}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            err(r#"{"cniVersion":"1.0.0","name":"n","contrail":{"mtu":10}}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            err(r#"{"cniVersion":"1.0.0","name":"n","contrail":{"mtu":"x"}}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            err(r#"{"cniVersion":"1.0.0","name":"n","contrail":{"vrouter-port":70000}}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            err(r#"{"cniVersion":"1.0.0","name":"n","contrail":"x"}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            err(r#"{"cniVersion":"1.0.0","name":"n","prevResult":3}"#),
            code::INVALID_CONFIG
        );
    }

    #[test]
    fn error_json_shape() {
        let e =
            CniError::new(code::INVALID_ENV, "CNI_IFNAME is not set").with_details("ADD needs it");
        let v = e.to_json("0.4.0");
        assert_eq!(
            v,
            json!({"cniVersion":"0.4.0","code":4,"msg":"CNI_IFNAME is not set","details":"ADD needs it"})
        );
        assert_eq!(e.exit_status(), 4);
        assert_eq!(CniError::new(1000, "x").exit_status(), 255);
        assert_eq!(error_version(br#"{"cniVersion":"0.3.1"}"#), "0.3.1");
        assert_eq!(error_version(br#"{"cniVersion":"9.9.9"}"#), CURRENT_VERSION);
        assert_eq!(error_version(b"garbage"), CURRENT_VERSION);
    }

    #[test]
    fn version_answer() {
        assert_eq!(
            version_info("0.4.0"),
            json!({"cniVersion":"0.4.0","supportedVersions":["0.3.1","0.4.0","1.0.0","1.1.0"]})
        );
        assert!(!Version::V031.has_check() && Version::V040.has_check());
        assert!(!Version::V100.has_status_and_gc() && Version::V110.has_status_and_gc());
    }

    fn sample() -> CniResult {
        CniResult {
            interfaces: vec![
                Interface {
                    name: "tapeth0-8a2b3c".into(),
                    mac: Some("02:00:00:00:00:02".into()),
                    ..Default::default()
                },
                Interface {
                    name: "eth0".into(),
                    mac: Some("02:00:00:00:00:01".into()),
                    mtu: Some(1500),
                    sandbox: Some("/var/run/netns/x".into()),
                    ..Default::default()
                },
            ],
            ips: vec![
                IpConfig {
                    address: "10.32.0.5/12".into(),
                    gateway: Some("10.47.255.254".into()),
                    interface: Some(1),
                },
                IpConfig {
                    address: "fd00::5/64".into(),
                    gateway: Some("fd00::1".into()),
                    interface: Some(1),
                },
            ],
            routes: vec![
                RouteCfg {
                    dst: "0.0.0.0/0".into(),
                    gw: Some("10.47.255.254".into()),
                    mtu: None,
                    advmss: None,
                    priority: None,
                    table: None,
                    scope: None,
                },
                RouteCfg {
                    dst: "::/0".into(),
                    gw: Some("fd00::1".into()),
                    mtu: None,
                    advmss: None,
                    priority: None,
                    table: None,
                    scope: None,
                },
            ],
            dns: Dns {
                nameservers: vec!["10.47.255.253".into()],
                ..Default::default()
            },
        }
    }

    #[test]
    fn result_in_1x() {
        for v in [Version::V100, Version::V110] {
            let out = sample().to_value(v);
            assert_eq!(out["cniVersion"], v.as_str());
            assert_eq!(
                out["interfaces"][0],
                json!({"name":"tapeth0-8a2b3c","mac":"02:00:00:00:00:02"})
            );
            // interface mtu is a 1.1.0 field
            let eth0 = if v == Version::V110 {
                json!({"name":"eth0","mac":"02:00:00:00:00:01","mtu":1500,"sandbox":"/var/run/netns/x"})
            } else {
                json!({"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/var/run/netns/x"})
            };
            assert_eq!(out["interfaces"][1], eth0);
            assert_eq!(
                out["ips"][0],
                json!({"address":"10.32.0.5/12","gateway":"10.47.255.254","interface":1})
            );
            assert!(out["ips"][1].get("version").is_none());
            assert_eq!(out["routes"][1], json!({"dst":"::/0","gw":"fd00::1"}));
            assert_eq!(out["dns"], json!({"nameservers":["10.47.255.253"]}));
        }
    }

    #[test]
    fn result_in_0x_has_ip_versions_and_no_mtu() {
        for v in [Version::V031, Version::V040] {
            let out = sample().to_value(v);
            assert_eq!(out["cniVersion"], v.as_str());
            assert_eq!(out["ips"][0]["version"], "4");
            assert_eq!(out["ips"][1]["version"], "6");
            assert_eq!(out["ips"][0]["interface"], 1);
            assert_eq!(
                out["interfaces"][1],
                json!({"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/var/run/netns/x"})
            );
            // And it parses back (prevResult of a CHECK in that version).
            assert_eq!(CniResult::from_value(&out).unwrap(), {
                let mut s = sample();
                s.interfaces[1].mtu = None;
                s
            });
        }
    }

    #[test]
    fn chaining_shifts_interface_indices() {
        let prev = CniResult {
            interfaces: vec![Interface {
                name: "lo".into(),
                ..Default::default()
            }],
            dns: Dns {
                nameservers: vec!["1.1.1.1".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let out = CniResult::chained(prev, sample());
        assert_eq!(out.interfaces.len(), 3);
        assert_eq!(out.ips[0].interface, Some(2));
        assert_eq!(out.dns.nameservers, vec!["10.47.255.253".to_string()]);
    }

    #[test]
    fn cidrs() {
        assert_eq!(
            parse_cidr("10.0.0.1/24"),
            Some(("10.0.0.1".parse().unwrap(), 24))
        );
        assert_eq!(
            parse_cidr("fd00::1/64"),
            Some(("fd00::1".parse().unwrap(), 64))
        );
        assert_eq!(parse_cidr("10.0.0.1/33"), None);
        assert_eq!(parse_cidr("10.0.0.1"), None);
    }

    #[test]
    fn ids() {
        assert!(valid_id("abc-1.2_3"));
        assert!(!valid_id("-abc"));
        assert!(!valid_id(""));
        assert!(!valid_id("a b"));
    }
}
