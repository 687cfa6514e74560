//! The local port API (127.0.0.1:9091), contrail-compatible; see vrouter-port-api for the
//! endpoints and bodies. Handlers are thin: each takes the agent lock on a blocking thread
//! (kernel calls are synchronous genetlink requests of a few microseconds) and maps the
//! outcome to JSON.

use crate::metrics::{Metrics, RequestLabels};
use crate::ports::{Agent, ApiErr};
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;
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

pub fn router(shared: Arc<Shared>) -> Router {
    let vm = format!("{}/{{uuid}}", path::VM);
    Router::new()
        .route(&path::vm_cfg("{name}"), get(vm_cfg))
        .route(path::VM, post(vm_add))
        .route(&vm, get(vm_get).delete(vm_delete))
        .route(&format!("{vm}/{{vmi}}"), get(vmi_get).delete(vmi_delete))
        .route(path::SYNC_PORTS, post(sync_ports))
        .route(path::PORTS, get(ports))
        .route(path::HEALTH, get(health))
        .route(path::METRICS, get(metrics))
        .fallback(unknown)
        .route_layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}
