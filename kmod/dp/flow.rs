// SPDX-License-Identifier: GPL-2.0
//! Flows on the packet path: packets of policy-enabled vifs are matched against the flow
//! table (kmod/core/src/flow.rs) before routing. A miss makes a Hold entry, parks the
//! packet and tells the agent (FLOW_MISS on the `flows` group); the agent's verdict
//! (FLOW_NEW with index and generation) releases the parked packets through the same path.

use super::vif::Vif;
use super::{forward, Router};
use crate::kapi::genl::{Msg, Notification};
use crate::kapi::kvvec_from_fn;
use crate::kapi::lockdep;
use crate::kapi::parking::Parking;
use crate::kapi::percpu::{self, CounterArray, PacketCtx};
use crate::kapi::rcu;
use crate::kapi::skb::Skb;
use crate::uapi::{
    cmd, drop_reason as DR, flow_action, flow_attr as FA, FLOW_INDEX_NONE, FLOW_QUEUE_MAX,
};
use crate::vrcore::flow::{
    self as core_flow, FlowEntry, FlowError, FlowKey, FlowTable, FlowView, Inserted, LockHooks,
    Setting, SlotBitmap, Verdict,
};
use crate::vrcore::packet::{self, Headers, L4};
use core::sync::atomic::{AtomicU32, AtomicU64};
use kernel::alloc::KVVec;
use kernel::error::Result;
use kernel::prelude::*;

pub type Table = FlowTable<KVVec<FlowEntry>, KVVec<AtomicU32>, KVVec<AtomicU64>>;

/// Per-CPU flow counters (FLOW_TABLE_GET).
pub mod counter {
    pub const CREATED: usize = 0;
    pub const ADDED: usize = 1;
    pub const DELETED: usize = 2;
    pub const CHANGED: usize = 3;
    pub const EVICTED: usize = 4;
    pub const MISSES: usize = 5;
    pub const COUNT: usize = 6;
}

/// The flows group: its index in `uapi::MCAST_GROUPS`.
const MCGRP_FLOWS: u32 = 1;

/// Room for one entry's attributes in a netlink message.
pub const RECORD_SIZE: usize = 256;

pub struct Flows {
    pub table: Table,
    /// Hold entries: one queue slot each, so the Hold limit is the slot count.
    holds: SlotBitmap<KVVec<AtomicU64>>,
    parking: Parking,
    pub counters: CounterArray,
}

impl Flows {
    pub fn new(main: u32, oflow: u32, hold_limit: u32) -> Result<Flows> {
        let total = main.checked_add(oflow).ok_or(EINVAL)? as usize;
        let entries = kvvec_from_fn(total, FlowEntry::new)?;
        let buckets = kvvec_from_fn(
            main as usize / core_flow::BUCKET_ENTRIES * 2,
            AtomicU32::default,
        )?;
        let oflow_map = kvvec_from_fn(
            SlotBitmap::<KVVec<AtomicU64>>::words_for(oflow),
            AtomicU64::default,
        )?;
        let table = FlowTable::new(entries, buckets, oflow_map, main, percpu::random_u32())
            .map_err(|_| EINVAL)?
            .with_lock_hooks(LockHooks {
                acquire: lockdep::flow_bucket_acquire,
                release: lockdep::flow_bucket_release,
            });
        let hold_map = kvvec_from_fn(
            SlotBitmap::<KVVec<AtomicU64>>::words_for(hold_limit),
            AtomicU64::default,
        )?;
        Ok(Flows {
            table,
            holds: SlotBitmap::new(hold_map, hold_limit).ok_or(EINVAL)?,
            parking: Parking::new(hold_limit, FLOW_QUEUE_MAX)?,
            counters: CounterArray::new(counter::COUNT)?,
        })
    }

    pub fn hold_limit(&self) -> u32 {
        self.holds.capacity()
    }

    pub fn holding(&self) -> u32 {
        self.holds.used()
    }

    pub fn queued(&self, v: &FlowView) -> u32 {
        if v.verdict.action == flow_action::HOLD && v.verdict.hold_slot != FLOW_INDEX_NONE {
            self.parking.count(v.verdict.hold_slot)
        } else {
            0
        }
    }

    fn count(&self, which: usize, ctx: &PacketCtx) {
        if let Some(c) = self.counters.local(ctx).get(which) {
            c.add(1, ctx);
        }
    }
}

/// A parking owner tag naming one use of an entry (never 0, the free tag).
fn owner(index: u32, gen: u8) -> u64 {
    ((u64::from(index) << 8) | u64::from(gen)) + 1
}

/// What a packet that misses the flow table does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnMiss {
    /// It makes a Hold entry and waits for the agent's verdict.
    Hold,
    /// It is routed as it is (TF's relaxed policy): the host's packets to pods, which are
    /// looked up only for the replies of connections the agent translated.
    Pass,
}

/// The packet path's flow step for a packet that came in on `vif` and is routed in VRF
/// `vrf` (the vif's; a decapsulated packet's label's). Returns the packet (and its
/// headers, rewritten by NAT) when it should be routed, None when it was held or dropped.
pub fn input(
    r: &Router,
    vif: &Vif,
    vrf: u32,
    skb: Skb,
    h: &Headers,
    on_miss: OnMiss,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) -> Option<(Skb, Headers)> {
    let Some(key) = FlowKey::from_headers(vrf, h) else {
        if on_miss == OnMiss::Pass {
            return Some((skb, *h));
        }
        forward::drop_packet(r, vif, skb, DR::FLOW_INVALID_PROTOCOL, ctx);
        return None;
    };
    let mut skb = skb;
    // A second round only when the entry changed under us (a verdict, a racing insert).
    for _ in 0..2 {
        match step(r, vif, skb, h, &key, on_miss, ctx, guard) {
            Step::Route(s, h) => return Some((s, h)),
            Step::Done => return None,
            Step::Again(s) => skb = s,
        }
    }
    forward::drop_packet(r, vif, skb, DR::FLOW_UNUSABLE, ctx);
    None
}

enum Step {
    Route(Skb, Headers),
    Done,
    Again(Skb),
}

#[allow(clippy::too_many_arguments)]
fn step(
    r: &Router,
    vif: &Vif,
    mut skb: Skb,
    h: &Headers,
    key: &FlowKey,
    on_miss: OnMiss,
    ctx: &PacketCtx,
    guard: &rcu::Guard,
) -> Step {
    let flows = &r.flows;
    let Some((index, entry, v)) = flows.table.lookup(key) else {
        return match on_miss {
            OnMiss::Hold => miss(r, vif, skb, key, ctx),
            OnMiss::Pass => Step::Route(skb, *h),
        };
    };
    let now = percpu::seconds();
    match v.action {
        flow_action::HOLD => match flows.parking.park(v.hold_slot, owner(index, v.gen), skb) {
            Ok(()) => Step::Done,
            Err(skb) => match flows.table.lookup(key) {
                Some((_, _, still)) if still.action == flow_action::HOLD && still.gen == v.gen => {
                    forward::drop_packet(r, vif, skb, DR::FLOW_QUEUE_LIMIT, ctx);
                    Step::Done
                }
                _ => Step::Again(skb),
            },
        },
        flow_action::FORWARD => {
            entry.hit(skb.len(), now);
            track_tcp(flows, index, entry, v.rindex, h);
            Step::Route(skb, *h)
        }
        flow_action::NAT => {
            // The rewrite comes from the reverse entry's key; it must link back to us.
            let rkey = match flows.table.key_of(v.rindex) {
                Some((rkey, back)) if back == index => rkey,
                _ => {
                    forward::drop_packet(r, vif, skb, DR::FLOW_NAT_NO_RFLOW, ctx);
                    return Step::Done;
                }
            };
            entry.hit(skb.len(), now);
            track_tcp(flows, index, entry, v.rindex, h);
            let partial = skb.csum_partial();
            skb.csum_invalidate();
            let frame_len = skb.len() as usize;
            let Some(head) = skb.head_mut(forward::HEAD) else {
                forward::drop_packet(r, vif, skb, DR::PULL, ctx);
                return Step::Done;
            };
            let rewritten = core_flow::nat_rewrite(head, h, v.flags, &rkey, partial).is_ok();
            match packet::parse_head(head, frame_len) {
                Ok(nh) if rewritten => Step::Route(skb, nh),
                _ => {
                    forward::drop_packet(r, vif, skb, DR::REWRITE_FAIL, ctx);
                    Step::Done
                }
            }
        }
        _ => {
            entry.hit(skb.len(), now);
            let reason = if v.drop_reason == 0 {
                DR::FLOW_ACTION_DROP
            } else {
                v.drop_reason
            };
            forward::drop_packet(r, vif, skb, reason, ctx);
            let _ = guard;
            Step::Done
        }
    }
}

fn track_tcp(flows: &Flows, index: u32, entry: &FlowEntry, rindex: u32, h: &Headers) {
    let L4::Tcp { flags, .. } = h.l4 else { return };
    // The reverse entry counts only while it links back to this one.
    let rev = flows
        .table
        .key_of(rindex)
        .filter(|&(_, back)| back == index)
        .and_then(|_| flows.table.entry(rindex));
    let u = core_flow::tcp_update(entry.tcp_flags(), rev.map_or(0, |e| e.tcp_flags()), flags);
    if u.own != 0 {
        entry.add_tcp_flags(u.own);
    }
    if let (Some(rev), true) = (rev, u.reverse != 0) {
        rev.add_tcp_flags(u.reverse);
    }
}

/// First packet of a flow: a Hold entry with a queue slot, the packet parked in it, the
/// agent told. Without a free slot (the Hold limit) the packet is a "New Flow Drop".
fn miss(r: &Router, vif: &Vif, skb: Skb, key: &FlowKey, ctx: &PacketCtx) -> Step {
    let flows = &r.flows;
    let Some(slot) = flows.holds.alloc() else {
        forward::drop_packet(r, vif, skb, DR::NEW_FLOWS, ctx);
        return Step::Done;
    };
    // The slot is claimed under the bucket lock, before the entry is visible: a packet or
    // a delete that finds the entry always finds its slot owned.
    let claim = |index, gen| flows.parking.claim(slot, owner(index, gen));
    match flows.table.insert(
        key,
        Setting::hold(),
        vif.idx,
        slot,
        percpu::seconds(),
        claim,
    ) {
        Ok(Inserted::New {
            index,
            gen,
            evicted,
        }) => {
            flows.count(counter::CREATED, ctx);
            if evicted {
                flows.count(counter::EVICTED, ctx);
            }
            let parked = flows.parking.park(slot, owner(index, gen), skb);
            notify_miss(flows, index, ctx);
            match parked {
                Ok(()) => Step::Done,
                // Cannot happen for the first packet of a fresh slot, but never lose it.
                Err(skb) => Step::Again(skb),
            }
        }
        Ok(Inserted::Exists { .. }) => {
            flows.holds.free(slot);
            Step::Again(skb)
        }
        Err(_) => {
            flows.holds.free(slot);
            forward::drop_packet(r, vif, skb, DR::FLOW_TABLE_FULL, ctx);
            Step::Done
        }
    }
}

fn notify_miss(flows: &Flows, index: u32, ctx: &PacketCtx) {
    let Some(view) = flows.table.view(index) else {
        return;
    };
    let Some(mut n) = Notification::from_packet_path(MCGRP_FLOWS, cmd::FLOW_MISS, RECORD_SIZE, ctx)
    else {
        return;
    };
    if put_flow(n.msg(), flows, &view, percpu::seconds()).is_ok() {
        flows.count(counter::MISSES, ctx);
        n.send();
    }
}

/// Writes an entry's attributes (replies, dumps, notifications).
pub fn put_flow(m: &mut Msg, flows: &Flows, v: &FlowView, now: u32) -> Result {
    let k = &v.key;
    let alen = k.addr_len();
    m.put_u32(FA::INDEX, v.index)?;
    m.put_u32(FA::GEN, u32::from(v.verdict.gen))?;
    m.put_u32(FA::VRF, k.vrf)?;
    m.put_u32(FA::FAMILY, u32::from(k.family))?;
    m.put_bytes(FA::PROTO, &[k.proto])?;
    m.put_bytes(FA::SRC, k.src.get(..alen).unwrap_or(&[]))?;
    m.put_bytes(FA::DST, k.dst.get(..alen).unwrap_or(&[]))?;
    m.put_bytes(FA::SPORT, &k.sport.to_ne_bytes())?;
    m.put_bytes(FA::DPORT, &k.dport.to_ne_bytes())?;
    m.put_u32(FA::ACTION, v.verdict.action)?;
    m.put_u32(FA::FLAGS, v.verdict.flags)?;
    if v.verdict.action == flow_action::DROP {
        let reason = if v.verdict.drop_reason == 0 {
            DR::FLOW_ACTION_DROP
        } else {
            v.verdict.drop_reason
        };
        m.put_u32(FA::DROP_REASON, reason)?;
    }
    m.put_u32(FA::RINDEX, v.verdict.rindex)?;
    m.put_u32(FA::TCP_FLAGS, v.tcp)?;
    m.put_u64(FA::PACKETS, v.packets, FA::PAD)?;
    m.put_u64(FA::BYTES, v.bytes, FA::PAD)?;
    m.put_u32(FA::AGE, now.saturating_sub(v.last_used))?;
    if v.vif != FLOW_INDEX_NONE {
        m.put_u32(FA::VIF, v.vif)?;
    }
    m.put_u32(FA::QUEUED, flows.queued(v))?;
    Ok(())
}

/// Sets the verdict of entry `index`; a Hold entry's parked packets go through the
/// datapath again with it. Process context.
pub fn set_verdict(
    r: &Router,
    index: u32,
    gen: u8,
    set: Setting,
) -> core::result::Result<FlowView, FlowError> {
    PacketCtx::with_bh_off(|ctx, guard| {
        let before = r.flows.table.update(index, Some(gen), set)?;
        r.flows.count(counter::CHANGED, ctx);
        release_hold(r, &before, true, ctx, guard);
        // What was set, even if a delete raced in after the lock was dropped.
        Ok(r.flows.table.view(index).unwrap_or(FlowView {
            verdict: Verdict {
                action: set.action,
                drop_reason: set.drop_reason,
                flags: set.flags,
                rindex: set.rindex,
                ..before.verdict
            },
            ..before
        }))
    })
}

/// Adds an entry (no packet waits for it). Process context.
pub fn add(r: &Router, key: &FlowKey, set: Setting) -> core::result::Result<Inserted, FlowError> {
    PacketCtx::with_bh_off(|ctx, _| {
        let res = r.flows.table.insert(
            key,
            set,
            FLOW_INDEX_NONE,
            FLOW_INDEX_NONE,
            percpu::seconds(),
            |_, _| {},
        )?;
        if let Inserted::New { evicted, .. } = res {
            r.flows.count(counter::ADDED, ctx);
            if evicted {
                r.flows.count(counter::EVICTED, ctx);
            }
        }
        Ok(res)
    })
}

/// Removes entry `index`; its parked packets are dropped. Process context.
pub fn remove(
    r: &Router,
    index: u32,
    gen: Option<u8>,
) -> core::result::Result<FlowView, FlowError> {
    PacketCtx::with_bh_off(|ctx, guard| {
        let before = r.flows.table.remove(index, gen)?;
        r.flows.count(counter::DELETED, ctx);
        release_hold(r, &before, false, ctx, guard);
        Ok(before)
    })
}

/// Removes every entry; returns how many.
pub fn flush(r: &Router) -> u32 {
    let mut n = 0;
    let mut at = 0;
    while let Some(v) = r.flows.table.next_used(at) {
        at = v.index.saturating_add(1);
        if remove(r, v.index, Some(v.verdict.gen)).is_ok() {
            n += 1;
        }
    }
    n
}

/// Ends a Hold: its parked packets are sent through the flow step again in the flow's
/// VRF (`resume_held`) or dropped, and its queue slot is freed.
fn release_hold(r: &Router, before: &FlowView, resume: bool, ctx: &PacketCtx, guard: &rcu::Guard) {
    if before.verdict.action != flow_action::HOLD || before.verdict.hold_slot == FLOW_INDEX_NONE {
        return;
    }
    let slot = before.verdict.hold_slot;
    let vif = r.vifs.get(before.vif, guard);
    for skb in r.flows.parking.release(slot) {
        // The vif may have been deleted while the packet waited and its index given to
        // another device: only a packet that came in on the vif's own device is its.
        match vif.filter(|v| skb.dev_is(&v.dev)) {
            Some(vif) if resume => forward::resume_held(r, vif, before.key.vrf, skb, ctx, guard),
            Some(vif) => forward::drop_packet(r, vif, skb, DR::FLOW_UNUSABLE, ctx),
            None => {
                r.stats.drop(DR::FLOW_UNUSABLE, ctx);
                drop(skb);
            }
        }
    }
    r.flows.holds.free(slot);
}
