//! Flows: FLOW_NEW / FLOW_DEL / FLOW_GET (+dump) / FLOW_FLUSH / FLOW_TABLE_GET, pipelined
//! FLOW_NEW and FLOW_DEL batches, and the `flows` group's FLOW_MISS notifications.

use crate::batch::{frame, get_int, set_int, wait_readable, Framed, ACK_COST, DEFAULT_BATCH};
use crate::error::{libc_consts::ENOBUFS, Error, Result};
use crate::message::{AttrSink, Attrs, VrMessage};
use crate::rt::{family_of, family_str};
use crate::socket::Client;
use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};
use vrouter_uapi::{
    cmd, drop_reason, flow_action, flow_attr as A, flow_flag, flow_table_attr as T, flow_tcp,
    FLOW_INDEX_NONE, MCGRP_FLOWS,
};

/// The key of a flow entry: the VRF and the 5-tuple. Ports are host order; for ICMP echo
/// the identifier is the source port of a request and the destination port of a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub vrf: u32,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

impl FlowKey {
    /// The key of the other direction: addresses and ports swapped.
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
            ..*self
        }
    }

    /// `addr-family` value (from the source address).
    pub fn family(&self) -> u32 {
        family_of(&self.src)
    }

    /// The key attributes (all of them: the kernel requires each).
    pub fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::VRF, self.vrf);
        s.put_u32(A::FAMILY, self.family());
        s.put_u8(A::PROTO, self.proto);
        s.put(A::SRC, &addr_bytes(&self.src));
        s.put(A::DST, &addr_bytes(&self.dst));
        s.put_u16(A::SPORT, self.sport);
        s.put_u16(A::DPORT, self.dport);
    }

    pub fn from_attrs(a: &Attrs) -> Result<FlowKey> {
        let need = |what: &str| Error::Decode(format!("flow without {what}"));
        let family = a.u32(A::FAMILY);
        let addr = |id: u16, what: &str| -> Result<IpAddr> {
            let b = a.get(id).ok_or_else(|| need(what))?;
            let ip = match <[u8; 4]>::try_from(b) {
                Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
                Err(_) => match <[u8; 16]>::try_from(b) {
                    Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
                    Err(_) => {
                        return Err(Error::Decode(format!("flow {what} of {} bytes", b.len())))
                    }
                },
            };
            match family {
                Some(f) if f != family_of(&ip) => Err(Error::Decode(format!(
                    "flow {what} {ip} is not {}",
                    family_str(f)
                ))),
                _ => Ok(ip),
            }
        };
        Ok(FlowKey {
            vrf: a.u32(A::VRF).ok_or_else(|| need("vrf"))?,
            src: addr(A::SRC, "source")?,
            dst: addr(A::DST, "destination")?,
            proto: a.u8(A::PROTO).ok_or_else(|| need("protocol"))?,
            sport: a.u16(A::SPORT).unwrap_or(0),
            dport: a.u16(A::DPORT).unwrap_or(0),
        })
    }
}

fn addr_bytes(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// IP protocol numbers with names (`--match ... & proto tcp`).
const PROTOS: &[(u8, &str)] = &[
    (1, "icmp"),
    (6, "tcp"),
    (17, "udp"),
    (58, "icmp6"),
    (132, "sctp"),
];

/// "tcp", "udp", "icmp", "icmp6", "sctp", or the protocol number.
pub fn proto_name(proto: u8) -> String {
    PROTOS
        .iter()
        .find(|p| p.0 == proto)
        .map_or_else(|| proto.to_string(), |p| p.1.to_string())
}

/// A protocol by name (case-insensitive; `icmpv6` too) or number (0..255).
pub fn parse_proto(s: &str) -> Option<u8> {
    let l = s.to_ascii_lowercase();
    let l = if l == "icmpv6" {
        "icmp6".to_string()
    } else {
        l
    };
    PROTOS
        .iter()
        .find(|p| p.1 == l)
        .map(|p| p.0)
        .or_else(|| s.parse().ok())
}

/// "drop", "hold", "forward", "nat" ("unknown" otherwise).
pub fn action_name(action: u32) -> &'static str {
    match action {
        flow_action::DROP => "drop",
        flow_action::HOLD => "hold",
        flow_action::FORWARD => "forward",
        flow_action::NAT => "nat",
        _ => "unknown",
    }
}

/// An action by name (`forward`, `drop`, `nat`, `hold`), TF letter (F D N H) or number.
pub fn parse_action(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return flow_action::DEF.by_value(n).map(|e| e.1);
    }
    flow_action::DEF
        .entries
        .iter()
        .find(|e| {
            e.0.eq_ignore_ascii_case(s)
                || e.2 == s
                || (e.1 == flow_action::FORWARD && s.eq_ignore_ascii_case("fwd"))
        })
        .map(|e| e.1)
}

/// Lower-case names of the set bits of a flags enum, in bit order ("snat", "new_flow").
fn bit_names(def: &vrouter_uapi::EnumDef, bits: u32) -> Vec<String> {
    def.entries
        .iter()
        .filter(|e| bits & e.1 != 0)
        .map(|e| e.0.to_ascii_lowercase())
        .collect()
}

/// A flow entry as the kernel reports it (FLOW_GET, FLOW_NEW replies, FLOW_MISS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub index: u32,
    pub gen: u32,
    pub key: FlowKey,
    /// `flow-action` value.
    pub action: u32,
    /// `flow-flags` bits.
    pub flags: u32,
    /// `drop-reason` value of a Drop entry, when the kernel gave one.
    pub drop_reason: Option<u32>,
    /// Index of the reverse entry (None when absent or FLOW_INDEX_NONE).
    pub rindex: Option<u32>,
    /// `flow-tcp` bits of this direction.
    pub tcp_flags: u32,
    pub packets: u64,
    pub bytes: u64,
    /// Seconds since the entry last matched a packet (or was made).
    pub age: u32,
    /// Vif the packet that made a Hold entry came in on.
    pub vif: Option<u32>,
    /// Packets queued on a Hold entry.
    pub queued: u32,
}

impl Flow {
    pub fn action_name(&self) -> &'static str {
        action_name(self.action)
    }

    pub fn is_hold(&self) -> bool {
        self.action == flow_action::HOLD
    }

    /// The drop reason of a Drop entry: the one given, or Flow Action Drop (as the kernel
    /// counts it); None for other actions.
    pub fn effective_drop_reason(&self) -> Option<u32> {
        (self.action == flow_action::DROP)
            .then(|| self.drop_reason.unwrap_or(drop_reason::FLOW_ACTION_DROP))
    }

    /// The dropstats label of [`Flow::effective_drop_reason`] ("Flow Action Drop").
    pub fn drop_reason_name(&self) -> Option<&'static str> {
        self.effective_drop_reason()
            .map(|r| drop_reason::DEF.by_value(r).map_or("Unknown", |e| e.2))
    }

    pub fn from_attrs(a: &Attrs) -> Result<Flow> {
        Flow::decode(a, None)
    }

    /// `default_action` stands in for a missing ACTION.
    fn decode(a: &Attrs, default_action: Option<u32>) -> Result<Flow> {
        let index = a
            .u32(A::INDEX)
            .ok_or_else(|| Error::Decode("flow without index".into()))?;
        Ok(Flow {
            index,
            gen: a.u32(A::GEN).unwrap_or(0),
            key: FlowKey::from_attrs(a)?,
            action: a
                .u32(A::ACTION)
                .or(default_action)
                .ok_or_else(|| Error::Decode("flow without action".into()))?,
            flags: a.u32(A::FLAGS).unwrap_or(0),
            drop_reason: a.u32(A::DROP_REASON),
            rindex: a.u32(A::RINDEX).filter(|&r| r != FLOW_INDEX_NONE),
            tcp_flags: a.u32(A::TCP_FLAGS).unwrap_or(0),
            packets: a.u64(A::PACKETS).unwrap_or(0),
            bytes: a.u64(A::BYTES).unwrap_or(0),
            age: a.u32(A::AGE).unwrap_or(0),
            vif: a.u32(A::VIF),
            queued: a.u32(A::QUEUED).unwrap_or(0),
        })
    }

    /// The attributes the kernel sends for this entry (tests, replays).
    pub fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::INDEX, self.index);
        s.put_u32(A::GEN, self.gen);
        self.key.encode(s);
        s.put_u32(A::ACTION, self.action);
        s.put_u32(A::FLAGS, self.flags);
        if let Some(r) = self.drop_reason {
            s.put_u32(A::DROP_REASON, r);
        }
        s.put_u32(A::RINDEX, self.rindex.unwrap_or(FLOW_INDEX_NONE));
        s.put_u32(A::TCP_FLAGS, self.tcp_flags);
        s.put_u64(A::PACKETS, self.packets);
        s.put_u64(A::BYTES, self.bytes);
        s.put_u32(A::AGE, self.age);
        if let Some(v) = self.vif {
            s.put_u32(A::VIF, v);
        }
        s.put_u32(A::QUEUED, self.queued);
    }

    /// Decodes a FLOW_MISS notification (a Hold entry, whether or not it says so); None
    /// for other messages.
    pub fn from_miss(m: &VrMessage) -> Option<Result<Flow>> {
        (m.cmd == cmd::FLOW_MISS).then(|| Flow::decode(&m.attrs, Some(flow_action::HOLD)))
    }
}

/// JSON: `{"index":7,"gen":1,"vrf":2,"family":"inet","proto":6,"src":"10.1.0.3","sport":
/// 46338,"dst":"10.1.0.4","dport":80,"action":"nat","flags":10,"flag_names":["snat",
/// "dnat"],"drop_reason":null,"rindex":9,"tcp_flags":40,"tcp_flag_names":["syn",
/// "established"],"packets":48,"bytes":4704,"age":3,"vif":null,"queued":0}`.
impl Serialize for Flow {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let k = &self.key;
        let mut st = s.serialize_struct("Flow", 22)?;
        st.serialize_field("index", &self.index)?;
        st.serialize_field("gen", &self.gen)?;
        st.serialize_field("vrf", &k.vrf)?;
        st.serialize_field("family", family_str(k.family()))?;
        st.serialize_field("proto", &k.proto)?;
        st.serialize_field("src", &k.src)?;
        st.serialize_field("sport", &k.sport)?;
        st.serialize_field("dst", &k.dst)?;
        st.serialize_field("dport", &k.dport)?;
        st.serialize_field("action", self.action_name())?;
        st.serialize_field("flags", &self.flags)?;
        st.serialize_field("flag_names", &bit_names(&flow_flag::DEF, self.flags))?;
        st.serialize_field("drop_reason", &self.drop_reason_name())?;
        st.serialize_field("rindex", &self.rindex)?;
        st.serialize_field("tcp_flags", &self.tcp_flags)?;
        st.serialize_field("tcp_flag_names", &bit_names(&flow_tcp::DEF, self.tcp_flags))?;
        st.serialize_field("packets", &self.packets)?;
        st.serialize_field("bytes", &self.bytes)?;
        st.serialize_field("age", &self.age)?;
        st.serialize_field("vif", &self.vif)?;
        st.serialize_field("queued", &self.queued)?;
        st.end()
    }
}

/// A FLOW_NEW request: without `target`, add an entry for `key` (EEXIST if there is one);
/// with `target` (index, gen), set the verdict of / update that entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSpec {
    pub target: Option<(u32, u32)>,
    /// Required without `target`; optional with it.
    pub key: Option<FlowKey>,
    /// `flow-action` value.
    pub action: u32,
    /// NAT rewrites (FLOW_FLAGS_SETTABLE bits); sent only when non-zero.
    pub flags: u32,
    pub drop_reason: Option<u32>,
    /// The reverse entry's index.
    pub rindex: Option<u32>,
}

impl FlowSpec {
    /// A new entry for `key` with `action`.
    pub fn add(key: FlowKey, action: u32) -> FlowSpec {
        FlowSpec {
            target: None,
            key: Some(key),
            action,
            flags: 0,
            drop_reason: None,
            rindex: None,
        }
    }

    /// The verdict for the entry at (`index`, `gen`), e.g. a Hold entry of a FLOW_MISS.
    pub fn verdict(index: u32, gen: u32, action: u32) -> FlowSpec {
        FlowSpec {
            target: Some((index, gen)),
            key: None,
            action,
            flags: 0,
            drop_reason: None,
            rindex: None,
        }
    }

    pub fn encode(&self, s: &mut impl AttrSink) {
        if let Some((index, gen)) = self.target {
            s.put_u32(A::INDEX, index);
            s.put_u32(A::GEN, gen);
        }
        if let Some(k) = &self.key {
            k.encode(s);
        }
        s.put_u32(A::ACTION, self.action);
        if self.flags != 0 {
            s.put_u32(A::FLAGS, self.flags);
        }
        if let Some(r) = self.drop_reason {
            s.put_u32(A::DROP_REASON, r);
        }
        if let Some(r) = self.rindex {
            s.put_u32(A::RINDEX, r);
        }
    }

    pub fn to_message(&self) -> VrMessage {
        let mut m = VrMessage::new(cmd::FLOW_NEW);
        self.encode(&mut m.attrs);
        m
    }
}

/// Upper bound of one encoded FLOW_NEW request: headers 20, ten u32/u16/u8 attributes of 8,
/// two 16-byte addresses of 20 (156 bytes); rounded up.
const FLOW_MSG_MAX: usize = 192;
/// Receive-buffer charge of a FLOW_NEW's reply (a ~250-byte message in its own skb, about
/// 1.3 KB truesize) plus its ack.
const FLOW_NEW_RX_COST: usize = ACK_COST + 1536;

impl Framed for FlowSpec {
    const MSG_MAX: usize = FLOW_MSG_MAX;
    const RX_COST: usize = FLOW_NEW_RX_COST;

    fn frame(&self, buf: &mut Vec<u8>, family: u16, seq: u32) {
        frame(
            buf,
            family,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            cmd::FLOW_NEW,
            |a| self.encode(a),
        );
    }
}

/// One FLOW_DEL of a batch: index and optional generation.
struct FlowDel(u32, Option<u32>);

impl FlowDel {
    fn encode(&self, s: &mut impl AttrSink) {
        s.put_u32(A::INDEX, self.0);
        if let Some(gen) = self.1 {
            s.put_u32(A::GEN, gen);
        }
    }

    fn to_message(&self) -> VrMessage {
        let mut m = VrMessage::new(cmd::FLOW_DEL);
        self.encode(&mut m.attrs);
        m
    }
}

impl Framed for FlowDel {
    fn frame(&self, buf: &mut Vec<u8>, family: u16, seq: u32) {
        frame(
            buf,
            family,
            NLM_F_REQUEST | NLM_F_ACK,
            seq,
            cmd::FLOW_DEL,
            |a| self.encode(a),
        );
    }
}

/// Flow table sizes, usage and counters (FLOW_TABLE_GET).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlowTableInfo {
    /// Main-area entries.
    pub entries: u32,
    /// Overflow-area entries.
    pub oflow_entries: u32,
    /// Bytes per entry.
    pub entry_size: u32,
    pub hold_limit: u32,
    /// Entries in use (any action).
    pub used: u32,
    /// Hold entries in use.
    pub hold: u32,
    /// Overflow entries in use.
    pub oflow_used: u32,
    /// Entries made by the datapath on a miss (Hold).
    pub created: u64,
    /// Entries made over netlink.
    pub added: u64,
    pub deleted: u64,
    /// Verdicts and updates applied to existing entries.
    pub changed: u64,
    /// Dead TCP entries reused before they were deleted.
    pub evicted: u64,
    /// Misses announced on the flows group.
    pub misses: u64,
    /// Created entries per possible CPU.
    pub created_per_cpu: Vec<u64>,
}

impl FlowTableInfo {
    /// Main plus overflow entries.
    pub fn total_entries(&self) -> u64 {
        u64::from(self.entries) + u64::from(self.oflow_entries)
    }

    /// Bytes of the whole table.
    pub fn size_bytes(&self) -> u64 {
        self.total_entries() * u64::from(self.entry_size)
    }

    pub fn from_attrs(a: &Attrs) -> Result<FlowTableInfo> {
        let per_cpu = match a.get(T::CREATED_PER_CPU) {
            None => Vec::new(),
            Some(_) => a
                .u64_array(T::CREATED_PER_CPU)
                .ok_or_else(|| Error::Decode("created-per-cpu not a u64 array".into()))?,
        };
        Ok(FlowTableInfo {
            entries: a
                .u32(T::ENTRIES)
                .ok_or_else(|| Error::Decode("flow table without entries".into()))?,
            oflow_entries: a.u32(T::OFLOW_ENTRIES).unwrap_or(0),
            entry_size: a.u32(T::ENTRY_SIZE).unwrap_or(0),
            hold_limit: a.u32(T::HOLD_LIMIT).unwrap_or(0),
            used: a.u32(T::USED).unwrap_or(0),
            hold: a.u32(T::HOLD).unwrap_or(0),
            oflow_used: a.u32(T::OFLOW_USED).unwrap_or(0),
            created: a.u64(T::CREATED).unwrap_or(0),
            added: a.u64(T::ADDED).unwrap_or(0),
            deleted: a.u64(T::DELETED).unwrap_or(0),
            changed: a.u64(T::CHANGED).unwrap_or(0),
            evicted: a.u64(T::EVICTED).unwrap_or(0),
            misses: a.u64(T::MISSES).unwrap_or(0),
            created_per_cpu: per_cpu,
        })
    }

    /// The attributes the kernel sends (tests, replays).
    pub fn encode(&self, s: &mut impl AttrSink) {
        for (id, v) in [
            (T::ENTRIES, self.entries),
            (T::OFLOW_ENTRIES, self.oflow_entries),
            (T::ENTRY_SIZE, self.entry_size),
            (T::HOLD_LIMIT, self.hold_limit),
            (T::USED, self.used),
            (T::HOLD, self.hold),
            (T::OFLOW_USED, self.oflow_used),
        ] {
            s.put_u32(id, v);
        }
        for (id, v) in [
            (T::CREATED, self.created),
            (T::ADDED, self.added),
            (T::DELETED, self.deleted),
            (T::CHANGED, self.changed),
            (T::EVICTED, self.evicted),
            (T::MISSES, self.misses),
        ] {
            s.put_u64(id, v);
        }
        let b: Vec<u8> = self
            .created_per_cpu
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        s.put(T::CREATED_PER_CPU, &b);
    }
}

fn one_flow(replies: Vec<VrMessage>) -> Result<Flow> {
    let m = replies
        .into_iter()
        .next()
        .ok_or_else(|| Error::Decode("no reply".into()))?;
    Flow::from_attrs(&m.attrs)
}

impl Client {
    /// Adds an entry or sets a verdict; returns the entry as the kernel stored it.
    pub fn flow_new(&mut self, spec: &FlowSpec) -> Result<Flow> {
        match self.request(spec.to_message(), false)?.into_iter().next() {
            Some(m) => Flow::from_attrs(&m.attrs),
            None => self.flow_refetch(spec),
        }
    }

    /// The entry a FLOW_NEW made or changed, when its reply did not come.
    fn flow_refetch(&mut self, spec: &FlowSpec) -> Result<Flow> {
        match (spec.target, &spec.key) {
            (Some((index, _)), _) => self.flow_get(index),
            (None, Some(key)) => self.flow_lookup(key),
            (None, None) => Err(Error::Decode("no reply".into())),
        }
    }

    /// Many FLOW_NEW requests, pipelined (up to DEFAULT_BATCH in flight per write);
    /// results in input order. A request whose reply was lost but whose ack said success
    /// is read back (by index or key).
    pub fn flow_new_batch(&mut self, specs: &[FlowSpec]) -> Result<Vec<Result<Flow>>> {
        let family = self.family_id;
        let mut out: Vec<Option<Result<Flow>>> = specs.iter().map(|_| None).collect();
        let report = self.batch_with(specs.iter(), DEFAULT_BATCH, family, &mut |i, payload| {
            if let (Some(slot), Some(attrs)) = (out.get_mut(i), payload.get(4..)) {
                *slot = Some(
                    Attrs::parse(attrs)
                        .map_err(|e| Error::Decode(e.to_string()))
                        .and_then(|a| Flow::from_attrs(&a)),
                );
            }
        })?;
        for f in report.failed {
            // a reply means the request was applied, even if its ack went missing
            if !(matches!(f.error, Error::AckLost { .. }) && matches!(out[f.index], Some(Ok(_)))) {
                out[f.index] = Some(Err(f.error));
            }
        }
        if let Some((first, e)) = report.aborted {
            out[first] = Some(Err(e));
            for slot in &mut out[first + 1..] {
                *slot = Some(Err(Error::NotSent));
            }
        }
        let mut results = Vec::with_capacity(specs.len());
        for (spec, r) in specs.iter().zip(out) {
            results.push(match r {
                Some(r) => r,
                None => self.flow_refetch(spec),
            });
        }
        Ok(results)
    }

    /// Deletes the entry at `index` (`gen`, when given, must match).
    pub fn flow_del(&mut self, index: u32, gen: Option<u32>) -> Result<()> {
        self.request(FlowDel(index, gen).to_message(), false)
            .map(|_| ())
    }

    /// Many FLOW_DEL requests, pipelined; results in input order.
    pub fn flow_del_batch(&mut self, targets: &[(u32, Option<u32>)]) -> Result<Vec<Result<()>>> {
        let family = self.family_id;
        let report = self.batch(
            targets.iter().map(|&(i, g)| FlowDel(i, g)),
            DEFAULT_BATCH,
            family,
        )?;
        let mut out: Vec<Result<()>> = targets.iter().map(|_| Ok(())).collect();
        for f in report.failed {
            out[f.index] = Err(f.error);
        }
        if let Some((first, e)) = report.aborted {
            out[first] = Err(e);
            for slot in &mut out[first + 1..] {
                *slot = Err(Error::NotSent);
            }
        }
        Ok(out)
    }

    /// The entry at `index` (ENOENT when the slot is free).
    pub fn flow_get(&mut self, index: u32) -> Result<Flow> {
        let mut m = VrMessage::new(cmd::FLOW_GET);
        m.attrs.push_u32(A::INDEX, index);
        one_flow(self.request(m, false)?)
    }

    /// The entry with `key` (ENOENT when there is none).
    pub fn flow_lookup(&mut self, key: &FlowKey) -> Result<Flow> {
        let mut m = VrMessage::new(cmd::FLOW_GET);
        key.encode(&mut m.attrs);
        one_flow(self.request(m, false)?)
    }

    /// Every entry in use, by index.
    pub fn flow_dump(&mut self) -> Result<Vec<Flow>> {
        let mut v: Vec<Flow> = self
            .request(VrMessage::new(cmd::FLOW_GET), true)?
            .iter()
            .map(|m| Flow::from_attrs(&m.attrs))
            .collect::<Result<_>>()?;
        v.sort_unstable_by_key(|f| f.index);
        Ok(v)
    }

    /// Deletes every entry.
    pub fn flow_flush(&mut self) -> Result<()> {
        self.request(VrMessage::new(cmd::FLOW_FLUSH), false)
            .map(|_| ())
    }

    pub fn flow_table(&mut self) -> Result<FlowTableInfo> {
        let m = self
            .request(VrMessage::new(cmd::FLOW_TABLE_GET), false)?
            .pop()
            .ok_or_else(|| Error::Decode("no reply".into()))?;
        FlowTableInfo::from_attrs(&m.attrs)
    }

    /// Turns this client into a listener of the `flows` group's FLOW_MISS notifications.
    /// Send the verdicts on another client: replies on this socket would be interleaved
    /// with notifications.
    pub fn flow_misses(mut self) -> Result<FlowMissListener> {
        self.subscribe(MCGRP_FLOWS)?;
        Ok(FlowMissListener {
            client: self,
            pending: VecDeque::new(),
        })
    }
}

/// New Hold entries as the datapath makes them (FLOW_MISS), each with index, gen, key and
/// vif. `Error::Overrun` means misses were lost because the reader fell behind: re-read the
/// table with [`Client::flow_dump`] to find the Hold entries that were not announced; later
/// misses arrive as usual.
pub struct FlowMissListener {
    client: Client,
    pending: VecDeque<Result<Flow>>,
}

impl FlowMissListener {
    /// Blocks until a miss arrives.
    pub fn next_miss(&mut self) -> Result<Flow> {
        loop {
            if let Some(f) = self.next_miss_timeout(Duration::from_secs(3600))? {
                return Ok(f);
            }
        }
    }

    /// The next miss, or None when none arrived within `timeout`.
    pub fn next_miss_timeout(&mut self, timeout: Duration) -> Result<Option<Flow>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.pending.pop_front() {
                return f.map(Some);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // round up, so a sub-millisecond remainder still waits instead of spinning
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            if !wait_readable(self.as_raw_fd(), ms)? {
                return Ok(None);
            }
            match self.client.recv_notifications() {
                Ok(msgs) => self.pending.extend(msgs.iter().filter_map(Flow::from_miss)),
                Err(Error::Io(e)) if e.raw_os_error() == Some(ENOBUFS) => {
                    return Err(Error::Overrun)
                }
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sets the socket's receive buffer (the queue of misses not read yet) to `bytes`,
    /// beyond net.core.rmem_max when the process has CAP_NET_ADMIN; returns the size the
    /// socket reports (the kernel doubles the request for bookkeeping).
    pub fn set_recv_buffer(&mut self, bytes: usize) -> Result<usize> {
        let fd = self.as_raw_fd();
        let want = bytes.min(i32::MAX as usize / 2) as libc::c_int;
        if set_int(fd, libc::SO_RCVBUFFORCE, want).is_err() {
            set_int(fd, libc::SO_RCVBUF, want)?;
        }
        Ok(get_int(fd, libc::SO_RCVBUF)?)
    }
}

/// For poll/epoll loops: readable when a miss (or an overrun) is waiting.
impl AsRawFd for FlowMissListener {
    fn as_raw_fd(&self) -> RawFd {
        self.client.sock.as_raw_fd()
    }
}

impl Iterator for FlowMissListener {
    type Item = Result<Flow>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_miss())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::RawAttrs;
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    use netlink_packet_generic::GenlMessage;
    use vrouter_uapi::addr_family;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn key4() -> FlowKey {
        FlowKey {
            vrf: 2,
            src: ip("10.0.11.252"),
            dst: ip("10.0.11.251"),
            proto: 6,
            sport: 46338,
            dport: 80,
        }
    }

    fn key6() -> FlowKey {
        FlowKey {
            vrf: 5,
            src: ip("fd00:1::3"),
            dst: ip("2001:db8::1234:5678"),
            proto: 17,
            sport: 53,
            dport: 40000,
        }
    }

    fn flow(index: u32, key: FlowKey) -> Flow {
        Flow {
            index,
            gen: 1,
            key,
            action: flow_action::FORWARD,
            flags: flow_flag::ACTIVE,
            drop_reason: None,
            rindex: None,
            tcp_flags: 0,
            packets: 0,
            bytes: 0,
            age: 0,
            vif: None,
            queued: 0,
        }
    }

    #[test]
    fn reverse_swaps_addresses_and_ports() {
        let k = key4();
        let r = k.reverse();
        assert_eq!(
            (r.src, r.dst, r.sport, r.dport),
            (k.dst, k.src, k.dport, k.sport)
        );
        assert_eq!((r.vrf, r.proto), (k.vrf, k.proto));
        assert_eq!(r.reverse(), k);
        assert_eq!(key6().reverse().reverse(), key6());
        assert_eq!(k.family(), addr_family::INET);
        assert_eq!(key6().family(), addr_family::INET6);
    }

    #[test]
    fn flow_round_trips_through_kernel_attributes() {
        let flows = [
            Flow {
                action: flow_action::NAT,
                flags: flow_flag::ACTIVE
                    | flow_flag::SNAT
                    | flow_flag::DPAT
                    | flow_flag::RFLOW_VALID,
                rindex: Some(512820),
                tcp_flags: flow_tcp::SYN | flow_tcp::ESTABLISHED,
                packets: 1 << 40,
                bytes: u64::MAX,
                age: 3,
                ..flow(255132, key4())
            },
            Flow {
                action: flow_action::HOLD,
                vif: Some(3),
                queued: 2,
                gen: 7,
                ..flow(9, key6())
            },
            Flow {
                action: flow_action::DROP,
                drop_reason: Some(drop_reason::FLOW_QUEUE_LIMIT),
                ..flow(u32::MAX - 1, key4().reverse())
            },
            Flow {
                key: FlowKey {
                    proto: 1,
                    sport: 0,
                    dport: 0,
                    ..key4()
                },
                ..flow(0, key4())
            },
        ];
        for f in &flows {
            let mut buf = Vec::new();
            f.encode(&mut RawAttrs(&mut buf));
            assert_eq!(&Flow::from_attrs(&Attrs::parse(&buf).unwrap()).unwrap(), f);
        }
        // ports are u16 and the protocol a u8, host order; addresses network order
        let mut a = Attrs::default();
        flows[0].encode(&mut a);
        assert_eq!(a.get(A::SPORT), Some(&46338u16.to_ne_bytes()[..]));
        assert_eq!(a.get(A::PROTO), Some(&[6u8][..]));
        assert_eq!(a.get(A::SRC), Some(&[10, 0, 11, 252][..]));
        assert_eq!(a.get(A::DST).map(<[u8]>::len), Some(4));
        let mut a = Attrs::default();
        flows[1].encode(&mut a);
        assert_eq!(a.get(A::SRC).map(<[u8]>::len), Some(16));
        assert_eq!(a.u32(A::FAMILY), Some(addr_family::INET6));
    }

    #[test]
    fn rindex_none_and_bad_keys() {
        let mut a = Attrs::default();
        flow(4, key4()).encode(&mut a);
        assert_eq!(a.u32(A::RINDEX), Some(FLOW_INDEX_NONE));
        assert_eq!(Flow::from_attrs(&a).unwrap().rindex, None);
        a.0.retain(|x| x.kind != A::RINDEX);
        assert_eq!(Flow::from_attrs(&a).unwrap().rindex, None);
        // an address of the wrong size or family is a decode error, not a guess
        let mut bad = a.clone();
        bad.0.iter_mut().find(|x| x.kind == A::SRC).unwrap().value = vec![1, 2, 3];
        assert!(Flow::from_attrs(&bad)
            .unwrap_err()
            .to_string()
            .contains("source of 3 bytes"));
        let mut bad = a.clone();
        bad.0
            .iter_mut()
            .find(|x| x.kind == A::FAMILY)
            .unwrap()
            .value = addr_family::INET6.to_ne_bytes().to_vec();
        assert!(Flow::from_attrs(&bad).is_err());
        a.0.retain(|x| x.kind != A::INDEX);
        assert!(Flow::from_attrs(&a).is_err());
    }

    #[test]
    fn spec_encodes_what_it_was_given() {
        let add = FlowSpec {
            flags: flow_flag::SNAT | flow_flag::SPAT,
            rindex: Some(12),
            ..FlowSpec::add(key4(), flow_action::NAT)
        };
        let m = add.to_message();
        assert_eq!(m.cmd, cmd::FLOW_NEW);
        let kinds: Vec<u16> = m.attrs.0.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                A::VRF,
                A::FAMILY,
                A::PROTO,
                A::SRC,
                A::DST,
                A::SPORT,
                A::DPORT,
                A::ACTION,
                A::FLAGS,
                A::RINDEX
            ]
        );
        assert_eq!(FlowKey::from_attrs(&m.attrs).unwrap(), key4());
        let v = FlowSpec {
            drop_reason: Some(drop_reason::FLOW_ACTION_DROP),
            ..FlowSpec::verdict(70, 3, flow_action::DROP)
        };
        let m = v.to_message();
        let kinds: Vec<u16> = m.attrs.0.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [A::INDEX, A::GEN, A::ACTION, A::DROP_REASON]);
        assert_eq!(
            (m.attrs.u32(A::INDEX), m.attrs.u32(A::GEN)),
            (Some(70), Some(3))
        );
        let d = FlowDel(5, None).to_message();
        assert_eq!((d.cmd, d.attrs.0.len()), (cmd::FLOW_DEL, 1));
        assert_eq!(FlowDel(5, Some(2)).to_message().attrs.u32(A::GEN), Some(2));
    }

    #[test]
    fn batched_requests_fit_and_encode_like_single_ones() {
        let specs = [
            FlowSpec {
                target: Some((u32::MAX, u32::MAX)),
                flags: 0x1e,
                drop_reason: Some(1),
                rindex: Some(1),
                ..FlowSpec::add(key6(), 3)
            },
            FlowSpec::add(key4(), flow_action::FORWARD),
        ];
        let mut buf = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            s.frame(&mut buf, 0x20, 10 + i as u32);
        }
        let mut off = 0;
        for s in &specs {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            assert!(
                len <= FLOW_MSG_MAX,
                "request of {len} bytes exceeds FLOW_MSG_MAX"
            );
            let m = NetlinkMessage::<GenlMessage<VrMessage>>::deserialize(&buf[off..off + len])
                .unwrap();
            let NetlinkPayload::InnerMessage(g) = m.payload else {
                panic!("not a request")
            };
            assert_eq!(g.payload, s.to_message());
            off += len;
        }
        assert_eq!(off, buf.len());
    }

    #[test]
    fn table_info_round_trips() {
        let t = FlowTableInfo {
            entries: 524288,
            oflow_entries: 105472,
            entry_size: 256,
            hold_limit: 8192,
            used: 503,
            hold: 2,
            oflow_used: 1,
            created: 171,
            added: 171,
            deleted: 332,
            changed: 332,
            evicted: 4,
            misses: 171,
            created_per_cpu: vec![49, 49, 73, 0],
        };
        let mut buf = Vec::new();
        t.encode(&mut RawAttrs(&mut buf));
        let back = FlowTableInfo::from_attrs(&Attrs::parse(&buf).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(
            (back.total_entries(), back.size_bytes()),
            (629760, 161218560)
        );
    }

    #[test]
    fn names_and_parsers() {
        assert_eq!(parse_proto("tcp"), Some(6));
        assert_eq!(parse_proto("ICMP6"), Some(58));
        assert_eq!(parse_proto("icmpv6"), Some(58));
        assert_eq!(parse_proto("47"), Some(47));
        assert_eq!(parse_proto("256"), None);
        assert_eq!(parse_proto("tcpx"), None);
        assert_eq!(proto_name(17), "udp");
        assert_eq!(proto_name(47), "47");
        assert_eq!(parse_action("F"), Some(flow_action::FORWARD));
        assert_eq!(parse_action("forward"), Some(flow_action::FORWARD));
        assert_eq!(parse_action("nat"), Some(flow_action::NAT));
        assert_eq!(parse_action("4"), None);
        let d = Flow {
            action: flow_action::DROP,
            ..flow(1, key4())
        };
        assert_eq!(d.drop_reason_name(), Some("Flow Action Drop"));
        assert_eq!(
            Flow {
                drop_reason: Some(drop_reason::FLOW_TABLE_FULL),
                ..d.clone()
            }
            .drop_reason_name(),
            Some("Flow Table Full")
        );
        assert_eq!(flow(1, key4()).drop_reason_name(), None);
    }

    #[test]
    fn misses_decode_by_command() {
        let f = Flow {
            action: flow_action::HOLD,
            vif: Some(4),
            queued: 1,
            ..flow(77, key4())
        };
        let mut m = VrMessage::new(cmd::FLOW_MISS);
        f.encode(&mut m.attrs);
        assert_eq!(Flow::from_miss(&m).unwrap().unwrap(), f);
        m.attrs.0.retain(|a| a.kind != A::ACTION);
        assert_eq!(Flow::from_miss(&m).unwrap().unwrap(), f);
        m.cmd = cmd::RT_NEW;
        assert!(Flow::from_miss(&m).is_none());
    }

    #[test]
    fn a_listener_without_misses_times_out() {
        // no vrouter family needed: an unsubscribed socket never becomes readable
        let Ok(client) = Client::without_family() else {
            return;
        };
        let mut l = FlowMissListener {
            client,
            pending: VecDeque::new(),
        };
        let t = Instant::now();
        assert!(l
            .next_miss_timeout(Duration::from_millis(30))
            .unwrap()
            .is_none());
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(l.set_recv_buffer(1 << 20).unwrap() >= 1 << 16);
    }
}
