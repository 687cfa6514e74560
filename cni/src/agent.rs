//! A small synchronous HTTP client for the agent's port API (vrouter-port-api types):
//! HTTP/1.1 from hyper over the agent's Unix socket (the default) or TCP, one connection
//! per request, each run to completion on a current-thread runtime of its own.

use crate::spec::{code, AgentAddr, CniError};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use std::fmt;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
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
/// The largest answer we read (`GET /ports` of a full node is well under 1 MiB).
const MAX_ANSWER: usize = 16 << 20;

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
    addr: AgentAddr,
    /// Of every request but POST /vm.
    timeout: Duration,
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

/// Runs `f` to completion on a current-thread runtime of its own. block_on inside a
/// runtime panics, so a caller that is in one (say, a netns worker's rtnetlink runtime)
/// gets the request done on a thread of its own instead.
fn block_on<T: Send>(f: impl Future<Output = AgentResult<T>> + Send) -> AgentResult<T> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return std::thread::scope(|s| s.spawn(|| block_on(f)).join()).unwrap_or_else(|_| {
            Err(AgentError::Unreachable(
                "the request thread panicked".into(),
            ))
        });
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| AgentError::Unreachable(format!("cannot start a runtime: {e}")))?
        .block_on(f)
}

/// One request on a fresh connection: status and body, within `timeout`.
async fn exchange<S>(io: S, req: Request<Full<Bytes>>, what: &str) -> AgentResult<Answer>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let broken = |e: &dyn fmt::Display| AgentError::Unreachable(format!("{what}: {e}"));
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| broken(&e))?;
    let conn = tokio::spawn(conn);
    let answer = async {
        let resp = tx.send_request(req).await.map_err(|e| broken(&e))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| broken(&format!("reading the answer: {e}")))?
            .to_bytes();
        Ok(Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
    .await;
    conn.abort();
    answer
}

impl Agent {
    pub fn new(addr: AgentAddr, poll_interval: Duration, poll_retries: u32) -> Agent {
        Agent::with_timeout(addr, poll_interval, poll_retries, REQUEST_TIMEOUT)
    }

    fn with_timeout(
        addr: AgentAddr,
        poll_interval: Duration,
        poll_retries: u32,
        timeout: Duration,
    ) -> Agent {
        Agent {
            addr,
            timeout,
            poll_interval,
            poll_retries,
        }
    }

    fn request(&self, method: Method, p: &str, body: Option<String>) -> AgentResult<Answer> {
        let what = format!("{method} {p}");
        let timeout = if method == Method::POST && p == path::VM {
            POST_VM_TIMEOUT
        } else {
            self.timeout
        };
        let mut req = Request::builder()
            .method(method)
            .uri(p)
            .header(header::HOST, self.addr.host_header());
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| AgentError::Decode(format!("{what}: {e}")))?;
        let addr = &self.addr;
        let run = async {
            let late = |step: &str| AgentError::Timeout(format!("{what}: {step} {addr}"));
            let refused =
                |e: std::io::Error| AgentError::Unreachable(format!("{what}: connect {addr}: {e}"));
            let talk = async {
                match addr {
                    AgentAddr::Unix(path) => {
                        let io = tokio::time::timeout(
                            CONNECT_TIMEOUT,
                            tokio::net::UnixStream::connect(path),
                        )
                        .await
                        .map_err(|_| late("connecting to"))?
                        .map_err(refused)?;
                        exchange(io, req, &what).await
                    }
                    AgentAddr::Tcp { host, port } => {
                        let io = tokio::time::timeout(
                            CONNECT_TIMEOUT,
                            tokio::net::TcpStream::connect((host.as_str(), *port)),
                        )
                        .await
                        .map_err(|_| late("connecting to"))?
                        .map_err(refused)?;
                        exchange(io, req, &what).await
                    }
                }
            };
            tokio::time::timeout(timeout, talk)
                .await
                .map_err(|_| late("waiting for"))?
        };
        let a = block_on(run)?;
        debug!(%what, status = a.status, body = %a.body.chars().take(500).collect::<String>(), "agent answer");
        Ok(a)
    }

    fn get(&self, p: &str) -> AgentResult<Answer> {
        self.request(Method::GET, p, None)
    }

    fn post(&self, p: &str, body: &impl serde::Serialize) -> AgentResult<Answer> {
        let body = serde_json::to_string(body).map_err(|e| AgentError::Decode(e.to_string()))?;
        debug!(what = %format!("POST {p}"), %body, "agent request");
        self.request(Method::POST, p, Some(body))
    }

    fn delete(&self, p: &str) -> AgentResult<Answer> {
        self.request(Method::DELETE, p, None)
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
        let p = match vm_uuid {
            Some(u) => path::vm_cfg_of_pod(vm_name, u),
            None => path::vm_cfg(vm_name),
        };
        let mut reason = None;
        let r = self.poll(&format!("GET {}", path::vm_cfg(vm_name)), || {
            let a = self.get(&p)?;
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
        let a = self.get(&path::vm(vm_uuid))?;
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
        let a = self.get(path::PORTS)?;
        if !a.ok() {
            return Err(a.error());
        }
        a.json("ports")
    }

    /// `GET /health`: the status and the parsed body when there is one.
    pub fn health(&self) -> AgentResult<(u16, Option<Health>)> {
        let a = self.get(path::HEALTH)?;
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

    /// Serves one connection on a Unix socket with `status` and a JSON `body`; the
    /// thread returns the request it read.
    fn one_answer(
        dir: &std::path::Path,
        status: &str,
        body: &str,
    ) -> (AgentAddr, std::thread::JoinHandle<String>) {
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        use std::io::{BufRead, BufReader, Read, Write};
        let sock = dir.join("agent.sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let t = std::thread::spawn(move || {
            let (c, _) = l.accept().unwrap();
            let mut r = BufReader::new(c);
            let (mut head, mut len) = (String::new(), 0);
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            r.get_mut().write_all(answer.as_bytes()).unwrap();
            head + &String::from_utf8(body).unwrap()
        });
        (AgentAddr::Unix(sock), t)
    }

    fn agent(addr: AgentAddr) -> Agent {
        Agent::new(addr, Duration::from_millis(1), 1)
    }

    #[test]
    fn requests_go_over_the_unix_socket() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, t) = one_answer(dir.path(), "200 OK", r#"{"removed":["a"]}"#);
        let req = SyncPorts {
            valid_attachments: Some(vec![]),
        };
        assert_eq!(agent(addr).sync_ports(&req).unwrap().removed, ["a"]);
        let seen = t.join().unwrap();
        assert!(seen.starts_with("POST /syncports HTTP/1.1\r\n"), "{seen}");
        let lower = seen.to_ascii_lowercase();
        assert!(lower.contains("\r\nhost: localhost\r\n"), "{seen}");
        assert!(
            lower.contains("\r\ncontent-type: application/json\r\n"),
            "{seen}"
        );
        assert!(
            seen.ends_with("\r\n\r\n{\"valid-attachments\":[]}"),
            "{seen}"
        );
    }

    #[test]
    fn the_agents_refusal_is_its_error_text() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, t) = one_answer(dir.path(), "403 Forbidden", r#"{"error":"only root may"}"#);
        let e = agent(addr).delete_vmi("u", "i", "c 1").unwrap_err();
        assert_eq!(
            e,
            AgentError::Status {
                status: 403,
                msg: "only root may".into()
            }
        );
        assert_eq!(CniError::from(e).code, code::AGENT);
        assert!(t
            .join()
            .unwrap()
            .starts_with("DELETE /vm/u/i?vm-id=c%201 HTTP/1.1\r\n"));
    }

    #[test]
    fn a_caller_inside_a_runtime_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let (addr, t) = one_answer(dir.path(), "200 OK", "[]");
        let a = agent(addr);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let ports = rt.block_on(async { a.ports() }).unwrap();
        assert!(ports.is_empty());
        assert!(t.join().unwrap().starts_with("GET /ports HTTP/1.1\r\n"));
    }

    #[test]
    fn a_hung_agent_times_out_without_retries() {
        // Both accept connections (the kernel's backlog does) but never answer.
        let dir = tempfile::tempdir().unwrap();
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = dir.path().join("hung.sock");
        let _unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let addrs = [
            AgentAddr::Tcp {
                host: "127.0.0.1".into(),
                port: tcp.local_addr().unwrap().port(),
            },
            AgentAddr::Unix(sock),
        ];
        for addr in addrs {
            let timeout = Duration::from_millis(500);
            let a = Agent::with_timeout(addr.clone(), Duration::from_millis(1), 3, timeout);
            let t = std::time::Instant::now();
            let e = a.vm_cfg("k8s__default__x", None).unwrap_err();
            assert!(matches!(e, AgentError::Timeout(_)), "{addr}: {e}");
            assert!(
                t.elapsed() < timeout * 2,
                "{addr}: retried a timeout: {:?}",
                t.elapsed()
            );
            assert_eq!(CniError::from(e).code, code::TRY_AGAIN_LATER);
        }
    }

    #[test]
    fn unreachable_agent_is_reported_quickly() {
        let dir = tempfile::tempdir().unwrap();
        for addr in [
            // Port 1 on loopback: nothing listens there.
            AgentAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 1,
            },
            AgentAddr::Unix(dir.path().join("nobody.sock")),
        ] {
            let a = Agent::new(addr.clone(), Duration::from_millis(1), 2);
            let t = std::time::Instant::now();
            let e = a.vm_cfg("k8s__default__x", None).unwrap_err();
            assert!(matches!(e, AgentError::Unreachable(_)), "{addr}: {e}");
            assert!(e.to_string().contains(&addr.to_string()), "{e}");
            assert!(t.elapsed() < Duration::from_secs(3));
            assert!(matches!(a.ports().unwrap_err(), AgentError::Unreachable(_)));
        }
    }
}
