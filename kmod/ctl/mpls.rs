// SPDX-License-Identifier: GPL-2.0
//! MPLS_NEW / MPLS_DEL / MPLS_GET: the MPLS input label table.

use super::{u32_attr, walk};
use crate::dp::{router, Router};
use crate::kapi::genl::{Dump, Msg, Request};
use crate::kapi::rtnl::RtnlGuard;
use crate::uapi::{cmd, mpls_attr as A};
use crate::vrcore::overlay::check_label;
use kernel::c_str;
use kernel::error::{code::*, Result};

/// Room for one label record.
const MPLS_MSG_SIZE: usize = 64;

/// The LABEL attribute, checked against the table size.
fn label(req: &Request<'_>, r: &Router) -> Result<u32> {
    let label = u32_attr(req, A::LABEL)?.ok_or_else(|| req.missing(c_str!("missing label")))?;
    check_label(label, r.mpls.capacity()).map_err(|_| {
        req.fail(
            ERANGE,
            req.attr(A::LABEL),
            c_str!("label beyond the table size (vr_mpls_labels)"),
        )
    })
}

pub fn new(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let label = label(req, r)?;
    let nh = u32_attr(req, A::NH_ID)?.ok_or_else(|| req.missing(c_str!("missing nexthop id")))?;
    // Everything that can fail happens before the change.
    let mut reply = req.reply(cmd::MPLS_NEW, MPLS_MSG_SIZE)?;
    fill(reply.msg(), label, nh)?;
    let rtnl = RtnlGuard::lock();
    if r.nhs.get_locked(nh, &rtnl).is_none() {
        return Err(req.fail(ENOENT, req.attr(A::NH_ID), c_str!("no such nexthop")));
    }
    r.mpls.set(label, nh, &r.nhs, &rtnl)?;
    drop(rtnl);
    reply.send_after_change()
}

pub fn del(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let label = label(req, r)?;
    let rtnl = RtnlGuard::lock();
    r.mpls
        .remove(label, &r.nhs, &rtnl)
        .map_err(|e| req.fail(e, req.attr(A::LABEL), c_str!("no such label")))?;
    Ok(())
}

pub fn get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let label = label(req, r)?;
    let nh = r
        .mpls
        .get(label)
        .ok_or_else(|| req.fail(ENOENT, req.attr(A::LABEL), c_str!("no such label")))?;
    let mut reply = req.reply(cmd::MPLS_GET, MPLS_MSG_SIZE)?;
    fill(reply.msg(), label, nh)?;
    reply.send()
}

/// Every label in use, in order.
pub fn dump(dump: Dump<'_>) -> i32 {
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    walk(
        dump,
        cmd::MPLS_GET,
        |at| {
            r.mpls
                .next_used(at)
                .map(|(label, nh)| (Some((label, nh)), label.saturating_add(1)))
        },
        |m, &(label, nh)| fill(m, label, nh),
    )
}

fn fill(m: &mut Msg, label: u32, nh: u32) -> Result {
    m.put_u32(A::LABEL, label)?;
    m.put_u32(A::NH_ID, nh)?;
    m.put_u32(A::RID, 0)
}
