// SPDX-License-Identifier: GPL-2.0
//! DROPSTATS_GET / DROPSTATS_CLEAR, VRF_STATS_GET (+dump), INFO_GET.

use super::{core_filter, u32_attr, walk};
use crate::dp::{router, Router};
use crate::kapi::genl::{Dump, Msg, Request};
use crate::kapi::rcu;
use crate::kapi::rtnl::RtnlGuard;
use crate::uapi::{
    cmd, drop_stats_attr as D, info_attr as I, vrf_stats_attr as V, DROP_REASONS, RELEASE,
    VRF_STATS,
};
use kernel::c_str;
use kernel::error::{code::*, Result};

fn put_u64_array(m: &mut Msg, id: u16, values: &[u64]) -> Result {
    // The largest array is the drop reasons'; a fixed buffer keeps this off the heap.
    let mut buf = [0u8; 8 * DROP_REASONS];
    let len = values
        .len()
        .checked_mul(8)
        .filter(|&l| l <= buf.len())
        .ok_or(EINVAL)?;
    let mut at = 0;
    for v in values {
        let Some(dst) = buf.get_mut(at..at + 8) else {
            break;
        };
        dst.copy_from_slice(&v.to_ne_bytes());
        at += 8;
    }
    m.put_bytes(id, buf.get(..len).unwrap_or(&[]))
}

fn cpu_of(req: &Request<'_>, id: u16, r: &Router) -> Result<Option<u32>> {
    let cpu = core_filter(u32_attr(req, id)?);
    if cpu.is_some_and(|c| c as usize >= r.stats.drops.cpus()) {
        return Err(req.fail(ERANGE, req.attr(id), c_str!("no such CPU")));
    }
    Ok(cpu)
}

pub fn drop_get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let cpu = cpu_of(req, D::CORE, r)?;
    let mut reply = req.reply(cmd::DROPSTATS_GET, 8 * DROP_REASONS + 64)?;
    let m = reply.msg();
    put_u64_array(m, D::COUNTERS, &r.stats.drop_counters(cpu))?;
    m.put_u32(D::CPUS, r.stats.drops.cpus() as u32)?;
    if let Some(c) = cpu {
        m.put_u32(D::CORE, c + 1)?;
    }
    reply.send()
}

pub fn drop_clear(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    r.stats.drops.reset_all();
    Ok(())
}

fn fill_vrf(m: &mut Msg, r: &Router, vrf: u32, cpu: Option<u32>) -> Result {
    m.put_u32(V::VRF, vrf)?;
    if let Some(c) = cpu {
        m.put_u32(V::CORE, c + 1)?;
    }
    put_u64_array(m, V::COUNTERS, &r.stats.vrf_counters(vrf, cpu))
}

pub fn vrf_get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let cpu = cpu_of(req, V::CORE, r)?;
    let vrf = u32_attr(req, V::VRF)?.ok_or_else(|| req.missing(c_str!("missing vrf")))?;
    if vrf >= r.params.vrfs {
        return Err(req.fail(
            ERANGE,
            req.attr(V::VRF),
            c_str!("vrf beyond the limit (vr_vrfs)"),
        ));
    }
    let mut reply = req.reply(cmd::VRF_STATS_GET, 8 * VRF_STATS + 64)?;
    fill_vrf(reply.msg(), r, vrf, cpu)?;
    reply.send()
}

/// Dumps every VRF that has routes or a non-zero counter.
pub fn vrf_dump(dump: Dump<'_>) -> i32 {
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    let cpu = core_filter(dump.attr(V::CORE).and_then(|a| a.u32().ok()));
    walk(
        dump,
        cmd::VRF_STATS_GET,
        |vrf| {
            if vrf >= r.params.vrfs {
                return None;
            }
            let active =
                r.vrf_in_use(vrf) || r.stats.vrf_counters(vrf, cpu).iter().any(|&c| c != 0);
            Some((active.then_some(vrf), vrf + 1))
        },
        |m, &vrf| fill_vrf(m, r, vrf, cpu),
    )
}

pub fn info(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let mut reply = req.reply(cmd::INFO_GET, 512)?;
    let usage = {
        let rtnl = RtnlGuard::lock();
        r.route_writer
            .with(&rtnl, |w| r.routes.usage(w))
            .ok_or(EBUSY)?
    };
    let (vifs, nhs, vnis) = {
        let guard = rcu::Guard::new();
        (
            r.vifs.used(&guard),
            r.nhs.used(&guard),
            r.vxlan.used(&guard),
        )
    };
    let m = reply.msg();
    m.put_str(I::VERSION, RELEASE.as_bytes())?;
    m.put_u32(I::INTERFACES, r.params.interfaces)?;
    m.put_u32(I::VRFS, r.params.vrfs)?;
    m.put_u32(I::NEXTHOPS, r.params.nexthops)?;
    m.put_u32(I::ROUTES, r.params.routes)?;
    m.put_u32(I::RT_BUCKETS, r.params.rt_buckets)?;
    m.put_u32(I::VIFS_USED, vifs)?;
    m.put_u32(I::NEXTHOPS_USED, nhs)?;
    m.put_u32(I::ROUTES_V4, usage.routes_v4)?;
    m.put_u32(I::ROUTES_V6, usage.routes_v6)?;
    m.put_u32(I::RT_BUCKETS_USED, usage.buckets_used)?;
    m.put_u32(I::CPUS, r.stats.drops.cpus() as u32)?;
    m.put_u32(I::RT_INCONSISTENT, usage.corrupt)?;
    m.put_u32(I::MPLS_LABELS, r.mpls.capacity())?;
    m.put_u32(I::MPLS_LABELS_USED, r.mpls.used())?;
    m.put_u32(I::VXLAN_VNIS_USED, vnis)?;
    reply.send()
}
