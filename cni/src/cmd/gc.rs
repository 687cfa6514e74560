//! STATUS and GC (spec 1.1.0).

use super::Ctx;
use crate::agent::AgentError;
use crate::link;
use crate::netns::run_rtnl;
use crate::spec::{code, CniError, CniResultT};
use tracing::{info, warn};
use vrouter_port_api::SyncPorts;

fn needs_1_1(ctx: &Ctx, what: &str) -> CniResultT<()> {
    if ctx.conf.version.has_status_and_gc() {
        Ok(())
    } else {
        Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "config version {} does not allow {what} (needs 1.1.0)",
                ctx.conf.version
            ),
        ))
    }
}

/// STATUS: 0 when the agent answers /health with 200, else code 50.
pub fn status(ctx: &Ctx) -> CniResultT<()> {
    needs_1_1(ctx, "STATUS")?;
    match ctx.agent.health() {
        Ok((200, _)) => Ok(()),
        Ok((status, health)) => {
            let reason = health
                .map(|h| h.reason)
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| format!("HTTP {status}"));
            Err(CniError::new(
                code::NOT_AVAILABLE,
                format!("the vrouter agent is not ready: {reason}"),
            ))
        }
        Err(e) => Err(CniError::new(code::NOT_AVAILABLE, e.to_string())),
    }
}

/// GC: the agent drops the ports not listed in `cni.dev/valid-attachments`; we delete the
/// host ends of the ports it removed.
pub fn gc(ctx: &Ctx) -> CniResultT<()> {
    needs_1_1(ctx, "GC")?;
    let before = ctx.agent.ports()?;
    let req = SyncPorts {
        valid_attachments: ctx.conf.valid_attachments.clone(),
    };
    if req.valid_attachments.is_none() {
        warn!("GC without cni.dev/valid-attachments: the agent only sweeps ports whose host end is gone");
    }
    let report = ctx
        .agent
        .sync_ports(&req)
        .map_err(|e: AgentError| CniError::from(e))?;
    info!(
        removed = report.removed.len(),
        "GC: the agent removed stale ports"
    );
    let mut first_err = None;
    for vmi in &report.removed {
        let Some(p) = before.iter().find(|p| &p.vmi_uuid == vmi) else {
            continue;
        };
        let still_bound = before
            .iter()
            .any(|o| o.host_ifname == p.host_ifname && !report.removed.contains(&o.vmi_uuid));
        if !p.host_ifname.starts_with("tap") || still_bound {
            continue;
        }
        let host = p.host_ifname.clone();
        match run_rtnl(|h| async move { link::delete(&h, &host).await }) {
            Ok(true) => info!(host = %p.host_ifname, vmi, "GC: deleted the host end"),
            Ok(false) => {}
            Err(e) => {
                warn!(host = %p.host_ifname, error = %e, "GC: failed to delete the host end");
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
