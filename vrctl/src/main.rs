//! vrctl: the operator CLI. Argument parsing and TF-style text; the kernel talk is in
//! vrouter-client. Input is validated before anything is sent (exit 64 with one line);
//! kernel refusals print the kernel's extended-ACK text (exit 65, 77 for EPERM).
//! Each command is one module under `cmd/`; this file only dispatches and exits.

mod cmd;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use vrouter_client::Error;

#[derive(Parser)]
#[command(
    name = "vrctl",
    version,
    about = "Inspect and program the vrouter datapath"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Interfaces (TF `vif`)
    Vif(cmd::vif::VifArgs),
    /// Nexthops (TF `nh`)
    Nh(cmd::nh::NhArgs),
    /// Routes (TF `rt`)
    Rt(cmd::rt::RtArgs),
    /// Drop counters (TF `dropstats`)
    Dropstats(cmd::dropstats::DropArgs),
    /// Per-VRF counters (TF `vrfstats`)
    Vrfstats(cmd::vrfstats::VrfStatsArgs),
    /// Module version, limits and usage (TF `vrouter --info`)
    Vrouter(cmd::vrouter::VrouterArgs),
    /// Flow table (TF `flow`)
    Flow(cmd::flow::FlowArgs),
    /// MPLS input label table (TF `mpls`)
    Mpls(cmd::mpls::MplsArgs),
    /// VXLAN VNI table (TF `vxlan`)
    Vxlan(cmd::vxlan::VxlanArgs),
}

/// sysexits(3) codes.
mod exit {
    pub const USAGE: u8 = 64;
    pub const DATAERR: u8 = 65;
    pub const NOINPUT: u8 = 66;
    pub const UNAVAILABLE: u8 = 69;
    pub const IOERR: u8 = 74;
    pub const NOPERM: u8 = 77;
}

struct Failure {
    code: u8,
    /// One line for stderr; empty when the command already said everything.
    text: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure {
            code: code_of(&e),
            text: e.to_string(),
        }
    }
}

fn code_of(e: &Error) -> u8 {
    match e {
        Error::NotLoaded => exit::UNAVAILABLE,
        Error::Kernel { errno: 1 | 13, .. } => exit::NOPERM,
        Error::Kernel { .. } => exit::DATAERR,
        Error::Io(_)
        | Error::Decode(_)
        | Error::AckLost { .. }
        | Error::NotSent
        | Error::Overrun => exit::IOERR,
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE } else { 0 });
        }
    };
    let (what, result) = match cli.cmd {
        Cmd::Vif(a) => ("vif", cmd::vif::run(a)),
        Cmd::Nh(a) => ("nh", cmd::nh::run(a)),
        Cmd::Rt(a) => ("rt", cmd::rt::run(a)),
        Cmd::Dropstats(a) => ("dropstats", cmd::dropstats::run(a)),
        Cmd::Vrfstats(a) => ("vrfstats", cmd::vrfstats::run(a)),
        Cmd::Vrouter(a) => ("vrouter", cmd::vrouter::run(a)),
        Cmd::Flow(a) => ("flow", cmd::flow::run(a)),
        Cmd::Mpls(a) => ("mpls", cmd::mpls::run(a)),
        Cmd::Vxlan(a) => ("vxlan", cmd::vxlan::run(a)),
    };
    match result {
        Ok(out) => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(out.as_bytes()).and_then(|_| o.flush());
            ExitCode::SUCCESS
        }
        Err(f) => {
            if !f.text.is_empty() {
                eprintln!("vrctl {what}: {}", f.text);
            }
            ExitCode::from(f.code)
        }
    }
}
