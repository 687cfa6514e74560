// SPDX-License-Identifier: GPL-2.0
//! FLOW_NEW / FLOW_DEL / FLOW_GET / FLOW_FLUSH / FLOW_TABLE_GET.
//!
//! Every check happens before anything changes: a refused request leaves the table as
//! it was.

use super::{u32_attr, walk};
use crate::dp::flow::{self as dpflow, counter, put_flow, RECORD_SIZE};
use crate::dp::{router, Router};
use crate::kapi::genl::{Dump, Reply, Request};
use crate::kapi::percpu;
use crate::uapi::{
    addr_family, cmd, flow_action, flow_attr as A, flow_flag, flow_table_attr as T, DROP_REASONS,
    FLOW_FLAGS_SETTABLE, FLOW_INDEX_NONE,
};
use crate::vrcore::flow::{FlowError, FlowKey, FlowView, Inserted, Setting};
use kernel::c_str;
use kernel::error::{code::*, Error, Result};
use kernel::prelude::*;
use kernel::str::CStr;

const NAT_FLAGS: u32 = flow_flag::SNAT | flow_flag::SPAT | flow_flag::DNAT | flow_flag::DPAT;

fn u16_attr(req: &Request<'_>, id: u16) -> Result<Option<u16>> {
    match req.attr(id) {
        None => Ok(None),
        Some(a) => a
            .array::<2>()
            .map(|b| Some(u16::from_ne_bytes(b)))
            .map_err(|e| req.fail(e, Some(a), c_str!("attribute has the wrong length"))),
    }
}

/// The key, when the request carries one: all of it or none of it.
fn parse_key(req: &Request<'_>) -> Result<Option<FlowKey>> {
    let parts = [A::VRF, A::FAMILY, A::PROTO, A::SRC, A::DST];
    let given = parts.iter().filter(|&&id| req.attr(id).is_some()).count();
    if given == 0 && req.attr(A::SPORT).is_none() && req.attr(A::DPORT).is_none() {
        return Ok(None);
    }
    if given != parts.len() {
        return Err(req.missing(c_str!(
            "a flow key needs vrf, family, proto, src and dst (sport/dport default to 0)"
        )));
    }
    let vrf = u32_attr(req, A::VRF)?.unwrap_or(0);
    let family = u32_attr(req, A::FAMILY)?.unwrap_or(0);
    let alen = match family {
        addr_family::INET => 4,
        addr_family::INET6 => 16,
        _ => {
            return Err(req.fail(
                EINVAL,
                req.attr(A::FAMILY),
                c_str!("family must be AF_INET or AF_INET6"),
            ))
        }
    };
    let mut key = FlowKey {
        vrf,
        family: family as u8,
        ..FlowKey::default()
    };
    let proto = req.attr(A::PROTO);
    key.proto = match proto.map(|a| a.bytes()) {
        Some(&[p]) => p,
        _ => return Err(req.fail(EINVAL, proto, c_str!("proto is one byte"))),
    };
    for (id, out, msg) in [
        (
            A::SRC,
            &mut key.src,
            c_str!("src must be 4 bytes for AF_INET, 16 for AF_INET6"),
        ),
        (
            A::DST,
            &mut key.dst,
            c_str!("dst must be 4 bytes for AF_INET, 16 for AF_INET6"),
        ),
    ] {
        let a = req.attr(id);
        let b = a.map_or(&[][..], |a| a.bytes());
        match out.get_mut(..alen) {
            Some(dst) if b.len() == alen => dst.copy_from_slice(b),
            _ => return Err(req.fail(EINVAL, a, msg)),
        }
    }
    key.sport = u16_attr(req, A::SPORT)?.unwrap_or(0);
    key.dport = u16_attr(req, A::DPORT)?.unwrap_or(0);
    Ok(Some(key))
}

/// An INDEX (and GEN) inside the table.
fn parse_target(
    req: &Request<'_>,
    r: &Router,
    need_gen: bool,
) -> Result<Option<(u32, Option<u8>)>> {
    let Some(index) = u32_attr(req, A::INDEX)? else {
        return Ok(None);
    };
    if index >= r.flows.table.capacity() {
        return Err(req.fail(
            ERANGE,
            req.attr(A::INDEX),
            c_str!("index beyond the flow table (vr_flow_entries + vr_oflow_entries)"),
        ));
    }
    let gen = match u32_attr(req, A::GEN)? {
        Some(g) => Some(
            u8::try_from(g)
                .map_err(|_| req.fail(ERANGE, req.attr(A::GEN), c_str!("gen is 0..255")))?,
        ),
        None if need_gen => {
            return Err(req.missing(c_str!(
                "gen is required with index (the generation the flow was announced with)"
            )))
        }
        None => None,
    };
    Ok(Some((index, gen)))
}

fn parse_setting(req: &Request<'_>, r: &Router, index: Option<u32>) -> Result<Setting> {
    let action =
        u32_attr(req, A::ACTION)?.ok_or_else(|| req.missing(c_str!("action is required")))?;
    match action {
        flow_action::DROP | flow_action::FORWARD | flow_action::NAT => {}
        flow_action::HOLD => {
            return Err(req.fail(
                EINVAL,
                req.attr(A::ACTION),
                c_str!("hold is set by the datapath, not by requests"),
            ))
        }
        _ => return Err(req.fail(EINVAL, req.attr(A::ACTION), c_str!("unknown flow action"))),
    }
    let flags = u32_attr(req, A::FLAGS)?.unwrap_or(0);
    if flags & !FLOW_FLAGS_SETTABLE != 0 {
        return Err(req.fail(
            EINVAL,
            req.attr(A::FLAGS),
            c_str!("only the NAT flags (SNAT, SPAT, DNAT, DPAT) may be set"),
        ));
    }
    if (action == flow_action::NAT) != (flags & NAT_FLAGS != 0) {
        return Err(req.fail(
            EINVAL,
            req.attr(A::FLAGS),
            c_str!("action nat needs NAT flags, and NAT flags need action nat"),
        ));
    }
    let drop_reason = match u32_attr(req, A::DROP_REASON)? {
        None => 0,
        Some(_) if action != flow_action::DROP => {
            return Err(req.fail(
                EINVAL,
                req.attr(A::DROP_REASON),
                c_str!("drop-reason is for action drop only"),
            ))
        }
        Some(d) if d as usize >= DROP_REASONS => {
            return Err(req.fail(
                ERANGE,
                req.attr(A::DROP_REASON),
                c_str!("unknown drop reason"),
            ))
        }
        Some(d) => d,
    };
    let rindex = u32_attr(req, A::RINDEX)?.unwrap_or(FLOW_INDEX_NONE);
    if rindex != FLOW_INDEX_NONE {
        if rindex >= r.flows.table.capacity() {
            return Err(req.fail(
                ERANGE,
                req.attr(A::RINDEX),
                c_str!("rindex beyond the flow table"),
            ));
        }
        if Some(rindex) == index {
            return Err(req.fail(
                EINVAL,
                req.attr(A::RINDEX),
                c_str!("a flow cannot be its own reverse"),
            ));
        }
        if r.flows.table.view(rindex).is_none() {
            return Err(req.fail(ENOENT, req.attr(A::RINDEX), c_str!("no flow at rindex")));
        }
    } else if action == flow_action::NAT {
        return Err(req.fail(
            EINVAL,
            req.attr(A::ACTION),
            c_str!("NAT rewrites from the reverse flow: rindex is required"),
        ));
    }
    Ok(Setting {
        action,
        drop_reason,
        flags,
        rindex,
    })
}

fn refused(req: &Request<'_>, e: FlowError) -> Error {
    let (err, attr, msg): (Error, u16, &'static CStr) = match e {
        FlowError::Full => (
            ENOSPC,
            A::INDEX,
            c_str!("flow table full (bucket and overflow area)"),
        ),
        FlowError::OutOfRange => (ERANGE, A::INDEX, c_str!("index beyond the flow table")),
        FlowError::NotFound => (ENOENT, A::INDEX, c_str!("no flow at index")),
        FlowError::Stale { .. } => (
            ENOENT,
            A::GEN,
            c_str!("the flow at index was reused: gen does not match"),
        ),
        FlowError::BadStorage => (EINVAL, A::INDEX, c_str!("flow table unusable")),
    };
    req.fail(err, req.attr(attr), msg)
}

fn reply_with(req: &Request<'_>, r: &Router, cmd: u8, v: &FlowView) -> Result {
    let mut reply = req.reply(cmd, RECORD_SIZE)?;
    put_flow(reply.msg(), &r.flows, v, percpu::seconds())?;
    reply.send()
}

pub fn new(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let target = parse_target(req, r, true)?;
    let key = parse_key(req)?;
    let set = parse_setting(req, r, target.map(|t| t.0))?;
    // Allocated before the change: after it, nothing may fail.
    let mut reply = req.reply(cmd::FLOW_NEW, RECORD_SIZE)?;
    let view = match (target, key) {
        (Some((index, gen)), key) => {
            if let Some(key) = key {
                if r.flows.table.view(index).is_some_and(|v| v.key != key) {
                    return Err(req.fail(
                        EINVAL,
                        req.attr(A::INDEX),
                        c_str!("the key does not match the flow at index"),
                    ));
                }
            }
            dpflow::set_verdict(r, index, gen.unwrap_or(0), set).map_err(|e| refused(req, e))?
        }
        (None, Some(key)) => match dpflow::add(r, &key, set).map_err(|e| refused(req, e))? {
            // An entry this request just made can be gone already (evicted, or deleted
            // by another request): the reply then says nothing, the change was made.
            Inserted::New { index, .. } => match r.flows.table.view(index) {
                Some(v) => v,
                None => return reply_lost(reply),
            },
            Inserted::Exists { .. } => {
                return Err(req.fail(EEXIST, None, c_str!("a flow with this key exists")))
            }
        },
        (None, None) => {
            return Err(req.missing(c_str!(
                "index and gen (a verdict) or a key (a new flow) is required"
            )))
        }
    };
    match put_flow(reply.msg(), &r.flows, &view, percpu::seconds()) {
        Ok(()) => reply.send_after_change(),
        Err(_) => reply_lost(reply),
    }
}

/// A request whose change was made but whose reply cannot be: it still succeeded.
fn reply_lost(reply: Reply<'_>) -> Result {
    drop(reply);
    pr_warn!("flow: reply to a completed change lost\n");
    Ok(())
}

pub fn del(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let (index, gen) =
        parse_target(req, r, false)?.ok_or_else(|| req.missing(c_str!("index is required")))?;
    dpflow::remove(r, index, gen).map_err(|e| refused(req, e))?;
    Ok(())
}

pub fn get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let view = match (parse_target(req, r, false)?, parse_key(req)?) {
        (Some((index, gen)), _) => {
            let v =
                r.flows.table.view(index).ok_or_else(|| {
                    req.fail(ENOENT, req.attr(A::INDEX), c_str!("no flow at index"))
                })?;
            if gen.is_some_and(|g| g != v.verdict.gen) {
                return Err(refused(
                    req,
                    FlowError::Stale {
                        current: v.verdict.gen,
                    },
                ));
            }
            v
        }
        (None, Some(key)) => r
            .flows
            .table
            .lookup(&key)
            .and_then(|(index, _, _)| r.flows.table.view(index))
            .ok_or_else(|| req.fail(ENOENT, None, c_str!("no flow with this key")))?,
        (None, None) => return Err(req.missing(c_str!("index or a key is required (or dump)"))),
    };
    reply_with(req, r, cmd::FLOW_GET, &view)
}

/// Every used entry, by index.
pub fn dump(dump: Dump<'_>) -> i32 {
    let Some(r) = router(dump.entry()) else {
        return ENODEV.to_errno();
    };
    let now = percpu::seconds();
    walk(
        dump,
        cmd::FLOW_GET,
        |at| {
            let v = r.flows.table.next_used(at)?;
            let after = v.index.saturating_add(1);
            Some((Some(v), after))
        },
        |m, v| put_flow(m, &r.flows, v, now),
    )
}

pub fn flush(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let _ = req;
    dpflow::flush(r);
    Ok(())
}

pub fn table_get(req: &Request<'_>) -> Result {
    let r = router(req.entry()).ok_or(ENODEV)?;
    let f = &r.flows;
    let c = &f.counters;
    let mut reply = req.reply(cmd::FLOW_TABLE_GET, 512 + 8 * c.cpus())?;
    let m = reply.msg();
    m.put_u32(T::ENTRIES, f.table.main_entries())?;
    m.put_u32(T::OFLOW_ENTRIES, f.table.oflow_entries())?;
    m.put_u32(
        T::ENTRY_SIZE,
        core::mem::size_of::<crate::vrcore::flow::FlowEntry>() as u32,
    )?;
    m.put_u32(T::HOLD_LIMIT, f.hold_limit())?;
    m.put_u32(T::USED, f.table.used())?;
    m.put_u32(T::HOLD, f.holding())?;
    m.put_u32(T::OFLOW_USED, f.table.oflow_used())?;
    for (attr, which) in [
        (T::CREATED, counter::CREATED),
        (T::ADDED, counter::ADDED),
        (T::DELETED, counter::DELETED),
        (T::CHANGED, counter::CHANGED),
        (T::EVICTED, counter::EVICTED),
        (T::MISSES, counter::MISSES),
    ] {
        m.put_u64(attr, c.sum(which, None), T::PAD)?;
    }
    let mut per_cpu = KVec::with_capacity(c.cpus() * 8, GFP_KERNEL)?;
    for cpu in 0..c.cpus() {
        let n = c
            .cpu(cpu)
            .and_then(|v| v.get(counter::CREATED))
            .map_or(0, |x| x.read());
        per_cpu.extend_from_slice(&n.to_ne_bytes(), GFP_KERNEL)?;
    }
    m.put_bytes(T::CREATED_PER_CPU, &per_cpu)?;
    reply.send()
}
