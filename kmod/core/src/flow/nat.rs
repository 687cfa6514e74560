// SPDX-License-Identifier: GPL-2.0
//! NAT: rewrites a packet's addresses and ports from its flow's reverse key, with
//! incremental checksum updates (RFC 1624), as TF's `vr_inet_flow_nat`:
//! SNAT takes the reverse key's destination as source, DNAT its source as destination,
//! SPAT / DPAT do the same with the ports.

use super::super::packet::{csum_replace16, Headers, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP, L3};
use super::super::uapi::flow_flag;
use super::FlowKey;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatError {
    /// The frame is shorter than its headers say, or not IP.
    Truncated,
    /// The reverse key is of another family.
    Family,
}

/// Rewrites `frame` (parsed as `h`) per the NAT bits of `flags`. `l4_partial` says the
/// L4 checksum is left for offload (CHECKSUM_PARTIAL): the field then holds the
/// pseudo-header sum uncomplemented, which address changes adjust and port changes don't.
pub fn nat_rewrite(
    frame: &mut [u8],
    h: &Headers,
    flags: u32,
    rkey: &FlowKey,
    l4_partial: bool,
) -> Result<(), NatError> {
    let l3 = h.l3_offset;
    let (alen, src_at, dst_at, proto, v4) = match &h.l3 {
        L3::Ipv4(ip) => (4, l3 + 12, l3 + 16, ip.proto, true),
        L3::Ipv6(ip) => (16, l3 + 8, l3 + 24, ip.next_header, false),
        _ => return Err(NatError::Truncated),
    };
    if rkey.addr_len() != alen {
        return Err(NatError::Family);
    }
    let l4 = h.l4_offset();
    let csum_at = match (proto, l4) {
        (IPPROTO_TCP, Some(o)) => Some(o + 16),
        (IPPROTO_UDP, Some(o)) => Some(o + 6),
        (IPPROTO_ICMPV6, Some(o)) => Some(o + 2),
        _ => None,
    };
    // An IPv4 UDP checksum of 0 means "none" and stays so.
    let mut l4sum = match csum_at {
        Some(at) => Some(be16(frame, at)?)
            .filter(|&c| !(v4 && proto == IPPROTO_UDP && c == 0 && !l4_partial)),
        None => None,
    };
    let mut ipsum = if v4 {
        Some(be16(frame, l3 + 10)?)
    } else {
        None
    };
    let mut edit = |at: usize, new: &[u8], pseudo: bool| -> Result<(), NatError> {
        let old = frame
            .get_mut(at..at + new.len())
            .ok_or(NatError::Truncated)?;
        for w in 0..new.len() / 2 {
            let (Some(o), Some(n)) = (old.get_mut(w * 2..w * 2 + 2), new.get(w * 2..w * 2 + 2))
            else {
                break;
            };
            let (&mut [o0, o1], &[n0, n1]) = (&mut *o, n) else {
                break;
            };
            let (ow, nw) = (u16::from_be_bytes([o0, o1]), u16::from_be_bytes([n0, n1]));
            if pseudo {
                ipsum = ipsum.map(|c| csum_replace16(c, ow, nw));
            }
            l4sum = l4sum.map(|c| match (l4_partial, pseudo) {
                (false, _) => csum_replace16(c, ow, nw),
                (true, true) => !csum_replace16(!c, ow, nw),
                (true, false) => c,
            });
            o.copy_from_slice(n);
        }
        Ok(())
    };
    if flags & flow_flag::SNAT != 0 {
        edit(
            src_at,
            rkey.dst.get(..alen).ok_or(NatError::Truncated)?,
            true,
        )?;
    }
    if flags & flow_flag::DNAT != 0 {
        edit(
            dst_at,
            rkey.src.get(..alen).ok_or(NatError::Truncated)?,
            true,
        )?;
    }
    if let (Some(o), true) = (l4, proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
        if flags & flow_flag::SPAT != 0 {
            edit(o, &rkey.dport.to_be_bytes(), false)?;
        }
        if flags & flow_flag::DPAT != 0 {
            edit(o + 2, &rkey.sport.to_be_bytes(), false)?;
        }
    }
    if let (Some(at), Some(mut c)) = (csum_at, l4sum) {
        // A computed UDP checksum of 0 is sent as 0xffff (RFC 768).
        if proto == IPPROTO_UDP && c == 0 && !l4_partial {
            c = 0xffff;
        }
        put16(frame, at, c)?;
    }
    if let Some(c) = ipsum {
        put16(frame, l3 + 10, c)?;
    }
    Ok(())
}

fn be16(b: &[u8], at: usize) -> Result<u16, NatError> {
    let s = b
        .get(at..)
        .and_then(|s| s.first_chunk::<2>())
        .ok_or(NatError::Truncated)?;
    Ok(u16::from_be_bytes(*s))
}

fn put16(b: &mut [u8], at: usize, v: u16) -> Result<(), NatError> {
    b.get_mut(at..at + 2)
        .ok_or(NatError::Truncated)?
        .copy_from_slice(&v.to_be_bytes());
    Ok(())
}
