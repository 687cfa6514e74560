//! vrctl: the operator CLI. Argument parsing and TF-style text; the kernel talk is in
//! vrouter-client.

mod format;

use clap::{ArgGroup, Parser, Subcommand};
use std::process::ExitCode;
use vrouter_client::{vif::parse_mac, Client, Error, VifAdd, VifSelector};
use vrouter_uapi::{vif_flag, vif_type};

#[derive(Parser)]
#[command(name = "vrctl", version, about = "Inspect and program the vrouter datapath")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Interfaces (TF `vif`)
    Vif(VifArgs),
}

#[derive(clap::Args)]
#[command(group(ArgGroup::new("op").required(true).args(["list", "get", "add", "delete", "create"])))]
struct VifArgs {
    /// List all vifs
    #[arg(long, short = 'l')]
    list: bool,
    /// Show one vif by index
    #[arg(long, value_name = "IDX")]
    get: Option<u32>,
    /// Attach a net_device as a vif
    #[arg(long, value_name = "IFNAME")]
    add: Option<String>,
    /// Detach a vif, by index or interface name
    #[arg(long, value_name = "IDX|IFNAME")]
    delete: Option<String>,
    /// Create the vhost device (a host vif) with --mac
    #[arg(long, value_name = "NAME")]
    create: Option<String>,
    /// Vif type for --add
    #[arg(long = "type", value_parser = ["virtual", "physical", "agent", "vhost"])]
    kind: Option<String>,
    /// VRF for --add
    #[arg(long)]
    vrf: Option<u32>,
    /// MAC address for --add/--create
    #[arg(long)]
    mac: Option<String>,
    /// Enable policy (flow lookup) on the vif
    #[arg(long)]
    policy: bool,
    /// Vif index to use for --add/--create (default: first free)
    #[arg(long = "vif", value_name = "IDX")]
    idx: Option<u32>,
    /// Show one CPU's counters
    #[arg(long)]
    core: Option<u32>,
    /// JSON output
    #[arg(long)]
    json: bool,
}

/// sysexits(3) codes.
mod exit {
    pub const USAGE: u8 = 64;
    pub const DATAERR: u8 = 65;
    pub const UNAVAILABLE: u8 = 69;
    pub const IOERR: u8 = 74;
    pub const NOPERM: u8 = 77;
}

struct Failure {
    code: u8,
    text: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        let code = match &e {
            Error::NotLoaded => exit::UNAVAILABLE,
            Error::Kernel { errno: 1 | 13, .. } => exit::NOPERM,
            Error::Kernel { .. } => exit::DATAERR,
            Error::Io(_) | Error::Decode(_) => exit::IOERR,
        };
        Failure { code, text: e.to_string() }
    }
}

fn usage(text: impl Into<String>) -> Failure {
    Failure { code: exit::USAGE, text: text.into() }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (what, result) = match cli.cmd {
        Cmd::Vif(a) => ("vif", vif(a)),
    };
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(f) => {
            eprintln!("vrctl {what}: {}", f.text);
            ExitCode::from(f.code)
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).map(|s| s + "\n").unwrap_or_default()
}

fn vif(a: VifArgs) -> Result<String, Failure> {
    let mac = a.mac.as_deref().map(|m| parse_mac(m).ok_or_else(|| usage(format!("bad MAC address {m:?}")))).transpose()?;
    let mut c = Client::connect()?;
    if a.list {
        let vifs = c.vif_list(a.core)?;
        return Ok(if a.json { json(&vifs) } else { format::vif_list(&vifs) });
    }
    if let Some(idx) = a.get {
        let v = c.vif_get(&VifSelector::Index(idx), a.core)?;
        return Ok(if a.json { json(&v) } else { format::vif_list(std::slice::from_ref(&v)) });
    }
    if let Some(which) = a.delete {
        c.vif_del(&VifSelector::parse(&which))?;
        return Ok(String::new());
    }
    let (name, kind) = match (a.add, a.create) {
        (Some(n), None) => {
            let kind = match a.kind.as_deref() {
                Some("virtual") => vif_type::VIRTUAL,
                Some("physical") => vif_type::PHYSICAL,
                Some("agent") => vif_type::AGENT,
                Some("vhost") => vif_type::HOST,
                _ => return Err(usage("--add needs --type virtual|physical|agent|vhost")),
            };
            (n, kind)
        }
        (None, Some(n)) => {
            if mac.is_none() {
                return Err(usage("--create needs --mac"));
            }
            (n, vif_type::HOST)
        }
        _ => return Err(usage("one of --list, --get, --add, --delete, --create")),
    };
    let mut flags = vif_flag::L3_ENABLED | vif_flag::L2_ENABLED;
    if a.policy {
        flags |= vif_flag::POLICY;
    }
    let req = VifAdd { idx: a.idx, kind, name: Some(name), vrf: a.vrf.unwrap_or(0), mac, flags, ..Default::default() };
    let v = c.vif_add(&req)?;
    Ok(if a.json { json(&v) } else { format!("vif0/{} {}\n", v.idx, v.name) })
}
