//! A small synchronous HTTP client for the agent's port API (vrouter-port-api types).

use crate::spec::{code, CniError};
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;
use tracing::{debug, warn};
use vrouter_port_api::{
    path, ApiError, Health, PortAdd, PortInfo, PortRecord, SyncPorts, SyncReport, VmCfg,
};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Every request but POST /vm. Generous: a node busy with many pod starts answers late,
/// and a timed-out DEL costs the runtime a retry (kubelet allows minutes).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// POST /vm programs the kernel before it answers: allow it more time.
const POST_VM_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentError {
    /// No answer (connection refused, broken HTTP).
    Unreachable(String),
    /// Connected, but no answer in time (not retried: a hung agent would cost minutes).
    Timeout(String),
    /// An error status with the agent's `{"error":..}` text.
    Status { status: u16, msg: String },
    /// An answer that is not what the API promises.
    Decode(String),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Unreachable(m) => write!(f, "the vrouter agent is unreachable: {m}"),
            AgentError::Timeout(m) => write!(f, "the vrouter agent did not answer in time: {m}"),
            AgentError::Status { status, msg } => {
                write!(f, "the vrouter agent answered {status}: {msg}")
            }
            AgentError::Decode(m) => write!(f, "unexpected answer from the vrouter agent: {m}"),
        }
    }
}

impl From<AgentError> for CniError {
    /// Unreachable or 5xx -> 11 (try again later); the rest -> 103.
    fn from(e: AgentError) -> CniError {
        let c = match &e {
            AgentError::Unreachable(_) | AgentError::Timeout(_) => code::TRY_AGAIN_LATER,
            AgentError::Status { status, .. } if *status >= 500 => code::TRY_AGAIN_LATER,
            _ => code::AGENT,
        };
        CniError::new(c, e.to_string())
    }
}

pub type AgentResult<T> = Result<T, AgentError>;

pub struct Agent {
    base: String,
    http: ureq::Agent,
    pub poll_interval: Duration,
    pub poll_retries: u32,
}

/// A status and a body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json<T: DeserializeOwned>(&self, what: &str) -> AgentResult<T> {
        serde_json::from_str(&self.body)
            .map_err(|e| AgentError::Decode(format!("{what}: {e}: {:.200}", self.body)))
    }

    fn error(&self) -> AgentError {
        let msg = serde_json::from_str::<ApiError>(&self.body)
            .map(|e| e.error)
            .unwrap_or_else(|_| self.body.chars().take(200).collect());
        AgentError::Status {
            status: self.status,
            msg,
        }
    }

    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Agent {
    pub fn new(base: &str, poll_interval: Duration, poll_retries: u32) -> Agent {
        Agent::with_timeout(base, poll_interval, poll_retries, REQUEST_TIMEOUT)
    }

    fn with_timeout(
        base: &str,
        poll_interval: Duration,
        poll_retries: u32,
        timeout: Duration,
    ) -> Agent {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .build();
        Agent {
            base: base.trim_end_matches('/').to_string(),
            http: config.into(),
            poll_interval,
            poll_retries,
        }
    }

    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.base)
    }

    fn finish(
        &self,
        what: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> AgentResult<Answer> {
        let mut resp = r.map_err(|e| match e {
            ureq::Error::Timeout(_) => AgentError::Timeout(format!("{what}: {e}")),
            e => AgentError::Unreachable(format!("{what}: {e}")),
        })?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|e| AgentError::Unreachable(format!("{what}: reading the answer: {e}")))?;
        debug!(%what, status, body = %body.chars().take(500).collect::<String>(), "agent answer");
        Ok(Answer { status, body })
    }

    fn get(&self, p: &str, query: Option<(&str, &str)>) -> AgentResult<Answer> {
        let what = format!("GET {p}");
        let mut req = self.http.get(self.url(p));
        if let Some((k, v)) = query {
            req = req.query(k, v);
        }
        self.finish(&what, req.call())
    }

    fn post(&self, p: &str, body: &impl serde::Serialize) -> AgentResult<Answer> {
        let what = format!("POST {p}");
        let body = serde_json::to_string(body).map_err(|e| AgentError::Decode(e.to_string()))?;
        debug!(%what, %body, "agent request");
        let timeout = if p == path::VM {
            POST_VM_TIMEOUT
        } else {
            REQUEST_TIMEOUT
        };
        let req = self
            .http
            .post(self.url(p))
            .header("Content-Type", "application/json")
            .config()
            .timeout_global(Some(timeout))
            .build();
        self.finish(&what, req.send(body))
    }

    fn delete(&self, p: &str) -> AgentResult<Answer> {
        let what = format!("DELETE {p}");
        self.finish(&what, self.http.delete(self.url(p)).call())
    }

    /// Retries `f` while it says "not yet" (404) or the agent does not answer, sleeping
    /// `poll_interval` between tries, at most `poll_retries` tries.
    fn poll<T>(&self, what: &str, mut f: impl FnMut() -> AgentResult<Option<T>>) -> AgentResult<T> {
        let mut last = AgentError::Unreachable(format!("{what}: no try made"));
        for attempt in 1..=self.poll_retries.max(1) {
            match f() {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {
                    last = AgentError::Status {
                        status: 404,
                        msg: format!("{what}: not ready after {attempt} tries"),
                    }
                }
                Err(e @ AgentError::Unreachable(_)) => last = e,
                Err(e) => return Err(e),
            }
            if attempt < self.poll_retries {
                debug!(%what, attempt, "agent not ready, waiting");
                std::thread::sleep(self.poll_interval);
            }
        }
        warn!(%what, error = %last, "giving up polling the agent");
        Err(match last {
            // A pod the agent does not know (yet) is worth another try by the runtime.
            AgentError::Status { status: 404, msg } => AgentError::Status { status: 503, msg },
            other => other,
        })
    }

    /// `GET /vm-cfg/<name>[?vm-uuid=..]`, polled until the agent knows every interface of
    /// the pod (`index` annotations `i/N`).
    /// The agent's last "not yet" reason (why the pod has no port: its network does not
    /// exist, ...) ends the error, so kubelet's event for the pod says it.
    pub fn vm_cfg(&self, vm_name: &str, vm_uuid: Option<&str>) -> AgentResult<Vec<VmCfg>> {
        let p = path::vm_cfg(vm_name);
        let mut reason = None;
        let r = self.poll(&format!("GET {p}"), || {
            let a = self.get(&p, vm_uuid.map(|u| ("vm-uuid", u)))?;
            if a.status == 404 {
                if let AgentError::Status { msg, .. } = a.error() {
                    reason = Some(msg);
                }
                return Ok(None);
            }
            if !a.ok() {
                return Err(a.error());
            }
            let cfgs: Vec<VmCfg> = a.json("vm-cfg")?;
            let want = cfgs.iter().filter_map(expected_count).max().unwrap_or(1);
            if cfgs.is_empty() || cfgs.len() < want {
                return Ok(None);
            }
            Ok(Some(cfgs))
        });
        r.map_err(|e| match (e, reason) {
            (AgentError::Status { status, msg }, Some(why)) => AgentError::Status {
                status,
                msg: format!("{msg}: {why}"),
            },
            (e, _) => e,
        })
    }

    /// `POST /vm`.
    pub fn post_vm(&self, add: &PortAdd) -> AgentResult<()> {
        let a = self.post(path::VM, add)?;
        if a.ok() {
            Ok(())
        } else {
            Err(a.error())
        }
    }

    /// `GET /vm/<uuid>`: None while the agent answers 404.
    pub fn vm(&self, vm_uuid: &str) -> AgentResult<Option<Vec<PortInfo>>> {
        let a = self.get(&path::vm(vm_uuid), None)?;
        match a.status {
            404 => Ok(None),
            _ if a.ok() => a.json("vm").map(Some),
            _ => Err(a.error()),
        }
    }

    /// `GET /vm/<uuid>` polled until it has the interface `vmi_uuid`.
    pub fn wait_vm(&self, vm_uuid: &str, vmi_uuid: &str) -> AgentResult<PortInfo> {
        self.poll(&format!("GET {}", path::vm(vm_uuid)), || {
            Ok(self
                .vm(vm_uuid)?
                .and_then(|infos| pick_info(infos, vmi_uuid)))
        })
    }

    /// `DELETE /vm/<uuid>/<vmi>`: releases one interface of the pod.
    pub fn delete_vmi(&self, vm_uuid: &str, vmi_uuid: &str, container_id: &str) -> AgentResult<()> {
        let a = self.delete(&path::vmi_of_sandbox(vm_uuid, vmi_uuid, container_id))?;
        if a.ok() || a.status == 404 {
            Ok(())
        } else {
            Err(a.error())
        }
    }

    /// `GET /ports`.
    pub fn ports(&self) -> AgentResult<Vec<PortRecord>> {
        let a = self.get(path::PORTS, None)?;
        if !a.ok() {
            return Err(a.error());
        }
        a.json("ports")
    }

    /// `GET /health`: the status and the parsed body when there is one.
    pub fn health(&self) -> AgentResult<(u16, Option<Health>)> {
        let a = self.get(path::HEALTH, None)?;
        Ok((a.status, serde_json::from_str(&a.body).ok()))
    }

    /// `POST /syncports`.
    pub fn sync_ports(&self, req: &SyncPorts) -> AgentResult<SyncReport> {
        let a = self.post(path::SYNC_PORTS, req)?;
        if !a.ok() {
            return Err(a.error());
        }
        a.json("syncports")
    }
}

/// N of an `{index:i/N}` annotation.
fn expected_count(cfg: &VmCfg) -> Option<usize> {
    cfg.annotations
        .iter()
        .filter_map(|a| vrouter_port_api::parse_annotation(a))
        .find(|(k, _)| *k == "index")
        .and_then(|(_, v)| v.split_once('/'))
        .and_then(|(_, n)| n.trim().parse().ok())
}

/// i of an `{index:i/N}` annotation.
fn index_of(cfg: &VmCfg) -> Option<usize> {
    cfg.annotations
        .iter()
        .filter_map(|a| vrouter_port_api::parse_annotation(a))
        .find(|(k, _)| *k == "index")
        .and_then(|(_, v)| v.split('/').next())
        .and_then(|i| i.trim().parse().ok())
}

/// The interface of the pod that CNI_IFNAME is: the one annotated `{interface:<ifname>}`,
/// else, for `eth<i>`/`net<i>` names, the one with index i, else the first.
pub fn pick_cfg(cfgs: &[VmCfg], ifname: &str) -> Option<VmCfg> {
    let by_name = cfgs.iter().find(|c| {
        c.annotations
            .iter()
            .filter_map(|a| vrouter_port_api::parse_annotation(a))
            .any(|(k, v)| k == "interface" && v == ifname)
    });
    if let Some(c) = by_name {
        return Some(c.clone());
    }
    if cfgs.len() > 1 {
        let digits: String = ifname
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        let digits: String = digits.chars().rev().collect();
        if let Ok(i) = digits.parse::<usize>() {
            if let Some(c) = cfgs.iter().find(|c| index_of(c) == Some(i)) {
                return Some(c.clone());
            }
        }
    }
    let mut sorted: Vec<&VmCfg> = cfgs.iter().collect();
    sorted.sort_by_key(|c| index_of(c).unwrap_or(usize::MAX));
    sorted.first().map(|c| (*c).clone())
}

/// The pod's other interfaces when `primary` is its first (index 0): (name in the pod,
/// index, cfg), in index order; the name is the `{interface:..}` annotation's, else
/// net<index>. None when the runtime asked for another interface (multus-style, one
/// interface per call).
pub fn extra_interfaces(cfgs: &[VmCfg], primary: &VmCfg) -> Vec<(String, usize, VmCfg)> {
    if index_of(primary).unwrap_or(0) != 0 {
        return Vec::new();
    }
    let mut out: Vec<(String, usize, VmCfg)> = cfgs
        .iter()
        .filter(|c| c.id != primary.id)
        .filter_map(|c| {
            let i = index_of(c)?;
            let name = c
                .annotations
                .iter()
                .filter_map(|a| vrouter_port_api::parse_annotation(a))
                .find(|(k, _)| *k == "interface")
                .map(|(_, v)| v.to_string())
                .unwrap_or_else(|| format!("net{i}"));
            Some((name, i, c.clone()))
        })
        .collect();
    out.sort_by_key(|(_, i, _)| *i);
    out
}

fn pick_info(infos: Vec<PortInfo>, vmi_uuid: &str) -> Option<PortInfo> {
    let n = infos.len();
    let mut it = infos.into_iter();
    if n == 1 {
        return it.next().filter(|i| i.id.is_empty() || i.id == vmi_uuid);
    }
    it.find(|i| i.id == vmi_uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(id: &str, ann: &[&str]) -> VmCfg {
        VmCfg {
            id: id.into(),
            vm_uuid: "u".into(),
            vn_id: "vn".into(),
            vn_name: "default".into(),
            mac_address: "02:00:00:00:00:01".into(),
            sub_interface: false,
            vlan_id: -1,
            annotations: ann.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn picks_the_interface() {
        let one = [cfg("a", &["{index:0/1}", "{network:default}"])];
        assert_eq!(pick_cfg(&one, "eth0").unwrap().id, "a");
        assert_eq!(expected_count(&one[0]), Some(1));
        let two = [cfg("b", &["{index:1/2}"]), cfg("a", &["{index:0/2}"])];
        assert_eq!(pick_cfg(&two, "eth0").unwrap().id, "a");
        assert_eq!(pick_cfg(&two, "net1").unwrap().id, "b");
        assert_eq!(pick_cfg(&two, "foo").unwrap().id, "a");
        let named = [
            cfg("a", &["{index:0/2}"]),
            cfg("b", &["{index:1/2}", "{interface:data}"]),
        ];
        let extras = extra_interfaces(&named, &named[0]);
        assert_eq!(
            extras
                .iter()
                .map(|(n, i, c)| (n.as_str(), *i, c.id.as_str()))
                .collect::<Vec<_>>(),
            [("data", 1, "b")]
        );
        assert!(
            extra_interfaces(&named, &named[1]).is_empty(),
            "net1 asked for by itself: no extras"
        );
        assert_eq!(extra_interfaces(&two, &two[1])[0].0, "net1");
        assert_eq!(pick_cfg(&named, "data").unwrap().id, "b");
        assert!(pick_cfg(&[], "eth0").is_none());
    }

    #[test]
    fn agent_errors_map_to_cni_codes() {
        assert_eq!(
            CniError::from(AgentError::Unreachable("x".into())).code,
            code::TRY_AGAIN_LATER
        );
        assert_eq!(
            CniError::from(AgentError::Status {
                status: 503,
                msg: "x".into()
            })
            .code,
            code::TRY_AGAIN_LATER
        );
        assert_eq!(
            CniError::from(AgentError::Status {
                status: 400,
                msg: "x".into()
            })
            .code,
            code::AGENT
        );
        assert_eq!(
            CniError::from(AgentError::Decode("x".into())).code,
            code::AGENT
        );
    }

    #[test]
    fn a_hung_agent_times_out_without_retries() {
        // Accepts connections (the kernel's backlog does) but never answers.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let timeout = Duration::from_millis(500);
        let a = Agent::with_timeout(&url, Duration::from_millis(1), 3, timeout);
        let t = std::time::Instant::now();
        let e = a.vm_cfg("k8s__default__x", None).unwrap_err();
        assert!(matches!(e, AgentError::Timeout(_)), "{e}");
        assert!(
            t.elapsed() < timeout * 2,
            "retried a timeout: {:?}",
            t.elapsed()
        );
        assert_eq!(CniError::from(e).code, code::TRY_AGAIN_LATER);
    }

    #[test]
    fn unreachable_agent_is_reported_quickly() {
        // Port 1 on loopback: nothing listens there.
        let a = Agent::new("http://127.0.0.1:1", Duration::from_millis(1), 2);
        let t = std::time::Instant::now();
        let e = a.vm_cfg("k8s__default__x", None).unwrap_err();
        assert!(matches!(e, AgentError::Unreachable(_)), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3));
        assert!(matches!(a.ports().unwrap_err(), AgentError::Unreachable(_)));
    }
}
