//! vrouter-agent: the per-node daemon. It owns the desired state (ports, addresses, VRFs,
//! routes), is the only writer of vrouter.ko's tables, and serves the port API the CNI
//! plugin calls.
//!
//! Start-up: load the config (a bad one is one clear error naming the field, exit 78),
//! load the persisted ports and rebuild IPAM from them, serve the API at once (on the
//! root-only Unix socket, and read-only on TCP; `/health` says 503 until the kernel is
//! synced), reconcile the kernel, then reconcile every
//! `resync-interval` seconds (this also finds a module that was reloaded, and vifs whose
//! device disappeared). SIGTERM/SIGINT stop the daemon and leave the kernel tables as
//! they are: pods keep forwarding while the agent is away.

mod api;
mod config;
mod flows;
mod host;
mod ipam;
mod k8s;
mod kernel;
mod masquerade;
mod metrics;
mod netpol;
mod overlay;
mod policy;
mod ports;
mod published;
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
    /// Print the CustomResourceDefinitions the agent uses (JSON for kubectl apply) and exit
    #[arg(long)]
    print_crds: bool,
}

fn init_logs(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("vrouter_agent={level},warn"))
    });
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

async fn resync(shared: &Arc<api::Shared>) {
    let s = shared.clone();
    let host = tokio::task::spawn_blocking(move || {
        let Ok(mut a) = s.agent.lock() else {
            return None;
        };
        a.expire_reservations();
        a.reconcile().ok().map(|_| a.host_want())
    })
    .await
    .ok()
    .flatten();
    if let Some(w) = host {
        if let Err(e) = host::ensure(&w).await {
            warn!(vhost = %w.vhost, error = %e, "host side of the vhost device");
        }
    }
}

/// The flow loop's view of the ports: where a pod address lives.
struct PortDirectory(Arc<api::Shared>);

impl flows::Directory for PortDirectory {
    fn endpoint(&self, ip: std::net::IpAddr) -> Option<flows::Endpoint> {
        self.0.agent.lock().ok()?.endpoint(ip)
    }

    fn is_this_node(&self, ip: std::net::IpAddr) -> bool {
        self.0.agent.lock().is_ok_and(|a| a.is_this_node(ip))
    }

    fn is_pod_address(&self, ip: std::net::IpAddr) -> bool {
        self.0.agent.lock().is_ok_and(|a| a.is_pod_address(ip))
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
    if args.print_crds {
        match k8s::network::crds_json() {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("vrouter-agent: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let config_error = |e: config::ConfigError| -> ! {
        eprintln!("vrouter-agent: config: {e}");
        std::process::exit(EX_CONFIG);
    };
    let kubernetes = config::Node::kubernetes(&args.config).unwrap_or_else(|e| config_error(e));
    // With [kubernetes], the pool is the Node object's podCIDRs: the file is checked with
    // a stand-in pool first (a bad file fails now, not once the API answers), from the
    // documentation range TEST-NET-1, which no cluster uses for pods.
    let stand_in = config::PodCidrs {
        v4: ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::new(192, 0, 2, 0), 24),
        v6: None,
    };
    let checked = config::Node::load(&args.config, kubernetes.as_ref().map(|_| stand_in))
        .unwrap_or_else(|e| config_error(e));
    if args.check_config {
        println!(
            "{}: ok ({} networks)",
            args.config.display(),
            checked.networks.len()
        );
        return;
    }
    init_logs(&checked.raw.log_level, args.log_json);
    let mut kube_client = None;
    let node = match &kubernetes {
        None => checked,
        Some(k) => {
            let client = match k8s::client(k).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("vrouter-agent: {e}");
                    std::process::exit(EX_CONFIG);
                }
            };
            let state = &checked.raw.state_dir;
            let cidrs = k8s::node::wait_for_pod_cidrs(
                &client,
                &checked.raw.node_name,
                k8s::node::load_saved(state),
            )
            .await;
            if let Err(e) = k8s::node::save(state, &cidrs) {
                warn!(error = %e, "cannot save the pod CIDRs in the state directory");
            }
            kube_client = Some(client);
            config::Node::load(&args.config, Some(cidrs)).unwrap_or_else(|e| config_error(e))
        }
    };
    let listen = node.raw.listen;
    let socket = node.raw.socket.clone();
    let tcp_access = if node.raw.tcp_mutations {
        api::Access::Open
    } else {
        api::Access::ReadOnly {
            vm_cfg_reserves: kubernetes.is_none(),
            socket: socket.display().to_string(),
        }
    };
    let interval = Duration::from_secs_f64(node.raw.resync_interval);
    let metrics = Arc::new(metrics::Metrics::new());
    // Flows are the agent's business when some network has a policy or a service, and
    // always with [kubernetes] (namespace isolation is decided by flow verdicts).
    let wants_flows = kubernetes.is_some() || !policy::flow_networks(&node).is_empty();
    let flow_agent = wants_flows.then(|| {
        let f = &node.raw.flows;
        let settings = flows::Settings {
            aging: u32::try_from(f.aging_seconds).unwrap_or(u32::MAX),
            hold_audit: f.hold_audit_seconds.ceil() as u32,
            sweep: Duration::from_secs_f64(f.sweep_interval_seconds),
        };
        (policy::Policies::from_node(&node), settings)
    });
    let services = Arc::new(policy::ServiceTable::new(policy::Services::configured(
        &node,
    )));
    let network_policies = Arc::new(published::Published::new(netpol::Compiled::default()));
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
    let shared = Arc::new(api::Shared {
        agent: Mutex::new(agent),
        metrics,
    });

    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vrouter-agent: listen {listen}: {e}");
            std::process::exit(EX_UNAVAILABLE);
        }
    };
    let unix = match api::bind_socket(&socket).and_then(|l| {
        l.set_nonblocking(true)?;
        tokio::net::UnixListener::from_std(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vrouter-agent: socket {}: {e}", socket.display());
            std::process::exit(EX_UNAVAILABLE);
        }
    };
    info!(%listen, tcp = ?tcp_access, socket = %socket.display(), ports = n_ports, "port API listening");

    resync(&shared).await;
    if let Some((policies, settings)) = flow_agent {
        let dir = PortDirectory(shared.clone());
        let agent = flows::FlowAgent::new(
            policies,
            services.clone(),
            network_policies.clone(),
            dir,
            settings,
            shared.metrics.clone(),
        );
        std::thread::Builder::new()
            .name("flows".into())
            .spawn(move || agent.run())
            .ok();
        info!("flow verdicts on");
    }
    if let Some(client) = kube_client {
        let (node_name, cluster, reserved, base) = match shared.agent.lock() {
            Ok(a) => {
                let n = &a.node;
                (
                    n.raw.node_name.clone(),
                    n.raw.cluster_name.clone(),
                    n.networks.iter().map(|n| n.vrf).collect(),
                    n.raw.isolated_vrf_base,
                )
            }
            Err(_) => return,
        };
        tokio::spawn(k8s::network::run(
            client.clone(),
            shared.clone(),
            node_name.clone(),
            cluster,
            reserved,
            base,
        ));
        tokio::spawn(k8s::nodes::run(
            client.clone(),
            shared.clone(),
            node_name.clone(),
        ));
        tokio::spawn(k8s::remote_pods::run(
            client.clone(),
            shared.clone(),
            node_name.clone(),
        ));
        tokio::spawn(k8s::services::run(
            client.clone(),
            services,
            node_name.clone(),
        ));
        tokio::spawn(k8s::network_policies::run(
            client.clone(),
            network_policies,
            shared.metrics.clone(),
            node_name.clone(),
        ));
        tokio::spawn(k8s::pods::run(client, shared.clone(), node_name));
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

    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let tcp = axum::serve(listener, api::router(shared.clone(), tcp_access))
        .with_graceful_shutdown(until_stopped(stopped.clone()));
    let full =
        api::router(shared, api::Access::Root).into_make_service_with_connect_info::<api::Peer>();
    let local = axum::serve(unix, full).with_graceful_shutdown(until_stopped(stopped));
    let (t, u) = tokio::join!(tcp, local);
    let _ = std::fs::remove_file(&socket);
    if let Err(e) = t.and(u) {
        error!(error = %e, "server failed");
        std::process::exit(1);
    }
    info!("stopped; kernel tables left in place");
}
