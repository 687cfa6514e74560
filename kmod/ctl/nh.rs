// SPDX-License-Identifier: GPL-2.0
//! NH_NEW / NH_DEL / NH_GET.

use super::{u32_attr, walk};
use crate::dp::router;
use crate::kapi::genl::{Dump, Msg, Request};
use crate::kapi::rcu::{self, RcuBox};
use crate::kapi::rtnl::RtnlGuard;
use crate::uapi::{
    addr_family, cmd, nh_attr as A, nh_type, COMPOSITE_MAX, ENCAP_MAX, NH_FLAGS_SETTABLE,
};
use crate::vrcore::nexthop::{self, Nexthop, NhError};
use kernel::c_str;
use kernel::error::{code::*, Error, Result};
use kernel::prelude::*;
use kernel::str::CStr;

/// Room for one nexthop record (up to 64 members and labels).
const NH_MSG_SIZE: usize = 1024;

fn nh_error(e: NhError) -> (Error, u16, &'static CStr) {
    match e {
        NhError::Reserved => (
            EINVAL,
            A::ID,
            c_str!("nexthop 0 is the discard nexthop; it cannot be changed or deleted"),
        ),
        NhError::UnknownType => (EINVAL, A::TYPE, c_str!("unknown nexthop type")),
        NhError::MissingOif => (EINVAL, A::OIF, c_str!("missing oif (outgoing vif)")),
        NhError::NoSuchVif => (ENOENT, A::OIF, c_str!("no vif with that index (oif)")),
        NhError::EncapLength => (
            EINVAL,
            A::ENCAP,
            c_str!("encap data must be an Ethernet header: 14 bytes, or 18 with an 802.1Q tag"),
        ),
        NhError::EncapTooLong => (
            ERANGE,
            A::ENCAP,
            c_str!("encap data too long (at most 18 bytes)"),
        ),
        NhError::NoMembers => (
            EINVAL,
            A::MEMBERS,
            c_str!("composite nexthop without members"),
        ),
        NhError::TooManyMembers => (
            ERANGE,
            A::MEMBERS,
            c_str!("too many composite members (at most 64)"),
        ),
        NhError::LabelCount => (
            EINVAL,
            A::LABELS,
            c_str!("more labels than composite members"),
        ),
        NhError::NoSuchMember => (
            ENOENT,
            A::MEMBERS,
            c_str!("composite member nexthop does not exist"),
        ),
        NhError::NestedComposite => (
            EINVAL,
            A::MEMBERS,
            c_str!("a composite cannot contain itself or another composite"),
        ),
        NhError::MemberOfComposite => (
            EINVAL,
            A::TYPE,
            c_str!("nexthop is a composite member and composites cannot nest"),
        ),
        NhError::UnsupportedFlags => (EINVAL, A::FLAGS, c_str!("unsupported nexthop flags")),
        NhError::TunnelFlags => (
            EINVAL,
            A::FLAGS,
            c_str!("a tunnel nexthop needs exactly one of the flags MPLSoGRE, MPLSoUDP, VXLAN"),
        ),
        NhError::TunnelFlagsOnOtherType => (
            EINVAL,
            A::FLAGS,
            c_str!("tunnel flags (MPLSoGRE, MPLSoUDP, VXLAN) on a nexthop that is not a tunnel"),
        ),
        NhError::MissingTunnelAddress => (
            EINVAL,
            A::TUN_DIP,
            c_str!("a tunnel nexthop needs tun-sip and tun-dip"),
        ),
        NhError::TunnelAddressLength => (
            EINVAL,
            A::TUN_SIP,
            c_str!("tunnel addresses must be 4 bytes for AF_INET, 16 for AF_INET6 (the nexthop's family)"),
        ),
    }
}

fn fail(req: &Request<'_>, e: NhError) -> Error {
    let (err, attr, msg) = nh_error(e);
    req.fail(err, req.attr(attr), msg)
}

/// The nexthop a NEW request describes (not yet checked against the tables).
fn parse(req: &Request<'_>, capacity: u32, vrfs: u32) -> Result<Nexthop> {
    let id = u32_attr(req, A::ID)?.ok_or_else(|| req.missing(c_str!("missing nexthop id")))?;
    if id >= capacity {
        return Err(req.fail(
            ERANGE,
            req.attr(A::ID),
            c_str!("nexthop id beyond the table size (vr_nexthops)"),
        ));
    }
    let kind =
        u32_attr(req, A::TYPE)?.ok_or_else(|| req.missing(c_str!("missing nexthop type")))?;
    let family = u32_attr(req, A::FAMILY)?.unwrap_or(addr_family::INET);
    if family != addr_family::INET && family != addr_family::INET6 {
        return Err(req.fail(
            EINVAL,
            req.attr(A::FAMILY),
            c_str!("family must be AF_INET or AF_INET6"),
        ));
    }
    let flags = u32_attr(req, A::FLAGS)?.unwrap_or(0);
    if flags & !NH_FLAGS_SETTABLE != 0 {
        return Err(fail(req, NhError::UnsupportedFlags));
    }
    let vrf = u32_attr(req, A::VRF)?.unwrap_or(0);
    if vrf >= vrfs {
        return Err(req.fail(
            ERANGE,
            req.attr(A::VRF),
            c_str!("vrf beyond the limit (vr_vrfs)"),
        ));
    }
    let needs_oif = matches!(
        kind,
        nh_type::ENCAP | nh_type::RECEIVE | nh_type::L2_RECEIVE | nh_type::TUNNEL
    );
    let oif = match u32_attr(req, A::OIF)? {
        Some(v) => v,
        None if needs_oif => return Err(fail(req, NhError::MissingOif)),
        None => 0,
    };
    let mut nh = Nexthop::new(id, kind, family, flags, vrf, oif);
    if let Some(a) = req.attr(A::ENCAP) {
        if a.bytes().len() > ENCAP_MAX {
            return Err(fail(req, NhError::EncapTooLong));
        }
        nh.set_encap(a.bytes()).map_err(|e| fail(req, e))?;
    } else if kind == nh_type::ENCAP {
        return Err(req.missing(c_str!("missing encap data for an encap nexthop")));
    }
    match (req.attr(A::TUN_SIP), req.attr(A::TUN_DIP)) {
        (Some(sip), Some(dip)) if kind == nh_type::TUNNEL => {
            nh.set_tunnel(sip.bytes(), dip.bytes()).map_err(|e| {
                let (err, _, msg) = nh_error(e);
                // point at the address whose length is wrong
                let bad = if nh_family_len(family) == Some(sip.bytes().len()) {
                    dip
                } else {
                    sip
                };
                req.fail(err, Some(bad), msg)
            })?;
        }
        (None, _) if kind == nh_type::TUNNEL => {
            return Err(req.missing(c_str!("missing tunnel source address (tun-sip)")))
        }
        (_, None) if kind == nh_type::TUNNEL => {
            return Err(req.missing(c_str!("missing tunnel destination address (tun-dip)")))
        }
        (None, None) => {}
        (sip, dip) => {
            return Err(req.fail(
                EINVAL,
                sip.or(dip),
                c_str!("tunnel addresses on a nexthop that is not a tunnel"),
            ))
        }
    }
    if let Some(m) = req.attr(A::MEMBERS) {
        let members = m
            .u32_array()
            .map_err(|e| req.fail(e, Some(m), c_str!("members must be u32 values")))?;
        if m.bytes().len() / 4 > COMPOSITE_MAX {
            return Err(fail(req, NhError::TooManyMembers));
        }
        let labels = match req.attr(A::LABELS) {
            Some(l) => Some(
                l.u32_array()
                    .map_err(|e| req.fail(e, Some(l), c_str!("labels must be u32 values")))?,
            ),
            None => None,
        };
        nh.set_members(members, labels.into_iter().flatten())
            .map_err(|e| fail(req, e))?;
    }
    Ok(nh)
}

/// Address length of a tunnel of `family`.
fn nh_family_len(family: u32) -> Option<usize> {
    match family {
        addr_family::INET => Some(4),
        addr_family::INET6 => Some(16),
        _ => None,
    }
}

pub fn new(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let nh = RcuBox::new(parse(req, r.nhs.capacity(), r.params.vrfs)?, GFP_KERNEL)?;
    let mut reply = req.reply(cmd::NH_NEW, NH_MSG_SIZE)?;
    let mut rtnl = RtnlGuard::lock();
    nexthop::validate(&nh, &r.nhs.locked(&rtnl), |v| {
        r.vifs.get_locked(v, &rtnl).is_some()
    })
    .map_err(|e| fail(req, e))?;
    // Everything that can fail happens before the change is published (publishing keeps
    // the references routes and composites hold on this id).
    fill(reply.msg(), &nh, r.nhs.ref_count(nh.id))?;
    let old = r.nhs.publish(nh, &mut rtnl)?;
    drop(rtnl);
    if let Some(old) = old {
        old.reclaim();
    }
    reply.send_after_change()
}

pub fn del(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let id = u32_attr(req, A::ID)?.ok_or_else(|| req.missing(c_str!("missing nexthop id")))?;
    if id == 0 {
        return Err(fail(req, NhError::Reserved));
    }
    let mut rtnl = RtnlGuard::lock();
    let old = r.nhs.remove(id, &mut rtnl).map_err(|e| {
        let msg = if e == EBUSY {
            c_str!("nexthop in use by routes, composites, MPLS labels or VXLAN VNIs")
        } else if e == ERANGE {
            c_str!("nexthop id beyond the table size (vr_nexthops)")
        } else {
            c_str!("no such nexthop")
        };
        req.fail(e, req.attr(A::ID), msg)
    })?;
    drop(rtnl);
    old.reclaim();
    Ok(())
}

pub fn get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let id = u32_attr(req, A::ID)?.ok_or_else(|| req.missing(c_str!("missing nexthop id")))?;
    if id >= r.nhs.capacity() {
        return Err(req.fail(
            ERANGE,
            req.attr(A::ID),
            c_str!("nexthop id beyond the table size (vr_nexthops)"),
        ));
    }
    let mut reply = req.reply(cmd::NH_GET, NH_MSG_SIZE)?;
    {
        let guard = rcu::Guard::new();
        let nh = r
            .nhs
            .get(id, &guard)
            .ok_or_else(|| req.fail(ENOENT, req.attr(A::ID), c_str!("no such nexthop")))?;
        fill(reply.msg(), nh, r.nhs.ref_count(id))?;
    }
    reply.send()
}

/// Every nexthop, by id.
pub fn dump(dump: Dump<'_>) -> i32 {
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    let guard = rcu::Guard::new();
    walk(
        dump,
        cmd::NH_GET,
        |id| (id < r.nhs.capacity()).then(|| (r.nhs.get(id, &guard).map(|nh| (id, nh)), id + 1)),
        |m, &(id, nh)| fill(m, nh, r.nhs.ref_count(id)),
    )
}

fn fill(m: &mut Msg, nh: &Nexthop, refs: u32) -> Result {
    m.put_u32(A::ID, nh.id)?;
    m.put_u32(A::TYPE, nh.kind)?;
    m.put_u32(A::FAMILY, nh.family)?;
    m.put_u32(A::FLAGS, nh.flags)?;
    m.put_u32(A::VRF, nh.vrf)?;
    m.put_u32(A::RID, 0)?;
    // The discard nexthop counts one reference for being always present, as in TF.
    m.put_u32(A::REF_CNT, refs.saturating_add(1))?;
    if matches!(
        nh.kind,
        nh_type::ENCAP | nh_type::RECEIVE | nh_type::L2_RECEIVE | nh_type::TUNNEL
    ) {
        m.put_u32(A::OIF, nh.oif)?;
    }
    if !nh.tun_sip().is_empty() {
        m.put_bytes(A::TUN_SIP, nh.tun_sip())?;
        m.put_bytes(A::TUN_DIP, nh.tun_dip())?;
    }
    if !nh.encap().is_empty() {
        m.put_bytes(A::ENCAP, nh.encap())?;
    }
    if !nh.members().is_empty() {
        put_u32_array(m, A::MEMBERS, nh.members())?;
        put_u32_array(m, A::LABELS, nh.labels())?;
    }
    Ok(())
}

fn put_u32_array(m: &mut Msg, id: u16, values: &[u32]) -> Result {
    let mut buf = [0u8; 4 * COMPOSITE_MAX];
    let mut at = 0;
    for v in values {
        let Some(dst) = buf.get_mut(at..at + 4) else {
            break;
        };
        dst.copy_from_slice(&v.to_ne_bytes());
        at += 4;
    }
    let len = (values.len() * 4).min(buf.len());
    m.put_bytes(id, buf.get(..len).unwrap_or(&[]))
}
