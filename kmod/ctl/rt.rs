// SPDX-License-Identifier: GPL-2.0
//! RT_NEW / RT_DEL / RT_GET (+dump). Route changes are announced on the `config` group.

use super::{u32_attr, walk};
use crate::dp::{route, router, Router};
use crate::kapi::genl::{Dump, Msg, Notification, Request};
use crate::kapi::rtnl::{Rtnl, RtnlGuard};
use crate::uapi::{addr_family, cmd, rt_attr as A, rt_flag};
use crate::vrcore::route::{Family, Match, Prefix, RouteData, RouteError, Writer};
use kernel::c_str;
use kernel::error::{code::*, Error, Result};
use kernel::prelude::*;

/// Room for one route record.
const RT_MSG_SIZE: usize = 160;
/// Group index of `config` (order of MCAST_GROUPS).
const MCGRP_CONFIG: u32 = 0;
/// Labels are MPLS labels (20 bits) or VXLAN VNIs (24 bits).
const LABEL_MAX: u32 = (1 << 24) - 1;
const RT_FLAGS_ALL: u32 =
    rt_flag::LABEL_VALID | rt_flag::PROXY_ARP | rt_flag::TRAP_ARP | rt_flag::FLOOD_ARP;

fn vrf_of(req: &Request<'_>, r: &Router) -> Result<u32> {
    let vrf = u32_attr(req, A::VRF)?.ok_or_else(|| req.missing(c_str!("missing vrf")))?;
    if vrf >= r.params.vrfs {
        return Err(req.fail(
            ERANGE,
            req.attr(A::VRF),
            c_str!("vrf beyond the limit (vr_vrfs)"),
        ));
    }
    Ok(vrf)
}

/// The prefix of a request: PREFIX (4 or 16 bytes) and PREFIX_LEN, FAMILY optional but
/// must agree with the address length.
fn prefix_of(req: &Request<'_>) -> Result<Prefix> {
    let a = req
        .attr(A::PREFIX)
        .ok_or_else(|| req.missing(c_str!("missing prefix")))?;
    let family = match a.bytes().len() {
        4 => Family::Inet,
        16 => Family::Inet6,
        _ => {
            return Err(req.fail(
                EINVAL,
                Some(a),
                c_str!("prefix must be 4 bytes (AF_INET) or 16 bytes (AF_INET6)"),
            ))
        }
    };
    if let Some(f) = u32_attr(req, A::FAMILY)? {
        let want = if family == Family::Inet {
            addr_family::INET
        } else {
            addr_family::INET6
        };
        if f != want {
            return Err(req.fail(
                EINVAL,
                req.attr(A::FAMILY),
                c_str!("family does not match the prefix length"),
            ));
        }
    }
    let len = u32_attr(req, A::PREFIX_LEN)?
        .ok_or_else(|| req.missing(c_str!("missing prefix length")))?;
    let max = if family == Family::Inet { 32 } else { 128 };
    if len > max {
        let msg = if family == Family::Inet {
            c_str!("prefix length beyond 32")
        } else {
            c_str!("prefix length beyond 128")
        };
        return Err(req.fail(ERANGE, req.attr(A::PREFIX_LEN), msg));
    }
    Prefix::new(family, a.bytes(), len as u8).map_err(|e| route_error(req, e))
}

fn route_error(req: &Request<'_>, e: RouteError) -> Error {
    match e {
        RouteError::VrfOutOfRange => req.fail(
            ERANGE,
            req.attr(A::VRF),
            c_str!("vrf beyond the limit (vr_vrfs)"),
        ),
        RouteError::BadFamily => req.fail(
            EINVAL,
            req.attr(A::FAMILY),
            c_str!("unknown address family"),
        ),
        RouteError::BadLength => req.fail(
            ERANGE,
            req.attr(A::PREFIX_LEN),
            c_str!("bad prefix or prefix length"),
        ),
        RouteError::HostBitsSet => req.fail(
            EINVAL,
            req.attr(A::PREFIX),
            c_str!("prefix has bits set beyond its length"),
        ),
        RouteError::NotFound => req.fail(ENOENT, req.attr(A::PREFIX), c_str!("no such route")),
        RouteError::NoRouteSpace => req.fail(ENOSPC, None, c_str!("route table full (vr_routes)")),
        RouteError::NoNodeSpace => req.fail(
            ENOSPC,
            None,
            c_str!("route table buckets exhausted (vr_rt_buckets)"),
        ),
        RouteError::BadStorage => {
            // Never expected: the table held an impossible state (counted in INFO_GET's
            // RT_INCONSISTENT). Loud in the log, refused without a change.
            pr_err!("route table storage error: request refused, nothing changed\n");
            req.fail(EINVAL, None, c_str!("route table storage error"))
        }
    }
}

fn writer<R>(r: &Router, rtnl: &Rtnl, f: impl FnOnce(&mut Writer) -> R) -> Result<R> {
    r.route_writer.with(rtnl, f).ok_or(EBUSY)
}

pub fn new(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let vrf = vrf_of(req, r)?;
    let prefix = prefix_of(req)?;
    let nh = u32_attr(req, A::NH_ID)?.ok_or_else(|| req.missing(c_str!("missing nexthop id")))?;
    let mut flags = u32_attr(req, A::FLAGS)?.unwrap_or(0);
    if flags & !RT_FLAGS_ALL != 0 {
        return Err(req.fail(EINVAL, req.attr(A::FLAGS), c_str!("unknown route flags")));
    }
    let label = match u32_attr(req, A::LABEL)? {
        Some(l) if l > LABEL_MAX => {
            return Err(req.fail(ERANGE, req.attr(A::LABEL), c_str!("label beyond 24 bits")))
        }
        Some(l) => {
            flags |= rt_flag::LABEL_VALID;
            l
        }
        None => {
            flags &= !rt_flag::LABEL_VALID;
            0
        }
    };
    let mac = match req.attr(A::MAC) {
        Some(a) => a.array::<6>()?,
        None => [0; 6],
    };
    let data = RouteData {
        nh,
        label,
        flags,
        mac,
    };
    let rtnl = RtnlGuard::lock();
    if r.nhs.get_locked(nh, &rtnl).is_none() {
        return Err(req.fail(ENOENT, req.attr(A::NH_ID), c_str!("no such nexthop")));
    }
    let old = writer(r, &rtnl, |w| {
        r.routes.add(w, vrf, &prefix, data, &mut route::grace)
    })?
    .map_err(|e| route_error(req, e))?;
    r.nhs.hold(nh, &rtnl);
    match old {
        Some(old) => r.nhs.put(old.nh, &rtnl),
        None => r.count_vrf_route(vrf, true, &rtnl),
    }
    announce(r, &rtnl, cmd::RT_NEW, vrf, &Match { prefix, data });
    Ok(())
}

pub fn del(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let vrf = vrf_of(req, r)?;
    let prefix = prefix_of(req)?;
    let rtnl = RtnlGuard::lock();
    let old = writer(r, &rtnl, |w| {
        r.routes.delete(w, vrf, &prefix, &mut route::grace)
    })?
    .map_err(|e| route_error(req, e))?;
    r.nhs.put(old.nh, &rtnl);
    r.count_vrf_route(vrf, false, &rtnl);
    announce(r, &rtnl, cmd::RT_DEL, vrf, &Match { prefix, data: old });
    Ok(())
}

/// Tells `config` listeners (`vrctl rt --monitor`) about a route change.
fn announce(r: &Router, rtnl: &Rtnl, cmd: u8, vrf: u32, m: &Match) {
    let Some(mut n) = Notification::new(MCGRP_CONFIG, cmd, RT_MSG_SIZE) else {
        return;
    };
    let parent = writer(r, rtnl, |w| r.routes.parent_len(w, vrf, &m.prefix))
        .ok()
        .flatten();
    if fill(n.msg(), vrf, m, parent).is_ok() {
        n.send();
    }
}

/// Longest-prefix match: the route that carries prefix/prefix-len's traffic.
pub fn get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let vrf = vrf_of(req, r)?;
    let prefix = prefix_of(req)?;
    let mut reply = req.reply(cmd::RT_GET, RT_MSG_SIZE)?;
    let rtnl = RtnlGuard::lock();
    let m = r
        .routes
        .lookup_prefix(vrf, &prefix)
        .ok_or_else(|| req.fail(ENOENT, req.attr(A::PREFIX), c_str!("no route matches")))?;
    let parent = writer(r, &rtnl, |w| r.routes.parent_len(w, vrf, &m.prefix))?;
    drop(rtnl);
    fill(reply.msg(), vrf, &m, parent)?;
    reply.send()
}

/// Every route of one VRF and family (both attributes required), in storage order.
pub fn dump(dump: Dump<'_>) -> i32 {
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    let Some(vrf) = dump.attr(A::VRF).and_then(|a| a.u32().ok()) else {
        return EINVAL.to_errno();
    };
    if vrf >= r.params.vrfs {
        return ERANGE.to_errno();
    }
    let family = match dump.attr(A::FAMILY).and_then(|a| a.u32().ok()) {
        None | Some(addr_family::INET) => Family::Inet,
        Some(addr_family::INET6) => Family::Inet6,
        Some(_) => return EINVAL.to_errno(),
    };
    let rtnl = RtnlGuard::lock();
    walk(
        dump,
        cmd::RT_GET,
        |cursor| {
            let found = writer(r, &rtnl, |w| {
                let (next, m) = r.routes.next_route(w, vrf, family, cursor)?;
                Some((next, m, r.routes.parent_len(w, vrf, &m.prefix)))
            });
            let (next, m, parent) = found.ok().flatten()?;
            Some((Some((m, parent)), next))
        },
        |msg, (m, parent)| fill(msg, vrf, m, *parent),
    )
}

fn fill(m: &mut Msg, vrf: u32, route: &Match, parent: Option<u8>) -> Result {
    let p = &route.prefix;
    let (family, len) = match p.family {
        Family::Inet => (addr_family::INET, 4),
        Family::Inet6 => (addr_family::INET6, 16),
    };
    m.put_u32(A::VRF, vrf)?;
    m.put_u32(A::FAMILY, family)?;
    m.put_bytes(A::PREFIX, p.addr.get(..len).unwrap_or(&[]))?;
    m.put_u32(A::PREFIX_LEN, u32::from(p.len))?;
    m.put_u32(A::NH_ID, route.data.nh)?;
    m.put_u32(A::FLAGS, route.data.flags)?;
    if route.data.flags & rt_flag::LABEL_VALID != 0 {
        m.put_u32(A::LABEL, route.data.label)?;
    }
    if route.data.mac != [0; 6] {
        m.put_bytes(A::MAC, &route.data.mac)?;
    }
    m.put_u32(A::PARENT_LEN, parent.map_or(0, u32::from))
}
