// SPDX-License-Identifier: GPL-2.0
//! In-place header rewrites for forwarding.

use super::{arr, csum_replace16, put, IPV4_HLEN};

/// Why a rewrite refused (the frame is left untouched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// The frame is too short for the header at that offset.
    Truncated,
    /// The IP version nibble is not the expected one (or IPv4 IHL < 5).
    BadVersion,
    /// TTL / hop limit is 0 or 1: the packet must not be forwarded; answer with a Time
    /// Exceeded built from the unmodified packet.
    Expired,
}

/// Decrements the TTL of the IPv4 header at `frame[l3_offset..]` and updates its header
/// checksum incrementally (RFC 1624); returns the new TTL (>= 1).
///
/// A TTL of 0 or 1 gives [`RewriteError::Expired`] and leaves the frame as it was (RFC
/// 1812 §5.3.1: such a packet is not forwarded).
pub fn ipv4_decrement_ttl(frame: &mut [u8], l3_offset: usize) -> Result<u8, RewriteError> {
    let hdr = frame.get_mut(l3_offset..).ok_or(RewriteError::Truncated)?;
    let h: [u8; IPV4_HLEN] = arr(hdr, 0).ok_or(RewriteError::Truncated)?;
    let [vihl, _, _, _, _, _, _, _, ttl, proto, c0, c1, ..] = h;
    if vihl >> 4 != 4 || vihl & 0x0f < 5 {
        return Err(RewriteError::BadVersion);
    }
    if ttl <= 1 {
        return Err(RewriteError::Expired);
    }
    let new_ttl = ttl - 1;
    let check = csum_replace16(
        u16::from_be_bytes([c0, c1]),
        u16::from_be_bytes([ttl, proto]),
        u16::from_be_bytes([new_ttl, proto]),
    );
    let [n0, n1] = check.to_be_bytes();
    put(hdr, 8, &[new_ttl, proto, n0, n1]).ok_or(RewriteError::Truncated)?;
    Ok(new_ttl)
}

/// Decrements the hop limit of the IPv6 header at `frame[l3_offset..]` (no checksum to
/// fix); returns the new hop limit (>= 1). A hop limit of 0 or 1 gives
/// [`RewriteError::Expired`] and leaves the frame as it was.
pub fn ipv6_decrement_hop_limit(frame: &mut [u8], l3_offset: usize) -> Result<u8, RewriteError> {
    let hdr = frame.get_mut(l3_offset..).ok_or(RewriteError::Truncated)?;
    let [b0, _, _, _, _, _, _, hop]: [u8; 8] = arr(hdr, 0).ok_or(RewriteError::Truncated)?;
    if b0 >> 4 != 6 {
        return Err(RewriteError::BadVersion);
    }
    if hop <= 1 {
        return Err(RewriteError::Expired);
    }
    let new_hop = hop - 1;
    put(hdr, 7, &[new_hop]).ok_or(RewriteError::Truncated)?;
    Ok(new_hop)
}
