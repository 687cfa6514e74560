//! DEL: idempotent; a DEL of an older sandbox leaves the newer one alone.

use super::{ports_of, Ctx};
use crate::link;
use crate::netns::{run_rtnl, Netns};
use crate::spec::CniResultT;
use tracing::{info, warn};

pub fn del(ctx: &Ctx) -> CniResultT<()> {
    let env = &ctx.env;
    let vm_name = ctx.vm_name();
    // Unreachable agent -> 11: the runtime retries, and the port is not leaked.
    let ports = ctx.agent.ports()?;
    let mut mine = ports_of(&ports, &vm_name, &env.container_id, &env.ifname);
    // The pod's extra interfaces (net1, ...) that this sandbox's ADD made go with it.
    mine.extend(
        ports
            .iter()
            .filter(|p| p.vm_id == env.container_id && p.vm_ifname != env.ifname),
    );

    if let Some(newer) = mine
        .iter()
        .find(|p| p.vm_ifname == env.ifname && !p.vm_id.is_empty() && p.vm_id != env.container_id)
    {
        info!(
            vm_name,
            ifname = %env.ifname,
            agent_vm_id = %newer.vm_id,
            container_id = %env.container_id,
            "stale DEL: the port belongs to a newer sandbox; nothing changed"
        );
        return Ok(());
    }

    // The container end, when the netns still exists (deleting it deletes the pair).
    match Netns::open_if_exists(&env.netns) {
        Ok(Some(ns)) => {
            let ifname = env.ifname.clone();
            match ns.rtnl(|h| async move { link::delete(&h, &ifname).await }) {
                Ok(true) => {
                    info!(ifname = %env.ifname, netns = %env.netns, "deleted the container end")
                }
                Ok(false) => {}
                // A netns we cannot enter is as good as gone for us: carry on.
                Err(e) => {
                    warn!(netns = %env.netns, error = %e, "could not clean up inside the netns")
                }
            }
        }
        Ok(None) => {}
        Err(e) => warn!(netns = %env.netns, error = %e, "could not open the netns"),
    }

    // The agent first: its routes and nexthop go before the vif index is freed.
    for p in mine.iter().filter(|p| !p.vm_uuid.is_empty()) {
        ctx.agent
            .delete_vmi(&p.vm_uuid, &p.vmi_uuid, &env.container_id)?;
        info!(vm_uuid = %p.vm_uuid, vmi = %p.vmi_uuid, vm_name, "released the port at the agent");
    }
    // The host ends the agent knows for this sandbox (missing is fine).
    for p in &mine {
        if p.host_ifname.is_empty() {
            continue;
        }
        let host = p.host_ifname.clone();
        if run_rtnl(|h| async move { link::delete(&h, &host).await })? {
            info!(host = %p.host_ifname, "deleted the host end");
        }
    }

    if mine.is_empty() {
        info!(vm_name, ifname = %env.ifname, "the agent has no port for this sandbox");
    }
    Ok(())
}
