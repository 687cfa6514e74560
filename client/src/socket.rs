//! A blocking generic netlink socket bound to the `vrouter` family.

use crate::batch::AckReader;
use crate::error::{Error, Result};
use crate::message::{Attrs, VrMessage};
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK, NLM_F_ACK_TLVS,
    NLM_F_CAPPED, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::GenlMessage;
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
use std::collections::HashMap;

/// NLMSGERR_ATTR_MSG: the extended ACK's message string.
const NLMSGERR_ATTR_MSG: u16 = 1;
const ENOENT: i32 = 2;

pub struct Client {
    pub(crate) sock: Socket,
    pub(crate) family_id: u16,
    mcast_groups: HashMap<String, u32>,
    seq: u32,
    buf: Vec<u8>,
    /// Socket buffer sizes set up for route batches (receive, send), once known.
    pub(crate) batch_bufs: Option<(usize, usize)>,
    /// Receive slots for batch acks, kept between batches (the agent sends two small
    /// batches per flow miss; a fresh 256 KiB buffer each time was a large part of their cost).
    pub(crate) acks: AckReader,
}

impl Client {
    /// Opens a socket and resolves the `vrouter` family (Error::NotLoaded if absent).
    pub fn connect() -> Result<Client> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        sock.set_ext_ack(true)?;
        sock.set_cap_ack(true)?;
        let mut c = Client {
            sock,
            family_id: 0,
            mcast_groups: HashMap::new(),
            seq: 0,
            buf: vec![0; 1 << 16],
            batch_bufs: None,
            acks: AckReader::default(),
        };
        c.resolve()?;
        Ok(c)
    }

    /// A socket that has not resolved the family (tests drive other families with it).
    #[cfg(test)]
    pub(crate) fn without_family() -> Result<Client> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        sock.set_ext_ack(true)?;
        sock.set_cap_ack(true)?;
        Ok(Client {
            sock,
            family_id: 0,
            mcast_groups: HashMap::new(),
            seq: 0,
            buf: vec![0; 1 << 16],
            batch_bufs: None,
            acks: AckReader::default(),
        })
    }

    pub fn family_id(&self) -> u16 {
        self.family_id
    }

    /// Multicast group ids of the family, by name.
    pub fn mcast_groups(&self) -> &HashMap<String, u32> {
        &self.mcast_groups
    }

    /// The next request sequence number.
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        if self.seq == 0 {
            self.seq = 1; // 0 is what notifications carry
        }
        self.seq
    }

    /// Joins one of the family's multicast groups (by name) and makes the receive buffer
    /// roomy enough for bursts of notifications.
    pub(crate) fn subscribe(&mut self, group: &str) -> Result<()> {
        let id = *self.mcast_groups.get(group).ok_or_else(|| {
            Error::Decode(format!(
                "the vrouter family has no {group:?} multicast group"
            ))
        })?;
        crate::batch::grow_buffer(&self.sock, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 4 << 20);
        self.sock.add_membership(id)?;
        Ok(())
    }

    /// Waits for one datagram and returns the family's messages in it (notifications).
    /// A receive-queue overrun comes back as `Error::Io` with ENOBUFS.
    pub(crate) fn recv_notifications(&mut self) -> Result<Vec<VrMessage>> {
        let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
        let mut out = Vec::new();
        for m in messages(&self.buf[..n.min(self.buf.len())]) {
            if m.kind != self.family_id || m.payload.len() < 4 {
                continue;
            }
            let attrs = Attrs::parse(&m.payload[4..]).map_err(|e| Error::Decode(e.to_string()))?;
            out.push(VrMessage {
                cmd: m.payload[0],
                attrs,
            });
        }
        Ok(out)
    }

    fn resolve(&mut self) -> Result<()> {
        let mut msg = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(
                vrouter_uapi::FAMILY_NAME.to_string(),
            )],
        });
        msg.finalize();
        let replies =
            match self.exchange(0x10 /* GENL_ID_CTRL */, msg, NLM_F_REQUEST | NLM_F_ACK) {
                Err(Error::Kernel { errno: ENOENT, .. }) => return Err(Error::NotLoaded),
                other => other?,
            };
        for reply in replies {
            for nla in reply.payload.nlas {
                match nla {
                    GenlCtrlAttrs::FamilyId(id) => self.family_id = id,
                    GenlCtrlAttrs::McastGroups(groups) => {
                        for g in groups {
                            let mut name = None;
                            let mut id = None;
                            for a in g {
                                use netlink_packet_generic::ctrl::nlas::McastGrpAttrs;
                                match a {
                                    McastGrpAttrs::Name(n) => name = Some(n),
                                    McastGrpAttrs::Id(i) => id = Some(i),
                                }
                            }
                            if let (Some(n), Some(i)) = (name, id) {
                                self.mcast_groups.insert(n, i);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if self.family_id == 0 {
            return Err(Error::NotLoaded);
        }
        Ok(())
    }

    /// Sends one request and collects its replies (one for doit, many for a dump).
    pub fn request(&mut self, msg: VrMessage, dump: bool) -> Result<Vec<VrMessage>> {
        let mut g = GenlMessage::from_payload(msg);
        g.set_resolved_family_id(self.family_id);
        g.finalize();
        let flags = NLM_F_REQUEST | NLM_F_ACK | if dump { NLM_F_DUMP } else { 0 };
        Ok(self
            .exchange(self.family_id, g, flags)?
            .into_iter()
            .map(|m| m.payload)
            .collect())
    }

    fn exchange<F>(
        &mut self,
        family: u16,
        msg: GenlMessage<F>,
        flags: u16,
    ) -> Result<Vec<GenlMessage<F>>>
    where
        F: netlink_packet_generic::GenlFamily
            + netlink_packet_core::Emitable
            + netlink_packet_core::ParseableParametrized<[u8], netlink_packet_generic::GenlHeader>
            + std::fmt::Debug,
    {
        let seq = self.next_seq();
        let mut header = NetlinkHeader::default();
        header.message_type = family;
        header.flags = flags;
        header.sequence_number = seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        nl.finalize();
        let mut out = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock.send(&out, 0)?;

        let mut replies = Vec::new();
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let chunk = &self.buf[off..n];
                let len = chunk
                    .get(..4)
                    .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .unwrap_or(0);
                if len < 16 || len > chunk.len() {
                    return Err(Error::Decode(format!("bad netlink length {len}")));
                }
                let raw = &chunk[..len];
                off += (len + 3) & !3;
                let parsed = NetlinkMessage::<GenlMessage<F>>::deserialize(raw)
                    .map_err(|e| Error::Decode(e.to_string()))?;
                if parsed.header.sequence_number != seq {
                    continue; // a late reply to an earlier request
                }
                match parsed.payload {
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(replies), // the ACK ends a doit exchange
                        Some(code) => {
                            return Err(Error::Kernel {
                                errno: -code.get(),
                                msg: extack_message(parsed.header.flags, &e.header),
                            })
                        }
                    },
                    _ => {}
                }
            }
        }
    }
}

/// One netlink message of a datagram: header fields and the bytes after the 16-byte header.
pub(crate) struct NlMsg<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// The netlink messages of a received datagram. A truncated last message yields what is
/// there; a malformed length ends the walk.
pub(crate) fn messages(buf: &[u8]) -> impl Iterator<Item = NlMsg<'_>> {
    let mut off = 0usize;
    std::iter::from_fn(move || {
        let rest = buf.get(off..)?;
        let h = rest.get(..16)?;
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < 16 {
            return None;
        }
        off = off.saturating_add((len + 3) & !3);
        Some(NlMsg {
            kind: u16::from_ne_bytes([h[4], h[5]]),
            flags: u16::from_ne_bytes([h[6], h[7]]),
            seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
            payload: &rest[16..len.min(rest.len())],
        })
    })
}

/// The extended-ACK message of an NLMSG_ERROR payload (after the error code): the
/// original request header (its whole message unless the ACK is capped), then TLVs.
pub(crate) fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let orig_len = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        payload
            .get(..4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)?
    };
    let tlvs = payload.get(orig_len..)?;
    for nla in NlasIterator::new(tlvs) {
        let nla = nla.ok()?;
        if nla.kind() == NLMSGERR_ATTR_MSG {
            let v = nla.value();
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            return Some(String::from_utf8_lossy(&v[..end]).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Attrs;

    #[test]
    fn extack_message_is_found_after_a_capped_header() {
        let mut p = vec![0u8; 16];
        p[0] = 36; // original length, ignored when capped
        let msg = b"unknown vif type\0";
        let len = 4 + msg.len();
        p.extend_from_slice(&(len as u16).to_ne_bytes());
        p.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        p.extend_from_slice(msg);
        while !p.len().is_multiple_of(4) {
            p.push(0);
        }
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &p).as_deref(),
            Some("unknown vif type")
        );
        assert_eq!(extack_message(0, &p), None);
    }

    #[test]
    fn attrs_round_trip() {
        let mut a = Attrs::default();
        a.push_u32(1, 7)
            .push_str(4, "veth0")
            .push_bytes(7, &[1, 2, 3, 4, 5, 6]);
        let msg = VrMessage {
            cmd: 1,
            attrs: a.clone(),
        };
        let mut buf = vec![0; netlink_packet_core::Emitable::buffer_len(&msg)];
        netlink_packet_core::Emitable::emit(&msg, &mut buf);
        let back = Attrs::parse(&buf).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.u32(1), Some(7));
        assert_eq!(back.string(4).as_deref(), Some("veth0"));
        assert_eq!(back.array::<6>(7), Some([1, 2, 3, 4, 5, 6]));
    }
}
