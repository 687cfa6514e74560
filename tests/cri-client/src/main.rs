//! vr-cri: a minimal CRI client that drives a container runtime (containerd's CRI plugin)
//! the way kubelet does for pod sandboxes: RunPodSandbox, StopPodSandbox,
//! RemovePodSandbox, PodSandboxStatus, ListPodSandbox, Version. CRI API runtime.v1 over
//! the runtime's unix socket. Errors: one line on stderr, exit status 1.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hyper_util::rt::TokioIo;
use k8s_cri::v1 as cri;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use serde_json::{json, Value};
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

#[derive(Parser)]
#[command(
    name = "vr-cri",
    about = "Minimal CRI client: pod sandboxes (runtime.v1)",
    args_override_self = true
)]
struct Cli {
    /// The runtime's CRI socket.
    #[arg(long, global = true, default_value = "/run/containerd/containerd.sock")]
    socket: PathBuf,
    /// Seconds one command may take, connection included.
    #[arg(long, global = true, default_value_t = 120)]
    timeout: u64,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// RunPodSandbox; prints the sandbox id.
    RunPod {
        #[arg(long)]
        name: String,
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        uid: String,
        /// The pod's log directory (kubelet: /var/log/pods/NS_NAME_UID).
        #[arg(long)]
        log_dir: Option<String>,
        /// The pod's cgroup parent (cgroupfs path); default /kubepods/besteffort/pod<UID>.
        #[arg(long)]
        cgroup_parent: Option<String>,
        /// Runtime handler (RuntimeClass); empty is the runtime's default.
        #[arg(long, default_value = "")]
        runtime_handler: String,
        /// Extra pod annotations, KEY=VALUE (repeatable).
        #[arg(long = "annotation", value_parser = key_value)]
        annotations: Vec<(String, String)>,
    },
    /// StopPodSandbox: stops the sandbox and tears its network down (CNI DEL).
    StopPod { id: String },
    /// RemovePodSandbox.
    RemovePod { id: String },
    /// PodSandboxStatus (verbose) as JSON: id, state, ip, netns, pid, status, info.
    InspectPod { id: String },
    /// ListPodSandbox: one line per sandbox (id state namespace/name uid).
    ListPods {
        /// JSON array instead of text lines.
        #[arg(long)]
        json: bool,
    },
    /// Version: runtime name, version and CRI API version.
    Version,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

async fn connect(socket: PathBuf, timeout: Duration) -> Result<Channel, String> {
    let shown = socket.display().to_string();
    // The URI is not used: the connector dials the unix socket.
    Endpoint::try_from("http://[::1]:50051")
        .map_err(|e| e.to_string())?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .map_err(|e| {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg = format!("{msg}: {text}");
                }
                src = s.source();
            }
            format!("cannot connect to {shown}: {msg}")
        })
}

fn status_err(what: &str, s: tonic::Status) -> String {
    format!("{what}: {:?}: {}", s.code(), s.message())
}

fn state_name(state: i32) -> &'static str {
    cri::PodSandboxState::try_from(state)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN")
}

async fn run(cli: Cli) -> Result<(), String> {
    let timeout = Duration::from_secs(cli.timeout);
    let channel = connect(cli.socket, timeout).await?;
    let mut rt = RuntimeServiceClient::new(channel);
    match cli.cmd {
        Cmd::RunPod {
            name,
            namespace,
            uid,
            log_dir,
            cgroup_parent,
            runtime_handler,
            annotations,
        } => {
            let labels = HashMap::from([
                ("io.kubernetes.pod.name".to_string(), name.clone()),
                ("io.kubernetes.pod.namespace".to_string(), namespace.clone()),
                ("io.kubernetes.pod.uid".to_string(), uid.clone()),
            ]);
            let config = cri::PodSandboxConfig {
                metadata: Some(cri::PodSandboxMetadata {
                    name: name.clone(),
                    uid: uid.clone(),
                    namespace,
                    attempt: 0,
                }),
                hostname: name,
                log_directory: log_dir.unwrap_or_default(),
                labels,
                annotations: annotations.into_iter().collect(),
                linux: Some(cri::LinuxPodSandboxConfig {
                    cgroup_parent: cgroup_parent
                        .unwrap_or_else(|| format!("/kubepods/besteffort/pod{uid}")),
                    security_context: Some(cri::LinuxSandboxSecurityContext {
                        // As kubelet sets them for a pod without hostNetwork and without
                        // shareProcessNamespace.
                        namespace_options: Some(cri::NamespaceOption {
                            network: cri::NamespaceMode::Pod as i32,
                            pid: cri::NamespaceMode::Container as i32,
                            ipc: cri::NamespaceMode::Pod as i32,
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let resp = rt
                .run_pod_sandbox(cri::RunPodSandboxRequest {
                    config: Some(config),
                    runtime_handler,
                })
                .await
                .map_err(|s| status_err("RunPodSandbox", s))?;
            println!("{}", resp.into_inner().pod_sandbox_id);
        }
        Cmd::StopPod { id } => {
            rt.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: id })
                .await
                .map_err(|s| status_err("StopPodSandbox", s))?;
        }
        Cmd::RemovePod { id } => {
            rt.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id })
                .await
                .map_err(|s| status_err("RemovePodSandbox", s))?;
        }
        Cmd::InspectPod { id } => {
            let resp = rt
                .pod_sandbox_status(cri::PodSandboxStatusRequest {
                    pod_sandbox_id: id,
                    verbose: true,
                })
                .await
                .map_err(|s| status_err("PodSandboxStatus", s))?
                .into_inner();
            let status = resp
                .status
                .ok_or("PodSandboxStatus: the runtime returned no status")?;
            // containerd's verbose info: {"pid": .., "runtimeSpec": {..}, "cniResult": ..}
            let info: HashMap<String, Value> = resp
                .info
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        serde_json::from_str(v).unwrap_or(Value::String(v.clone())),
                    )
                })
                .collect();
            let main = info.get("info");
            let pid = main
                .and_then(|i| i.get("pid"))
                .cloned()
                .unwrap_or(Value::Null);
            let netns = main
                .and_then(|i| i.pointer("/runtimeSpec/linux/namespaces"))
                .and_then(Value::as_array)
                .and_then(|nss| {
                    nss.iter()
                        .find(|n| n.get("type").and_then(Value::as_str) == Some("network"))
                })
                .and_then(|n| n.get("path"))
                .cloned()
                .unwrap_or(Value::Null);
            let net = status.network.clone().unwrap_or_default();
            let out = json!({
                "id": status.id,
                "state": state_name(status.state),
                "ip": net.ip,
                "additional_ips": net.additional_ips.iter().map(|p| p.ip.clone()).collect::<Vec<_>>(),
                "netns": netns,
                "pid": pid,
                "status": serde_json::to_value(&status).map_err(|e| e.to_string())?,
                "info": info,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?
            );
        }
        Cmd::ListPods { json } => {
            let items = rt
                .list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
                .await
                .map_err(|s| status_err("ListPodSandbox", s))?
                .into_inner()
                .items;
            if json {
                let v: Vec<Value> = items
                    .iter()
                    .map(|p| {
                        let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
                        v["state_name"] = json!(state_name(p.state));
                        v
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                );
            } else {
                for p in items {
                    let m = p.metadata.unwrap_or_default();
                    println!(
                        "{} {} {}/{} {}",
                        p.id,
                        state_name(p.state),
                        m.namespace,
                        m.name,
                        m.uid
                    );
                }
            }
        }
        Cmd::Version => {
            let v = rt
                .version(cri::VersionRequest {
                    version: String::new(),
                })
                .await
                .map_err(|s| status_err("Version", s))?
                .into_inner();
            println!(
                "{} {} {}",
                v.runtime_name, v.runtime_version, v.runtime_api_version
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let limit = Duration::from_secs(cli.timeout);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vr-cri: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        tokio::time::timeout(limit, run(cli))
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {}s", limit.as_secs())))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vr-cri: {e}");
            ExitCode::FAILURE
        }
    }
}
