// SPDX-License-Identifier: GPL-2.0
//! VIF_NEW / VIF_DEL / VIF_GET.

use super::{core_filter, u32_attr, walk};
use crate::dp::router;
use crate::dp::vif::{stat, Vif, VifConfig, VifTable};
use crate::kapi::genl::{Dump, Msg, Reply, Request};
use crate::kapi::netdev::{Cookie, DevRef};
use crate::kapi::percpu::PerCpu;
use crate::kapi::rcu::{self, RcuBox};
use crate::kapi::rtnl::{Rtnl, RtnlGuard};
use crate::uapi::{
    cmd, vif_attr as A, vif_stats_attr as S, vif_type, VIF_FLAGS_SETTABLE, VRF_UNSET,
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::c_str;
use kernel::error::{code::*, Result};
use kernel::prelude::*;

/// Room for one vif record (attributes + nested counters) in a reply.
const VIF_MSG_SIZE: usize = 512;

fn config(req: &Request<'_>) -> Result<VifConfig> {
    let kind_attr = req
        .attr(A::TYPE)
        .ok_or_else(|| req.missing(c_str!("missing vif type")))?;
    let kind = kind_attr.u32()?;
    if vif_type::DEF.by_value(kind).is_none() {
        return Err(req.fail(EINVAL, Some(kind_attr), c_str!("unknown vif type")));
    }
    let vrf = u32_attr(req, A::VRF)?.unwrap_or(0);
    if vrf >= router(req.entry()).ok_or(ENODEV)?.params.vrfs {
        return Err(req.fail(
            ERANGE,
            req.attr(A::VRF),
            c_str!("vrf beyond the limit (vr_vrfs)"),
        ));
    }
    let flags = u32_attr(req, A::FLAGS)?.unwrap_or(0);
    if flags & !VIF_FLAGS_SETTABLE != 0 {
        return Err(req.fail(EINVAL, req.attr(A::FLAGS), c_str!("unsupported vif flags")));
    }
    let mac = match req.attr(A::MAC) {
        Some(a) => a.array::<6>()?,
        None => [0; 6],
    };
    let ip6 = match req.attr(A::IP6) {
        Some(a) => a.array::<16>()?,
        None => [0; 16],
    };
    Ok(VifConfig {
        kind,
        vrf,
        mcast_vrf: u32_attr(req, A::MCAST_VRF)?.unwrap_or(VRF_UNSET),
        mac,
        flags: AtomicU32::new(flags),
        ip: u32_attr(req, A::IP)?.unwrap_or(0),
        ip6,
        nh_id: u32_attr(req, A::NH_ID)?.unwrap_or(0),
        qos: u32_attr(req, A::QOS)?.unwrap_or(u32::MAX),
    })
}

/// The device a non-host vif attaches to, named by NAME and/or OS_IDX (which must agree).
fn resolve_device(req: &Request<'_>) -> Result<DevRef> {
    let by_name = match req.attr(A::NAME) {
        Some(a) => Some(
            DevRef::by_name(a.c_str()?)
                .ok_or_else(|| req.fail(ENODEV, Some(a), c_str!("no net_device with that name")))?,
        ),
        None => None,
    };
    let by_index = match req.attr(A::OS_IDX) {
        Some(a) => {
            let ifindex = i32::try_from(a.u32()?)
                .map_err(|_| req.fail(ERANGE, Some(a), c_str!("ifindex out of range")))?;
            Some(DevRef::by_index(ifindex).ok_or_else(|| {
                req.fail(ENODEV, Some(a), c_str!("no net_device with that ifindex"))
            })?)
        }
        None => None,
    };
    match (by_name, by_index) {
        (Some(n), Some(i)) if n.id() != i.id() => Err(req.fail(
            EINVAL,
            req.attr(A::OS_IDX),
            c_str!("name and os-idx are different devices"),
        )),
        (Some(d), _) | (None, Some(d)) => Ok(d),
        (None, None) => Err(req.missing(c_str!("missing interface name (name or os-idx)"))),
    }
}

fn pick_index(req: &Request<'_>, rtnl: &Rtnl) -> Result<u32> {
    let vifs = &router(req.entry()).ok_or(ENODEV)?.vifs;
    match u32_attr(req, A::IDX)? {
        Some(idx) if idx >= vifs.capacity() => Err(req.fail(
            ERANGE,
            req.attr(A::IDX),
            c_str!("vif index beyond the table size (vr_interfaces)"),
        )),
        Some(idx) if !vifs.is_free(idx) => {
            Err(req.fail(EEXIST, req.attr(A::IDX), c_str!("vif index in use")))
        }
        Some(idx) => Ok(idx),
        None => vifs
            .first_free(rtnl)
            .ok_or_else(|| req.fail(ENOSPC, None, c_str!("vif table full"))),
    }
}

pub fn new(req: &Request<'_>) -> Result {
    let mut cfg = config(req)?;
    // Allocate what can be allocated before taking the RTNL.
    let stats = PerCpu::new()?;
    let mut reply = req.reply(cmd::VIF_NEW, VIF_MSG_SIZE)?;

    let mut rtnl = RtnlGuard::lock();
    let vifs = &router(req.entry()).ok_or(ENODEV)?.vifs;
    let idx = pick_index(req, &rtnl)?;
    let dev = if cfg.kind == vif_type::HOST {
        let name_attr = req
            .attr(A::NAME)
            .ok_or_else(|| req.missing(c_str!("missing name for the vhost device")))?;
        let name = name_attr.c_str()?;
        if req.attr(A::MAC).is_none() {
            return Err(req.missing(c_str!("missing MAC for the vhost device")));
        }
        if DevRef::by_name(name).is_some() {
            return Err(req.fail(
                EEXIST,
                Some(name_attr),
                c_str!("a net_device with that name exists; host vifs create their own"),
            ));
        }
        DevRef::create_vhost(name, &cfg.mac, Cookie::from_index(idx), &rtnl)
            .map_err(|e| req.fail(e, Some(name_attr), c_str!("cannot create the vhost device")))?
    } else {
        let dev = resolve_device(req)?;
        if let Some(other) = vifs.find_by_dev(dev.id(), &rtnl) {
            return update_flags(req, vifs, other, &cfg, reply, &rtnl);
        }
        if !dev.is_ether() {
            return Err(req.fail(EINVAL, None, c_str!("not an Ethernet device")));
        }
        if dev.has_rx_handler() {
            return Err(req.fail(
                EBUSY,
                None,
                c_str!("device is already enslaved (bridge, bond or other rx_handler)"),
            ));
        }
        if req.attr(A::MAC).is_none() {
            cfg.mac = dev.mac();
        }
        dev
    };
    let host = cfg.kind == vif_type::HOST;
    let vif = RcuBox::new(
        Vif {
            idx,
            cfg,
            dev,
            stats,
        },
        GFP_KERNEL,
    )
    // The reply is filled before the vif is attached: after that nothing may fail.
    .and_then(|vif| fill(reply.msg(), &vif, None).map(|()| vif));
    let vif = match vif {
        Ok(v) => v,
        Err(e) => {
            // `dev` was moved into the failed allocation and dropped with it; a vhost
            // device we created must not outlive the request.
            if host {
                destroy_orphan_vhost(req, &rtnl);
            }
            return Err(e);
        }
    };
    vifs.attach(vif, &mut rtnl)
        .map_err(|e| req.fail(e, None, c_str!("cannot attach the device")))?;
    if host {
        router(req.entry())
            .ok_or(ENODEV)?
            .set_host_vif(Some(idx), &rtnl);
    }
    drop(rtnl);
    reply.send_after_change()
}

/// VIF_NEW for a device attached already: the same index (when given), type and VRF
/// change only its flags, in place; anything else is a conflict.
fn update_flags(
    req: &Request<'_>,
    vifs: &VifTable,
    idx: u32,
    cfg: &VifConfig,
    mut reply: Reply<'_>,
    rtnl: &Rtnl,
) -> Result {
    let Some(vif) = vifs.get_locked(idx, rtnl) else {
        return Err(ENOENT);
    };
    let same = req.attr(A::IDX).is_none() || u32_attr(req, A::IDX)? == Some(idx);
    if !same || vif.cfg.kind != cfg.kind || vif.cfg.vrf != cfg.vrf {
        return Err(req.fail(
            EEXIST,
            None,
            c_str!("device already attached as a vif (only its flags may change)"),
        ));
    }
    let before = vif
        .cfg
        .flags
        .swap(cfg.flags.load(Ordering::Relaxed), Ordering::Relaxed);
    if let Err(e) = fill(reply.msg(), vif, None) {
        vif.cfg.flags.store(before, Ordering::Relaxed); // a refused request changes nothing
        return Err(e);
    }
    reply.send_after_change()
}

fn destroy_orphan_vhost(req: &Request<'_>, rtnl: &Rtnl) {
    if let Some(name) = req.attr(A::NAME).and_then(|a| a.c_str().ok()) {
        if let Some(dev) = DevRef::by_name(name) {
            dev.destroy_vhost(rtnl);
        }
    }
}

/// The vif a DEL/GET request names, by IDX or NAME.
fn target(req: &Request<'_>, lookup_name: impl FnOnce(&[u8]) -> Option<u32>) -> Result<u32> {
    if let Some(idx) = u32_attr(req, A::IDX)? {
        return Ok(idx);
    }
    if let Some(a) = req.attr(A::NAME) {
        return lookup_name(a.str_bytes()?)
            .ok_or_else(|| req.fail(ENOENT, Some(a), c_str!("no vif with that name")));
    }
    Err(req.missing(c_str!("missing vif index or name")))
}

pub fn del(req: &Request<'_>) -> Result {
    let mut rtnl = RtnlGuard::lock();
    let vifs = &router(req.entry()).ok_or(ENODEV)?.vifs;
    let idx = target(req, |n| vifs.find_by_name(n, &rtnl))?;
    if idx >= vifs.capacity() {
        return Err(req.fail(
            ERANGE,
            req.attr(A::IDX),
            c_str!("vif index beyond the table size (vr_interfaces)"),
        ));
    }
    let r = router(req.entry()).ok_or(ENODEV)?;
    if r.host_vif() == Some(idx) {
        r.set_host_vif(None, &rtnl);
    }
    let retired = vifs
        .detach(idx, &mut rtnl)
        .ok_or_else(|| req.fail(ENOENT, req.attr(A::IDX), c_str!("no such vif")))?;
    retired.reclaim(); // before the RTNL is released, see VifTable::detach
    drop(rtnl);
    Ok(())
}

pub fn get(req: &Request<'_>) -> Result {
    let mut reply = req.reply(cmd::VIF_GET, VIF_MSG_SIZE)?;
    let core = core_filter(u32_attr(req, A::CORE)?);
    let r = router(req.entry()).ok_or(ENODEV)?;
    let idx = match req.attr(A::NAME) {
        Some(_) if req.attr(A::IDX).is_none() => {
            let rtnl = RtnlGuard::lock();
            target(req, |n| r.vifs.find_by_name(n, &rtnl))?
        }
        _ => target(req, |_| None)?,
    };
    if idx >= r.vifs.capacity() {
        return Err(req.fail(
            ERANGE,
            req.attr(A::IDX),
            c_str!("vif index beyond the table size (vr_interfaces)"),
        ));
    }
    {
        let guard = rcu::Guard::new();
        let vif = r
            .vifs
            .get(idx, &guard)
            .ok_or_else(|| req.fail(ENOENT, req.attr(A::IDX), c_str!("no such vif")))?;
        fill(reply.msg(), vif, core)?;
    }
    reply.send()
}

/// Every vif, by index.
pub fn dump(dump: Dump<'_>) -> i32 {
    let core = core_filter(dump.attr(A::CORE).and_then(|a| a.u32().ok()));
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    let guard = rcu::Guard::new();
    walk(
        dump,
        cmd::VIF_GET,
        |idx| (idx < r.vifs.capacity()).then(|| (r.vifs.get(idx, &guard), idx + 1)),
        |m, vif| fill(m, vif, core),
    )
}

fn fill(m: &mut Msg, vif: &Vif, core: Option<u32>) -> Result {
    let c = &vif.cfg;
    m.put_u32(A::IDX, vif.idx)?;
    m.put_u32(A::RID, 0)?;
    m.put_u32(A::TYPE, c.kind)?;
    m.put_u32(A::OS_IDX, vif.dev.ifindex() as u32)?;
    m.put_str(A::NAME, &vif.dev.name())?;
    m.put_u32(A::VRF, c.vrf)?;
    m.put_u32(A::MCAST_VRF, c.mcast_vrf)?;
    m.put_bytes(A::MAC, &c.mac)?;
    m.put_u32(A::FLAGS, c.flags.load(Ordering::Relaxed))?;
    m.put_u32(A::MTU, vif.dev.mtu())?;
    m.put_u32(A::IP, c.ip)?;
    m.put_bytes(A::IP6, &c.ip6)?;
    m.put_u32(A::NH_ID, c.nh_id)?;
    m.put_u32(A::QOS, c.qos)?;
    m.put_u32(A::REF_CNT, 1)?;
    let n = vif.counters(core);
    m.nest(A::STATS, |m| {
        m.put_u64(S::RX_PACKETS, n[stat::RX_PACKETS], S::PAD)?;
        m.put_u64(S::RX_BYTES, n[stat::RX_BYTES], S::PAD)?;
        m.put_u64(S::RX_ERRORS, n[stat::RX_ERRORS], S::PAD)?;
        m.put_u64(S::TX_PACKETS, n[stat::TX_PACKETS], S::PAD)?;
        m.put_u64(S::TX_BYTES, n[stat::TX_BYTES], S::PAD)?;
        m.put_u64(S::TX_ERRORS, n[stat::TX_ERRORS], S::PAD)?;
        m.put_u64(S::DROPS, n[stat::DROPS], S::PAD)
    })
}
