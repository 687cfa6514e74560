// SPDX-License-Identifier: GPL-2.0
//! Generic netlink command handlers. Safe Rust only: requests arrive as `kapi::genl`
//! types with their attributes already checked against the generated policies.
#![forbid(unsafe_code)]

mod flow;
mod mpls;
mod nh;
mod rt;
mod stats;
mod vif;
mod vxlan;

use crate::kapi::genl::{Dump, Msg, Request};
use crate::uapi::cmd;
use kernel::c_str;
use kernel::error::{code::*, Result};

pub fn doit(req: &Request<'_>) -> Result {
    match req.cmd() {
        cmd::VIF_NEW => vif::new(req),
        cmd::VIF_DEL => vif::del(req),
        cmd::VIF_GET => vif::get(req),
        cmd::NH_NEW => nh::new(req),
        cmd::NH_DEL => nh::del(req),
        cmd::NH_GET => nh::get(req),
        cmd::RT_NEW => rt::new(req),
        cmd::RT_DEL => rt::del(req),
        cmd::RT_GET => rt::get(req),
        cmd::DROPSTATS_GET => stats::drop_get(req),
        cmd::DROPSTATS_CLEAR => stats::drop_clear(req),
        cmd::VRF_STATS_GET => stats::vrf_get(req),
        cmd::INFO_GET => stats::info(req),
        cmd::FLOW_NEW => flow::new(req),
        cmd::FLOW_DEL => flow::del(req),
        cmd::FLOW_GET => flow::get(req),
        cmd::FLOW_FLUSH => flow::flush(req),
        cmd::FLOW_TABLE_GET => flow::table_get(req),
        cmd::MPLS_NEW => mpls::new(req),
        cmd::MPLS_DEL => mpls::del(req),
        cmd::MPLS_GET => mpls::get(req),
        cmd::VXLAN_NEW => vxlan::new(req),
        cmd::VXLAN_DEL => vxlan::del(req),
        cmd::VXLAN_GET => vxlan::get(req),
        _ => Err(req.fail(EINVAL, None, c_str!("unknown command"))),
    }
}

pub fn dumpit(dump: Dump<'_>) -> i32 {
    match dump.cmd() {
        cmd::VIF_GET => vif::dump(dump),
        cmd::NH_GET => nh::dump(dump),
        cmd::RT_GET => rt::dump(dump),
        cmd::VRF_STATS_GET => stats::vrf_dump(dump),
        cmd::FLOW_GET => flow::dump(dump),
        cmd::MPLS_GET => mpls::dump(dump),
        cmd::VXLAN_GET => vxlan::dump(dump),
        _ => EINVAL.to_errno(),
    }
}

/// An optional u32 attribute (its length is checked by the policy and again here).
fn u32_attr(req: &Request<'_>, id: u16) -> Result<Option<u32>> {
    match req.attr(id) {
        None => Ok(None),
        Some(a) => a
            .u32()
            .map(Some)
            .map_err(|e| req.fail(e, Some(a), c_str!("attribute has the wrong length"))),
    }
}

/// CORE attributes carry cpu + 1; 0 or absent means all CPUs.
fn core_filter(core: Option<u32>) -> Option<u32> {
    core.and_then(|c| c.checked_sub(1))
}

/// Runs one dumpit call of a resumable dump and returns what dumpit returns.
///
/// The dump's cursor is a position in the walked table. `next(at)` looks at position
/// `at`: `None` at the end of the table, else the record found there (if any) and the
/// position after it. Each record is written as one `cmd` message by `fill`; the cursor
/// moves past every position looked at, so the next call resumes where this one stopped
/// (at the record that did not fit the skb).
fn walk<T>(
    mut dump: Dump<'_>,
    cmd: u8,
    mut next: impl FnMut(u32) -> Option<(Option<T>, u32)>,
    mut fill: impl FnMut(&mut Msg, &T) -> Result,
) -> i32 {
    let mut at = (*dump.cursor()).max(0) as u32;
    let mut done = true;
    while let Some((record, after)) = next(at) {
        if let Some(record) = record {
            match dump.record(cmd, |m| fill(m, &record)) {
                Ok(true) => {}
                Ok(false) => {
                    done = false;
                    break;
                }
                Err(e) => return e.to_errno(),
            }
        }
        at = after;
        *dump.cursor() = at as _;
    }
    dump.finish(done)
}
