// SPDX-License-Identifier: GPL-2.0
//! VXLAN_NEW / VXLAN_DEL / VXLAN_GET: the VXLAN VNI table.

use super::{u32_attr, walk};
use crate::dp::router;
use crate::kapi::genl::{Dump, Msg, Request};
use crate::kapi::rcu;
use crate::kapi::rtnl::RtnlGuard;
use crate::uapi::{cmd, vxlan_attr as A};
use crate::vrcore::overlay::vni_split;
use kernel::c_str;
use kernel::error::{code::*, Result};

/// Room for one VNI record.
const VXLAN_MSG_SIZE: usize = 64;

/// The VNI attribute, checked to fit in 24 bits.
fn vni(req: &Request<'_>) -> Result<u32> {
    let vni = u32_attr(req, A::VNI)?.ok_or_else(|| req.missing(c_str!("missing VNI")))?;
    vni_split(vni).map_err(|_| {
        req.fail(
            ERANGE,
            req.attr(A::VNI),
            c_str!("VNI beyond 24 bits (at most 16777215)"),
        )
    })?;
    Ok(vni)
}

pub fn new(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let vni = vni(req)?;
    let nh = u32_attr(req, A::NH_ID)?.ok_or_else(|| req.missing(c_str!("missing nexthop id")))?;
    // Everything that can fail happens before the change (a new chunk is allocated
    // before it is published).
    let mut reply = req.reply(cmd::VXLAN_NEW, VXLAN_MSG_SIZE)?;
    fill(reply.msg(), vni, nh)?;
    let mut rtnl = RtnlGuard::lock();
    if r.nhs.get_locked(nh, &rtnl).is_none() {
        return Err(req.fail(ENOENT, req.attr(A::NH_ID), c_str!("no such nexthop")));
    }
    r.vxlan.set(vni, nh, &r.nhs, &mut rtnl)?;
    drop(rtnl);
    reply.send_after_change()
}

pub fn del(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let vni = vni(req)?;
    let mut rtnl = RtnlGuard::lock();
    let (_, chunk) = r
        .vxlan
        .remove(vni, &r.nhs, &mut rtnl)
        .map_err(|e| req.fail(e, req.attr(A::VNI), c_str!("no such VNI")))?;
    drop(rtnl);
    if let Some(chunk) = chunk {
        chunk.reclaim();
    }
    Ok(())
}

pub fn get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let vni = vni(req)?;
    let nh = {
        let guard = rcu::Guard::new();
        r.vxlan.get(vni, &guard)
    }
    .ok_or_else(|| req.fail(ENOENT, req.attr(A::VNI), c_str!("no such VNI")))?;
    let mut reply = req.reply(cmd::VXLAN_GET, VXLAN_MSG_SIZE)?;
    fill(reply.msg(), vni, nh)?;
    reply.send()
}

/// Every VNI in use, in order.
pub fn dump(dump: Dump<'_>) -> i32 {
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    let guard = rcu::Guard::new();
    walk(
        dump,
        cmd::VXLAN_GET,
        |at| {
            r.vxlan
                .next_used(at, &guard)
                .map(|(vni, nh)| (Some((vni, nh)), vni.saturating_add(1)))
        },
        |m, &(vni, nh)| fill(m, vni, nh),
    )
}

fn fill(m: &mut Msg, vni: u32, nh: u32) -> Result {
    m.put_u32(A::VNI, vni)?;
    m.put_u32(A::NH_ID, nh)?;
    m.put_u32(A::RID, 0)
}
