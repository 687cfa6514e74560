//! The local port API, contrail-compatible; see vrouter-port-api for the endpoints and
//! bodies. Handlers are thin: each takes the agent lock on a blocking thread (kernel calls
//! are synchronous genetlink requests of a few microseconds) and maps the outcome to JSON.
//!
//! Two listeners serve it ([`Access`]): the Unix socket (mode 0600) the whole API, to
//! peers with uid 0; TCP 127.0.0.1:9091 only what changes nothing, unless `tcp-mutations`.

use crate::metrics::{Metrics, RequestLabels};
use crate::ports::{Agent, ApiErr};
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::UnixListener;
use tracing::warn;
use vrouter_port_api::{path, ApiError, PortAdd, SyncPorts};

pub struct Shared {
    pub agent: Mutex<Agent>,
    pub metrics: Arc<Metrics>,
}

type St = State<Arc<Shared>>;

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(ApiError { error: self.msg })).into_response()
    }
}

/// Runs `f` on the agent under its lock, off the async threads.
async fn with_agent<T: Send + 'static>(
    s: &Arc<Shared>,
    f: impl FnOnce(&mut Agent) -> Result<T, ApiErr> + Send + 'static,
) -> Result<T, ApiErr> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || {
        let mut a = s.agent.lock().map_err(|_| ApiErr {
            status: 500,
            msg: "agent state poisoned".into(),
        })?;
        f(&mut a)
    })
    .await
    .map_err(|e| ApiErr {
        status: 500,
        msg: format!("handler failed: {e}"),
    })?
}

/// A JSON body parsed by serde_json, so a bad body gets our `{"error"}` shape.
fn body<T: DeserializeOwned>(b: &Bytes) -> Result<T, ApiErr> {
    serde_json::from_slice(b).map_err(|e| ApiErr {
        status: 400,
        msg: format!("bad request body: {e}"),
    })
}

#[derive(Deserialize)]
struct CfgQuery {
    #[serde(rename = "vm-uuid")]
    vm_uuid: Option<String>,
}

#[derive(Serialize)]
struct Empty {}

async fn vm_cfg(State(s): St, Path(name): Path<String>, Query(q): Query<CfgQuery>) -> Response {
    with_agent(&s, move |a| a.vm_cfg_request(&name, q.vm_uuid.as_deref()))
        .await
        .map(Json)
        .into_response()
}

async fn vm_add(State(s): St, b: Bytes) -> Response {
    let r = match body::<PortAdd>(&b) {
        Ok(req) => with_agent(&s, move |a| a.bind(&req)).await,
        Err(e) => Err(e),
    };
    r.map(|()| Json(Empty {})).into_response()
}

async fn vm_get(State(s): St, Path(uuid): Path<String>) -> Response {
    with_agent(&s, move |a| a.info(&uuid, None))
        .await
        .map(Json)
        .into_response()
}

async fn vmi_get(State(s): St, Path((uuid, vmi)): Path<(String, String)>) -> Response {
    with_agent(&s, move |a| a.info(&uuid, Some(&vmi)))
        .await
        .map(Json)
        .into_response()
}

async fn vm_delete(State(s): St, Path(uuid): Path<String>) -> Response {
    with_agent(&s, move |a| a.delete_vm(&uuid))
        .await
        .map(|()| Json(Empty {}))
        .into_response()
}

#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(rename = "vm-id")]
    vm_id: Option<String>,
}

async fn vmi_delete(
    State(s): St,
    Path((uuid, vmi)): Path<(String, String)>,
    Query(q): Query<DeleteQuery>,
) -> Response {
    with_agent(&s, move |a| a.delete(&uuid, Some(&vmi), q.vm_id.as_deref()))
        .await
        .map(|()| Json(Empty {}))
        .into_response()
}

async fn sync_ports(State(s): St, b: Bytes) -> Response {
    let req = if b.iter().all(u8::is_ascii_whitespace) {
        Ok(SyncPorts::default())
    } else {
        body::<SyncPorts>(&b)
    };
    match req {
        Ok(req) => with_agent(&s, move |a| a.sync_ports(&req))
            .await
            .map(Json)
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn ports(State(s): St) -> Response {
    with_agent(&s, |a| Ok(a.records()))
        .await
        .map(Json)
        .into_response()
}

async fn health(State(s): St) -> Response {
    match with_agent(&s, |a| Ok(a.health())).await {
        Ok(h) => {
            let status = if h.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(h)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(s): St) -> Response {
    let text = s.metrics.render();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn unknown() -> Response {
    ApiErr {
        status: 404,
        msg: "Unknown Request".into(),
    }
    .into_response()
}

async fn observe(State(s): St, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let resp = next.run(req).await;
    let labels = RequestLabels {
        method,
        route,
        status: resp.status().as_u16(),
    };
    s.metrics
        .observe_request(labels, start.elapsed().as_secs_f64());
    resp
}

/// What a listener lets its clients do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The Unix socket: the whole API, to peers with uid 0 ([`Peer`]).
    Root,
    /// TCP: requests that change nothing. `vm_cfg_reserves`: `GET /vm-cfg` reserves an
    /// address (no `[kubernetes]`). `socket` is named in the refusal.
    ReadOnly {
        vm_cfg_reserves: bool,
        socket: String,
    },
    /// TCP with `tcp-mutations = true`: TF's behaviour, every local user may change state.
    Open,
}

/// The route template of `GET /vm-cfg/<name>`.
fn vm_cfg_route() -> String {
    path::vm_cfg("{name}")
}

/// Whether a request for `route` (the router's template, e.g. `/vm/{uuid}`) can change the
/// agent's state: everything but GET and HEAD, and those of `/vm-cfg` when they reserve.
pub fn changes_state(method: &Method, route: &str, vm_cfg_reserves: bool) -> bool {
    if method == Method::GET || method == Method::HEAD {
        vm_cfg_reserves && route == vm_cfg_route()
    } else {
        true
    }
}

#[derive(Clone)]
struct ReadOnly {
    vm_cfg_reserves: bool,
    socket: Arc<str>,
}

/// TCP is open to every local user (and TF's clients), so it only reads: binding a pod's
/// port, deleting it or reserving an address is root's, through the socket.
async fn read_only(State(ro): State<ReadOnly>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    if changes_state(req.method(), route, ro.vm_cfg_reserves) {
        return ApiErr {
            status: 403,
            msg: format!(
                "{} {} changes the agent's state: only root may, through {} (tcp-mutations is off)",
                req.method(),
                req.uri().path(),
                ro.socket
            ),
        }
        .into_response();
    }
    next.run(req).await
}

/// A Unix socket peer's credentials, taken when the connection is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: Option<u32>,
    pub pid: Option<i32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(s: IncomingStream<'_, UnixListener>) -> Peer {
        let cred = s.io().peer_cred().ok();
        Peer {
            uid: cred.map(|c| c.uid()),
            pid: cred.and_then(|c| c.pid()),
        }
    }
}

/// The socket's mode already keeps others out; this holds if someone loosens it.
async fn root_only(req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0);
    if let Some(Peer { uid: Some(0), .. }) = peer {
        return next.run(req).await;
    }
    let who = match peer {
        Some(Peer { uid: Some(u), pid }) => format!("uid {u} (pid {})", pid.unwrap_or(-1)),
        _ => "a peer of unknown credentials".into(),
    };
    warn!(peer = %who, method = %req.method(), path = %req.uri().path(), "port API socket: refused");
    ApiErr {
        status: 403,
        msg: format!("the port API socket is root's (uid 0); refused {who}"),
    }
    .into_response()
}

/// Binds the API socket at `path` (its directory made if missing): bound in a directory
/// only we may enter, made 0600, then renamed into place, so it is never reachable with
/// another mode. A stale socket (nobody answers) is replaced; a live one, or a path that
/// is not a socket, is an error.
pub fn bind_socket(path: &std::path::Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "no directory"))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(Error::new(
                    ErrorKind::AddrInUse,
                    "another agent answers on it",
                ));
            }
        }
        Ok(_) => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "exists and is not a socket (left alone)",
            ))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let private = dir.join(format!(".vr{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private)?;
    let tmp = private.join("s");
    let bound = std::os::unix::net::UnixListener::bind(&tmp).and_then(|l| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
        Ok(l)
    });
    let _ = std::fs::remove_dir_all(&private);
    bound
}

pub fn router(shared: Arc<Shared>, access: Access) -> Router {
    let vm = format!("{}/{{uuid}}", path::VM);
    let mut r = Router::new()
        .route(&vm_cfg_route(), get(vm_cfg))
        .route(path::VM, post(vm_add))
        .route(&vm, get(vm_get).delete(vm_delete))
        .route(&format!("{vm}/{{vmi}}"), get(vmi_get).delete(vmi_delete))
        .route(path::SYNC_PORTS, post(sync_ports))
        .route(path::PORTS, get(ports))
        .route(path::HEALTH, get(health))
        .route(path::METRICS, get(metrics))
        .fallback(unknown);
    if let Access::ReadOnly {
        vm_cfg_reserves,
        socket,
    } = &access
    {
        let ro = ReadOnly {
            vm_cfg_reserves: *vm_cfg_reserves,
            socket: socket.as_str().into(),
        };
        r = r.route_layer(middleware::from_fn_with_state(ro, read_only));
    }
    r = r.route_layer(middleware::from_fn_with_state(shared.clone(), observe));
    if access == Access::Root {
        r = r.layer(middleware::from_fn(root_only));
    }
    r.with_state(shared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Node;
    use axum::body::Body;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use tower::ServiceExt;

    fn shared(dir: &std::path::Path) -> Arc<Shared> {
        let cfg = format!(
            "node-name = \"n\"\nstate-dir = {:?}\npod-cidr = \"10.32.0.0/24\"\n",
            dir.to_str().unwrap()
        );
        let metrics = Arc::new(Metrics::new());
        let agent = Agent::load(Node::parse(&cfg).unwrap(), metrics.clone())
            .unwrap()
            .0;
        Arc::new(Shared {
            agent: Mutex::new(agent),
            metrics,
        })
    }

    fn read_only() -> Access {
        Access::ReadOnly {
            vm_cfg_reserves: true,
            socket: "/run/vrouter/agent.sock".into(),
        }
    }

    /// (status, body) of one request; `peer` is what the socket's accept would have seen.
    async fn call(r: &Router, method: &str, uri: &str, peer: Option<Peer>) -> (u16, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(if method == "POST" { "{}" } else { "" }))
            .unwrap();
        if let Some(p) = peer {
            req.extensions_mut().insert(ConnectInfo(p));
        }
        let resp = r.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    const ROOT: Option<Peer> = Some(Peer {
        uid: Some(0),
        pid: Some(1),
    });

    #[test]
    fn only_reads_are_read_only() {
        let vm_cfg = vm_cfg_route();
        for (method, route) in [
            (Method::GET, path::PORTS),
            (Method::GET, path::HEALTH),
            (Method::GET, path::METRICS),
            (Method::GET, "/vm/{uuid}"),
            (Method::HEAD, "/vm/{uuid}/{vmi}"),
        ] {
            assert!(!changes_state(&method, route, true), "{method} {route}");
        }
        for (method, route) in [
            (Method::POST, path::VM),
            (Method::DELETE, "/vm/{uuid}"),
            (Method::DELETE, "/vm/{uuid}/{vmi}"),
            (Method::POST, path::SYNC_PORTS),
            (Method::PUT, path::PORTS),
            (Method::PATCH, "/vm/{uuid}"),
        ] {
            assert!(changes_state(&method, route, true), "{method} {route}");
            assert!(changes_state(&method, route, false), "{method} {route}");
        }
        // GET /vm-cfg reserves an address unless the Kubernetes API makes the ports.
        assert!(changes_state(&Method::GET, &vm_cfg, true));
        assert!(changes_state(&Method::HEAD, &vm_cfg, true));
        assert!(!changes_state(&Method::GET, &vm_cfg, false));
    }

    #[tokio::test]
    async fn tcp_refuses_changes_and_keeps_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let s = shared(dir.path());
        let tcp = router(s.clone(), read_only());
        for (method, uri) in [
            ("GET", "/vm-cfg/k8s__default__p"),
            ("HEAD", "/vm-cfg/k8s__default__p"),
            ("POST", "/vm"),
            ("DELETE", "/vm/u"),
            ("DELETE", "/vm/u/i?vm-id=c"),
            ("POST", "/syncports"),
        ] {
            let (status, body) = call(&tcp, method, uri, None).await;
            assert_eq!(status, 403, "{method} {uri}: {body}");
            if method != "HEAD" {
                let e: ApiError = serde_json::from_str(&body).unwrap();
                assert!(e.error.contains("/run/vrouter/agent.sock"), "{}", e.error);
            }
        }
        assert_eq!(call(&tcp, "GET", "/ports", None).await, (200, "[]".into()));
        assert_eq!(call(&tcp, "GET", "/vm/u", None).await.0, 404);
        assert_ne!(call(&tcp, "GET", "/health", None).await.0, 403);
        assert_eq!(call(&tcp, "GET", "/metrics", None).await.0, 200);
        assert_eq!(call(&tcp, "GET", "/nope", None).await.0, 404);
        assert!(s.agent.lock().unwrap().records().is_empty());
        // The refusals are counted like any answer.
        assert!(s
            .metrics
            .render()
            .contains("method=\"POST\",route=\"/vm\",status=\"403\""));

        // Through the socket, root reserves.
        let full = router(s.clone(), Access::Root);
        let (status, body) = call(&full, "GET", "/vm-cfg/k8s__default__p", ROOT).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(s.agent.lock().unwrap().records().len(), 1);
        // With tcp-mutations, TCP does as TF's agent did.
        let open = router(s.clone(), Access::Open);
        assert_eq!(
            call(&open, "GET", "/vm-cfg/k8s__default__q", None).await.0,
            200
        );
        assert_eq!(s.agent.lock().unwrap().records().len(), 2);
    }

    #[tokio::test]
    async fn the_socket_serves_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = shared(dir.path());
        let full = router(s.clone(), Access::Root);
        let user = Some(Peer {
            uid: Some(1000),
            pid: Some(42),
        });
        for peer in [
            user,
            Some(Peer {
                uid: None,
                pid: None,
            }),
            None,
        ] {
            for (method, uri) in [("GET", "/ports"), ("POST", "/vm"), ("GET", "/nope")] {
                let (status, body) = call(&full, method, uri, peer).await;
                assert_eq!(status, 403, "{peer:?} {method} {uri}: {body}");
                assert!(body.contains("root's (uid 0)"), "{body}");
            }
        }
        assert_eq!(call(&full, "GET", "/ports", ROOT).await, (200, "[]".into()));
        // root's bad request reaches the handler
        assert_eq!(call(&full, "POST", "/vm", ROOT).await.0, 400);
    }

    /// The whole path: a real socket, a real connection, the peer's real credentials.
    #[tokio::test]
    async fn peer_credentials_come_from_the_connection() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let s = shared(dir.path());
        let sock = dir.path().join("run/agent.sock");
        let l = bind_socket(&sock).unwrap();
        l.set_nonblocking(true).unwrap();
        let l = UnixListener::from_std(l).unwrap();
        let app = router(s, Access::Root).into_make_service_with_connect_info::<Peer>();
        let server = tokio::spawn(async move { axum::serve(l, app).await });
        let path = sock.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let mut c = std::os::unix::net::UnixStream::connect(path).unwrap();
            c.write_all(b"GET /ports HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
            answer
        })
        .await
        .unwrap();
        server.abort();
        // The socket is ours: its owner is the uid the agent sees on the connection.
        let me = std::fs::metadata(&sock).unwrap().uid();
        let want = if me == 0 { "200 OK" } else { "403 Forbidden" };
        assert!(answer.starts_with(&format!("HTTP/1.1 {want}")), "{answer}");
    }

    #[test]
    fn the_socket_is_bound_0600_and_replaces_only_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("a/b/agent.sock");
        let l = bind_socket(&sock).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&sock) & 0o777, 0o600);
        assert_eq!(mode(sock.parent().unwrap()) & 0o777, 0o755);
        // nothing left of the private directory it was bound in
        let names: Vec<_> = std::fs::read_dir(sock.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["agent.sock"]);
        // a live socket is another agent's
        let e = bind_socket(&sock).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse, "{e}");
        // once nobody listens, the file is stale and replaced
        drop(l);
        assert!(sock.exists());
        let _l = bind_socket(&sock).unwrap();
        assert!(std::os::unix::net::UnixStream::connect(&sock).is_ok());
        // something else at the path is left alone
        let file = dir.path().join("a/file");
        std::fs::write(&file, "keep").unwrap();
        let e = bind_socket(&file).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    }
}
