//! vrouter-cni: the CNI plugin (spec 1.1.0; configs at 0.3.1, 0.4.0, 1.0.0 and 1.1.0).
//!
//! The runtime passes the network config on stdin and CNI_* in the environment; we
//! answer on stdout (a result, or `{"cniVersion","code","msg","details"}` with a non-zero
//! exit status equal to the code), and log on stderr.

mod agent;
mod args;
mod cmd;
mod link;
mod log;
mod netns;
mod spec;

use args::{Command, Env};
use serde_json::Value;
use spec::{CniError, NetConf};
use std::io::{Read, Write};
use tracing::{error, info};

fn run(stdin: &[u8]) -> Result<Option<Value>, CniError> {
    let get = |k: &str| std::env::var(k).ok();
    let command = Env::command(&get)?;
    if command == Command::Version {
        let v = spec::sniff_version(stdin).unwrap_or_else(|| spec::CURRENT_VERSION.to_string());
        return Ok(Some(spec::version_info(&v)));
    }
    let env = Env::from_vars(command, &get)?;
    let conf = NetConf::parse(stdin)?;
    log::init(conf.log_level.as_deref(), conf.log_file.as_deref());
    info!(
        command = command.as_str(),
        container_id = %env.container_id,
        netns = %env.netns,
        ifname = %env.ifname,
        network = %conf.name,
        cni_version = %conf.version,
        "vrouter-cni"
    );
    let ctx = cmd::Ctx::new(conf, env);
    match command {
        Command::Add => cmd::add(&ctx).map(|r| Some(r.to_value(ctx.conf.version))),
        Command::Del => cmd::del(&ctx).map(|()| None),
        Command::Check => cmd::check(&ctx).map(|()| None),
        Command::Status => cmd::status(&ctx).map(|()| None),
        Command::Gc => cmd::gc(&ctx).map(|()| None),
        Command::Version => Ok(None),
    }
}

fn main() {
    let mut stdin = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
        let err = CniError::new(
            spec::code::IO,
            "failed to read the network configuration from stdin",
        )
        .with_details(e.to_string());
        println!("{}", err.to_json(spec::CURRENT_VERSION));
        std::process::exit(err.exit_status());
    }
    let status = match run(&stdin) {
        Ok(out) => {
            if let Some(v) = out {
                let text = serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string());
                let mut o = std::io::stdout().lock();
                let _ = writeln!(o, "{text}");
                let _ = o.flush();
            }
            0
        }
        Err(e) => {
            error!(code = e.code, msg = %e.msg, details = %e.details, "failed");
            let v = e.to_json(spec::error_version(&stdin));
            let text = serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string());
            let mut o = std::io::stdout().lock();
            let _ = writeln!(o, "{text}");
            let _ = o.flush();
            e.exit_status()
        }
    };
    std::process::exit(status);
}
