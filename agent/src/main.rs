//! vrouter-agent: the per-node daemon. It owns the desired state (ports, addresses, VRFs,
//! routes), is the only writer of vrouter.ko's tables, and serves the port API the CNI
//! plugin calls.
//!
//! Start-up: load the config (a bad one is one clear error naming the field, exit 78),
//! load the persisted ports and rebuild IPAM from them, serve the API at once (`/health`
//! says 503 until the kernel is synced), reconcile the kernel, then reconcile every
//! `resync-interval` seconds (this also finds a module that was reloaded, and vifs whose
//! device disappeared). SIGTERM/SIGINT stop the daemon and leave the kernel tables as
//! they are: pods keep forwarding while the agent is away.

mod api;
mod config;
mod flows;
mod ipam;
mod kernel;
mod metrics;
mod policy;
mod ports;
mod store;

use clap::Parser;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{error, info, warn};

/// sysexits: EX_CONFIG, EX_UNAVAILABLE (bind), EX_IOERR (state dir).
const EX_CONFIG: i32 = 78;
const EX_UNAVAILABLE: i32 = 69;
const EX_IOERR: i32 = 74;

#[derive(Parser)]
#[command(name = "vrouter-agent", version, about = "vrouter per-node agent")]
struct Args {
    /// The configuration file (see vrouter-agent.example.toml)
    #[arg(short, long, default_value = "/etc/vrouter/agent.toml")]
    config: PathBuf,
    /// Check the configuration and exit
    #[arg(long)]
    check_config: bool,
    /// Log as JSON lines instead of text
    #[arg(long)]
    log_json: bool,
}

fn init_logs(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("vrouter_agent={level},warn")));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

/// Brings the vhost device up (the module creates it down, like any new netdevice).
async fn link_up(name: &str) -> Result<(), String> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| e.to_string())?;
    let task = tokio::spawn(conn);
    let r = handle
        .link()
        .set(rtnetlink::LinkUnspec::new_with_name(name).up().build())
        .execute()
        .await
        .map_err(|e| e.to_string());
    task.abort();
    r
}

fn link_is_up(name: &str) -> bool {
    std::fs::read_to_string(format!("/sys/class/net/{name}/flags"))
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
        .is_some_and(|f| f & 1 != 0)
}

async fn resync(shared: &Arc<api::Shared>) {
    let s = shared.clone();
    let vhost = tokio::task::spawn_blocking(move || {
        let Ok(mut a) = s.agent.lock() else { return None };
        a.expire_reservations();
        a.reconcile().ok().map(|_| a.node.raw.vhost.name.clone())
    })
    .await
    .ok()
    .flatten();
    if let Some(v) = vhost.filter(|v| kernel::interface_exists(v) && !link_is_up(v)) {
        match link_up(&v).await {
            Ok(()) => info!(vhost = %v, "vhost link up"),
            Err(e) => warn!(vhost = %v, error = %e, "cannot bring the vhost link up"),
        }
    }
}

/// The flow loop's view of the ports: which network a pod address belongs to.
struct PortDirectory(Arc<api::Shared>);

impl flows::Directory for PortDirectory {
    fn network_of(&self, vrf: u32, ip: std::net::IpAddr) -> Option<String> {
        self.0.agent.lock().ok()?.network_of(vrf, ip).map(str::to_owned)
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let node = match config::Node::load(&args.config) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("vrouter-agent: config: {e}");
            std::process::exit(EX_CONFIG);
        }
    };
    if args.check_config {
        println!("{}: ok ({} networks)", args.config.display(), node.networks.len());
        return;
    }
    init_logs(&node.raw.log_level, args.log_json);
    let listen = node.raw.listen;
    let interval = Duration::from_secs_f64(node.raw.resync_interval);
    let metrics = Arc::new(metrics::Metrics::new());
    // Flows are the agent's business only when some network has a policy or a service.
    let flow_agent = (!policy::flow_networks(&node).is_empty()).then(|| {
        let f = &node.raw.flows;
        let settings = flows::Settings {
            aging: u32::try_from(f.aging_seconds).unwrap_or(u32::MAX),
            hold_audit: f.hold_audit_seconds.ceil() as u32,
            sweep: Duration::from_secs_f64(f.sweep_interval_seconds),
        };
        (policy::Policies::from_node(&node), policy::Services::from_node(&node), settings)
    });
    let (agent, problems) = match ports::Agent::load(node, metrics.clone()) {
        Ok(x) => x,
        Err(e) => {
            error!(error = %e, "cannot open the state directory");
            eprintln!("vrouter-agent: state: {e}");
            std::process::exit(EX_IOERR);
        }
    };
    for p in &problems {
        warn!(problem = %p, "persisted state");
    }
    let n_ports = agent.records().len();
    let shared = Arc::new(api::Shared { agent: Mutex::new(agent), metrics });

    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vrouter-agent: listen {listen}: {e}");
            std::process::exit(EX_UNAVAILABLE);
        }
    };
    info!(%listen, ports = n_ports, "port API listening");

    resync(&shared).await;
    if let Some((policies, services, settings)) = flow_agent {
        let dir = PortDirectory(shared.clone());
        let agent = flows::FlowAgent::new(policies, services, dir, settings, shared.metrics.clone());
        std::thread::Builder::new().name("flows".into()).spawn(move || agent.run()).ok();
        info!("flow verdicts on");
    }
    let bg = shared.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(interval);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t.tick().await;
        loop {
            t.tick().await;
            resync(&bg).await;
        }
    });

    let app = api::router(shared);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await {
        error!(error = %e, "server failed");
        std::process::exit(1);
    }
    info!("stopped; kernel tables left in place");
}
