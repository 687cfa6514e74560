// SPDX-License-Identifier: GPL-2.0
//! Generic netlink command handlers. Safe Rust only: requests arrive as `kapi::genl`
//! types with their attributes already checked against the generated policies.
#![forbid(unsafe_code)]

mod flow;
mod nh;
mod rt;
mod stats;
mod vif;

use crate::kapi::genl::{Dump, Request};
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
